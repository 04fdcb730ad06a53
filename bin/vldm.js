#!/usr/bin/env node
// Entry point of the `vldm` command: the compiled CLI (npm run build) decides the exit code.
'use strict';
// vldm supports Node 20 on purpose (see README); the AWS SDK's notice about Node 22 is not for users.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
// libuv's thread pool (4 threads by default) serves file I/O, DNS and zlib. A worker has many
// activities reading and writing artifacts at once, so the pool gets more room. (Model calls do not
// use it: onnxruntime-node runs them on the calling thread, and the model threads of
// src/models/model-threads.ts take them off the event loop.) Must be set before anything uses the pool.
process.env.UV_THREADPOOL_SIZE ??= '16';
// Exit only once stdout and stderr have taken everything: writes to a pipe complete asynchronously,
// and exiting at once cut `vldm plan --json | …` at 64 KiB. (A stream calls write callbacks in
// order, so an empty write's callback means all earlier writes are done.) process.exit is still
// needed: a NATS or Temporal connection may keep the event loop alive.
// A reader that stops early (`| head`) closes the pipe: that is not an error of vldm's.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err) => {
    if (err.code !== 'EPIPE') throw err;
  });
}
function exitWhenFlushed(code) {
  process.exitCode = code;
  let open = 2;
  const done = () => {
    if (--open === 0) process.exit(code);
  };
  process.stdout.write('', done);
  process.stderr.write('', done);
}
require('../dist/src/cli/main.js').main(process.argv).then(exitWhenFlushed);
