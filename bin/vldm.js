#!/usr/bin/env node
// Entry point of the `vldm` command: the compiled CLI (npm run build) decides the exit code.
'use strict';
// vldm supports Node 20 on purpose (see README); the AWS SDK's notice about Node 22 is not for users.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
// onnxruntime-node runs each model call on libuv's thread pool (4 threads by default). A worker runs
// several long model calls at once; with 4 threads they would leave none for file I/O (artifacts),
// so the pool gets room for both. Must be set before anything uses the pool.
process.env.UV_THREADPOOL_SIZE ??= '16';
require('../dist/src/cli/main.js')
  .main(process.argv)
  .then((code) => process.exit(code));
