import * as fs from 'node:fs';
import * as path from 'node:path';
import { capturedOutput } from './captured-output';
import { judge, parseRankBy, rankedScore, verdictsOf } from '../../bench/accuracy-verdicts';

// `bench/accuracy --verdicts-of`: the table and pooled lines it prints for a stored --json result with known
// answers.
describe('bench/accuracy --verdicts-of', () => {
  const out = capturedOutput('ap-verdicts-');

  const candidate = (attempt: number, scoreTop1: number, valTop1s: number[], scoreLoss = 1) => ({
    model: 'democnn',
    target: 0.5,
    mode: 'recovery',
    attempt,
    kept: attempt === 1,
    scoreTop1,
    scoreLoss,
    runs: valTop1s.map((valTop1, seed) => ({ seed, valTop1 })),
  });

  test('prints each case with its rho, p, regret, resolution and noise ceiling, then each mode pooled', () => {
    const file = path.join(out.dir, 'result.json');
    fs.writeFileSync(
      file,
      JSON.stringify({
        scoredCandidates: [
          candidate(1, 0.1, [0.7, 0.72]), // kept: mean 0.71
          candidate(2, 0.2, [0.8, 0.8]),
          candidate(3, 0.3, [0.9, 0.88]), // the best: mean 0.89
        ],
      }),
    );
    verdictsOf([file]);
    // rho 1 (score order = accuracy order), exact p 1/6; regret 89.0 - 71.0 = 18.0 points; spread sd 9.0
    // points; pooled seed sd sqrt((0.0002 + 0 + 0.0002) / 3) = 1.15 points; resolution 0.09 / (0.011547 /
    // sqrt 2) = 11.0; ceiling sqrt(1 - 1/121.5) = 0.996
    expect(out.lines).toContain(
      '| democnn | 0.5 | recovery | 3 | 1.00 | 0.167 | 71.0 % | 89.0 % | 18.0 | 9.0 | 1.2 | 11.0 | 1.00 | 1.00 |',
    );
    expect(out.lines.some((l) => l.includes('| rho (score top-1 vs seed-mean val) |'))).toBe(true);
    const pooled = out.lines.filter((l) => l.startsWith('pooled, recovery (score top-1):'));
    expect(pooled).toHaveLength(2);
    expect(pooled[0]).toMatch(
      /^pooled, recovery \(score top-1\): mean within-case rho 1\.00 over 1 cases, one-sided permutation p /,
    );
    expect(pooled[1]).toMatch(/over 1 cases resolved \(resolution > 1\), one-sided permutation p /);
    for (const line of pooled)
      expect(line).toMatch(/; regret of the kept candidate mean 18\.00, max 18\.00 points over 1 cases$/);
    // Monte Carlo estimate of the exact 1/6 over 20,000 draws (sd 0.0026)
    const p = Number(/permutation p (\d\.\d+);/.exec(pooled[0]!)![1]);
    expect(Math.abs(p - 1 / 6)).toBeLessThan(0.015);
  });

  test('the committed democnn @ 0.15 case on the new images: a noise ceiling of 0.99 beside seeds that agree at 0.54', () => {
    // bench/results/recovery-sweep (RESULTS.md, "Four cuts on 10,000 new val images"). LAMP's shape ends 5.5
    // points below five candidates within 1.1 points of each other: the spread is large (2.3 sd), so the
    // ceiling is 0.99, yet the two seeds order the six alike only at 1 - 6 * 16 / 210 = 0.54.
    const dir = path.join(__dirname, '../../bench/results/recovery-sweep');
    verdictsOf([path.join(dir, 'xeon-c100-0.15-ft2442-seeds01.json')], 'top1', [
      path.join(dir, 'xeon-c100-new-val.jsonl'),
    ]);
    expect(out.lines).toContain(
      '| democnn | 0.15 | recovery 10 steps | 6 | -0.09 | 0.599 | 80.8 % | 81.3 % | 0.5 | 2.3 | 0.4 | 7.4 | 0.99 | 0.54 |',
    );
  });

  test('the five committed democnn cases pooled: what the pick of each recovery length cost, beside its rho', () => {
    // bench/results/recovery-sweep (RESULTS.md, "The strongest cut with three seeds"): 0.5, 0.4 and 0.3 with
    // the 16-epoch dense model (2 seeds), 0.15 with it (3 seeds), 0.15 with the 24-epoch one (2 seeds), on the
    // 10,000 new val images. The regrets per case, in points: 10 steps 0.1 / 0.0 / 0.0 / 0.5 / 1.1, 40 steps
    // 0.1 / 0.0 / 0.2 / 0.2 / 0.0, 160 steps 0.1 / 0.0 / 0.0 / 1.3 / 0.0: 40 steps ranks no better than 10 (rho 0.55
    // both) and worse than 160 (0.63), yet its pick costs least: mean 0.09, at most 0.21 points.
    const dir = path.join(__dirname, '../../bench/results/recovery-sweep');
    const files = (names: string) => names.split(',').map((n) => path.join(dir, n));
    verdictsOf(
      files(
        'xeon-c100-0.5-ft2442-seeds01.json,xeon-c100-0.4-0.3-ft2442-seeds01.json,xeon-c100-0.15-ft2442-seeds012.json,xeon-c100-d24-0.15-ft2442-seeds01.json',
      ),
      'top1',
      files('xeon-c100-new-val.jsonl,xeon-c100-0.15-seed2-new-val.jsonl,xeon-c100-d24-new-val.jsonl'),
    );
    expect(out.lines).toContain(
      '| democnn | 0.15 | recovery 40 steps | 6 | 0.09 | 0.460 | 81.0 % | 81.3 % | 0.2 | 2.2 | 0.3 | 11.4 | 1.00 | 0.73 |',
    );
    const pooled = out.lines.filter((l) => l.startsWith('pooled, ') && !l.includes('resolved'));
    expect(
      pooled.map((l) =>
        /^pooled, (.*) \(score top-1\): mean within-case rho (\S+) over 5 cases, .*; regret of the kept candidate mean (\S+), max (\S+) points over 5 cases$/
          .exec(l)!
          .slice(1),
      ),
    ).toEqual([
      ['recovery 10 steps', '0.55', '0.33', '1.11'],
      ['recovery 40 steps', '0.55', '0.09', '0.21'],
      ['recovery 160 steps', '0.63', '0.27', '1.27'],
    ]);
  });

  test('results of several recovery lengths are judged and pooled per length; zero-shot keeps its name', () => {
    const at = (steps: number, rows: ReturnType<typeof candidate>[]) => {
      const file = path.join(out.dir, `r${steps}.json`);
      fs.writeFileSync(
        file,
        JSON.stringify({ scoredCandidates: rows.map((r) => ({ ...r, scoreSteps: steps })) }),
      );
      return file;
    };
    // 10 steps rank the three candidates backwards (rho -1), 160 steps rightly (rho 1): the same models, whose
    // seed means are 71, 80 and 89 %.
    const short = at(10, [
      candidate(1, 0.3, [0.7, 0.72]),
      candidate(2, 0.2, [0.8, 0.8]),
      candidate(3, 0.1, [0.9, 0.88]),
    ]);
    const long = at(160, [
      candidate(1, 0.1, [0.7, 0.72]),
      candidate(2, 0.2, [0.8, 0.8]),
      candidate(3, 0.3, [0.9, 0.88]),
    ]);
    const zero = at(0, [
      { ...candidate(1, 0.1, [0.7, 0.72]), mode: 'zero-shot' },
      { ...candidate(2, 0.3, [0.8, 0.8]), mode: 'zero-shot' },
    ]);
    verdictsOf([short, long, zero]);
    expect(out.lines).toContain(
      '| democnn | 0.5 | recovery 10 steps | 3 | -1.00 | 1.000 | 71.0 % | 89.0 % | 18.0 | 9.0 | 1.2 | 11.0 | 1.00 | 1.00 |',
    );
    expect(out.lines).toContain(
      '| democnn | 0.5 | recovery 160 steps | 3 | 1.00 | 0.167 | 71.0 % | 89.0 % | 18.0 | 9.0 | 1.2 | 11.0 | 1.00 | 1.00 |',
    );
    expect(out.lines.some((l) => l.startsWith('| democnn | 0.5 | zero-shot | 2 |'))).toBe(true);
    const pooled = out.lines.filter((l) => l.startsWith('pooled, ') && !l.includes('resolved'));
    expect(
      pooled.map((l) => /^pooled, (.*) \(score top-1\): mean within-case rho (\S+) /.exec(l)!.slice(1)),
    ).toEqual([
      ['recovery 10 steps', '-1.00'],
      ['recovery 160 steps', '1.00'],
      ['zero-shot', '1.00'],
    ]);
  });

  // Four candidates whose top-1 order and loss order disagree: by top-1 the campaign kept #2 (0.80), by loss
  // it would keep #3 (0.60), the best after fine-tuning.
  const disagreeing = () => [
    { ...candidate(1, 0.7, [0.7, 0.7], 0.9), kept: false },
    { ...candidate(2, 0.8, [0.76, 0.78], 0.8), kept: true },
    { ...candidate(3, 0.75, [0.9, 0.9], 0.6), kept: false },
    { ...candidate(4, 0.72, [0.8, 0.82], 0.7), kept: false },
  ];

  test('judged by loss: the score is the loss negated, and the kept candidate the lowest loss', () => {
    // Means 0.70, 0.77, 0.90, 0.81. By top-1 (ranks 1 4 3 2 against 1 2 4 3): d^2 = 0 + 4 + 1 + 1 = 6, rho
    // 1 - 36 / 60 = 0.4, regret 90 - 77 = 13 points. By -loss (ranks 1 2 4 3): rho 1, regret 0.
    const byTop1 = judge(disagreeing()).verdicts[0]!;
    expect(byTop1.rho).toBeCloseTo(0.4, 10);
    expect(byTop1.keptMean).toBeCloseTo(0.77, 10);
    expect(byTop1.regret).toBeCloseTo(0.13, 10);
    expect(disagreeing().map((r) => rankedScore(r, 'loss'))).toEqual([-0.9, -0.8, -0.6, -0.7]);
    expect(disagreeing().map((r) => rankedScore(r, 'top1'))).toEqual([0.7, 0.8, 0.75, 0.72]);
    const byLoss = judge(disagreeing(), 'loss').verdicts[0]!;
    expect(byLoss.rho).toBeCloseTo(1, 10);
    expect(byLoss.keptMean).toBeCloseTo(0.9, 10);
    expect(byLoss.regret).toBeCloseTo(0, 10);
  });

  test("a campaign ranked by loss keeps its own kept when judged by loss, and top-1's when judged by top-1", () => {
    // The campaign ran with rankBy loss and kept #3; judged by top-1 the kept is the highest top-1, #2.
    const ranLoss = disagreeing().map((r) => ({ ...r, rankBy: 'loss' as const, kept: r.attempt === 3 }));
    expect(judge(ranLoss, 'loss').verdicts[0]!.keptMean).toBeCloseTo(0.9, 10);
    expect(judge(ranLoss, 'top1').verdicts[0]!.keptMean).toBeCloseTo(0.77, 10);
  });

  test('--verdicts-of --rank-by loss prints the loss verdict; a bad --rank-by is named', () => {
    const file = path.join(out.dir, 'result.json');
    fs.writeFileSync(file, JSON.stringify({ scoredCandidates: disagreeing() }));
    verdictsOf([file], 'loss');
    expect(out.lines.some((l) => l.includes('| rho (score loss, negated vs seed-mean val) |'))).toBe(true);
    expect(out.lines.find((l) => l.startsWith('| democnn |'))).toMatch(
      /^\| democnn \| 0\.5 \| recovery \| 4 \| 1\.00 \| 0\.042 \| 90\.0 % \| 90\.0 % \| 0\.0 \|/,
    );
    expect(out.lines.filter((l) => l.startsWith('pooled, recovery (score loss, negated):'))).toHaveLength(2);
    expect(() => parseRankBy('top5')).toThrow('--rank-by: expected top1 or loss, got "top5"');
  });

  test('a file that is not a bench/accuracy result is named', () => {
    const file = path.join(out.dir, 'other.json');
    fs.writeFileSync(file, JSON.stringify({ rows: [] }));
    expect(() => verdictsOf([file])).toThrow(
      `${file}: expected the JSON of bench/accuracy --json, with scoredCandidates`,
    );
  });
});
