import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  fineTuneKey,
  ReusedFineTunes,
  scoredMacs,
  settingMismatch,
  type EarlierResult,
  type RunSetting,
} from '../../bench/accuracy-reuse';

// bench/accuracy --reuse: the fine-tunes of earlier results stand for this run's only when they are the same
// fine-tunes (dense model, dataset, recipe, candidate, seed).
const setting: RunSetting = {
  recipe: { epochs: 3.9072, batchSize: 32, lr: 0.002, optimizer: 'adamw', kdAlpha: 0.5, kdTemperature: 4 },
  dataset: { classes: 100, trainPerClass: 200, valPerClass: 15, preset: 'hard', imageSize: 32, seed: 0 },
  denseEpochs: { democnn: 16 },
};
const kept = {
  pruningRatio: 0.34,
  importance: 'l2',
  globalPruning: true,
  isomorphic: false,
  roundTo: 1,
} as const;
const other = { ...kept, importance: 'l1' as const, globalPruning: false };
const earlier: EarlierResult = {
  ...setting,
  dense: [{ model: 'democnn', valTop1: 0.8933, denseMacs: 27374080 }],
  candidates: [
    {
      model: 'democnn',
      target: 0.5,
      macs: 13507804,
      runs: [
        { seed: 0, valTop1: 0.8847, steps: 2442, wallMs: 187395 },
        { seed: 1, valTop1: 0.8853, steps: 2442, wallMs: 186681 },
      ],
      campaign: { strategy: { ...kept, rationale: 'regula falsi' } },
    },
  ],
  scoredCandidates: [
    {
      model: 'democnn',
      target: 0.5,
      strategy: { ...other, rationale: 'per-layer' },
      // 13,303,308 MACs against the target's 13,687,040: an older result without the macs field.
      deviation: -0.028036156831572057,
      runs: [{ seed: 0, valTop1: 0.8913 }],
      steps: 2442,
    },
  ],
};

function write(dir: string, name: string, body: unknown): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, typeof body === 'string' ? body : JSON.stringify(body));
  return file;
}

describe('bench/accuracy --reuse', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ap-reuse-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('a fine-tune is named by model, strategy (not its rationale or key order), MACs and seed', () => {
    const a = fineTuneKey('democnn', { ...kept, rationale: 'a' }, 13507804, 0);
    const reordered = {
      roundTo: 1,
      isomorphic: false,
      globalPruning: true,
      importance: 'l2',
      pruningRatio: 0.34,
      rationale: 'b',
    } as const;
    expect(fineTuneKey('democnn', reordered, 13507804, 0)).toBe(a);
    expect(fineTuneKey('democnn', kept, 13507804, 1)).not.toBe(a);
    expect(fineTuneKey('democnn', kept, 13507805, 0)).not.toBe(a);
    expect(fineTuneKey('resnet18', kept, 13507804, 0)).not.toBe(a);
    expect(fineTuneKey('democnn', other, 13507804, 0)).not.toBe(a);
  });

  test("an older scored row's MACs come back from its deviation; a row's own MACs win", () => {
    const row = earlier.scoredCandidates[0]!;
    expect(scoredMacs(row, 27374080, 'f.json')).toBe(13303308);
    expect(scoredMacs({ ...row, macs: 13303000 }, 27374080, 'f.json')).toBe(13303000);
    expect(() => scoredMacs({ ...row, deviation: 0.1234567 }, 27374080, 'f.json')).toThrow(
      /^--reuse f\.json: scoredCandidates of democnn @ 0\.5: deviation 0\.1234567 gives .* not a whole number$/,
    );
  });

  test('another recipe, dataset or dense epochs is named field by field', () => {
    expect(settingMismatch(setting, setting, ['democnn'])).toBeUndefined();
    expect(
      settingMismatch(setting, { ...setting, recipe: { ...setting.recipe, lr: 0.001 } }, ['democnn']),
    ).toBe('recipe.lr: 0.002 here, 0.001 in the file');
    expect(
      settingMismatch(setting, { ...setting, dataset: { ...setting.dataset, classes: 10 } }, ['democnn']),
    ).toBe('dataset.classes: 100 here, 10 in the file');
    expect(settingMismatch(setting, { ...setting, denseEpochs: { democnn: 8 } }, ['democnn'])).toBe(
      'denseEpochs.democnn: 16 here, 8 in the file',
    );
    // A model the file never trained does not count against it.
    expect(
      settingMismatch(setting, { ...setting, denseEpochs: { resnet18: 40 } }, ['democnn']),
    ).toBeUndefined();
  });

  test('the fine-tunes of a file count once the dense model is the same; with their figures', () => {
    const file = write(dir, 'ok.json', earlier);
    const cache = ReusedFineTunes.load([file], setting, ['democnn']);
    const keptKey = fineTuneKey('democnn', kept, 13507804, 1);
    expect(cache.get(keptKey)).toBeUndefined();
    cache.admitDense('democnn', 0.8933, 27374080);
    expect(cache.get(keptKey)).toEqual({ valTop1: 0.8853, steps: 2442, wallMs: 186681 });
    expect(cache.get(fineTuneKey('democnn', other, 13303308, 0))).toEqual({
      valTop1: 0.8913,
      steps: 2442,
      wallMs: 0,
    });
    expect(cache.get(fineTuneKey('democnn', other, 13303308, 1))).toBeUndefined();
    expect(cache.admitted.get(file)).toBe(3);
    // This run's own fine-tunes go in beside them.
    cache.set(fineTuneKey('democnn', kept, 13507804, 2), { valTop1: 0.89, steps: 2442, wallMs: 1 });
    expect(cache.get(fineTuneKey('democnn', kept, 13507804, 2))?.valTop1).toBe(0.89);
  });

  test('another dense model, another setting or no result at all is refused naming the file', () => {
    const file = write(dir, 'dense.json', earlier);
    const cache = ReusedFineTunes.load([file], setting, ['democnn']);
    expect(() => cache.admitDense('democnn', 0.9, 27374080)).toThrow(
      `--reuse ${file}: another dense democnn (val top-1 0.8933, 27374080 MACs; here 0.9, 27374080)`,
    );
    const lr = write(dir, 'lr.json', { ...earlier, recipe: { ...setting.recipe, lr: 0.001 } });
    expect(() => ReusedFineTunes.load([lr], setting, ['democnn'])).toThrow(
      `--reuse ${lr}: another setting, so other fine-tunes: recipe.lr: 0.002 here, 0.001 in the file`,
    );
    const junk = write(dir, 'junk.json', '{"rows": [');
    expect(() => ReusedFineTunes.load([junk], setting, ['democnn'])).toThrow(
      new RegExp(`^--reuse ${junk}: not a bench/accuracy --json result \\(`),
    );
    const log = write(dir, 'log.json', { verdicts: [] });
    expect(() => ReusedFineTunes.load([log], setting, ['democnn'])).toThrow(
      `--reuse ${log}: not a bench/accuracy --json result (expected recipe, candidates, scoredCandidates)`,
    );
    expect(() => ReusedFineTunes.load([path.join(dir, 'none.json')], setting, ['democnn'])).toThrow(
      /^--reuse .*none\.json: cannot be read \(ENOENT: no such file/,
    );
  });

  test('the committed 100-class result gives all its 18 fine-tunes (6 candidates x 3 seeds)', () => {
    const file = 'bench/results/accuracy-democnn-c100-0.5-ft2442-recovery40.json';
    const result = JSON.parse(fs.readFileSync(file, 'utf8')) as EarlierResult;
    const cache = ReusedFineTunes.load([file], setting, ['democnn']);
    cache.admitDense('democnn', result.dense[0]!.valTop1, result.dense[0]!.denseMacs);
    expect(cache.admitted.get(file)).toBe(18);
    // The kept candidate (attempt 10, 13,507,804 MACs), seed 0: 88.47 %.
    expect(cache.get(fineTuneKey('democnn', kept, 13507804, 0))?.valTop1).toBeCloseTo(0.88467, 5);
  });
});
