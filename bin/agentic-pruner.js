#!/usr/bin/env node
'use strict';
// Thin launcher: the compiled CLI lives in dist/ (built by `npm run build`, run by `prepare`).
const path = require('node:path');
const fs = require('node:fs');

/**
 * End with `code` once stdout and stderr have drained. `process.exit()` right away would cut output to a
 * pipe whose reader is slower than us (`profile --json | python3 ...` lost everything after 64 KiB): the
 * exit code is set first, and the process exits only when each stream has flushed what it was given (a
 * lingering connection must not keep a finished command alive).
 */
function finish(code) {
  process.exitCode = code;
  let open = 2;
  const done = () => {
    if (--open === 0) process.exit();
  };
  for (const stream of [process.stdout, process.stderr]) {
    if (stream.writableLength === 0 && !stream.writableNeedDrain) done();
    else stream.write('', done);
  }
}

// The AWS SDK prints a 9-line notice on every start that future releases need Node 22; this pin supports
// Node 20 (package.json engines). Quiet unless the user asked for it.
if (process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED === undefined)
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';

const entry = path.join(__dirname, '..', 'dist', 'src', 'client', 'cli.js');
if (!fs.existsSync(entry)) {
  process.stderr.write('agentic-pruner: not built yet; run `npm run build` in ' + path.join(__dirname, '..') + '\n');
  process.exitCode = 2;
  return;
}
require(entry).main(process.argv).then(finish, (err) => {
  process.stderr.write(`agentic-pruner: ${err instanceof Error ? err.message : String(err)}\n`);
  finish(1);
});
