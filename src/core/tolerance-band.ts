import { z } from 'zod';

/** Largest undershoot a band may allow: a model at half its target is another target, not a tolerance. */
export const MAX_BAND_UNDERSHOOT = 0.5;
/** Largest overshoot a band may allow. */
export const MAX_BAND_OVERSHOOT = 0.5;
/**
 * Narrowest band (hi - lo): 0.1 %. Channel pruning moves MACs in steps (one channel of one group), so a
 * zero-width band is met only by chance and a search for it cannot converge.
 */
export const MIN_BAND_WIDTH = 0.001;

/** Why a band is unusable, or `undefined` when it is fine. One rule for the band schema and the parser. */
function bandProblem(lo: number, hi: number): string | undefined {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return 'the bounds must be finite numbers';
  if (lo > 0) return 'the lower bound must be <= 0%';
  if (hi < 0) return 'the upper bound must be >= 0%';
  if (lo < -MAX_BAND_UNDERSHOOT) return `the lower bound must be >= -${MAX_BAND_UNDERSHOOT * 100}%`;
  if (hi > MAX_BAND_OVERSHOOT) return `the upper bound must be <= +${MAX_BAND_OVERSHOOT * 100}%`;
  if (hi - lo < MIN_BAND_WIDTH - 1e-12)
    return `the band must be at least ${MIN_BAND_WIDTH * 100}% wide (e.g. "-5%..+1%"): MACs move in channel-sized steps`;
  return undefined;
}

/**
 * A tolerance band around a MAC target, as fractions: `{ lo: -0.05, hi: 0.01 }` accepts up to 5 %
 * under and 1 % over. Deviation `d = (macs - target) / target`; converged iff `lo <= d <= hi`.
 * Bounds: `lo` in [-50 %, 0], `hi` in [0, +50 %], at least 0.1 % wide.
 */
export const BandSchema = z
  .object({ lo: z.number(), hi: z.number() })
  .strict()
  .superRefine((b, ctx) => {
    const problem = bandProblem(b.lo, b.hi);
    if (problem) ctx.addIssue({ code: 'custom', message: problem });
  });
export type Band = z.infer<typeof BandSchema>;

const PERCENT = /^\s*([+-]?\d+(?:\.\d+)?)\s*%\s*\.\.\s*([+-]?\d+(?:\.\d+)?)\s*%\s*$/;

/**
 * Parse a band written as `-5%..+1%` (percent, signed). Throws a message naming the expected form.
 * @example parseBand('-5%..+1%') // { lo: -0.05, hi: 0.01 }
 */
export function parseBand(text: string): Band {
  const m = PERCENT.exec(text);
  if (!m) throw new Error(`band ${JSON.stringify(text)}: expected the form "-5%..+1%"`);
  const lo = Number(m[1]) / 100;
  const hi = Number(m[2]) / 100;
  const problem = bandProblem(lo, hi);
  if (problem) throw new Error(`band ${JSON.stringify(text)}: ${problem}`);
  return { lo, hi };
}

/** Format a band back as `-5%..+1%`. */
export function formatBand(band: Band): string {
  const pct = (x: number) => `${x >= 0 ? '+' : ''}${Number((x * 100).toFixed(4))}%`;
  return `${pct(band.lo)}..${pct(band.hi)}`;
}

/** Relative deviation of measured MACs from the target. */
export function deviation(macs: number, targetMacs: number): number {
  return (macs - targetMacs) / targetMacs;
}

/** Whether a deviation lies inside the band (inclusive). */
export function inBand(d: number, band: Band): boolean {
  // A hair of slack for float noise at the edges: 1e-12 relative.
  return d >= band.lo - 1e-12 && d <= band.hi + 1e-12;
}

/** Absolute MAC bounds `[min, max]` the band allows around a target. */
export function bandBounds(targetMacs: number, band: Band): [number, number] {
  return [targetMacs * (1 + band.lo), targetMacs * (1 + band.hi)];
}

/** The middle of the band, as a deviation: where an agent should aim. */
export function bandCenter(band: Band): number {
  return (band.lo + band.hi) / 2;
}
