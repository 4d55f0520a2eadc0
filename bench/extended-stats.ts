/**
 * Extended-search statistics of the convergence bench (`--extended-search N`), from a target's strategy log:
 * what the extended search did after the first in-band attempt. Pure, so tests check it on known logs.
 */

import { strategyKey, type Strategy } from '../src/core/strategy';

/** What the extended search did for one target (see {@link extendedStats}). */
export interface ExtendedStats {
  /** Attempts after the first in-band one. */
  attempts: number;
  /** Shapes tried (runs of attempts sharing everything but the ratio). */
  shapes: number;
  /** Shapes whose first try, at the neighbouring shape's ratio, measured in band: what one try per shape keeps. */
  firstTryInBand: number;
  /** In-band candidates the extended search produced. */
  candidates: number;
}

/**
 * A strategy's shape: core's canonical key without the global ratio and without the per-stage and
 * per-layer ratios, which the solver varies while it scales one shape into the band.
 */
export function shapeKey(strategy: Strategy): string {
  const { stageRatios: _s, layerRatios: _l, ...shape } = strategy;
  return strategyKey({ ...shape, pruningRatio: 0 });
}

/** Extended-search statistics from a target's rebuilt strategy log. */
export function extendedStats(
  attempts: readonly { index: number; inBand: boolean; strategy: Strategy }[],
  firstHit: number,
): ExtendedStats {
  const after = attempts.filter((a) => a.index > firstHit);
  let shapes = 0;
  let firstTryInBand = 0;
  let previous = attempts.find((a) => a.index === firstHit);
  for (const a of after) {
    if (!previous || shapeKey(a.strategy) !== shapeKey(previous.strategy)) {
      shapes += 1;
      if (a.inBand) firstTryInBand += 1;
    }
    previous = a;
  }
  return { attempts: after.length, shapes, firstTryInBand, candidates: after.filter((a) => a.inBand).length };
}
