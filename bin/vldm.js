#!/usr/bin/env node
// Entry point of the `vldm` command: the compiled CLI (npm run build) decides the exit code.
'use strict';
require('../dist/src/cli/main.js')
  .main(process.argv)
  .then((code) => process.exit(code));
