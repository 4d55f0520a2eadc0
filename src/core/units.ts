/**
 * Parse a MAC count written as a number or with a suffix: `1.77G`, `850M`, `4.1e9`, `1.77 GMACs`.
 * Returns MACs (1 MAC = 1 multiply-add). Throws a message naming the expected form.
 * @example parseMacs('1.77G') // 1_770_000_000
 */
export function parseMacs(text: string | number): number {
  if (typeof text === 'number') {
    if (!Number.isFinite(text) || text <= 0) throw new Error(`MACs ${text}: expected a positive number`);
    return text;
  }
  const m = /^\s*(\d+(?:\.\d+)?(?:e[+-]?\d+)?)\s*([kKmMgGtT]?)\s*(?:MACs?)?\s*$/.exec(text);
  if (!m)
    throw new Error(
      `MACs ${JSON.stringify(text)}: expected a number with an optional K/M/G/T suffix, like "1.77G"`,
    );
  const scale: Record<string, number> = { '': 1, k: 1e3, m: 1e6, g: 1e9, t: 1e12 };
  const value = Number(m[1]) * (scale[(m[2] ?? '').toLowerCase()] ?? 1);
  if (value <= 0) throw new Error(`MACs ${JSON.stringify(text)}: must be positive`);
  return Math.round(value);
}

/** Format MACs for people: `1.77 G`, `301.2 M`. */
export function formatMacs(macs: number, digits = 3): string {
  const abs = Math.abs(macs);
  if (abs >= 1e12) return `${(macs / 1e12).toPrecision(digits)} T`;
  if (abs >= 1e9) return `${(macs / 1e9).toPrecision(digits)} G`;
  if (abs >= 1e6) return `${(macs / 1e6).toPrecision(digits)} M`;
  if (abs >= 1e3) return `${(macs / 1e3).toPrecision(digits)} K`;
  return String(macs);
}

/** Format a parameter count: `25.6 M`. */
export function formatCount(n: number, digits = 3): string {
  return formatMacs(n, digits);
}

/** Format a signed percentage: `+0.42%`. */
export function formatPercent(fraction: number, digits = 2): string {
  return `${fraction >= 0 ? '+' : ''}${(fraction * 100).toFixed(digits)}%`;
}

/**
 * `text` cut to `max` characters, the last one `…` when it was cut: a log cell, a prompt table cell, an
 * error reason in one line.
 *
 * @example
 * truncate('stage1=0.000; stage3=0.540; stage2=0.310', 32) // 'stage1=0.000; stage3=0.540; sta…'
 */
export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}
