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

/** A seeded uniform [0, 1) generator (mulberry32): the Monte Carlo nulls below are the same on every run. */
function seededUniform(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `xs` in a uniformly random order (Fisher-Yates) drawn from `rand`. */
function shuffled<T>(xs: readonly T[], rand: () => number): T[] {
  const out = [...xs];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** Calls `visit` with every ordering of `xs` (Heap's algorithm, n! of them; the array is reused). */
function eachPermutation<T>(xs: readonly T[], visit: (p: readonly T[]) => void): void {
  const a = [...xs];
  const c = new Array<number>(a.length).fill(0);
  visit(a);
  for (let i = 1; i < a.length; ) {
    if (c[i]! < i) {
      const j = i % 2 === 0 ? 0 : c[i]!;
      [a[j], a[i]] = [a[i]!, a[j]!];
      visit(a);
      c[i]!++;
      i = 1;
    } else {
      c[i] = 0;
      i++;
    }
  }
}

/** Up to this many pairs the permutation p-value of {@link spearmanP} is exact (8! = 40,320 pairings). */
export const EXACT_PERMUTATION_MAX = 8;
/** Random pairings of a Monte Carlo permutation p-value. */
export const PERMUTATION_DRAWS = 20_000;
const RHO_EPS = 1e-9; // a permuted rho equal to the observed one (up to rounding) counts as "at least as high"

/**
 * One-sided permutation p-value of Spearman's rho: the probability, were the score unrelated to accuracy
 * (every pairing of scores with accuracies equally likely), of a rho at least as high as the observed one.
 * Exact over all n! pairings up to {@link EXACT_PERMUTATION_MAX} pairs; beyond, `(hits + 1) / (draws + 1)`
 * over {@link PERMUTATION_DRAWS} seeded random pairings. `null` when rho is undefined.
 *
 * It says how much a rho of a few candidates is worth: with 6 candidates, rho 0.71 has p = 0.068
 * and rho 0.83 p = 0.029.
 *
 * @example spearmanP([1, 2, 3, 4], [1, 2, 4, 3]) // 4 / 24: rho 0.8, reached by the identity and 3 swaps
 */
export function spearmanP(xs: readonly number[], ys: readonly number[], seed = 1): number | null {
  const observed = spearman(xs, ys);
  if (observed === null) return null;
  let hits = 0;
  if (xs.length <= EXACT_PERMUTATION_MAX) {
    let total = 0;
    eachPermutation(ys, (p) => {
      total++;
      if ((spearman(xs, p) ?? -Infinity) >= observed - RHO_EPS) hits++;
    });
    return hits / total;
  }
  const rand = seededUniform(seed);
  for (let d = 0; d < PERMUTATION_DRAWS; d++)
    if ((spearman(xs, shuffled(ys, rand)) ?? -Infinity) >= observed - RHO_EPS) hits++;
  return (hits + 1) / (PERMUTATION_DRAWS + 1);
}

/** Several cases' rho read together: see {@link pooledRho}. */
export interface PooledRho {
  /** Cases with a defined rho. */
  cases: number;
  /** The mean of their rho. */
  meanRho: number | null;
  /** One-sided permutation p-value of that mean, pairings shuffled within each case. */
  p: number | null;
}

/**
 * The mean within-case Spearman rho of several cases (each its own score against its own accuracies,
 * never pooled across cases, where differences between targets would dominate), and its one-sided
 * p-value: the share of {@link PERMUTATION_DRAWS} seeded draws, each shuffling every case's pairings
 * independently, whose mean rho is at least the observed one (`(hits + 1) / (draws + 1)`). Cases whose
 * rho is undefined are left out.
 *
 * @example pooledRho([{ xs: [1, 2, 3], ys: [1, 2, 3] }, { xs: [1, 2, 3], ys: [1, 2, 3] }]) // meanRho 1, p ~ 1/36
 */
export function pooledRho(
  cases: readonly { xs: readonly number[]; ys: readonly number[] }[],
  seed = 1,
): PooledRho {
  const defined = cases.filter((c) => spearman(c.xs, c.ys) !== null);
  if (!defined.length) return { cases: 0, meanRho: null, p: null };
  const meanOf = (pairs: readonly { xs: readonly number[]; ys: readonly number[] }[]) =>
    pairs.reduce((s, c) => s + (spearman(c.xs, c.ys) ?? 0), 0) / pairs.length;
  const observed = meanOf(defined);
  const rand = seededUniform(seed);
  let hits = 0;
  for (let d = 0; d < PERMUTATION_DRAWS; d++) {
    const drawn = defined.map((c) => ({ xs: c.xs, ys: shuffled(c.ys, rand) }));
    if (meanOf(drawn) >= observed - RHO_EPS) hits++;
  }
  return { cases: defined.length, meanRho: observed, p: (hits + 1) / (PERMUTATION_DRAWS + 1) };
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

/**
 * The generated dataset's folder label in `--work` (its dense models are named by it too): its size, and its class
 * count when not 10, so that the 10-class runs keep the names of the earlier runs and no two datasets share one.
 */
export function datasetLabel(classes: number, trainPerClass: number, valPerClass: number): string {
  if (!Number.isInteger(classes) || classes < 2 || classes > 100)
    throw new Error(`--classes: expected a whole number from 2 to 100, got ${classes}`);
  return `${classes === 10 ? '' : `c${classes}-`}${trainPerClass}x${valPerClass}`;
}

/** What bench/accuracy reads of one attempt of a campaign's strategy log. */
export type LoggedAttempt = Pick<Attempt, 'index' | 'inBand' | 'error' | 'score' | 'scoreError'>;

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
  /** {@link spearmanP} of that rho: how often a score unrelated to accuracy would do as well. */
  rhoP: number | null;
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
  /**
   * The noise ceiling: the correlation a perfect score could expect with these seed means,
   * `sqrt(1 - 1 / resolution^2)`. The means' variance is the candidates' own spread plus the seed noise of a
   * mean (`seedSd^2 / seeds`); only the first part can be predicted. 0 when the spread is no larger than the
   * noise (resolution <= 1), `null` when resolution is. A rho near the ceiling is as good as any score can
   * show on this run; a higher goal needs more seeds or candidates further apart, not a better score.
   */
  ceiling: number | null;
  /**
   * Spearman's rho between two seeds' finals over the candidates, the mean over every pair of the seeds all
   * candidates have: how far one seed's fine-tunes order the candidates as another seed's do. The ceiling
   * assumes normal spread; one outlying candidate (a far weaker shape) makes the spread large and the ceiling
   * near 1 while the others stay in seed noise, which this figure shows. `null` with one seed, or when a
   * seed's finals are all equal.
   */
  seedRho: number | null;
}

/**
 * Per case (model, target, mode), in first-seen order: Spearman's rho between the score and the seed-mean
 * final accuracy, the regret of the kept candidate against the best scored one, and how well the seeds
 * resolve the candidates at all ({@link CaseVerdict.resolution}).
 *
 * @example
 * // two candidates, 2 seeds each: means 0.80 and 0.90, seed sd 0.0141, spread sd 0.0707:
 * caseVerdicts([{ ..., score: 0.3, valTop1s: [0.79, 0.81] }, { ..., score: 0.5, kept: true, valTop1s: [0.89, 0.91] }])
 * // [{ rho: 1, rhoP: 0.5, keptMean: 0.9, bestMean: 0.9, regret: 0, resolution: 7.07, ceiling: 0.99, ... }]
 */
export function caseVerdicts(rows: readonly ScoredRuns[]): CaseVerdict[] {
  return casesOf(rows).map((list) => {
    const { means, seedSd, spreadSd, resolution } = spreadOf(list);
    const kept = list.findIndex((r) => r.kept);
    const bestMean = Math.max(...means);
    const keptMean = kept >= 0 ? means[kept]! : null;
    const regret = kept >= 0 ? regretAt(means, kept) : null;
    return {
      model: list[0]!.model,
      target: list[0]!.target,
      mode: list[0]!.mode,
      count: list.length,
      rho: spearman(
        list.map((r) => r.score),
        means,
      ),
      rhoP: spearmanP(
        list.map((r) => r.score),
        means,
      ),
      keptMean,
      bestMean,
      regret,
      spreadSd,
      seedSd,
      resolution,
      ceiling: resolution === null ? null : Math.sqrt(Math.max(0, 1 - 1 / resolution ** 2)),
      seedRho: seedAgreement(list),
    };
  });
}

/** {@link CaseVerdict.regret} of keeping candidate `index`: the best seed mean of the case less its own. */
export function regretAt(means: readonly number[], index: number): number {
  return Math.max(...means) - means[index]!;
}

/** {@link CaseVerdict.seedRho}: the mean rho over pairs of seeds (seed i is each candidate's i-th final). */
function seedAgreement(list: readonly ScoredRuns[]): number | null {
  const seeds = Math.min(...list.map((r) => r.valTop1s.length));
  const rhos: number[] = [];
  for (let i = 0; i < seeds; i++)
    for (let j = i + 1; j < seeds; j++) {
      const rho = spearman(
        list.map((r) => r.valTop1s[i]!),
        list.map((r) => r.valTop1s[j]!),
      );
      if (rho === null) return null;
      rhos.push(rho);
    }
  return rhos.length ? rhos.reduce((a, b) => a + b, 0) / rhos.length : null;
}

/** One case's seed means, seed noise, spread and resolution (see {@link CaseVerdict}). */
function spreadOf(list: readonly ScoredRuns[]): {
  means: number[];
  seedSd: number;
  spreadSd: number;
  resolution: number | null;
} {
  const means = list.map((r) => summarize(r.valTop1s).mean);
  const seeds = Math.min(...list.map((r) => r.valTop1s.length));
  const variances = list.map((r) => summarize(r.valTop1s).sd ** 2);
  const seedSd = Math.sqrt(variances.reduce((s, v) => s + v, 0) / variances.length);
  const spreadSd = summarize(means).sd;
  const resolution = seeds > 1 && seedSd > 0 ? spreadSd / (seedSd / Math.sqrt(seeds)) : null;
  return { means, seedSd, spreadSd, resolution };
}

/** The case (model, target, scoring mode) a scored candidate belongs to, as a map key. */
export function caseKey(r: { model: string; target: number; mode: string }): string {
  return JSON.stringify([r.model, r.target, r.mode]);
}

/** `rows` grouped by case ({@link caseKey}), in first-seen order; a row without runs is an error. */
function casesOf(rows: readonly ScoredRuns[]): ScoredRuns[][] {
  const cases = new Map<string, ScoredRuns[]>();
  for (const r of rows) {
    if (r.valTop1s.length === 0)
      throw new RangeError(`scored candidate ${r.model} @ ${r.target} #${r.attempt} has no runs`);
    const key = caseKey(r);
    const list = cases.get(key);
    if (list) list.push(r);
    else cases.set(key, [r]);
  }
  return [...cases.values()];
}

/** The regret of the kept candidate over several cases: see {@link pooledByMode}. */
export interface PooledRegret {
  /** Cases with a kept candidate. */
  cases: number;
  /** The mean of their {@link CaseVerdict.regret}; `null` with no such case. */
  mean: number | null;
  /** The largest of them; `null` with no such case. */
  max: number | null;
}

/**
 * Per scoring mode, in first-seen order: {@link pooledRho} over that mode's cases, each case its score
 * against its candidates' seed-mean final accuracy, and the regret of the kept candidate (its seed mean
 * below the best scored candidate's) over the cases that mark one kept. The rho answers "does this score rank
 * candidates at all" with every case's evidence, where one case of 6 candidates cannot; the regret answers
 * "what did its pick cost", which a low rho need not (a score can misorder the rest and still keep the best).
 * With `minResolution`, only the cases whose {@link CaseVerdict.resolution} exceeds it (1: the cases whose
 * candidates differ beyond seed noise).
 */
export function pooledByMode(
  rows: readonly ScoredRuns[],
  minResolution = 0,
): ({ mode: string; regret: PooledRegret } & PooledRho)[] {
  const byMode = new Map<string, { xs: number[]; ys: number[]; regret: number | null }[]>();
  for (const list of casesOf(rows)) {
    const { means, resolution } = spreadOf(list);
    if (minResolution > 0 && (resolution ?? 0) <= minResolution) continue;
    const mode = list[0]!.mode;
    const kept = list.findIndex((r) => r.kept);
    const entry = {
      xs: list.map((r) => r.score),
      ys: means,
      regret: kept >= 0 ? regretAt(means, kept) : null,
    };
    const cases = byMode.get(mode);
    if (cases) cases.push(entry);
    else byMode.set(mode, [entry]);
  }
  return [...byMode].map(([mode, cases]) => {
    const regrets = cases.flatMap((c) => (c.regret === null ? [] : [c.regret]));
    const { mean, max } = regrets.length ? summarize(regrets) : { mean: null, max: null };
    const regret: PooledRegret = { cases: regrets.length, mean, max };
    return { mode, ...pooledRho(cases), regret };
  });
}

/**
 * A two-stage scoring of one case's candidates, read from two recovery lengths measured on the same
 * candidates: every candidate at the short length, the `keep` best of those again at the long one (from the
 * start, as a fresh score), and the best of those kept. `short` and `long` are the two scores (higher
 * better), `better(i, j)` whether candidate i's score beats j's at one length (the campaign's rule, ties to
 * the lower loss); equal scores go to the earlier candidate. Returns the index of the candidate kept.
 *
 * @example screenedPick(3, (i, j) => short[i] > short[j], (i, j) => long[i] > long[j], 2)
 */
export function screenedPick(
  count: number,
  betterShort: (i: number, j: number) => boolean,
  betterLong: (i: number, j: number) => boolean,
  keep: number,
): number {
  if (count < 1) throw new RangeError('screenedPick: no candidates');
  if (!Number.isInteger(keep) || keep < 1) throw new RangeError(`screenedPick: keep ${keep}, expected >= 1`);
  const order = (better: (i: number, j: number) => boolean) => (i: number, j: number) =>
    better(i, j) ? -1 : better(j, i) ? 1 : i - j;
  const kept = [...Array(count).keys()].sort(order(betterShort)).slice(0, keep);
  return kept.sort(order(betterLong))[0]!;
}
