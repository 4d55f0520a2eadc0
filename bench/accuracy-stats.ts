/**
 * The pure statistics of bench/accuracy: rank correlation between a score and final accuracy, and the
 * per-method aggregation of fine-tune seeds; the median and quantile the other benches report. No I/O; tested on
 * known inputs (tests/bench/accuracy-stats.test.ts).
 */

import type { Attempt } from '../src/core/attempt';
import { strategyKey, type Strategy } from '../src/core/strategy';

/** Ranks 1..n of `xs`, ties sharing the mean of the ranks they span (as Spearman's rho needs). */
export function averageRanks(xs: readonly number[]): number[] {
  const order = xs.map((x, i) => ({ x, i })).sort((a, b) => a.x - b.x);
  const ranks = new Array<number>(xs.length).fill(0);
  for (let start = 0; start < order.length; ) {
    let end = start;
    while (end + 1 < order.length && order[end + 1]!.x === order[start]!.x) end++;
    const rank = (start + end) / 2 + 1;
    for (let k = start; k <= end; k++) ranks[order[k]!.i] = rank;
    start = end + 1;
  }
  return ranks;
}

/** Pearson's correlation; `null` when fewer than 2 pairs or a side is constant (undefined correlation). */
export function pearson(xs: readonly number[], ys: readonly number[]): number | null {
  if (xs.length !== ys.length) throw new RangeError(`pearson: ${xs.length} xs but ${ys.length} ys`);
  const n = xs.length;
  if (n < 2) return null;
  const mx = xs.reduce((s, x) => s + x, 0) / n;
  const my = ys.reduce((s, y) => s + y, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    const dx = xs[i]! - mx;
    const dy = ys[i]! - my;
    sxy += dx * dy;
    sxx += dx * dx;
    syy += dy * dy;
  }
  if (sxx === 0 || syy === 0) return null;
  return sxy / Math.sqrt(sxx * syy);
}

/**
 * Spearman's rank correlation (Pearson's on average ranks, so ties are handled); `null` when it is
 * undefined (fewer than 2 pairs, or every score or every accuracy equal).
 *
 * @example spearman([1, 2, 3], [10, 30, 20]) // 0.5
 */
export function spearman(xs: readonly number[], ys: readonly number[]): number | null {
  if (xs.length !== ys.length) throw new RangeError(`spearman: ${xs.length} xs but ${ys.length} ys`);
  return pearson(averageRanks(xs), averageRanks(ys));
}

/** Mean and spread of one method's final accuracies over fine-tune seeds. */
export interface SeedSummary {
  n: number;
  mean: number;
  /** Sample standard deviation (n - 1); 0 for one seed. */
  sd: number;
  min: number;
  max: number;
}

/** Mean, sample sd, min and max of `xs` (at least one value). */
export function summarize(xs: readonly number[]): SeedSummary {
  if (xs.length === 0) throw new RangeError('summarize: no values');
  const n = xs.length;
  const mean = xs.reduce((s, x) => s + x, 0) / n;
  const sd = n > 1 ? Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1)) : 0;
  return { n, mean, sd, min: Math.min(...xs), max: Math.max(...xs) };
}

/** The median of `xs`: the middle value, or the mean of the two middle values of an even count; NaN for none. */
export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * The `q` quantile of `xs` by the nearest rank (the smallest value with at least `q` of the values at or
 * below it, no interpolation; `q` 0 gives the smallest); `null` for none.
 *
 * @example quantile([4, 1, 3, 2], 0.5) // 2
 */
export function quantile(xs: readonly number[], q: number): number | null {
  if (xs.length === 0) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.max(0, Math.min(s.length - 1, Math.ceil(q * s.length) - 1))]!;
}

/** One fine-tuned run of one candidate: what the table aggregates. */
export interface RunRow {
  model: string;
  target: number;
  method: string;
  seed: number;
  valTop1: number;
}

/** Rows grouped by (model, target, method), in first-seen order, each with its seed summary. */
export function aggregate(rows: readonly RunRow[]): {
  model: string;
  target: number;
  method: string;
  seeds: number[];
  summary: SeedSummary;
}[] {
  const groups = new Map<string, RunRow[]>();
  for (const r of rows) {
    const key = JSON.stringify([r.model, r.target, r.method]);
    const list = groups.get(key);
    if (list) list.push(r);
    else groups.set(key, [r]);
  }
  return [...groups.values()].map((list) => ({
    model: list[0]!.model,
    target: list[0]!.target,
    method: list[0]!.method,
    seeds: list.map((r) => r.seed),
    summary: summarize(list.map((r) => r.valTop1)),
  }));
}

/** Whether `a` is at least as good as `b` within the seed spread: mean(a) + sd(a) >= mean(b) - sd(b). */
export function atLeastAsGood(a: SeedSummary, b: SeedSummary): boolean {
  return a.mean + a.sd >= b.mean - b.sd;
}

/** The band of every bench/accuracy case: -5 %..+1 % of the target. */
export const BAND = { lo: -0.05, hi: 0.01 };

/** What bench/accuracy reads of one attempt of a campaign's strategy log. */
export type LoggedAttempt = Pick<Attempt, 'index' | 'inBand' | 'error' | 'score' | 'scoreError'>;

/**
 * The search cost of one campaign from its strategy log: prune trials (attempts the engine measured),
 * in-band candidates, how many were scored and how many scoring failed, and the scoring fine-tune steps
 * (the sum of every score's `steps`: 0 for zero-shot).
 *
 * @example
 * // 3 trials, 2 in band, both scored by a 10-step recovery fine-tune:
 * searchCost(log) // { trials: 3, inBand: 2, scored: 2, scoreErrors: 0, scoringSteps: 20 }
 */
export function searchCost(attempts: readonly LoggedAttempt[]): {
  trials: number;
  inBand: number;
  scored: number;
  scoreErrors: number;
  scoringSteps: number;
} {
  const measured = attempts.filter((a) => a.error === undefined);
  const inBand = measured.filter((a) => a.inBand);
  return {
    trials: measured.length,
    inBand: inBand.length,
    scored: inBand.filter((a) => a.score).length,
    scoreErrors: inBand.filter((a) => a.scoreError !== undefined).length,
    scoringSteps: measured.reduce((s, a) => s + (a.score?.steps ?? 0), 0),
  };
}

/**
 * The scored candidates of a log (measured, in band, with a score), each marked `kept` when it is the
 * attempt the campaign chose (`chosenIndex`), in log order: what the correlation is computed over.
 */
export function scoredCandidates<A extends LoggedAttempt>(
  attempts: readonly A[],
  chosenIndex: number | null,
): (A & { score: NonNullable<A['score']>; kept: boolean })[] {
  return attempts
    .filter(
      (a): a is A & { score: NonNullable<A['score']> } => a.error === undefined && a.inBand && !!a.score,
    )
    .map((a) => ({ ...a, kept: a.index === chosenIndex }));
}

/**
 * A key that names one pruned candidate across campaigns: its strategy as {@link strategyKey} writes it (key
 * order and the rationale do not count) and its measured MACs. Two campaigns that prune the same dense model
 * with the same strategy get the same model, so it is fine-tuned once per seed.
 */
export function candidateKey(strategy: Strategy, macs: number): string {
  return `${strategyKey(strategy)}@${macs}`;
}

/** One scored candidate of one campaign: its score and its final val top-1 over fine-tune seeds. */
export interface ScoredRuns {
  model: string;
  target: number;
  mode: string;
  attempt: number;
  kept: boolean;
  /** The campaign's score (higher is better). */
  score: number;
  /** Final val top-1 per fine-tune seed (the same seeds for every candidate of a case). */
  valTop1s: readonly number[];
}

/** What one case (model, target, scoring mode) says about its score: see {@link caseVerdicts}. */
export interface CaseVerdict {
  model: string;
  target: number;
  mode: string;
  count: number;
  /** Spearman's rho between the score and the seed-mean final val top-1; `null` when undefined. */
  rho: number | null;
  /** Seed-mean final val top-1 of the kept candidate; `null` when no candidate is marked kept. */
  keptMean: number | null;
  /** The best seed-mean final val top-1 among the scored candidates (what hindsight would keep). */
  bestMean: number;
  /** `bestMean - keptMean`: the accuracy the score left on the table (0 when it kept the best). */
  regret: number | null;
  /** Sample sd of the candidates' seed means: how far apart the candidates really are. */
  spreadSd: number;
  /** Pooled sample sd of one candidate over seeds: the fine-tune noise (0 with one seed). */
  seedSd: number;
  /**
   * `spreadSd / (seedSd / sqrt(seeds))`: the candidates' spread in standard errors of a seed mean. Below
   * about 1 the candidates' order is mostly seed noise and no score can reach a high rho; `null` when
   * the seed noise is 0 or unmeasured (one seed).
   */
  resolution: number | null;
}

/**
 * Per case (model, target, mode), in first-seen order: Spearman's rho between the score and the seed-mean
 * final accuracy, the regret of the kept candidate against the best scored one, and how well the seeds
 * resolve the candidates at all ({@link CaseVerdict.resolution}).
 *
 * @example
 * // two candidates, 2 seeds each: means 0.80 and 0.90, seed sd 0.0141, spread sd 0.0707:
 * caseVerdicts([{ ..., score: 0.3, valTop1s: [0.79, 0.81] }, { ..., score: 0.5, kept: true, valTop1s: [0.89, 0.91] }])
 * // [{ rho: 1, keptMean: 0.9, bestMean: 0.9, regret: 0, resolution: 7.07, ... }]
 */
export function caseVerdicts(rows: readonly ScoredRuns[]): CaseVerdict[] {
  const cases = new Map<string, ScoredRuns[]>();
  for (const r of rows) {
    if (r.valTop1s.length === 0)
      throw new RangeError(`caseVerdicts: ${r.model} @ ${r.target} #${r.attempt} has no runs`);
    const key = JSON.stringify([r.model, r.target, r.mode]);
    const list = cases.get(key);
    if (list) list.push(r);
    else cases.set(key, [r]);
  }
  return [...cases.values()].map((list) => {
    const means = list.map((r) => summarize(r.valTop1s).mean);
    const kept = list.findIndex((r) => r.kept);
    const bestMean = Math.max(...means);
    const keptMean = kept >= 0 ? means[kept]! : null;
    const seeds = Math.min(...list.map((r) => r.valTop1s.length));
    const variances = list.map((r) => summarize(r.valTop1s).sd ** 2);
    const seedSd = Math.sqrt(variances.reduce((s, v) => s + v, 0) / variances.length);
    const spreadSd = summarize(means).sd;
    return {
      model: list[0]!.model,
      target: list[0]!.target,
      mode: list[0]!.mode,
      count: list.length,
      rho: spearman(
        list.map((r) => r.score),
        means,
      ),
      keptMean,
      bestMean,
      regret: keptMean === null ? null : bestMean - keptMean,
      spreadSd,
      seedSd,
      resolution: seeds > 1 && seedSd > 0 ? spreadSd / (seedSd / Math.sqrt(seeds)) : null,
    };
  });
}
