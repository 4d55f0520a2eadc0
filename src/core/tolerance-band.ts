import { z } from 'zod';

/**
 * A tolerance band around a MAC target, as fractions: `{ lo: -0.05, hi: 0.01 }` accepts up to 5 %
 * under and 1 % over. Deviation `d = (macs - target) / target`; converged iff `lo <= d <= hi`.
 */
export const BandSchema = z
  .object({ lo: z.number().min(-1).max(0), hi: z.number().min(0).max(1) })
  .strict()
  .refine((b) => b.lo <= b.hi, { message: 'band lo must be <= hi' });
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
  if (lo > 0) throw new Error(`band ${JSON.stringify(text)}: the lower bound must be <= 0%`);
  if (hi < 0) throw new Error(`band ${JSON.stringify(text)}: the upper bound must be >= 0%`);
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
