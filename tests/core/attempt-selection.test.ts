import type { Attempt, CandidateScore } from '../../src/core/attempt';
import {
  decidingScore,
  finalists,
  finalistsNote,
  finalistsPlan,
  rankedCandidates,
  recoveryPlan,
  recoveryPlanNote,
  recoveryPlanByEpochs,
  runnerUp,
  top1Error,
  bestAttempt,
  bestScored,
  bracketOf,
  chooseCandidate,
  failedAttempt,
  firstInBand,
  isFailed,
  isMeasured,
  scoreBeats,
  searchCost,
  sideOf,
} from '../../src/core/attempt-selection';
import { baseStrategy } from '../../src/core/strategy';
import type { Band } from '../../src/core/tolerance-band';
import { bandCenter, inBand } from '../../src/core/tolerance-band';

const BAND: Band = { lo: -0.05, hi: 0.01 };

/** `d` a deviation, or a string for a failed attempt; `top1` an accuracy proxy. */
function history(specs: (number | string | [number, number])[]): Attempt[] {
  return specs.map((spec, i) => {
    const base = { index: i + 1, agent: 'solver' as const, strategy: baseStrategy(0.1 + i * 0.01) };
    if (typeof spec === 'string') return failedAttempt(base, spec);
    const [d, top1] = typeof spec === 'number' ? [spec, undefined] : spec;
    return {
      ...base,
      macs: 1e9 * (1 + d),
      params: 0,
      deviation: d,
      inBand: inBand(d, BAND),
      wallMs: 0,
      ...(top1 !== undefined ? { accuracyProxy: { top1, top5: 0.9, count: 64 } } : {}),
    };
  });
}

describe('measured and failed attempts', () => {
  test('a failed attempt keeps the wire form and is not measured', () => {
    const [a] = history(['EngineError: bad']);
    expect(a).toEqual({
      index: 1,
      agent: 'solver',
      strategy: baseStrategy(0.1),
      macs: 0,
      params: 0,
      deviation: -1,
      inBand: false,
      wallMs: 0,
      error: 'EngineError: bad',
    });
    expect(isMeasured(a!)).toBe(false);
    expect(isFailed(a!)).toBe(true);
  });

  test.each([
    [-0.02, 'below'],
    [0, 'above'],
    [0.02, 'above'],
  ])('sideOf(%d) is %s (exactly on target counts as above)', (d, side) => {
    expect(sideOf(d)).toBe(side);
  });
});

describe('selection', () => {
  test.each<[string, (number | string | [number, number])[], number, number | undefined]>([
    ['aim at the target: in band, closest to 0', [0.3, -0.04, -0.01], 0, 3],
    ['aim at the centre (-2 %): in band, closest to the centre', [0.3, -0.04, -0.01], bandCenter(BAND), 3],
    ['aim at the centre: out of band, closest to the band', [0.03, -0.065], bandCenter(BAND), 2],
    ['aim at the target: out of band, closest to 0', [0.03, -0.065], 0, 1],
    ['failures are never best', ['x', 0.5], 0, 2],
  ])('bestAttempt: %s', (_label, specs, aim, index) => {
    expect(bestAttempt(history(specs), BAND, aim)?.index).toBe(index);
  });

  test('an attempt exactly on target brackets from above', () => {
    const b = bracketOf(history([0.2, 0, -0.3]));
    expect([b.below?.index, b.above?.index]).toEqual([3, 2]);
  });

  test.each<[string, (number | string | [number, number])[], number | null]>([
    ['nothing measured', ['x'], null],
    ['no accuracy: closest to target', [0.3, -0.04, -0.01], 3],
    [
      'best top-1 among in-band attempts',
      [
        [-0.01, 0.6],
        [-0.04, 0.7],
        [0.3, 0.9],
      ],
      2,
    ],
    [
      'ties in top-1 go to the earlier',
      [
        [-0.01, 0.7],
        [-0.04, 0.7],
      ],
      1,
    ],
    ['nothing in band: closest to target', [0.3, 0.04], 2],
  ])('chooseCandidate: %s', (_label, specs, index) => {
    expect(chooseCandidate(history(specs), BAND)?.index ?? null).toBe(index);
  });

  test('firstInBand', () => {
    expect(firstInBand(history([0.3, 'x', -0.04, 0]), BAND)?.index).toBe(3);
    expect(firstInBand(history([0.3]), BAND)).toBeUndefined();
  });
});

/** A candidate's score: zero-shot by default, `over` for a recovery one (`{ mode: 'recovery', steps: 10 }`). */
const score = (top1: number, loss: number, over: Partial<CandidateScore> = {}): CandidateScore => ({
  mode: 'zero-shot',
  top1,
  loss,
  count: 256,
  steps: 0,
  wallMs: 10,
  ...over,
});

describe('chooseCandidate with candidate scores', () => {
  /** In-band attempts at -1 %, each with [score top1, loss], `null` for unscored, or a scoreError string. */
  function scored(specs: ([number, number] | null | string)[], proxyOn?: number): Attempt[] {
    return history(specs.map((_, i) => (i + 1 === proxyOn ? [-0.01, 0.99] : -0.01))).map((a, i) => {
      const spec = specs[i];
      if (Array.isArray(spec)) return { ...a, score: score(spec[0], spec[1]) };
      if (typeof spec === 'string') return { ...a, scoreError: spec };
      return a;
    });
  }

  test.each<[string, ([number, number] | null | string)[], number | undefined, number]>([
    [
      'the highest score top-1 wins',
      [
        [0.5, 1],
        [0.7, 2],
        [0.6, 0.5],
      ],
      undefined,
      2,
    ],
    [
      'equal top-1: the lower loss wins',
      [
        [0.7, 1.2],
        [0.7, 0.9],
        [0.6, 0.5],
      ],
      undefined,
      2,
    ],
    [
      'equal top-1 and loss: the earlier',
      [
        [0.7, 1],
        [0.7, 1],
      ],
      undefined,
      1,
    ],
    ['a score beats a higher quick accuracy proxy', [[0.4, 2], null], 2, 1],
    ['a failed scoring is never kept over a scored one', ['error: boom', [0.1, 3]], undefined, 2],
    ['nothing scored: the old rule (proxy)', [null, 'error: boom', null], 3, 3],
  ])('%s', (_label, specs, proxyOn, index) => {
    expect(chooseCandidate(scored(specs, proxyOn), BAND)?.index).toBe(index);
  });

  test.each<[string, ([number, number] | null | string)[], number]>([
    [
      'rankBy loss: the lowest loss wins over the highest top-1',
      [
        [0.77, 0.713],
        [0.76, 0.76],
        [0.78, 0.726],
      ],
      1,
    ],
    [
      'rankBy loss, equal loss: the higher top-1',
      [
        [0.6, 0.7],
        [0.65, 0.7],
        [0.9, 0.8],
      ],
      2,
    ],
    [
      'rankBy loss, equal loss and top-1: the earlier',
      [
        [0.7, 1],
        [0.7, 1],
      ],
      1,
    ],
    ['rankBy loss: a failed scoring is never kept over a scored one', ['error: boom', [0.1, 3]], 2],
  ])('%s', (_label, specs, index) => {
    expect(chooseCandidate(scored(specs), BAND, 'loss')?.index).toBe(index);
    expect(bestScored(scored(specs), BAND, 'loss')?.index).toBe(index);
  });

  test('the same candidates, ranked by top-1 and by loss, keep different attempts', () => {
    const h = scored([
      [0.742, 0.731],
      [0.77, 0.713],
      [0.734, 0.726],
      [0.762, 0.76],
    ]);
    expect(chooseCandidate(h, BAND)?.index).toBe(2);
    const swapped = scored([
      [0.742, 0.731],
      [0.77, 0.76],
      [0.734, 0.713],
    ]);
    expect(chooseCandidate(swapped, BAND, 'top1')?.index).toBe(2);
    expect(chooseCandidate(swapped, BAND, 'loss')?.index).toBe(3);
  });

  test('scoreBeats: a strict order on (top-1, loss) or (loss, top-1)', () => {
    const a = { top1: 0.77, loss: 0.71 };
    const b = { top1: 0.72, loss: 0.69 };
    expect([scoreBeats(a, b), scoreBeats(b, a)]).toEqual([true, false]);
    expect([scoreBeats(a, b, 'loss'), scoreBeats(b, a, 'loss')]).toEqual([false, true]);
    expect([scoreBeats(a, a), scoreBeats(a, a, 'loss')]).toEqual([false, false]);
  });

  test('runnerUp: the next-best scored in-band candidate after the kept one, by the same order', () => {
    // The bench's 100-class mild cut after 160 recovery steps: #9, #10 tie on top-1 (86.3 %), #10 with the lower loss.
    const h = scored([[0.858, 0.447], [0.863, 0.753], [0.863, 0.435], [0.871, 0.563], 'error: boom', null]);
    expect(chooseCandidate(h, BAND)?.index).toBe(4);
    expect(runnerUp(h, BAND, 4)?.index).toBe(3);
    expect(runnerUp(h, BAND, 3, 'loss')?.index).toBe(1);
    // The kept one alone scored: no runner-up.
    expect(runnerUp(scored([[0.8, 1], null]), BAND, 1)).toBeUndefined();
  });

  test("top1Error: the 95 % half-width of a score's top-1 on its held-out images", () => {
    expect(top1Error({ top1: 0.871, count: 1000 })).toBeCloseTo(0.02078, 5);
    expect(top1Error({ top1: 0.5, count: 256 })).toBeCloseTo(0.06125, 5);
    // Certain on every image: no sampling error; on no images: undefined.
    expect(top1Error({ top1: 1, count: 1000 })).toBe(0);
    expect(top1Error({ top1: 0.5, count: 0 })).toBeUndefined();
  });

  test('a scored attempt out of band (after a band change) is not kept', () => {
    const h = scored([
      [0.9, 0.1],
      [0.5, 1],
    ]);
    h[0] = { ...h[0]!, deviation: 0.03, inBand: false };
    expect(chooseCandidate(h, BAND)?.index).toBe(2);
  });
});

describe('searchCost', () => {
  // A log of 6 attempts, as the scored search writes it: #1 above the band, #2 failed in the engine, #3 and #5
  // in band and scored by a 10-step recovery fine-tune, #4 in band whose scoring crashed, #6 in band and scored
  // zero-shot (0 steps).
  const recovery = (top1: number) => score(top1, 1, { mode: 'recovery', steps: 10 });
  const [above, failed, a3, a4, a5, a6] = history([0.2, 'engine: out of memory', -0.01, -0.02, -0.03, -0.01]);
  const log: Attempt[] = [
    above!,
    failed!,
    { ...a3!, score: recovery(0.4) },
    { ...a4!, scoreError: 'scoring fine-tune crashed' },
    { ...a5!, score: recovery(0.6) },
    { ...a6!, score: score(0.5, 1) },
  ];

  test('counts measured trials, in-band and scored candidates, scoring failures and scoring steps', () => {
    expect(searchCost(log)).toEqual({
      trials: 5,
      inBand: 4,
      scored: 3,
      scoreErrors: 1,
      rescored: 0,
      scoringSteps: 20,
    });
    expect(searchCost([])).toEqual({
      trials: 0,
      inBand: 0,
      scored: 0,
      scoreErrors: 0,
      rescored: 0,
      scoringSteps: 0,
    });
  });

  test("finalists scored again: counted, and their second scores' steps added to the scoring steps", () => {
    const again = (top1: number) => score(top1, 1, { mode: 'recovery', steps: 40 });
    const two = log.map((a) =>
      a.index === 3 ? { ...a, rescore: again(0.7) } : a.index === 5 ? { ...a, rescoreError: 'boom' } : a,
    );
    // 10 + 10 first steps, 40 for #3's second score; #5's failed second score counted nowhere.
    expect(searchCost(two)).toMatchObject({ scored: 3, rescored: 1, scoringSteps: 60 });
  });
});

describe('two-stage scoring: finalists and their second scores', () => {
  const recovery = (top1: number, loss: number, steps: number) =>
    score(top1, loss, { mode: 'recovery', steps });
  /** In-band candidates #1.. with first scores [top1, loss] at 10 steps (null: unscored). */
  const candidates = (specs: ([number, number] | null)[]): Attempt[] =>
    history(specs.map(() => -0.01)).map((a, i) => {
      const spec = specs[i];
      return spec ? { ...a, score: recovery(spec[0], spec[1], 10) } : a;
    });

  test('rankedCandidates: best first, equal scores in attempt order, unscored and out-of-band left out', () => {
    const h = candidates([[0.61, 1.2], [0.64, 1.4], null, [0.61, 1.0], [0.61, 1.2]]);
    h.push({ ...history([0.2])[0]!, index: 6, score: recovery(0.9, 0.1, 10) });
    expect(rankedCandidates(h, BAND).map((a) => a.index)).toEqual([2, 4, 1, 5]);
    expect(rankedCandidates(h, BAND, 'loss').map((a) => a.index)).toEqual([4, 1, 5, 2]);
    expect(finalists(h, BAND, 3).map((a) => a.index)).toEqual([2, 4, 1]);
    expect(finalists(h, BAND, 2, 'loss').map((a) => a.index)).toEqual([4, 1]);
    // More finalists asked than scored: all of them.
    expect(finalists(h, BAND, 9)).toHaveLength(4);
  });

  test('once finalists are scored again, the best second score is kept, whatever the first scores said', () => {
    // #2 led the first stage; #1 and #2 are the finalists; #1's second score is higher.
    const h = candidates([
      [0.61, 1.2],
      [0.64, 1.4],
      [0.5, 2],
    ]);
    expect(decidingScore(h)).toBe('score');
    expect(chooseCandidate(h, BAND)?.index).toBe(2);
    h[0] = { ...h[0]!, rescore: recovery(0.8, 0.7, 40) };
    h[1] = { ...h[1]!, rescore: recovery(0.78, 0.6, 40) };
    expect(decidingScore(h)).toBe('rescore');
    expect(chooseCandidate(h, BAND)?.index).toBe(1);
    expect(chooseCandidate(h, BAND, 'loss')?.index).toBe(2);
    // The runner-up is the other finalist, by its second score: not #3, never scored again.
    expect(runnerUp(h, BAND, 1)?.index).toBe(2);
  });

  test('a finalist whose second score failed is not kept over one scored again; all failed: the first scores decide', () => {
    const h = candidates([
      [0.61, 1.2],
      [0.64, 1.4],
    ]);
    h[1] = { ...h[1]!, rescoreError: 'error: boom' };
    h[0] = { ...h[0]!, rescore: recovery(0.5, 2, 40) };
    expect(chooseCandidate(h, BAND)?.index).toBe(1);
    h[0] = { ...h[0]!, rescore: undefined, rescoreError: 'error: boom' };
    delete h[0].rescore;
    expect(chooseCandidate(h, BAND)?.index).toBe(2);
  });

  test("the log's note names the finalists and their steps", () => {
    expect(finalistsNote({ indices: [3, 5, 7], steps: 40 })).toBe(
      'finalists #3, #5, #7 scored again with 40 recovery steps each',
    );
  });
});

describe('recoveryPlan', () => {
  test('splits the share of the final fine-tune evenly over the candidates, rounding each down', () => {
    // The bench's two fine-tunes: 2,442 steps (40 each, 9.8 %) and 10,000 (166 each, 9.96 %).
    expect(recoveryPlan(0.1, 2442, 6)).toEqual({ share: 0.1, finalSteps: 2442, candidates: 6, steps: 40 });
    expect(recoveryPlan(0.1, 10_000, 6).steps).toBe(166);
    // A share that divides exactly is not floored one below by floating-point rounding.
    expect(recoveryPlan(0.3, 10, 3).steps).toBe(1);
    expect(recoveryPlan(0.7, 100, 7).steps).toBe(10);
    // Never more than one recovery may take.
    expect(recoveryPlan(1, 1_000_000, 2).steps).toBe(10_000);
  });

  test('the whole scoring stays within the share', () => {
    for (const [share, final, n] of [
      [0.1, 74, 6],
      [0.05, 2442, 4],
      [0.25, 999, 7],
      [1, 37, 3],
    ] as const) {
      const { steps } = recoveryPlan(share, final, n);
      expect(steps * n).toBeLessThanOrEqual(share * final);
      expect((steps + 1) * n).toBeGreaterThan(share * final);
    }
  });

  test("the log's note states the share, the final steps, the candidates and each one's steps", () => {
    // search.recovery.epochs: ceil(epochs x floor(images / batch)) steps each, and the note says so
    const byEpochs = recoveryPlanByEpochs(0.25, 6, { images: 20_000, batchSize: 32 });
    expect(byEpochs).toEqual({
      epochs: 0.25,
      candidates: 6,
      steps: 157,
      epoch: { images: 20_000, batchSize: 32, steps: 625 },
    });
    expect(recoveryPlanNote(byEpochs)).toBe(
      'recovery scoring: 0.25 epoch of train/ per candidate, 157 steps each over 6 candidates (an epoch of the 20000 train/ images is 625 steps at batch 32)',
    );
    expect(
      recoveryPlanNote(
        recoveryPlanByEpochs(0.25, 6, { images: 20_000, batchSize: 32 }, { top: 3, steps: 320 }),
      ),
    ).toBe(
      'recovery scoring: 0.25 epoch of train/ per candidate, 157 steps each over 6 candidates, then 3 finalists again with 320 steps each (0.51 epoch) (an epoch of the 20000 train/ images is 625 steps at batch 32)',
    );
    // an exact product is not rounded up; a sliver of an epoch is still one step; whole batches only
    expect(recoveryPlanByEpochs(0.25, 2, { images: 400, batchSize: 1 }).steps).toBe(100);
    expect(recoveryPlanByEpochs(0.001, 2, { images: 400, batchSize: 32 }).steps).toBe(1);
    expect(recoveryPlanByEpochs(1, 2, { images: 415, batchSize: 32 }).steps).toBe(12);
    // what it refuses, naming the field
    expect(() => recoveryPlanByEpochs(0.5, 2, { images: 20, batchSize: 32 })).toThrow(
      'search.recovery.batchSize: 32 exceeds the 20 train/ images: a recovery epoch would be no step; lower it',
    );
    expect(() => recoveryPlanByEpochs(20, 2, { images: 20_000, batchSize: 32 })).toThrow(
      'search.recovery.epochs: 20 epoch of 625 steps (the 20000 train/ images at batch 32) is 12500 steps per candidate, above the 10000 a recovery may take; lower epochs or raise recovery.batchSize',
    );
    expect(() =>
      recoveryPlanByEpochs(0.25, 6, { images: 20_000, batchSize: 32 }, { top: 3, steps: 157 }),
    ).toThrow(
      "search.recovery.rescore.steps: 0.25 epoch of train/ gives each of 6 candidates 157 steps before the finalists' 157: set rescore.steps above 157 or lower epochs",
    );
    // With the epoch of train/ at the recovery's batch size, the note says what each recovery is of it.
    const withEpoch = recoveryPlan(0.1, 2442, 6, undefined, { images: 20_000, batchSize: 32 });
    expect(withEpoch.epoch).toEqual({ images: 20_000, batchSize: 32, steps: 625 });
    expect(recoveryPlanNote(withEpoch)).toBe(
      "recovery scoring: 10% of the final fine-tune's 2442 steps over 6 candidates, 40 steps each (0.06 epoch: an epoch of the 20000 train/ images is 625 steps at batch 32)",
    );
    expect(
      recoveryPlanNote(recoveryPlan(0.1, 2442, 6, { top: 3, steps: 40 }, { images: 20_000, batchSize: 32 })),
    ).toBe(
      "recovery scoring: 10% of the final fine-tune's 2442 steps: 3 finalists again with 40 steps each, the rest over 6 candidates, 20 steps each (0.03 epoch, the finalists' 0.06 epoch: an epoch of the 20000 train/ images is 625 steps at batch 32)",
    );
    // whole batches, as the fine-tune's loop counts them: 415 images at 32 are 12 steps; under a batch, no epoch
    expect(recoveryPlan(0.1, 2442, 6, undefined, { images: 415, batchSize: 32 }).epoch?.steps).toBe(12);
    expect(recoveryPlan(0.1, 2442, 6, undefined, { images: 31, batchSize: 32 }).epoch).toBeUndefined();
    expect(recoveryPlanNote(recoveryPlan(0.1, 10_000, 6))).toBe(
      "recovery scoring: 10% of the final fine-tune's 10000 steps over 6 candidates, 166 steps each",
    );
    // A share with a fraction of a percent keeps it; float noise does not show.
    expect(recoveryPlanNote(recoveryPlan(0.125, 2442, 4))).toBe(
      "recovery scoring: 12.5% of the final fine-tune's 2442 steps over 4 candidates, 76 steps each",
    );
    expect(recoveryPlanNote(recoveryPlan(0.07, 1000, 7))).toContain('7% of the final');
  });

  test("a zero-shot first stage's finalists within rescore.maxShare of the final fine-tune: fewer steps, fewer finalists, or none", () => {
    const asked = { top: 3, steps: 40 };
    // The benches' 2,442-step fine-tune: 10 % is 244 steps, the asked 3 x 40 = 120 fit.
    const fits = finalistsPlan(0.1, 2442, 6, asked);
    expect(fits).toEqual({
      share: 0.1,
      finalSteps: 2442,
      candidates: 6,
      steps: 0,
      rescore: { top: 3, steps: 40 },
      zeroShot: { asked },
    });
    expect(recoveryPlanNote(fits)).toBe(
      "zero-shot scoring, then 3 finalists again with 40 steps each: 120 steps, 4.9% of the final fine-tune's 2442 steps (at most 10%)",
    );
    // 10 % of 400 steps is 40: 3 finalists of 13 steps (39).
    expect(finalistsPlan(0.1, 400, 6, asked).rescore).toEqual({ top: 3, steps: 13 });
    // 10 % of 250 is 25: 3 x 10 = 30 do not fit, 2 x 12 = 24 do.
    const trimmed = finalistsPlan(0.1, 250, 6, asked);
    expect(trimmed.rescore).toEqual({ top: 2, steps: 12 });
    expect(recoveryPlanNote(trimmed)).toBe(
      "zero-shot scoring, then 2 finalists again with 12 steps each (3 x 40 asked): 24 steps, 9.6% of the final fine-tune's 250 steps (at most 10%)",
    );
    // The demo's one-epoch fine-tune, 37 steps: 3 steps, not 2 x 10: the zero-shot scores decide.
    const none = finalistsPlan(0.1, 37, 6, asked);
    expect(none.rescore).toBeUndefined();
    expect(recoveryPlanNote(none)).toBe(
      "zero-shot scoring decides: 10% of the final fine-tune's 37 steps is 3 steps, under 2 finalists x 10 recovery steps",
    );
    // Just enough for 2 x 10; asked steps shorter than 10 are the unit; the budget never exceeded.
    expect(finalistsPlan(0.1, 200, 6, asked).rescore).toEqual({ top: 2, steps: 10 });
    expect(finalistsPlan(0.1, 199, 6, asked).rescore).toBeUndefined();
    expect(finalistsPlan(0.1, 120, 6, { top: 3, steps: 5 }).rescore).toEqual({ top: 2, steps: 5 });
    for (const final of [20, 37, 100, 199, 200, 250, 333, 1000, 2442, 100_000]) {
      const r = finalistsPlan(0.1, final, 6, asked).rescore;
      if (r) {
        expect(r.top * r.steps).toBeLessThanOrEqual(0.1 * final);
        expect(r.top).toBeGreaterThanOrEqual(2);
        expect(r.steps).toBeGreaterThanOrEqual(10);
        expect(r.steps).toBeLessThanOrEqual(40);
      }
    }
    // With train/ at the recovery's batch the plan knows the epoch, as the other plans do.
    const counted = finalistsPlan(0.1, 2442, 6, asked, { images: 20_000, batchSize: 32 });
    expect(counted.epoch?.steps).toBe(625);
    // ... and says what each finalist's 40 steps are of it (40 / 625 = 0.064); none when no finalist recovers.
    expect(recoveryPlanNote(counted)).toBe(
      "zero-shot scoring, then 3 finalists again with 40 steps each: 120 steps, 4.9% of the final fine-tune's 2442 steps (at most 10%); each finalist's recovery is 0.06 epoch (an epoch of the 20000 train/ images is 625 steps at batch 32)",
    );
    expect(recoveryPlanNote(finalistsPlan(0.1, 37, 6, asked, { images: 1_200, batchSize: 32 }))).toBe(
      "zero-shot scoring decides: 10% of the final fine-tune's 37 steps is 3 steps, under 2 finalists x 10 recovery steps",
    );
  });

  test('with finalists, their second scores come out of the budget first and the rest is split', () => {
    // The bench's screen: 10 % of 2,442 steps, 3 finalists x 40 steps = 120, the other 124 over 6: 20 each.
    expect(recoveryPlan(0.1, 2442, 6, { top: 3, steps: 40 })).toEqual({
      share: 0.1,
      finalSteps: 2442,
      candidates: 6,
      steps: 20,
      rescore: { top: 3, steps: 40 },
    });
    for (const [share, final, n, top, steps] of [
      [0.1, 2442, 6, 3, 40],
      [0.5, 100, 3, 2, 12],
      [0.05, 10_000, 8, 2, 100],
    ] as const) {
      const plan = recoveryPlan(share, final, n, { top, steps });
      expect(plan.steps * n + top * steps).toBeLessThanOrEqual(share * final);
      expect((plan.steps + 1) * n + top * steps).toBeGreaterThan(share * final);
    }
    expect(recoveryPlanNote(recoveryPlan(0.1, 2442, 6, { top: 3, steps: 40 }))).toBe(
      "recovery scoring: 10% of the final fine-tune's 2442 steps: 3 finalists again with 40 steps each, the rest over 6 candidates, 20 steps each",
    );
  });

  test('finalists that leave under one step per candidate, or first scores as long as theirs: errors naming the field', () => {
    expect(() => recoveryPlan(0.1, 2442, 6, { top: 3, steps: 81 })).toThrow(
      "search.recovery.share: 0.1 of the final fine-tune's 2442 steps, less the 3 finalists' 3 x 81 steps (search.recovery.rescore), leaves under one step for each of 6 candidates",
    );
    expect(() => recoveryPlan(0.5, 2442, 6, { top: 2, steps: 40 })).toThrow(
      "search.recovery.rescore.steps: 0.5 of the final fine-tune's 2442 steps gives each of 6 candidates 190 steps before the finalists' 40: set rescore.steps above 190 or lower the share",
    );
  });

  test('under one step per candidate is an error naming the field', () => {
    expect(() => recoveryPlan(0.01, 74, 6)).toThrow(
      "search.recovery.share: 0.01 of the final fine-tune's 74 steps over 6 candidates is under one step each",
    );
  });
});
