// `dataset make`: the engine's make-dataset job from the CLI, and a campaign file that uses what it made.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tempDir } from '../support/test-env';
import { cli, withEnv } from './run-cli';

describe('dataset make', () => {
  const dir = tempDir('ap-dataset-');

  test('writes train/ and val/ in ImageFolder layout and says what it made', async () => {
    const out = path.join(dir, 'shapes');
    const args = [
      'dataset',
      'make',
      '--out',
      out,
      '--classes',
      '3',
      '--train-per-class',
      '2',
      '--val-per-class',
      '1',
      '--image-size',
      '16',
    ];
    const r = await cli(...args);
    expect(r.code).toBe(0);
    expect(r.out.trim()).toBe(`${out}: 3 classes, 6 train / 3 val images of 16x16`);
    expect(fs.readdirSync(path.join(out, 'train')).sort()).toEqual(['00-disc', '01-square', '02-triangle']);
    expect(fs.readdirSync(path.join(out, 'val', '00-disc'))).toHaveLength(1);
    // The same request again reuses it.
    expect((await cli(...args)).out.trim()).toBe(
      `${out}: 3 classes, 6 train / 3 val images of 16x16 (already there, reused)`,
    );

    // A campaign file next to it names it relatively; pre-flight accepts it and only the server is missing.
    const file = path.join(dir, 'c.yaml');
    fs.writeFileSync(
      file,
      'model:\n  name: democnn\ntargets:\n  - fraction: 0.5\ndataset:\n  root: shapes\n',
    );
    const start = await withEnv({ TEMPORAL_ADDRESS: '127.0.0.1:1' }, () =>
      cli('campaign', 'start', '-c', file),
    );
    expect(start.err).toContain('Temporal server at 127.0.0.1:1 is not reachable');
  });

  test('a bad value is named by the engine; exit 2', async () => {
    const r = await cli('dataset', 'make', '--out', path.join(dir, 'bad'), '--classes', '1');
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/classes/);
    const notInt = await cli('dataset', 'make', '--out', path.join(dir, 'bad'), '--seed', 'x');
    expect(notInt.code).toBe(2);
    expect(notInt.err).toContain('--seed: expected an integer, got x');
    const preset = await cli('dataset', 'make', '--out', path.join(dir, 'bad'), '--preset', 'extreme');
    expect(preset.code).toBe(2);
    expect(preset.err).toContain('--preset: expected easy or hard, got "extreme"');
  });

  test('--preset hard makes a different set of the same classes, recorded in its manifest', async () => {
    const common = ['--classes', '3', '--train-per-class', '2', '--val-per-class', '1', '--image-size', '16'];
    const easy = await cli('dataset', 'make', '--out', path.join(dir, 'easy'), ...common, '--json');
    const hard = await cli(
      'dataset',
      'make',
      '--out',
      path.join(dir, 'hard'),
      ...common,
      '--preset',
      'hard',
      '--json',
    );
    expect(hard.code).toBe(0);
    const e = JSON.parse(easy.out) as { sha256: string; classes: string[] };
    const h = JSON.parse(hard.out) as { sha256: string; classes: string[] };
    expect(h.classes).toEqual(e.classes);
    expect(h.sha256).not.toBe(e.sha256);
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'hard', 'manifest.json'), 'utf8'));
    expect(manifest.request.preset).toBe('hard');
  });
});
