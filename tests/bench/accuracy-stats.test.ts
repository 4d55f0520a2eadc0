import { baseStrategy } from '../../src/core/strategy';
import {
  aggregate,
  atLeastAsGood,
  averageRanks,
  candidateKey,
  caseVerdicts,
  datasetLabel,
  median,
  pearson,
  PERMUTATION_DRAWS,
  pooledByMode,
  pooledRho,
  screenedPick,
  quantile,
  scoredCandidates,
  spearman,
  spearmanP,
  summarize,
} from '../../bench/accuracy-stats';

// bench/accuracy's statistics on inputs with known answers.
describe('accuracy statistics', () => {
  test('the dataset label names its size, and its classes when not 10', () => {
    expect(datasetLabel(10, 120, 100)).toBe('120x100');
    expect(datasetLabel(100, 200, 15)).toBe('c100-200x15');
    expect(() => datasetLabel(1, 120, 100)).toThrow(
      '--classes: expected a whole number from 2 to 100, got 1',
    );
    expect(() => datasetLabel(Number('x'), 120, 100)).toThrow('--classes');
  });

  test('average ranks share ties', () => {
    expect(averageRanks([10, 20, 20, 5])).toEqual([2, 3.5, 3.5, 1]);
    expect(averageRanks([3, 3, 3])).toEqual([2, 2, 2]);
  });

  test.each([
    // [xs, ys, rho] worked by hand: rho = 1 - 6 sum d^2 / (n (n^2 - 1)) without ties
    [[1, 2, 3, 4, 5], [2, 4, 6, 8, 10], 1],
    [[1, 2, 3, 4, 5], [50, 40, 30, 20, 10], -1],
    [[1, 2, 3], [10, 30, 20], 0.5], // d = 0, -1, 1: 1 - 6*2/24
    [[0.1, 0.5, 0.2, 0.9], [0.7, 0.75, 0.72, 0.71], 0.4], // ranks [1,3,2,4] vs [1,4,3,2]: d^2 sum 6 -> 1 - 36/60
  ])('spearman(%j, %j) = %d', (xs, ys, rho) => {
    expect(spearman(xs, ys)).toBeCloseTo(rho, 12);
  });

  test('spearman with ties is Pearson on average ranks', () => {
    // ranks xs [1.5, 1.5, 3, 4], ys [1, 2, 3, 4]: Pearson = 0.9486832980505138
    expect(spearman([1, 1, 2, 3], [1, 2, 3, 4])).toBeCloseTo(0.9486832980505138, 12);
  });

  test('spearman is undefined for constant sides or fewer than two pairs', () => {
    expect(spearman([1, 1, 1], [1, 2, 3])).toBeNull();
    expect(spearman([1], [2])).toBeNull();
    expect(() => spearman([1, 2], [1])).toThrow(RangeError);
    expect(pearson([1, 2, 3], [2, 4, 7])).toBeCloseTo(0.9933992677987828, 12);
  });

  test('summarize: mean, sample sd, min, max', () => {
    expect(summarize([0.81, 0.793, 0.767])).toEqual({
      n: 3,
      mean: expect.closeTo(0.79, 12) as number,
      sd: expect.closeTo(0.021656407827707713, 12) as number,
      min: 0.767,
      max: 0.81,
    });
    expect(summarize([0.5])).toEqual({ n: 1, mean: 0.5, sd: 0, min: 0.5, max: 0.5 });
    expect(() => summarize([])).toThrow(RangeError);
  });

  test('median: the middle value of an odd count, the mean of the two middle values of an even one', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([7])).toBe(7);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([10, 20])).toBe(15);
    expect(median([5, 5, 1, 9])).toBe(5);
    expect(median([])).toBeNaN();
    // The input is left as it was.
    const xs = [3, 1, 2];
    median(xs);
    expect(xs).toEqual([3, 1, 2]);
  });

  test('quantile: nearest rank, no interpolation; null for no values', () => {
    const xs = [9, 2, 7, 4, 1, 10, 3, 8, 6, 5];
    expect(quantile(xs, 0.5)).toBe(5);
    expect(quantile(xs, 0.9)).toBe(9);
    expect(quantile(xs, 0.95)).toBe(10);
    expect(quantile(xs, 1)).toBe(10);
    expect(quantile(xs, 0)).toBe(1);
    expect(quantile(xs, 0.1)).toBe(1);
    expect(quantile(xs, 0.11)).toBe(2);
    // The lower middle of an even count, where median averages the two.
    expect(quantile([4, 1, 3, 2], 0.5)).toBe(2);
    expect(quantile([3, 1, 2], 0.5)).toBe(2);
    expect(quantile([], 0.5)).toBeNull();
    expect(xs).toEqual([9, 2, 7, 4, 1, 10, 3, 8, 6, 5]);
  });

  test('aggregate groups seeds per model, target and method in first-seen order', () => {
    const rows = [
      { model: 'democnn', target: 0.5, method: 'l1-uniform', seed: 0, valTop1: 0.8 },
      { model: 'democnn', target: 0.5, method: 'l2-iso', seed: 0, valTop1: 0.7 },
      { model: 'democnn', target: 0.5, method: 'l1-uniform', seed: 1, valTop1: 0.6 },
      { model: 'democnn', target: 0.3, method: 'l1-uniform', seed: 0, valTop1: 0.5 },
    ];
    const groups = aggregate(rows);
    expect(groups.map((g) => [g.target, g.method, g.seeds, g.summary.n])).toEqual([
      [0.5, 'l1-uniform', [0, 1], 2],
      [0.5, 'l2-iso', [0], 1],
      [0.3, 'l1-uniform', [0], 1],
    ]);
    expect(groups[0]!.summary.mean).toBeCloseTo(0.7, 12);
  });

  test('at least as good within the seed spread', () => {
    const a = summarize([0.78, 0.8]); // mean 0.79, sd 0.01414
    expect(atLeastAsGood(a, summarize([0.8, 0.82]))).toBe(true); // 0.804 >= 0.796
    expect(atLeastAsGood(a, summarize([0.9, 0.92]))).toBe(false);
  });

  // A campaign log of 6 attempts, as the scored search writes it: #1 above the band, #2 failed in the engine,
  // #3 and #5 in band and scored by a 10-step recovery fine-tune, #4 in band whose scoring crashed, #6 in band
  // and scored.
  const score = (top1: number, steps: number) => ({
    mode: 'recovery' as const,
    top1,
    loss: 1,
    count: 64,
    steps,
    wallMs: 5,
  });
  const log = [
    { index: 1, inBand: false },
    { index: 2, inBand: false, error: 'engine: out of memory' },
    { index: 3, inBand: true, score: score(0.4, 10) },
    { index: 4, inBand: true, scoreError: 'scoring fine-tune crashed' },
    { index: 5, inBand: true, score: score(0.6, 10) },
    { index: 6, inBand: true, score: score(0.5, 10) },
  ];

  test('scoredCandidates: the in-band scored attempts in log order, the chosen one kept', () => {
    const c = scoredCandidates(log, 5);
    expect(c.map((a) => [a.index, a.kept, a.score.top1])).toEqual([
      [3, false, 0.4],
      [5, true, 0.6],
      [6, false, 0.5],
    ]);
    expect(scoredCandidates(log, null).filter((a) => a.kept)).toEqual([]);
  });

  test('candidateKey names a strategy and its MACs, whatever the key order or the rationale', () => {
    const a = baseStrategy(0.3, { stageRatios: { b: 0.2, a: 0.1 } });
    const b = { ...baseStrategy(0.5, { stageRatios: { a: 0.1, b: 0.2 } }), pruningRatio: 0.3 };
    expect(candidateKey(a, 1000)).toBe(candidateKey(b, 1000));
    // Each campaign's solver writes its own rationale: the same pruning is the same candidate.
    expect(candidateKey({ ...a, rationale: 'interpolated from attempt 2' }, 1000)).toBe(
      candidateKey(a, 1000),
    );
    expect(candidateKey(a, 1000)).not.toBe(candidateKey(a, 1001));
    expect(candidateKey(a, 1000)).not.toBe(candidateKey({ ...a, importance: 'l1' }, 1000));
  });

  describe('caseVerdicts', () => {
    const row = (attempt: number, score: number, valTop1s: number[], kept = false) => ({
      model: 'democnn',
      target: 0.5,
      mode: 'recovery',
      attempt,
      kept,
      score,
      valTop1s,
    });

    test('rho over seed means, no regret when the best is kept, resolution in standard errors', () => {
      // means 0.80 and 0.90; seed sd sqrt(2 * 0.01^2 / 1) = 0.0141421 each; spread sd 0.0707107;
      // standard error of a 2-seed mean 0.01: resolution 7.07
      const [v] = caseVerdicts([row(3, 0.3, [0.79, 0.81]), row(5, 0.5, [0.89, 0.91], true)]);
      expect(v).toEqual({
        model: 'democnn',
        target: 0.5,
        mode: 'recovery',
        count: 2,
        rho: 1,
        rhoP: 0.5, // 2 pairings, one of them as good
        keptMean: expect.closeTo(0.9, 12) as number,
        bestMean: expect.closeTo(0.9, 12) as number,
        regret: expect.closeTo(0, 12) as number,
        spreadSd: expect.closeTo(0.0707106781, 9) as number,
        seedSd: expect.closeTo(0.0141421356, 9) as number,
        resolution: expect.closeTo(7.0710678, 6) as number,
        ceiling: expect.closeTo(Math.sqrt(1 - 1 / 50), 9) as number, // 0.98995: resolution^2 = 50
        seedRho: 1, // both seeds put attempt 5 first
      });
    });

    test('a kept candidate below the best: its regret, a negative rho, cases apart', () => {
      const other = { ...row(9, 0.1, [0.5, 0.5]), target: 0.3 };
      const vs = caseVerdicts([
        row(1, 0.7, [0.8, 0.82, 0.84], true), // mean 0.82
        row(2, 0.6, [0.85, 0.86, 0.87]), // mean 0.86
        row(3, 0.5, [0.9, 0.88, 0.89]), // mean 0.89
        other,
      ]);
      expect(vs.map((v) => [v.target, v.count])).toEqual([
        [0.5, 3],
        [0.3, 1],
      ]);
      expect(vs[0]!.rho).toBeCloseTo(-1, 12);
      expect(vs[0]!.rhoP).toBe(1); // every pairing is at least as good as the worst one
      expect(vs[0]!.regret).toBeCloseTo(0.07, 12);
      // seed variances 0.0004, 0.0001, 0.0001: pooled sd sqrt(0.0002); spread sd of 0.82/0.86/0.89 = 0.035119
      expect(vs[0]!.seedSd).toBeCloseTo(Math.sqrt(0.0002), 12);
      expect(vs[0]!.resolution).toBeCloseTo(0.0351188458 / (Math.sqrt(0.0002) / Math.sqrt(3)), 6);
      // resolution 4.30: the noise ceiling sqrt(1 - 1/4.30^2) = 0.9726
      expect(vs[0]!.ceiling).toBeCloseTo(0.9726, 4);
      // One candidate: no rho; one seed with no spread: no resolution.
      expect(vs[1]).toMatchObject({
        rho: null,
        rhoP: null,
        keptMean: null,
        regret: null,
        resolution: null,
        ceiling: null,
      });
    });

    test('the noise ceiling: 0 when the candidates are no further apart than seed noise', () => {
      // two candidates, 2 seeds: means 0.80 and 0.81, seed sd 0.0141, standard error 0.01, spread sd 0.00707:
      // resolution 0.707, below 1: the spread is all noise as far as these seeds can tell
      const [v] = caseVerdicts([row(1, 0.3, [0.79, 0.81], true), row(2, 0.5, [0.8, 0.82])]);
      expect(v!.resolution).toBeCloseTo(0.7071, 4);
      expect(v!.ceiling).toBe(0);
      // resolution 1.5 (democnn's 518-step cases): sqrt(1 - 1/2.25) = 0.745
      const [w] = caseVerdicts([
        row(1, 0.3, [0.79, 0.81], true),
        row(
          2,
          0.5,
          [0.8, 0.82].map((x) => x + 0.0112132),
        ),
      ]);
      expect(w!.resolution).toBeCloseTo(1.5, 4);
      expect(w!.ceiling).toBeCloseTo(0.7454, 4);
    });

    test('seedRho: how far the seeds order the candidates alike, the mean over pairs of seeds', () => {
      // Two seeds in opposite orders: -1.
      const [flip] = caseVerdicts([
        row(1, 0.1, [0.8, 0.82], true),
        row(2, 0.2, [0.81, 0.81]),
        row(3, 0.3, [0.82, 0.8]),
      ]);
      expect(flip!.seedRho).toBeCloseTo(-1, 12);
      // Four candidates, the second seed swaps the first two: sum d^2 = 2, rho = 1 - 6 * 2 / (4 * 15) = 0.8.
      const [swap] = caseVerdicts([
        row(1, 0.1, [0.7, 0.72], true),
        row(2, 0.2, [0.71, 0.7]),
        row(3, 0.3, [0.8, 0.8]),
        row(4, 0.4, [0.9, 0.9]),
      ]);
      expect(swap!.seedRho).toBeCloseTo(0.8, 12);
      // Three seeds: pairs (0,1) 1, (0,2) -1, (1,2) -1: mean -1/3.
      const [three] = caseVerdicts([row(1, 0.1, [0.7, 0.7, 0.9], true), row(2, 0.2, [0.9, 0.9, 0.7])]);
      expect(three!.seedRho).toBeCloseTo(-1 / 3, 12);
      // One seed: nothing to agree with; a seed whose finals are all equal orders nothing.
      expect(caseVerdicts([row(1, 0.1, [0.7], true), row(2, 0.2, [0.8])])[0]!.seedRho).toBeNull();
      expect(caseVerdicts([row(1, 0.1, [0.7, 0.8], true), row(2, 0.2, [0.7, 0.9])])[0]!.seedRho).toBeNull();
    });

    test('a candidate without runs is refused', () => {
      expect(() => caseVerdicts([row(1, 0.5, [])])).toThrow(/#1 has no runs/);
    });
  });
  describe('permutation p-values of rho', () => {
    test.each([
      // [xs, ys, p] counted by hand over all n! pairings
      [[1, 2, 3], [1, 2, 3], 1 / 6], // only the identity reaches rho 1
      [[1, 2, 3, 4], [1, 2, 3, 4], 1 / 24],
      [[1, 2, 3, 4], [1, 2, 4, 3], 4 / 24], // rho 0.8: the identity and the 3 adjacent swaps (sum d^2 = 2)
      [[1, 2, 3, 4], [4, 3, 2, 1], 1], // rho -1: every pairing does at least as well
    ])('spearmanP(%j, %j) = %d', (xs, ys, p) => {
      expect(spearmanP(xs, ys)).toBeCloseTo(p, 12);
    });

    test('6 candidates, as a bench case has: the p of the rho values it reports', () => {
      const xs = [1, 2, 3, 4, 5, 6];
      // d = 2, -1, -1, 0, 0, 0: sum d^2 = 6, rho 1 - 36/210 = 29/35 (0.829); 21 of the 720 pairings have
      // sum d^2 <= 6
      expect(spearman(xs, [3, 1, 2, 4, 5, 6])).toBeCloseTo(29 / 35, 12);
      expect(spearmanP(xs, [3, 1, 2, 4, 5, 6])).toBeCloseTo(21 / 720, 12);
      // d = 2, 0, -2, 0, 1, -1: sum d^2 = 10, rho 5/7 (0.714); 49 of 720 have sum d^2 <= 10
      expect(spearman(xs, [3, 2, 1, 4, 6, 5])).toBeCloseTo(5 / 7, 12);
      expect(spearmanP(xs, [3, 2, 1, 4, 6, 5])).toBeCloseTo(49 / 720, 12);
    });

    test('beyond 8 pairs a seeded Monte Carlo estimate, the same on every run', () => {
      const xs = Array.from({ length: 10 }, (_, i) => i);
      // a perfect order of 10: exact p 1/10! ~ 2.8e-7; the estimate is its floor, 1 / (draws + 1)
      expect(spearmanP(xs, xs)).toBeCloseTo(1 / (PERMUTATION_DRAWS + 1), 12);
      // the reverse order: every draw is at least as good
      expect(spearmanP(xs, [...xs].reverse())).toBe(1);
      // an unrelated order (rho near 0): p near one half, and reproducible
      const ys = [3, 7, 0, 9, 4, 1, 8, 2, 6, 5];
      const p = spearmanP(xs, ys)!;
      expect(Math.abs(spearman(xs, ys)!)).toBeLessThan(0.25);
      expect(p).toBeGreaterThan(0.2);
      expect(p).toBeLessThan(0.8);
      expect(spearmanP(xs, ys)).toBe(p);
      expect(spearmanP(xs, ys, 7)).not.toBe(p); // another seed draws other pairings
    });

    test('undefined rho has no p', () => {
      expect(spearmanP([1, 1, 1], [1, 2, 3])).toBeNull();
      expect(spearmanP([1], [1])).toBeNull();
    });

    test('pooled: the mean within-case rho and its p, shuffling within each case', () => {
      // two perfect 3-candidate cases: mean rho 1 only when both draws are the identity, p = 1/36 (0.0278);
      // the Monte Carlo estimate's sd is sqrt(0.0278 * 0.972 / 20000) = 0.0012
      const perfect = { xs: [1, 2, 3], ys: [0.7, 0.8, 0.9] };
      const two = pooledRho([perfect, perfect]);
      expect(two.cases).toBe(2);
      expect(two.meanRho).toBeCloseTo(1, 12);
      expect(Math.abs(two.p! - 1 / 36)).toBeLessThan(0.005);
      // a perfect case and a reversed one: mean 0, which half the draws or more reach
      const mixed = pooledRho([perfect, { xs: [1, 2, 3], ys: [0.9, 0.8, 0.7] }]);
      expect(mixed.meanRho).toBeCloseTo(0, 12);
      expect(mixed.p!).toBeGreaterThan(0.5);
      // an undefined case is left out
      expect(pooledRho([perfect, { xs: [1, 1, 1], ys: [1, 2, 3] }]).cases).toBe(1);
      expect(pooledRho([])).toEqual({ cases: 0, meanRho: null, p: null });
    });

    test('screenedPick: the best `keep` by the short score, then the best of them by the long', () => {
      // four candidates: the short score ranks 0 > 1 > 2 > 3, the long one 3 > 2 > 1 > 0
      const short = [0.4, 0.3, 0.2, 0.1];
      const long = [0.1, 0.2, 0.3, 0.4];
      const by = (xs: number[]) => (i: number, j: number) => xs[i]! > xs[j]!;
      expect(screenedPick(4, by(short), by(long), 1)).toBe(0); // the short score alone
      expect(screenedPick(4, by(short), by(long), 2)).toBe(1);
      expect(screenedPick(4, by(short), by(long), 3)).toBe(2);
      expect(screenedPick(4, by(short), by(long), 4)).toBe(3); // the long score alone
      expect(screenedPick(4, by(short), by(long), 9)).toBe(3);
      // equal scores go to the earlier candidate, at both stages
      const flat = [0.5, 0.5, 0.5];
      expect(screenedPick(3, by(flat), by(flat), 2)).toBe(0);
      expect(screenedPick(3, by([0.1, 0.5, 0.5]), by(flat), 2)).toBe(1);
      expect(() => screenedPick(0, by(flat), by(flat), 1)).toThrow(/no candidates/);
      expect(() => screenedPick(3, by(flat), by(flat), 0)).toThrow(/keep 0, expected >= 1/);
    });

    test('pooledByMode pools each mode over its cases, never across modes', () => {
      const row = (target: number, mode: string, attempt: number, score: number, valTop1s: number[]) => ({
        model: 'democnn',
        target,
        mode,
        attempt,
        kept: attempt === 1,
        score,
        valTop1s,
      });
      const rows = [
        row(0.5, 'recovery', 1, 0.1, [0.7, 0.72]),
        row(0.5, 'recovery', 2, 0.2, [0.8, 0.8]),
        row(0.5, 'recovery', 3, 0.3, [0.9, 0.88]),
        row(0.3, 'recovery', 1, 0.3, [0.6]),
        row(0.3, 'recovery', 2, 0.2, [0.65]),
        row(0.3, 'recovery', 3, 0.1, [0.7]),
        row(0.5, 'zero-shot', 1, 0.5, [0.7, 0.72]),
        row(0.5, 'zero-shot', 2, 0.4, [0.8, 0.8]),
      ];
      const pooled = pooledByMode(rows);
      expect(pooled.map((m) => [m.mode, m.cases, m.meanRho])).toEqual([
        ['recovery', 2, 0], // rho 1 at 0.5 and -1 at 0.3
        ['zero-shot', 1, -1],
      ]);
      expect(pooled[1]!.p).toBe(1);
      // only the cases whose candidates differ beyond seed noise: the 0.5 recovery case (resolution 11.0:
      // means 0.71/0.80/0.89, spread sd 0.09, pooled seed sd 0.0115, 2 seeds) and the zero-shot one (9.0);
      // the 0.3 case has one seed, so no resolution
      const resolved = pooledByMode(rows, 1);
      expect(resolved.map((m) => [m.mode, m.cases, m.meanRho])).toEqual([
        ['recovery', 1, 1],
        ['zero-shot', 1, -1],
      ]);
      // the regret of the kept #1 (its seed mean below the case's best): 0.89 - 0.71 at 0.5, 0.70 - 0.60 at
      // 0.3, 0.80 - 0.71 for zero-shot; over the resolved cases, the 0.5 recovery case alone
      const regret = (m: { regret: { cases: number; mean: number | null; max: number | null } }) => [
        m.regret.cases,
        Number(m.regret.mean!.toFixed(6)),
        Number(m.regret.max!.toFixed(6)),
      ];
      expect(pooled.map(regret)).toEqual([
        [2, 0.14, 0.18],
        [1, 0.09, 0.09],
      ]);
      expect(resolved.map(regret)[0]).toEqual([1, 0.18, 0.18]);
      // a case that marks no candidate kept has no regret; its rho still counts
      const unkept = pooledByMode(rows.slice(3, 6).map((r) => ({ ...r, kept: false })));
      expect(unkept[0]).toMatchObject({ cases: 1, meanRho: -1, regret: { cases: 0, mean: null, max: null } });
    });
  });
});
