import type { Attempt } from './attempt';
import type { Bracket } from './attempt-selection';
import { bestAttempt, bracketOf, isFailed, isMeasured, sideOf } from './attempt-selection';
import { strategyKey } from './strategy';
import type { Band } from './tolerance-band';
import { inBand } from './tolerance-band';

/** What the search loop should do next. */
export type MonitorAction = 'continue' | 'switch-agent' | 'shrink-bracket' | 'stop';

/** Why the monitor said so; `null` with `continue` when nothing is wrong. */
export type MonitorReason =
  | 'stagnation'
  | 'oscillation'
  | 'repeated-strategy'
  | 'invalid-strategy'
  | 'infeasible-target'
  | 'max-iterations'
  | 'converged'
  | null;

/** The monitor's verdict on a search history. */
export interface SearchAssessment {
  action: MonitorAction;
  reason: MonitorReason;
  /** One line for people and for the next agent's `note`. */
  detail: string;
  /** {@link bestAttempt} of the history, when any attempt measured something. */
  best?: Attempt;
  bracket?: Bracket;
}

/** Options of {@link assessSearch}. */
export interface AssessOptions {
  band: Band;
  targetMacs: number;
  /** K: attempts without a better |deviation| before the search counts as stagnating. @default 3 */
  stagnationWindow?: number;
  /** Attempts allowed in all (errors included). */
  maxIterations: number;
  /** MACs no strategy can remove (protected layers): a band entirely below it is unreachable. */
  floorMacs?: number;
  /** Dense MACs: a band entirely above them is unreachable. */
  ceilingMacs?: number;
  /** Engine failures in a row that mean the agent proposes invalid strategies. @default 3 */
  invalidRun?: number;
}

/** Relative improvement of |deviation| that counts as "better" (guards against float ties). */
const IMPROVEMENT = 1e-9;

/**
 * Judge a MAC-target search after each attempt: pure and deterministic (workflow code calls it).
 * Rules are checked in this order; the first that fires decides (K = `stagnationWindow`,
 * E = `invalidRun`, "agent run" = the trailing attempts made by the last attempt's agent):
 *
 * | # | condition                                                                          | action           | reason              |
 * |---|------------------------------------------------------------------------------------|------------------|---------------------|
 * | 1 | some measured attempt is in band                                                   | stop             | converged           |
 * | 2 | band above `ceilingMacs` (target x (1 + lo) > dense) or below `floorMacs`           | stop             | infeasible-target   |
 * |   | (target x (1 + hi) < floor), or an attempt at ratio >= 0.95 still measured above    |                  |                     |
 * | 3 | attempts >= `maxIterations`                                                        | stop             | max-iterations      |
 * | 4 | the last E attempts all failed (`error`); 2E or more in a row                       | switch-agent; stop | invalid-strategy  |
 * | 5 | the last attempt repeats an earlier strategy (same strategyKey)                    | switch-agent     | repeated-strategy   |
 * | 6 | the last max(K, 3) measured deviations alternate in sign and the larger |d| of the  | shrink-bracket;  | oscillation         |
 * |   | newest two is not below half that of the oldest two (no shrinking);               | switch-agent     |                     |
 * |   | switch-agent instead once the agent run >= 2K                                       |                  |                     |
 * | 7 | no progress in the last 3K attempts                                                | stop             | stagnation          |
 * | 8 | no progress in the last K attempts and the agent run >= K                          | switch-agent     | stagnation          |
 * | 9 | otherwise                                                                          | continue         | null                |
 *
 * "Progress" is a measured attempt with a smaller |deviation| than every earlier one on the same side
 * of the target (above or below): a bracketing search that tightens either end is not stagnating.
 *
 * Every path ends: `maxIterations` bounds the loop, and rule 7 ends a search that keeps switching
 * agents without progress before that.
 *
 * @example
 * // Band -1%..+1%, K = 3: deviations +4 %, -4.1 %, +4.2 % (signs flip, |d| not shrinking)
 * assessSearch(history, { band: { lo: -0.01, hi: 0.01 }, targetMacs: 1.77e9, maxIterations: 12 });
 * // { action: 'shrink-bracket', reason: 'oscillation', bracket: { below: <-4.1 %>, above: <+4.0 %> }, ... }
 */
export function assessSearch(history: readonly Attempt[], opts: AssessOptions): SearchAssessment {
  const k = Math.max(1, opts.stagnationWindow ?? 3);
  const invalidRun = Math.max(1, opts.invalidRun ?? 3);
  const { band, targetMacs } = opts;
  const measured = history.filter(isMeasured);
  const best = bestAttempt(history, band);
  const bracket = bracketOf(history);
  const extra = { ...(best ? { best } : {}), bracket };
  const verdict = (action: MonitorAction, reason: MonitorReason, detail: string): SearchAssessment => ({
    action,
    reason,
    detail,
    ...extra,
  });

  // 1. converged
  const hit = measured.find((a) => inBand(a.deviation, band));
  if (hit) return verdict('stop', 'converged', `attempt ${hit.index} is in band (${pct(hit.deviation)})`);

  // 2. infeasible target
  const hiMacs = targetMacs * (1 + band.hi);
  const loMacs = targetMacs * (1 + band.lo);
  if (opts.floorMacs !== undefined && hiMacs < opts.floorMacs) {
    return verdict(
      'stop',
      'infeasible-target',
      `the band's top ${fmt(hiMacs)} is below the ${fmt(opts.floorMacs)} no strategy can remove`,
    );
  }
  if (opts.ceilingMacs !== undefined && loMacs > opts.ceilingMacs) {
    return verdict(
      'stop',
      'infeasible-target',
      `the band's bottom ${fmt(loMacs)} is above the unpruned ${fmt(opts.ceilingMacs)}`,
    );
  }
  const maxed = measured.find((a) => a.strategy.pruningRatio >= 0.95 - 1e-9 && a.deviation > band.hi);
  if (maxed) {
    return verdict(
      'stop',
      'infeasible-target',
      `attempt ${maxed.index} at the largest ratio ${maxed.strategy.pruningRatio} still measures ${pct(maxed.deviation)}`,
    );
  }

  // 3. max iterations
  if (history.length >= opts.maxIterations) {
    return verdict(
      'stop',
      'max-iterations',
      `${history.length} attempts reached the limit of ${opts.maxIterations}`,
    );
  }

  const last = history[history.length - 1];
  if (!last) return verdict('continue', null, 'no attempt yet');

  // 4. invalid strategies in a row
  let failures = 0;
  for (let i = history.length - 1; i >= 0 && isFailed(history[i] as Attempt); i--) failures++;
  if (failures >= 2 * invalidRun) {
    return verdict(
      'stop',
      'invalid-strategy',
      `the last ${failures} attempts failed in the engine (last: ${last.error ?? ''})`,
    );
  }
  if (failures >= invalidRun) {
    return verdict(
      'switch-agent',
      'invalid-strategy',
      `the last ${failures} attempts failed in the engine (last: ${last.error ?? ''})`,
    );
  }

  // 5. repeated strategy
  const lastKey = strategyKey(last.strategy);
  const earlier = history.slice(0, -1).find((a) => strategyKey(a.strategy) === lastKey);
  if (earlier) {
    return verdict(
      'switch-agent',
      'repeated-strategy',
      `attempt ${last.index} repeats the strategy of attempt ${earlier.index}`,
    );
  }

  const run = agentRun(history);

  // 6. oscillation
  const w = Math.max(k, 3);
  const window = measured.slice(-w);
  if (window.length === w) {
    const flips = window.every(
      (a, i) => i === 0 || Math.sign(a.deviation) !== Math.sign((window[i - 1] as Attempt).deviation),
    );
    // The |d| envelope (larger of two neighbours, one per side): bisection halves it every two steps.
    const absOf = (xs: Attempt[]) => Math.max(...xs.map((a) => Math.abs(a.deviation)));
    const oldest = absOf(window.slice(0, 2));
    const newest = absOf(window.slice(-2));
    if (flips && newest >= 0.5 * oldest) {
      const detail = `deviations ${window.map((a) => pct(a.deviation)).join(', ')} flip sign without shrinking`;
      if (run >= 2 * k)
        return verdict(
          'switch-agent',
          'oscillation',
          `${detail}; ${last.agent} kept at it for ${run} attempts`,
        );
      return verdict('shrink-bracket', 'oscillation', `${detail}; bisect between ${bracketText(bracket)}`);
    }
  }

  // 7-8. stagnation: attempts since the last progress — a better |deviation| on either side of the
  // target (a tighter bracket end counts: a bracketing search closes in from both sides). Failed
  // attempts make no progress.
  let bestAbs = Infinity;
  let bestAbove = Infinity;
  let bestBelow = Infinity;
  let since = 0;
  for (const a of history) {
    const abs = Math.abs(a.deviation);
    const above = sideOf(a.deviation) === 'above';
    if (isMeasured(a) && abs < (above ? bestAbove : bestBelow) * (1 - IMPROVEMENT)) {
      if (above) bestAbove = abs;
      else bestBelow = abs;
      bestAbs = Math.min(bestAbs, abs);
      since = 0;
    } else {
      since++;
    }
  }
  const bestText = Number.isFinite(bestAbs) ? `best |deviation| ${pct(bestAbs)}` : 'nothing measured';
  if (since >= 3 * k)
    return verdict(
      'stop',
      'stagnation',
      `no better |deviation| on either side in ${since} attempts (${bestText})`,
    );
  if (since >= k && run >= k) {
    return verdict(
      'switch-agent',
      'stagnation',
      `no better |deviation| on either side in the last ${since} attempts (${bestText}) from ${last.agent}`,
    );
  }

  return verdict('continue', null, `${bestText} after ${history.length} attempts`);
}

/** Trailing attempts made by the last attempt's agent. */
function agentRun(history: readonly Attempt[]): number {
  const last = history[history.length - 1];
  let n = 0;
  for (let i = history.length - 1; i >= 0 && history[i]?.agent === last?.agent; i--) n++;
  return n;
}

function bracketText(b: Bracket): string {
  const side = (a: Attempt | undefined) =>
    a ? `r=${a.strategy.pruningRatio} (${pct(a.deviation)})` : '(none)';
  return `${side(b.above)} and ${side(b.below)}`;
}

function pct(d: number): string {
  return `${d >= 0 ? '+' : ''}${(d * 100).toFixed(2)}%`;
}

function fmt(macs: number): string {
  return `${(macs / 1e9).toPrecision(4)} G`;
}
