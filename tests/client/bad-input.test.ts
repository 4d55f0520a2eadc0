// Bad input files get one line naming the file and what is wrong, exit 2 — never a stack (issue 16).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tempDir } from '../support/test-env';
import { cli } from './run-cli';

describe('bad input files', () => {
  const dir = tempDir('ap-bad-input-');

  test('an ONNX file that is not ONNX: one line, exit 2', async () => {
    const file = path.join(dir, 'garbage.onnx');
    fs.writeFileSync(file, 'garbage\n');
    const r = await cli('profile', file);
    expect(r.code).toBe(2);
    expect(r.err.trim().split('\n')).toEqual([
      `agentic-pruner: ${file}: not a readable ONNX model: protobuf decoding failed (truncated or not ONNX): invalid wire type 7 at offset 1`,
    ]);
  });

  test('a YAML alias bomb: one line naming the file, exit 2, nothing expanded', async () => {
    const file = path.join(dir, 'bomb.yaml');
    const rows = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]'];
    for (const [name, prev] of [
      ['b', 'a'],
      ['c', 'b'],
      ['d', 'c'],
      ['e', 'd'],
      ['f', 'e'],
      ['g', 'f'],
    ])
      rows.push(`${name}: &${name} [${Array(9).fill(`*${prev}`).join(',')}]`);
    fs.writeFileSync(file, `${rows.join('\n')}\nmodel: { name: resnet18 }\ntargets: [{ fraction: 0.5 }]\n`);
    const r = await cli('campaign', 'start', '-c', file);
    expect(r.code).toBe(2);
    expect(r.err).toBe(
      `agentic-pruner: ${file}:\n  - cannot read the YAML: Excessive alias count indicates a resource exhaustion attack\n`,
    );
    expect(r.err).not.toContain('    at ');
  });
});
