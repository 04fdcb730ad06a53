#!/usr/bin/env node
// Entry point of the `vldm` command: the compiled CLI (npm run build) decides the exit code.
'use strict';
// vldm supports Node 20 on purpose (see README); the AWS SDK's notice about Node 22 is not for users.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
require('../dist/src/cli/main.js')
  .main(process.argv)
  .then((code) => process.exit(code));
