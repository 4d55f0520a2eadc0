#!/usr/bin/env node
'use strict';
// Thin launcher: the compiled CLI lives in dist/ (built by `npm run build`, run by `prepare`).
const path = require('node:path');
const fs = require('node:fs');
const entry = path.join(__dirname, '..', 'dist', 'src', 'client', 'cli.js');
if (!fs.existsSync(entry)) {
  process.stderr.write('agentic-pruner: not built yet; run `npm run build` in ' + path.join(__dirname, '..') + '\n');
  process.exit(2);
}
require(entry).main(process.argv).then(
  (code) => process.exit(code),
  (err) => {
    process.stderr.write(`agentic-pruner: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  },
);
