import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  newValKey,
  parseNewValArgs,
  readNewVal,
  runNewVal,
  summaryLine,
  withNewVal,
  type NewValLine,
} from '../../bench/new-val';
import { verdictsOf } from '../../bench/accuracy-verdicts';
import { capturedOutput } from './captured-output';
import type { WarmEngine } from '../../src/engine/engine-process';
import { realEngines } from '../support/test-env';

// bench/accuracy-new-val and `bench/accuracy --verdicts-of --new-val`: a run's final models judged on val images
// the run never saw.

const l2 = {
  pruningRatio: 0.28,
  importance: 'l2',
  globalPruning: true,
  isomorphic: true,
  roundTo: 8,
} as const;
const l1 = { ...l2, importance: 'l1' as const, globalPruning: false, isomorphic: false };
const lamp = { ...l2, importance: 'lamp' as const, pruningRatio: 0.38 };
const rows = [
  { attempt: 1, kept: true, strategy: l2, macs: 13_244_000, scoreTop1: 0.1, val: [0.7, 0.72] },
  { attempt: 2, kept: false, strategy: l1, macs: 13_300_000, scoreTop1: 0.2, val: [0.8, 0.8] },
  { attempt: 3, kept: false, strategy: lamp, macs: 13_100_000, scoreTop1: 0.3, val: [0.9, 0.88] },
];
/** The run's --json result: the scores rank the finals on its own val split exactly (rho 1). */
const result = {
  dense: [{ model: 'democnn', valTop1: 0.889, denseMacs: 27_374_080 }],
  scoredCandidates: rows.map((r) => ({
    model: 'democnn',
    target: 0.5,
    mode: 'recovery',
    attempt: r.attempt,
    kept: r.kept,
    strategy: { ...r.strategy, rationale: `attempt ${r.attempt}` },
    macs: r.macs,
    deviation: r.macs / (0.5 * 27_374_080) - 1,
    scoreTop1: r.scoreTop1,
    scoreLoss: 1,
    scoreSteps: 10,
    steps: 100,
    runs: r.val.map((valTop1, seed) => ({ seed, valTop1 })),
  })),
};
/** On the new images the order is the other way round: attempt 1 is the best (mean 0.89). */
const newTop1 = [
  [0.9, 0.88],
  [0.8, 0.8],
  [0.7, 0.72],
];
/** bench/accuracy-new-val's lines for the run: as the engine writes strategy.json (iterativeSteps, agent). */
function newValLines(skip?: { attempt: number; seed: number }): NewValLine[] {
  const lines: NewValLine[] = [
    { folder: 'dense-democnn', split: 'val', model: 'democnn', top1: 0.889, loss: 0.4, count: 30 },
    { folder: 'dense-democnn', split: 'new', model: 'democnn', top1: 0.9086, loss: 0.3, count: 200 },
  ];
  rows.forEach((r, i) =>
    [0, 1].forEach((seed) => {
      if (skip?.attempt === r.attempt && skip.seed === seed) return;
      const fineTune = {
        seed,
        steps: 100,
        macs: r.macs,
        params: 1000,
        strategy: { ...r.strategy, iterativeSteps: 1, agent: 'solver', rationale: 'engine copy' },
      };
      const folder = `bench-acc-x-a${r.attempt}-s${seed}`;
      lines.push(
        { folder, split: 'val', model: 'democnn', top1: r.val[seed]!, loss: 0.5, count: 30, fineTune },
        { folder, split: 'new', model: 'democnn', top1: newTop1[i]![seed]!, loss: 0.5, count: 200, fineTune },
      );
      // The same candidate and seed after a longer fine-tune: another final, another key.
      lines.push({
        folder: `bench-acc-y-a${r.attempt}-s${seed}`,
        split: 'new',
        model: 'democnn',
        top1: 0.5,
        loss: 0.5,
        count: 200,
        fineTune: { ...fineTune, steps: 400 },
      });
    }),
  );
  return lines;
}

describe('bench/accuracy --verdicts-of --new-val', () => {
  const out = capturedOutput('ap-new-val-');
  const write = (name: string, text: string) => {
    fs.writeFileSync(path.join(out.dir, name), text);
    return path.join(out.dir, name);
  };
  const jsonl = (lines: NewValLine[]) => lines.map((l) => JSON.stringify(l)).join('\n') + '\n';

  test('judges the scores against the new images: the order reverses, rho 1 becomes -1 and the regret 0', () => {
    const json = write('run.json', JSON.stringify(result));
    const lines = write('new-val.jsonl', jsonl(newValLines()));
    verdictsOf([json]);
    // On the run's val: rho 1, p 1/6, kept mean 71.0, best 89.0, regret 18.0 (tests/bench/accuracy-verdicts).
    expect(out.lines).toContain(
      '| democnn | 0.5 | recovery 10 steps | 3 | 1.00 | 0.167 | 71.0 % | 89.0 % | 18.0 | 9.0 | 1.2 | 11.0 | 1.00 | 1.00 |',
    );
    out.lines.length = 0;
    verdictsOf([json], 'top1', [lines]);
    // The new images: means 0.89 / 0.80 / 0.71 for scores 0.1 / 0.2 / 0.3, so rho -1; every permutation ranks
    // at least as well (p 1); the kept attempt 1 is the best (regret 0.0); spread, seed sd, resolution and
    // ceiling are those of the same numbers in the other order.
    expect(out.lines).toContain(
      '| democnn | 0.5 | recovery 10 steps | 3 | -1.00 | 1.000 | 89.0 % | 89.0 % | 0.0 | 9.0 | 1.2 | 11.0 | 1.00 | 1.00 |',
    );
    // 6 fine-tunes of 100 steps and 6 of 400 steps.
    expect(out.lines[0]).toBe(`final top-1: on the new images of ${lines} (12 fine-tunes)`);
  });

  test('replaces each seed of each row by its own fine-tune, keyed on strategy, MACs, seed and steps', () => {
    const finals = readNewVal([write('n.jsonl', jsonl(newValLines()))]);
    const judged = withNewVal(result, 'run.json', finals);
    expect(judged.map((r) => r.runs.map((x) => x.valTop1))).toEqual(newTop1);
    // The engine's copy of the strategy (iterativeSteps 1, agent, another rationale) keys as the attempt's.
    expect(newValKey('democnn', l2, 13_244_000, 0, 100)).toBe(
      newValKey('democnn', { ...l2, iterativeSteps: 1, agent: 'solver', rationale: 'x' }, 13_244_000, 0, 100),
    );
    expect(newValKey('democnn', l2, 13_244_000, 0, 100)).not.toBe(
      newValKey('democnn', l2, 13_244_000, 0, 400),
    );
    expect(newValKey('democnn', l2, 13_244_000, 0, 100)).not.toBe(
      newValKey('democnn', { ...l2, iterativeSteps: 2 }, 13_244_000, 0, 100),
    );
  });

  test('runs of two dense models: each result takes the figures of its own dense model, and they pool in one call', () => {
    // The second run: another dense model (val top-1 0.9) whose fine-tunes of the same shapes, MACs and seeds end
    // in the order of the scores (rho 1), where the first run's end against them (rho -1).
    const second = { ...result, dense: [{ ...result.dense[0]!, valTop1: 0.9 }] };
    const secondLines = newValLines().map((l) => {
      if (!l.fineTune) return l.split === 'val' ? { ...l, top1: 0.9 } : l;
      const i = rows.findIndex((r) => l.folder.includes(`-a${r.attempt}-`));
      return l.split === 'new' && l.fineTune.steps === 100
        ? { ...l, top1: newTop1[2 - i]![l.fineTune.seed]! }
        : l;
    });
    const a = write('a.json', JSON.stringify(result));
    const b = write('b.json', JSON.stringify(second));
    const na = write('na.jsonl', jsonl(newValLines()));
    const nb = write('nb.jsonl', jsonl(secondLines));
    verdictsOf([a, b], 'top1', [na, nb]);
    // 12 fine-tunes per dense model.
    expect(out.lines[0]).toBe(`final top-1: on the new images of ${na}, ${nb} (24 fine-tunes)`);
    const rowsOf = out.lines.filter((l) => l.startsWith('| democnn |'));
    expect(rowsOf).toEqual([
      '| democnn | 0.5 | recovery 10 steps | 3 | -1.00 | 1.000 | 89.0 % | 89.0 % | 0.0 | 9.0 | 1.2 | 11.0 | 1.00 | 1.00 |',
      '| democnn | 0.5 | recovery 10 steps | 3 | 1.00 | 0.167 | 71.0 % | 89.0 % | 18.0 | 9.0 | 1.2 | 11.0 | 1.00 | 1.00 |',
    ]);
    expect(out.lines).toContainEqual(
      expect.stringMatching(
        /^pooled, recovery 10 steps \(score top-1\): mean within-case rho 0\.00 over 2 cases,/,
      ),
    );
    // A result whose dense model has no file is named, with the dense models the files hold.
    const third = write(
      'c.json',
      JSON.stringify({ ...result, dense: [{ ...result.dense[0]!, valTop1: 0.95 }] }),
    );
    expect(() => verdictsOf([third], 'top1', [na, nb])).toThrow(
      `--new-val: no file has the dense democnn of ${third} (val top-1 0.95); the files' dense models have val ` +
        `top-1 0.889, 0.9: give the new-val file of that run's WORK`,
    );
    // Without the dense lines the two files cannot be told apart: the shared fine-tunes disagree, named.
    const bare = (lines: NewValLine[], name: string) => write(name, jsonl(lines.filter((l) => l.fineTune)));
    expect(() => readNewVal([bare(newValLines(), 'ba.jsonl'), bare(secondLines, 'bb.jsonl')])).toThrow(
      /bb\.jsonl:\d+: bench-acc-x-a1-s0 is the fine-tune of .*ba\.jsonl:\d+ .* with another top-1 \(0\.7, 0\.9\)/,
    );
  });

  test('dense weights stated (weightsSha256): two dense models with the same val top-1 are refused, not mixed', () => {
    const shaA = 'a'.repeat(64);
    const shaB = 'b'.repeat(64);
    const withSha = (sha: string) =>
      newValLines().map((l) => (l.fineTune ? l : { ...l, weightsSha256: sha }));
    const na = write('sha-a.jsonl', jsonl(withSha(shaA)));
    // The same figures under the same weights read as one dense model: the result with those weights is judged.
    const stated = { ...result, dense: [{ ...result.dense[0]!, weightsSha256: shaA }] };
    expect(withNewVal(stated, 'run.json', readNewVal([na]))[0]!.runs.map((r) => r.valTop1)).toEqual([
      0.9, 0.88,
    ]);
    // A result written before the field (no sha) still pairs by the val top-1.
    expect(withNewVal(result, 'run.json', readNewVal([na]))).toHaveLength(3);
    // A file of other weights with the same val top-1: refused as two dense models, naming both lines.
    const nb = write('sha-b.jsonl', jsonl(withSha(shaB)));
    expect(() => readNewVal([na, nb])).toThrow(
      `--new-val ${nb}:1: dense-democnn has val top-1 0.889 as in ${na}:1, but other weights (sha256 ` +
        `bbbbbbbbbbbb... against aaaaaaaaaaaa...): two dense models with the same figure`,
    );
    // A result whose dense weights are not the file's, though its val top-1 is: refused, naming both.
    const other = { ...result, dense: [{ ...result.dense[0]!, weightsSha256: shaB }] };
    expect(() => withNewVal(other, 'run-b.json', readNewVal([na]))).toThrow(
      `--new-val: the dense democnn of run-b.json (val top-1 0.889, sha256 bbbbbbbbbbbb...) is not the one of ` +
        `${na}:1 (the same top-1, sha256 aaaaaaaaaaaa...): give the new-val file of that run's WORK`,
    );
  });

  test('a fine-tune without a figure on the new images is an error naming it, not a half-judged case', () => {
    const finals = readNewVal([write('n.jsonl', jsonl(newValLines({ attempt: 3, seed: 1 })))]);
    expect(() => withNewVal(result, 'run.json', finals)).toThrow(
      '--new-val: no figure on the new images for run.json: democnn @ 0.5 attempt 3, seed 1, 100 steps',
    );
  });

  test('a malformed line, and one fine-tune measured with two figures, are errors naming file and line', () => {
    const bad = write('bad.jsonl', `${JSON.stringify(newValLines()[0])}\nnot json\n`);
    expect(() => readNewVal([bad])).toThrow(`--new-val ${bad}:2: not a JSON line of bench/accuracy-new-val`);
    const noSplit = write('nosplit.jsonl', JSON.stringify({ folder: 'x', top1: 0.5 }));
    expect(() => readNewVal([noSplit])).toThrow(
      `--new-val ${noSplit}:1: expected a line of bench/accuracy-new-val`,
    );
    const twice = newValLines().filter((l) => l.split === 'new' && l.fineTune?.steps === 100);
    const other = write('other.jsonl', jsonl([{ ...twice[0]!, folder: 'elsewhere-a1-s0', top1: 0.1 }]));
    expect(() => readNewVal([write('a.jsonl', jsonl(twice)), other])).toThrow(
      /other\.jsonl:1: elsewhere-a1-s0 is the fine-tune of .*a\.jsonl:1 .* with another top-1 \(0\.1, 0\.9\)/,
    );
    expect(() => readNewVal([path.join(out.dir, 'absent.jsonl')])).toThrow(
      /--new-val .*absent\.jsonl: cannot be read/,
    );
  });

  test('bad arguments name the argument', () => {
    expect(() => parseNewValArgs(['/w', '100', '15'])).toThrow(
      /^usage: bench\/accuracy-new-val .*\(got 3 arguments\)/,
    );
    expect(() => parseNewValArgs(['/w', '100', '0', '100', 'democnn'])).toThrow(
      'VAL_PER_CLASS: expected a whole number >= 1, got "0"',
    );
  });
});

// The real engine on a tiny run: 3 classes, 2 val images per class in the run, 3 new ones per class.
describe('bench/accuracy-new-val on a run of the real engine', () => {
  let engine: WarmEngine;
  let work: string;
  let pruned: { macs: number; params: number };
  let ftSteps: number;
  const dataset = () => path.join(work, 'dataset-c3-4x2');
  const ftDir = () => path.join(work, 'ft', 'bench-acc-t-democnn-0.5-recovery-a2-s1');
  const strategy = {
    pruningRatio: 0.3,
    importance: 'l2',
    globalPruning: true,
    isomorphic: true,
    roundTo: 4,
  } as const;

  beforeAll(async () => {
    engine = realEngines().engine;
    work = fs.mkdtempSync(path.join(os.tmpdir(), 'ap-new-val-run-'));
    const ds = await engine.run<{ root: string }>('make-dataset', {
      out: dataset(),
      classes: 3,
      trainPerClass: 4,
      valPerClass: 2,
      imageSize: 32,
      seed: 0,
      preset: 'hard',
    });
    expect(ds.root).toBe(dataset());
    const denseOut = path.join(work, 'dense-democnn-1e-c3-4x2');
    const dense = await engine.run<{ model: { path: string } }>('finetune', {
      model: { name: 'democnn', numClasses: 3 },
      dataset: { root: dataset() },
      recipe: { epochs: 1, batchSize: 4, lr: 0.01, seed: 0 },
      checkpointDir: path.join(denseOut, 'ckpt'),
      checkpointEverySteps: 100,
      outDir: denseOut,
    });
    expect(dense.model.path).toBe(path.join(denseOut, 'model.pt'));
    const p = await engine.run<{ macs: number; params: number; saved: { dir: string } }>('prune', {
      model: { name: 'democnn', numClasses: 3, weights: dense.model.path },
      inputShape: [1, 3, 32, 32],
      strategy,
      outDir: path.join(work, 'pruned'),
    });
    pruned = p;
    const ft = await engine.run<{ steps: number }>('finetune', {
      model: { name: 'democnn', numClasses: 3, pruned: p.saved.dir },
      dataset: { root: dataset() },
      recipe: { epochs: 1, batchSize: 4, lr: 0.01, seed: 1 },
      checkpointDir: path.join(ftDir(), 'ckpt'),
      checkpointEverySteps: 100000,
      outDir: ftDir(),
    });
    ftSteps = ft.steps;
  }, 180_000);
  afterAll(async () => {
    await engine.close();
    fs.rmSync(work, { recursive: true, force: true });
  });

  test("evaluates each final model on the run's val and on the new images, with the fine-tune's key", async () => {
    // Another model's fine-tune in the same WORK (not a democnn: profiling it as one would fail) is not MODEL's.
    fs.mkdirSync(path.join(work, 'ft', 'bench-acc-t-mobilenet_v2-0.5-default-a1-s0'), { recursive: true });
    const lines: NewValLine[] = [];
    await runNewVal(parseNewValArgs([work, '3', '2', '3', 'democnn']), engine, (l) => lines.push(l));
    expect(lines.map((l) => [l.folder, l.split, l.count])).toEqual([
      ['dense-democnn', 'val', 6],
      ['dense-democnn', 'new', 9],
      ['bench-acc-t-democnn-0.5-recovery-a2-s1', 'val', 6],
      ['bench-acc-t-democnn-0.5-recovery-a2-s1', 'new', 9],
    ]);
    // The dense lines state the dense weights' sha256, as bench/accuracy's --json does; the fine-tunes' do not.
    const denseSha = crypto
      .createHash('sha256')
      .update(fs.readFileSync(path.join(work, 'dense-democnn-1e-c3-4x2', 'model.pt')))
      .digest('hex');
    expect(lines.map((l) => l.weightsSha256)).toEqual([denseSha, denseSha, undefined, undefined]);
    // 12 train images, batch 4: 3 steps; MACs and parameters as the prune measured them.
    expect(ftSteps).toBe(3);
    expect(lines[3]!.fineTune).toMatchObject({ seed: 1, steps: 3, macs: pruned.macs, params: pruned.params });
    expect(lines[3]!.fineTune!.strategy).toMatchObject(strategy);
    // On the run's own val split the figure is the bench's: the engine's evaluate of the same model.
    const own = await engine.run<{ top1: number }>('evaluate', {
      model: { name: 'democnn', numClasses: 3, pruned: ftDir() },
      dataset: { root: dataset(), split: 'val', imageSize: 32 },
    });
    expect(lines[2]!.top1).toBe(own.top1);
    // The new images are 3 per class, none of them one of the run's.
    const newRoot = path.join(work, 'new-val-c3-3');
    const runImages = fs
      .readdirSync(path.join(dataset(), 'val'))
      .flatMap((c) =>
        fs.readdirSync(path.join(dataset(), 'val', c)).map((f) => path.join(dataset(), 'val', c, f)),
      )
      .map((f) => fs.readFileSync(f).toString('base64'));
    for (const c of fs.readdirSync(path.join(newRoot, 'val'))) {
      const images = fs.readdirSync(path.join(newRoot, 'val', c));
      expect(images).toHaveLength(3);
      for (const f of images)
        expect(runImages).not.toContain(fs.readFileSync(path.join(newRoot, 'val', c, f)).toString('base64'));
    }
    // The run's --json row (the attempt's strategy, without the engine's defaults) takes the new images' figure.
    const row = {
      model: 'democnn',
      target: 0.5,
      attempt: 2,
      strategy,
      macs: pruned.macs,
      deviation: 0,
      steps: ftSteps,
      runs: [{ seed: 1, valTop1: lines[2]!.top1 }],
    };
    const file = path.join(work, 'lines.jsonl');
    fs.writeFileSync(file, lines.map((l) => JSON.stringify(l)).join('\n'));
    const [judged] = withNewVal({ scoredCandidates: [row] }, 'run.json', readNewVal([file]));
    expect(judged!.runs[0]!.valTop1).toBe(lines[3]!.top1);
  }, 180_000);

  test('--known: only the fine-tunes not yet in the file are evaluated, after its dense figures are checked', async () => {
    const args = (...known: string[]) =>
      parseNewValArgs([...known.flatMap((f) => ['--known', f]), work, '3', '2', '3', 'democnn']);
    const first: NewValLine[] = [];
    expect(await runNewVal(args(), engine, (l) => first.push(l))).toEqual({ measured: 1, known: 0 });
    const file = path.join(work, 'known.jsonl');
    fs.writeFileSync(file, first.map((l) => `${JSON.stringify(l)}\n`).join(''));

    // Nothing new: no line (the dense model's are in the file), one fine-tune skipped.
    const again: NewValLine[] = [];
    const none = await runNewVal(args(file), engine, (l) => again.push(l));
    expect(none).toEqual({ measured: 0, known: 1 });
    expect(again).toEqual([]);
    expect(summaryLine(none, [file])).toBe(
      `bench/accuracy-new-val: 0 fine-tunes evaluated, 1 skipped as already in ${file}`,
    );
    expect(summaryLine({ measured: 2, known: 0 }, [])).toBe('bench/accuracy-new-val: 2 fine-tunes evaluated');

    // A second seed's fine-tune appears: only its two lines, with the same figures a full run gives.
    const copy = path.join(work, 'ft', 'bench-acc-t-democnn-0.5-recovery-a2-s2');
    fs.cpSync(ftDir(), copy, { recursive: true });
    try {
      const added: NewValLine[] = [];
      expect(await runNewVal(args(file), engine, (l) => added.push(l))).toEqual({ measured: 1, known: 1 });
      expect(added.map((l) => [l.folder, l.split, l.fineTune?.seed])).toEqual([
        ['bench-acc-t-democnn-0.5-recovery-a2-s2', 'val', 2],
        ['bench-acc-t-democnn-0.5-recovery-a2-s2', 'new', 2],
      ]);
      expect(added.map((l) => l.top1)).toEqual(first.slice(2).map((l) => l.top1));
    } finally {
      fs.rmSync(copy, { recursive: true, force: true });
    }

    // Another run's file (its dense model measured otherwise) is refused, naming the line.
    const other = path.join(work, 'other.jsonl');
    const tampered = first.map((l, i) => (i === 1 ? { ...l, top1: l.top1 + 0.01 } : l));
    fs.writeFileSync(other, tampered.map((l) => JSON.stringify(l)).join('\n'));
    await expect(runNewVal(args(other), engine, () => undefined)).rejects.toThrow(
      `--known ${other}:2: dense-democnn has top-1 ${first[1]!.top1 + 0.01} on new there and ${first[1]!.top1} ` +
        `in WORK ${work}: ${other} is another run's`,
    );
    // A file whose dense model has the same figures but other weights is another run's too.
    const reweighed = first.map((l) => (l.fineTune ? l : { ...l, weightsSha256: 'c'.repeat(64) }));
    fs.writeFileSync(other, reweighed.map((l) => JSON.stringify(l)).join('\n'));
    await expect(runNewVal(args(other), engine, () => undefined)).rejects.toThrow(
      `--known ${other}:1: dense-democnn has other weights there (sha256 cccccccccccc...) than in WORK ${work}: ` +
        `${other} is another run's`,
    );
    // A file without the dense model's lines cannot be checked: refused before any engine job.
    fs.writeFileSync(other, JSON.stringify(first[3]));
    // The real engine, each job it is asked for noted: none may be.
    const jobs: string[] = [];
    const noting = {
      run: (job: string, request: unknown) => (jobs.push(job), engine.run(job, request)),
    } as unknown as WarmEngine;
    await expect(runNewVal(args(other), noting, () => undefined)).rejects.toThrow(
      `--known ${other}: no dense-democnn lines on both splits, so it cannot be checked to be this WORK's run`,
    );
    expect(jobs).toEqual([]);
    expect(() => parseNewValArgs([work, '3', '2', '3', 'democnn', '--known'])).toThrow(
      /^--known: expected the file of an earlier bench\/accuracy-new-val run/,
    );
  }, 180_000);

  test('refuses a run whose val images are not the regenerated ones, naming the image', async () => {
    const c = fs.readdirSync(path.join(dataset(), 'val')).sort()[0]!;
    const image = fs.readdirSync(path.join(dataset(), 'val', c)).sort()[0]!;
    fs.writeFileSync(path.join(dataset(), 'val', c, image), 'not the image');
    await expect(
      runNewVal(parseNewValArgs([work, '3', '2', '3', 'democnn']), engine, () => undefined),
    ).rejects.toThrow(`differs from the run's val image ${path.join(dataset(), 'val', c, image)}`);
  }, 180_000);
});
