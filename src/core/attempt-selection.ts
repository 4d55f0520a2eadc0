import type { Attempt, CandidateScore } from './attempt';
import { MAX_RECOVERY_STEPS, type RankBy } from './campaign-config';
import type { Band } from './tolerance-band';
import { inBand } from './tolerance-band';

/**
 * What the search knows about its attempts, defined once: which attempts measured something, on which
 * side of the target they fell, which one is best, which pair brackets the target, and which one goes on
 * to fine-tuning. The monitor, the workflow and the agents all read the history through these.
 *
 * A failed attempt (the engine rejected or failed its strategy) keeps the {@link AttemptSchema} wire
 * form — `macs: 0, params: 0, deviation: -1, inBand: false, wallMs: 0` and an `error` — because
 * histories and the strategy log store it so; the types below tell the two kinds apart.
 *
 * @example
 * // Target 1.77 G, band -5%..+1% (centre -2 %). History:
 * //   #1 r=0.30 -> 2.310 G (+30.5 %)   #2 r=0.45 -> failed (engine error)
 * //   #3 r=0.41 -> 1.790 G (+1.13 %)   #4 r=0.43 -> 1.712 G (-3.28 %, in band)
 * isMeasured(h[1]);                       // false: #2 measured nothing (its -1 is a sentinel, not -100 %)
 * sideOf(h[2].deviation);                 // 'above'
 * bracketOf(h);                           // { below: #4, above: #3 }
 * bestAttempt(h, band);                   // #4: in band beats the closer-to-target #3
 * bestAttempt(h, band, bandCenter(band)); // #4 again (|-3.28 % - -2 %| = 1.28 %)
 */

/** An attempt the engine measured: its `macs`, `deviation` and `inBand` are real numbers. */
export type MeasuredAttempt = Attempt & { error?: undefined };

/** An attempt the engine rejected or failed: `error` says why; its numbers are the sentinel form. */
export type FailedAttempt = Attempt & { error: string };

/** The part of an attempt known before the engine answers. */
export type AttemptBase = Omit<Attempt, 'macs' | 'params' | 'deviation' | 'inBand' | 'wallMs' | 'error'>;

/** Whether `a` measured something: no `error` and a finite deviation. The one "measured" predicate. */
export function isMeasured(a: Attempt): a is MeasuredAttempt {
  return a.error === undefined && Number.isFinite(a.deviation);
}

/** Whether the engine rejected or failed `a`'s strategy (the complement of {@link isMeasured} in practice). */
export function isFailed(a: Attempt): a is FailedAttempt {
  return a.error !== undefined;
}

/**
 * A failed attempt in its wire form (`macs: 0, params: 0, deviation: -1, inBand: false, wallMs: 0`).
 * @example failedAttempt({ index: 2, agent: 'solver', strategy }, 'EngineError: ratio too large')
 */
export function failedAttempt(base: AttemptBase, error: string): FailedAttempt {
  return { ...base, macs: 0, params: 0, deviation: -1, inBand: false, wallMs: 0, error };
}

/** Which side of the target a measurement fell on. */
export type Side = 'above' | 'below';

/**
 * The side of the target a deviation lies on: `below` iff `d < 0`. An attempt exactly on target
 * (`d === 0`, always inside the band since `lo <= 0 <= hi`) counts as `above`.
 */
export function sideOf(d: number): Side {
  return d < 0 ? 'below' : 'above';
}

/**
 * The best attempt: among measured attempts in band, the one closest to `aim`; if none is in band, the
 * measured one closest to `aim`. Ties go to the earlier attempt. `aim` is a deviation: 0 (the target)
 * for the monitor, the search attributes and the chosen candidate; agents aim at the band centre
 * (`bandCenter(band)`), where the in-band rule changes nothing (every in-band deviation is closer to the
 * centre than every out-of-band one) and "closest to the centre" is "closest to the band".
 *
 * @param aim @default 0
 */
export function bestAttempt(history: readonly Attempt[], band: Band, aim = 0): MeasuredAttempt | undefined {
  let best: MeasuredAttempt | undefined;
  let bestScore: [number, number] = [2, Infinity];
  for (const a of history) {
    if (!isMeasured(a)) continue;
    const score: [number, number] = [inBand(a.deviation, band) ? 0 : 1, Math.abs(a.deviation - aim)];
    if (score[0] < bestScore[0] || (score[0] === bestScore[0] && score[1] < bestScore[1])) {
      best = a;
      bestScore = score;
    }
  }
  return best;
}

/** The closest measured attempts on either side of the target (sides as {@link sideOf} puts them). */
export interface Bracket {
  below?: MeasuredAttempt;
  above?: MeasuredAttempt;
}

/**
 * The measured attempts nearest the target on each side: `below` has the largest negative deviation,
 * `above` the smallest non-negative one (an attempt exactly on target counts as `above`). Ties go to
 * the earlier attempt.
 */
export function bracketOf(history: readonly Attempt[]): Bracket {
  let below: MeasuredAttempt | undefined;
  let above: MeasuredAttempt | undefined;
  for (const a of history) {
    if (!isMeasured(a)) continue;
    if (sideOf(a.deviation) === 'below') {
      if (!below || a.deviation > below.deviation) below = a;
    } else if (!above || a.deviation < above.deviation) {
      above = a;
    }
  }
  return { ...(below ? { below } : {}), ...(above ? { above } : {}) };
}

/** The first measured attempt in band, if any. */
export function firstInBand(history: readonly Attempt[], band: Band): MeasuredAttempt | undefined {
  return history.find((a): a is MeasuredAttempt => isMeasured(a) && inBand(a.deviation, band));
}

/**
 * Whether score `a` ranks above score `b` by `rankBy`: `top1` the higher top-1, ties to the lower loss;
 * `loss` the lower loss, ties to the higher top-1. Equal scores rank neither above the other.
 *
 * @example
 * scoreBeats({ top1: 0.77, loss: 0.71 }, { top1: 0.72, loss: 0.69 }, 'top1'); // true
 * scoreBeats({ top1: 0.77, loss: 0.71 }, { top1: 0.72, loss: 0.69 }, 'loss'); // false
 */
export function scoreBeats(
  a: Pick<CandidateScore, 'top1' | 'loss'>,
  b: Pick<CandidateScore, 'top1' | 'loss'>,
  rankBy: RankBy = 'top1',
): boolean {
  if (rankBy === 'loss') return a.loss < b.loss || (a.loss === b.loss && a.top1 > b.top1);
  return a.top1 > b.top1 || (a.top1 === b.top1 && a.loss < b.loss);
}

/**
 * Which of an attempt's scores decides what is kept: `rescore` once any finalist of a two-stage scoring was
 * scored again (`search.recovery.rescore`), else `score`.
 */
export type DecidingScore = 'score' | 'rescore';

/** {@link DecidingScore} of a history: `rescore` when some attempt has a second score. */
export function decidingScore(history: readonly Pick<Attempt, 'rescore'>[]): DecidingScore {
  return history.some((a) => a.rescore) ? 'rescore' : 'score';
}

/**
 * The in-band candidates with a `by` score (the first score unless told), best first by `rankBy`
 * ({@link scoreBeats}; equal scores keep the earlier attempt first).
 *
 * @example
 * // #3 score top-1 0.61, #5 0.64, #6 scoring failed, #7 0.61 with a lower loss than #3:
 * rankedCandidates(h, band).map((a) => a.index); // [5, 7, 3]
 */
export function rankedCandidates(
  history: readonly Attempt[],
  band: Band,
  rankBy: RankBy = 'top1',
  by: DecidingScore = 'score',
): MeasuredAttempt[] {
  const scored = history.filter(
    (a): a is MeasuredAttempt => isMeasured(a) && inBand(a.deviation, band) && a[by] !== undefined,
  );
  // A stable sort: equal scores stay in attempt order.
  return scored.sort((a, b) =>
    scoreBeats(a[by]!, b[by]!, rankBy) ? -1 : scoreBeats(b[by]!, a[by]!, rankBy) ? 1 : 0,
  );
}

/**
 * The finalists of a two-stage scoring: the `top` best-scored in-band candidates ({@link rankedCandidates}),
 * in that order; fewer when fewer were scored.
 */
export function finalists(
  history: readonly Attempt[],
  band: Band,
  top: number,
  rankBy: RankBy = 'top1',
): MeasuredAttempt[] {
  return rankedCandidates(history, band, rankBy).slice(0, top);
}

/**
 * The best-scored in-band candidate by `rankBy` ({@link scoreBeats}; equal scores to the earlier attempt),
 * judged by its `by` score (the first unless told); `undefined` when no in-band attempt has one.
 */
export function bestScored(
  history: readonly Attempt[],
  band: Band,
  rankBy: RankBy = 'top1',
  by: DecidingScore = 'score',
): MeasuredAttempt | undefined {
  return rankedCandidates(history, band, rankBy, by)[0];
}

/**
 * The next-best scored in-band candidate after `kept` (by `rankBy`, as {@link bestScored} ranks), so that a
 * reader can see by how much the kept one won; `undefined` when `kept` was the only one scored.
 *
 * @example
 * // #9 in band, top-1 0.863; #13 in band, 0.871 (kept); #10 in band, 0.863 with a lower loss than #9:
 * runnerUp(h, band, 13); // #10
 */
export function runnerUp(
  history: readonly Attempt[],
  band: Band,
  keptIndex: number,
  rankBy: RankBy = 'top1',
): MeasuredAttempt | undefined {
  return bestScored(
    history.filter((a) => a.index !== keptIndex),
    band,
    rankBy,
    decidingScore(history),
  );
}

/**
 * The 95 % sampling error of a score's top-1 on its `count` held-out images: the half-width
 * `1.96 sqrt(p (1 - p) / count)` of the normal approximation to the binomial. It is what the held-out slice alone
 * makes uncertain (other images of the same split could give another top-1), not the recovery's own noise;
 * `undefined` for a score on no images.
 *
 * @example
 * top1Error({ top1: 0.871, count: 1000 }); // 0.0208: 87.1 % +/- 2.1 points
 * top1Error({ top1: 0.5, count: 256 });    // 0.0613
 */
export function top1Error(score: Pick<CandidateScore, 'top1' | 'count'>): number | undefined {
  if (!(score.count > 0)) return undefined;
  return 1.96 * Math.sqrt((score.top1 * (1 - score.top1)) / score.count);
}

/**
 * {@link top1Error} as the report and the Claude prompt word it: `95% sampling error on 1,000 held-out images:
 * ±2.1 points`; `undefined` for a score on no images.
 */
export function top1ErrorWords(score: Pick<CandidateScore, 'top1' | 'count'>): string | undefined {
  const error = top1Error(score);
  if (error === undefined) return undefined;
  const images = score.count.toLocaleString('en-US');
  return `95% sampling error on ${images} held-out images: ±${(error * 100).toFixed(1)} points`;
}

/**
 * The attempt handed on to fine-tuning: the best-scored in-band candidate ({@link bestScored} by `rankBy`,
 * top-1 unless told); when none is scored, among in-band attempts with a quick accuracy proxy the
 * highest top-1 (ties to the earlier); else {@link bestAttempt} (closest to target, in band first); `null`
 * when nothing was measured. An in-band attempt whose scoring failed (`scoreError`) is never kept over a
 * scored one. Once finalists of a two-stage scoring were scored again, the best second score
 * (`rescore`) is kept, and a finalist whose second score failed is not kept over one that has it.
 *
 * @example
 * // #3 in band, score top-1 0.61 (loss 1.2); #5 in band, 0.64 (loss 1.4); #6 in band, scoring failed:
 * chooseCandidate(h, band); // #5
 * chooseCandidate(h, band, 'loss'); // #3
 * // and #3, #5 finalists scored again, #3 at 0.80, #5 at 0.78:
 * chooseCandidate(h, band); // #3
 */
export function chooseCandidate(
  history: readonly Attempt[],
  band: Band,
  rankBy: RankBy = 'top1',
): MeasuredAttempt | null {
  const scored = bestScored(history, band, rankBy, decidingScore(history));
  if (scored) return scored;
  let pick: MeasuredAttempt | undefined;
  for (const a of history) {
    if (!isMeasured(a) || !inBand(a.deviation, band) || !a.accuracyProxy) continue;
    if (!pick || a.accuracyProxy.top1 > (pick.accuracyProxy?.top1 ?? 0)) pick = a;
  }
  return pick ?? bestAttempt(history, band) ?? null;
}

/** What a target's search spent: see {@link searchCost}. */
export interface SearchCost {
  /** Attempts the engine measured (prune trials). */
  trials: number;
  inBand: number;
  /** In-band candidates with a score. */
  scored: number;
  /** In-band candidates whose scoring failed (kept unscored). */
  scoreErrors: number;
  /** Finalists of a two-stage scoring scored again (`rescore`). */
  rescored: number;
  /** Fine-tune steps spent on scores: the sum of every score's and second score's `steps` (0 for zero-shot). */
  scoringSteps: number;
}

/**
 * The search cost of one campaign from its strategy log: prune trials (attempts the engine measured),
 * in-band candidates, how many were scored and how many scoring failed, and the scoring fine-tune steps
 * (the sum of every score's `steps`: 0 for zero-shot).
 *
 * @example
 * // 3 trials, 2 in band, both scored by a 10-step recovery fine-tune:
 * searchCost(log) // { trials: 3, inBand: 2, scored: 2, scoreErrors: 0, rescored: 0, scoringSteps: 20 }
 * // and both scored again, 40 steps each: rescored 2, scoringSteps 100
 *
 * The report prints it per target, bench/accuracy per campaign.
 */
export function searchCost(
  attempts: readonly Pick<Attempt, 'inBand' | 'error' | 'score' | 'scoreError' | 'rescore'>[],
): SearchCost {
  const measured = attempts.filter((a) => a.error === undefined);
  const inBand = measured.filter((a) => a.inBand);
  return {
    trials: measured.length,
    inBand: inBand.length,
    scored: inBand.filter((a) => a.score).length,
    scoreErrors: inBand.filter((a) => a.scoreError !== undefined).length,
    rescored: inBand.filter((a) => a.rescore).length,
    scoringSteps: measured.reduce((s, a) => s + (a.score?.steps ?? 0) + (a.rescore?.steps ?? 0), 0),
  };
}

/**
 * How `search.recovery.share` or `search.recovery.epochs` became each candidate's recovery steps (recorded in
 * the search's log): a share plan has `share` and `finalSteps`, an epochs plan `epochs` (and `epoch`).
 */
export interface RecoveryPlan {
  /** The scoring's budget as a share of the final fine-tune's steps. */
  share?: number;
  /** The final fine-tune's optimizer steps, as the engine plans them on `train/` (engine `finetune-plan`). */
  finalSteps?: number;
  /** `search.recovery.epochs`: each candidate's recovery as epochs of `train/`. */
  epochs?: number;
  /** Candidates the budget is split over. */
  candidates: number;
  /**
   * Recovery steps per candidate: `floor(share x finalSteps / candidates)`, at most `MAX_RECOVERY_STEPS`;
   * with `rescore`, of what the finalists' second scores leave of the budget. With `epochs`:
   * `ceil(epochs x epoch.steps)`.
   */
  steps: number;
  /** The second stage of a two-stage scoring (`search.recovery.rescore`), paid from the budget first. */
  rescore?: { top: number; steps: number };
  /**
   * One epoch of `train/` at the recovery's batch size: its `images` (as the engine indexes them), the
   * `batchSize` and the `steps` it takes (whole batches, as the fine-tune's loop counts them), so the log can
   * say how much of an epoch each recovery is: the benches ranked candidates after a quarter to half an epoch
   * (bench/RESULTS.md, "resnet18 after longer recoveries"). The recovery's own pool is `train/` less the
   * held-out scoring slice, a little smaller. Absent in plans recorded before it.
   */
  epoch?: { images: number; batchSize: number; steps: number };
  /**
   * A zero-shot first stage capped by `search.recovery.rescore.maxShare` ({@link finalistsPlan}): the candidates
   * take no recovery (`steps` 0), `share` is the cap and `rescore` what it leaves of the finalists' recovery
   * `asked` (absent where not even 2 finalists fit: the zero-shot scores decide).
   */
  zeroShot?: { asked: { top: number; steps: number } };
}

/** The fewest recovery steps a capped finalist gets: on the benches a 10-step score ranked as a 40-step one did. */
export const MIN_FINALIST_STEPS = 10;

/**
 * Each candidate's recovery steps for a scoring budget of `share` of a final fine-tune of `finalSteps`
 * steps, split evenly over `candidates`: so the whole scoring never costs more than the share. With
 * `rescore` (`top` finalists scored again with `steps` each) those steps come out of the budget first.
 * Throws a message naming `search.recovery.share` when that leaves less than one step per candidate, or
 * `search.recovery.rescore.steps` when the first scores would be no shorter than the second.
 *
 * @example
 * recoveryPlan(0.1, 10_000, 6) // { share: 0.1, finalSteps: 10000, candidates: 6, steps: 166 } (996 steps, 9.96 %)
 * recoveryPlan(0.1, 2_442, 6)  // steps 40 (240 steps, 9.8 %)
 * recoveryPlan(0.1, 2_442, 6, { top: 3, steps: 40 }) // steps 20: 6 x 20 + 3 x 40 = 240 steps
 * recoveryPlan(0.1, 2_442, 6, undefined, { images: 20_000, batchSize: 32 }) // epoch: 625 steps
 */
export function recoveryPlan(
  share: number,
  finalSteps: number,
  candidates: number,
  rescore?: { top: number; steps: number },
  train?: { images: number; batchSize: number },
): RecoveryPlan {
  const budget = share * finalSteps;
  const second = rescore ? rescore.top * rescore.steps : 0;
  // The small epsilon keeps a share that should divide exactly (0.3 x 10 / 3) from flooring below by rounding.
  const steps = Math.min(MAX_RECOVERY_STEPS, Math.floor((budget - second) / candidates + 1e-9));
  const of = `${share} of the final fine-tune's ${finalSteps} steps`;
  if (steps < 1)
    throw new Error(
      rescore
        ? `search.recovery.share: ${of}, less the ${rescore.top} finalists' ${rescore.top} x ${rescore.steps} steps (search.recovery.rescore), leaves under one step for each of ${candidates} candidates; raise the share or lower rescore.steps`
        : `search.recovery.share: ${of} over ${candidates} candidates is under one step each; raise the share or set search.recovery.steps`,
    );
  if (rescore && steps >= rescore.steps)
    throw new Error(
      `search.recovery.rescore.steps: ${of} gives each of ${candidates} candidates ${steps} steps before the finalists' ${rescore.steps}: set rescore.steps above ${steps} or lower the share`,
    );
  return {
    share,
    finalSteps,
    candidates,
    steps,
    ...(rescore ? { rescore } : {}),
    ...(train && train.images >= train.batchSize ? { epoch: trainEpoch(train) } : {}),
  };
}

/**
 * The finalists' recovery of a zero-shot first stage within `share` of a final fine-tune of `finalSteps` steps
 * (`search.recovery.rescore.maxShare`): the `asked` `top x steps` where they fit; else fewer steps each, down to
 * {@link MIN_FINALIST_STEPS} (or `asked.steps` if lower); then fewer finalists; none where not even 2 fit (one
 * finalist changes nothing), and the zero-shot scores decide. Never throws: a short fine-tune is no error.
 *
 * @example
 * finalistsPlan(0.1, 2_442, 6, { top: 3, steps: 40 }) // rescore { top: 3, steps: 40 }: 120 of a 244-step budget
 * finalistsPlan(0.1, 250, 6, { top: 3, steps: 40 })   // rescore { top: 2, steps: 12 }: 24 of 25
 * finalistsPlan(0.1, 37, 6, { top: 3, steps: 40 })    // no rescore: a 3-step budget
 */
export function finalistsPlan(
  share: number,
  finalSteps: number,
  candidates: number,
  asked: { top: number; steps: number },
  train?: { images: number; batchSize: number },
): RecoveryPlan {
  const budget = finalistsBudget(share, finalSteps);
  const fewest = Math.min(asked.steps, MIN_FINALIST_STEPS);
  const top = Math.min(asked.top, Math.floor(budget / fewest));
  const steps = Math.min(asked.steps, Math.floor(budget / Math.max(top, 1)));
  return {
    share,
    finalSteps,
    candidates,
    steps: 0,
    ...(top >= 2 ? { rescore: { top, steps } } : {}),
    ...(train && train.images >= train.batchSize ? { epoch: trainEpoch(train) } : {}),
    zeroShot: { asked: { top: asked.top, steps: asked.steps } },
  };
}

/** The finalists' steps `share` of a `finalSteps` fine-tune allows, whole. */
function finalistsBudget(share: number, finalSteps: number): number {
  // The small epsilon keeps an exact product (0.1 x 250) from flooring below by rounding.
  return Math.floor(share * finalSteps + 1e-9);
}

/** One epoch of `train/` at a batch size: whole batches, as the fine-tune's loop counts them. */
function trainEpoch(train: { images: number; batchSize: number }): NonNullable<RecoveryPlan['epoch']> {
  return { ...train, steps: Math.floor(train.images / train.batchSize) };
}

/**
 * Each candidate's recovery steps for `search.recovery.epochs` of `train/` (`images`, at the recovery's
 * `batchSize`): `ceil(epochs x floor(images / batchSize))`, as the fine-tune's loop counts an epoch. Throws a
 * message naming the field when the batch exceeds the images, when the steps exceed `MAX_RECOVERY_STEPS`,
 * or when the finalists' `rescore.steps` are not longer than the candidates' recovery.
 *
 * @example
 * recoveryPlanByEpochs(0.25, 6, { images: 20_000, batchSize: 32 }) // steps 157 (an epoch is 625 steps)
 */
export function recoveryPlanByEpochs(
  epochs: number,
  candidates: number,
  train: { images: number; batchSize: number },
  rescore?: { top: number; steps: number },
): RecoveryPlan {
  const epoch = trainEpoch(train);
  const epochSteps = epoch.steps;
  if (epochSteps < 1)
    throw new Error(
      `search.recovery.batchSize: ${train.batchSize} exceeds the ${train.images} train/ images: a recovery epoch would be no step; lower it`,
    );
  // The small epsilon keeps an exact product (0.25 x 400) from rounding up past it.
  const steps = Math.max(1, Math.ceil(epochs * epochSteps - 1e-9));
  if (steps > MAX_RECOVERY_STEPS)
    throw new Error(
      `search.recovery.epochs: ${epochs} epoch of ${epochSteps} steps (the ${train.images} train/ images at batch ${train.batchSize}) is ${steps} steps per candidate, above the ${MAX_RECOVERY_STEPS} a recovery may take; lower epochs or raise recovery.batchSize`,
    );
  if (rescore && steps >= rescore.steps)
    throw new Error(
      `search.recovery.rescore.steps: ${epochs} epoch of train/ gives each of ${candidates} candidates ${steps} steps before the finalists' ${rescore.steps}: set rescore.steps above ${steps} or lower epochs`,
    );
  return {
    epochs,
    candidates,
    steps,
    ...(rescore ? { rescore } : {}),
    epoch,
  };
}

/**
 * How a recovery plan reads in the search's log (its own notes and the log rebuilt from history):
 * `recovery scoring: 10% of the final fine-tune's 10000 steps over 6 candidates, 166 steps each`, and with
 * finalists: `recovery scoring: 10% of the final fine-tune's 2442 steps: 3 finalists again with 40 steps
 * each, the rest over 6 candidates, 20 steps each`. A plan that knows the epoch adds what the recovery is of
 * one: `..., 40 steps each (0.06 epoch: an epoch of the 20000 train/ images is 625 steps at batch 32)`. An
 * epochs plan: `recovery scoring: 0.25 epoch of train/ per candidate, 157 steps each over 6 candidates (an
 * epoch of the 20000 train/ images is 625 steps at batch 32)`, with finalists `..., 157 steps each over 6
 * candidates, then 3 finalists again with 320 steps each (0.51 epoch) (an epoch ...)`.
 */
export function recoveryPlanNote(plan: RecoveryPlan): string {
  const { share, finalSteps, epochs, candidates, steps, rescore, epoch, zeroShot } = plan;
  const of = (n: number) => `${+(n / epoch!.steps).toFixed(2)} epoch`;
  const anEpoch = epoch
    ? `an epoch of the ${epoch.images} train/ images is ${epoch.steps} steps at batch ${epoch.batchSize}`
    : '';
  if (zeroShot)
    return zeroShotPlanNote({
      share: share ?? 0,
      finalSteps: finalSteps ?? 0,
      rescore,
      ...zeroShot,
      ...(epoch && rescore ? { epoch: `${of(rescore.steps)} (${anEpoch})` } : {}),
    });
  if (epochs !== undefined)
    return (
      `recovery scoring: ${epochs} epoch of train/ per candidate, ${steps} steps each over ${candidates} candidates` +
      (rescore
        ? `, then ${rescore.top} finalists again with ${rescore.steps} steps each (${of(rescore.steps)})`
        : '') +
      (epoch ? ` (${anEpoch})` : '')
    );
  const head = `recovery scoring: ${+((share ?? 0) * 100).toFixed(2)}% of the final fine-tune's ${finalSteps} steps`;
  const tail = epoch
    ? ` (${rescore ? `${of(steps)}, the finalists' ${of(rescore.steps)}` : of(steps)}: ${anEpoch})`
    : '';
  return rescore
    ? `${head}: ${rescore.top} finalists again with ${rescore.steps} steps each, the rest over ${candidates} candidates, ${steps} steps each${tail}`
    : `${head} over ${candidates} candidates, ${steps} steps each${tail}`;
}

/**
 * {@link recoveryPlanNote} of a capped zero-shot first stage ({@link finalistsPlan}): `zero-shot scoring, then 3
 * finalists again with 40 steps each: 120 steps, 4.9% of the final fine-tune's 2442 steps (at most 10%)`;
 * trimmed: `..., then 2 finalists again with 12 steps each (3 x 40 asked): 24 steps, 9.6% of the final
 * fine-tune's 250 steps (at most 10%)`; none: `zero-shot scoring decides: 10% of the final fine-tune's 37 steps
 * is 3 steps, under 2 finalists x 10 recovery steps`. A plan that counted `train/` says what each finalist's
 * recovery is of an epoch: `...; each finalist's recovery is 0.06 epoch (an epoch of the 20000 train/ images is
 * 625 steps at batch 32)`.
 */
function zeroShotPlanNote(p: {
  share: number;
  finalSteps: number;
  rescore?: { top: number; steps: number } | undefined;
  asked: { top: number; steps: number };
  /** What a finalist's recovery is of an epoch of `train/`, and what an epoch is. */
  epoch?: string;
}): string {
  const pct = (x: number, digits: number) => `${+(x * 100).toFixed(digits)}%`;
  const of = `the final fine-tune's ${p.finalSteps} steps`;
  if (!p.rescore) {
    const fewest = Math.min(p.asked.steps, MIN_FINALIST_STEPS);
    return `zero-shot scoring decides: ${pct(p.share, 2)} of ${of} is ${finalistsBudget(p.share, p.finalSteps)} steps, under 2 finalists x ${fewest} recovery steps`;
  }
  const { top, steps } = p.rescore;
  const trimmed = top !== p.asked.top || steps !== p.asked.steps;
  return (
    `zero-shot scoring, then ${top} finalists again with ${steps} steps each` +
    (trimmed ? ` (${p.asked.top} x ${p.asked.steps} asked)` : '') +
    `: ${top * steps} steps, ${pct((top * steps) / p.finalSteps, 1)} of ${of} (at most ${pct(p.share, 2)})` +
    (p.epoch ? `; each finalist's recovery is ${p.epoch}` : '')
  );
}

/** The finalists of a two-stage scoring, once the search chose them: their attempts, and the second recovery's steps. */
export interface Finalists {
  indices: number[];
  steps: number;
}

/**
 * How the second stage of a two-stage scoring reads in the search's log (its own notes and the log rebuilt
 * from history): `finalists #3, #5, #7 scored again with 40 recovery steps each`.
 */
export function finalistsNote({ indices, steps }: Finalists): string {
  return `finalists ${indices.map((i) => `#${i}`).join(', ')} scored again with ${steps} recovery steps each`;
}
