import * as fs from 'node:fs';
import * as path from 'node:path';
import { demoNextSteps, onPath } from '../../src/client/demo';
import { tempDir } from '../support/test-env';

// `npm run demo` runs the CLI through npm, which does not put the package's own bin on the PATH: a new user
// who copies the demo's closing commands gets "agentic-pruner: command not found" unless told how to run it.
describe("the demo's closing hint", () => {
  const paths = { weights: '/s/demo/baseline/model.pt', dataset: '/s/demo/dataset' };
  const hint =
    '\nthe baseline (/s/demo/baseline/model.pt) and its dataset (/s/demo/dataset) stay for your own campaigns: ' +
    'examples/demo-accuracy.yaml runs the accuracy search on them ' +
    '(agentic-pruner worker, then agentic-pruner campaign start -c examples/demo-accuracy.yaml --wait)';

  function folderWith(kind: 'executable' | 'plain file' | 'folder' | 'no such file'): string {
    const dir = tempDir('ap-path-');
    const at = path.join(dir, 'agentic-pruner');
    if (kind === 'folder') fs.mkdirSync(at);
    if (kind === 'executable' || kind === 'plain file') {
      fs.writeFileSync(at, '#!/bin/sh\n');
      fs.chmodSync(at, kind === 'executable' ? 0o755 : 0o644);
    }
    return dir;
  }

  test('on the PATH: the two commands only', () => {
    const pathVar = [folderWith('no such file'), folderWith('executable')].join(path.delimiter);
    expect(onPath('agentic-pruner', pathVar)).toBe(true);
    expect(demoNextSteps(paths, pathVar)).toBe(hint);
  });

  test.each(['plain file', 'folder', 'no such file'] as const)(
    'not on the PATH (%s in a folder of it): how to run it, npx from the clone or npm link',
    (kind) => {
      const pathVar = ['', folderWith(kind), '/no/such/folder'].join(path.delimiter);
      expect(onPath('agentic-pruner', pathVar)).toBe(false);
      expect(demoNextSteps(paths, pathVar)).toBe(
        `${hint}\nagentic-pruner is not on your PATH: run it as \`npx agentic-pruner ...\` from this folder, ` +
          'or `npm link` here once to put it there',
      );
    },
  );

  test('an empty PATH finds nothing', () => {
    expect(onPath('agentic-pruner', '')).toBe(false);
  });
});
