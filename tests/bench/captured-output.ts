import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/**
 * For a describe block of tests of a bench command that prints: a fresh temp folder per test (`dir`, removed after
 * it) and what the test made `console.log` print, line by line (`lines`, emptied before each test).
 * @example
 * const out = capturedOutput('ap-verdicts-');
 * test('...', () => { verdictsOf([path.join(out.dir, 'r.json')]); expect(out.lines).toContain('| ... |'); });
 */
export function capturedOutput(prefix: string): { readonly dir: string; readonly lines: string[] } {
  const lines: string[] = [];
  let dir = '';
  let spy: jest.SpyInstance | undefined;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    lines.length = 0;
    spy = jest.spyOn(console, 'log').mockImplementation((...args: unknown[]) => {
      lines.push(...args.map(String).join(' ').split('\n'));
    });
  });
  afterEach(() => {
    spy?.mockRestore();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  return {
    get dir() {
      return dir;
    },
    lines,
  };
}
