/**
 * Number and text formatting for the report. Every function returns `—` for a value that is missing
 * or not finite, so no `NaN` or `undefined` ever reaches the page.
 */

/** Shown where a value is unknown. */
export const MISSING = '—';

const HTML_ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Escape text for HTML/SVG element content and attribute values (all five special characters). */
export function esc(text: string | number | boolean | null | undefined): string {
  const s = text === null || text === undefined ? '' : String(text);
  return s.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] ?? c);
}

/** Whether a value is a usable number. */
export function isNum(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

/** `1.77 G`, `301 M`, `25.6 M`, `912 K`, `7.5`: SI suffixes with 3 significant digits. */
export function si(v: number | undefined | null, digits = 3): string {
  if (!isNum(v)) return MISSING;
  const abs = Math.abs(v);
  const units: [number, string][] = [
    [1e12, 'T'],
    [1e9, 'G'],
    [1e6, 'M'],
    [1e3, 'K'],
  ];
  for (const [scale, suffix] of units) {
    if (abs >= scale) return `${trimZeros((v / scale).toPrecision(digits))} ${suffix}`;
  }
  return trimZeros(abs >= 1 ? v.toPrecision(digits) : v.toFixed(2));
}

/** MACs for people: `1.77 GMACs`. */
export function macs(v: number | undefined | null): string {
  return isNum(v) ? `${si(v)}MACs`.replace(/(\d)MACs$/, '$1 MACs') : MISSING;
}

/** A signed percentage of a fraction: `+0.42%`, `-4.90%`. */
export function pct(fraction: number | undefined | null, digits = 2): string {
  if (!isNum(fraction)) return MISSING;
  const s = (fraction * 100).toFixed(digits);
  return Number(s) > 0 ? `+${s}%` : Number(s) === 0 ? `${(0).toFixed(digits)}%` : `${s}%`;
}

/** A tolerance band as signed percentages without trailing zeros: `-5%..+1%`, `-2.5%..+0.5%`. */
export function bandText(band: { readonly lo: number; readonly hi: number }): string {
  const one = (x: number) => {
    if (!isNum(x)) return MISSING;
    const v = Number((x * 100).toFixed(2));
    return `${v > 0 ? '+' : ''}${v}%`;
  };
  return `${one(band.lo)}..${one(band.hi)}`;
}

/** A tick label in milliseconds without trailing zeros: `0 ms`, `2.5 ms`, `1.2 s`. */
export function msTick(v: number): string {
  if (!isNum(v)) return MISSING;
  return Math.abs(v) >= 1000 ? `${Number((v / 1000).toPrecision(3))} s` : `${Number(v.toPrecision(3))} ms`;
}

/** An accuracy fraction as an unsigned percentage: `76.13%`. */
export function acc(fraction: number | undefined | null, digits = 2): string {
  return isNum(fraction) ? `${(fraction * 100).toFixed(digits)}%` : MISSING;
}

/** A difference of two fractions in percentage points, signed: `-1.32 pp`. */
export function pp(diff: number | undefined | null, digits = 2): string {
  if (!isNum(diff)) return MISSING;
  const s = (diff * 100).toFixed(digits);
  return `${Number(s) > 0 ? '+' : ''}${s} pp`;
}

/** A ratio as a multiplier: `2.31×`. */
export function times(v: number | undefined | null, digits = 2): string {
  return isNum(v) ? `${v.toFixed(digits)}×` : MISSING;
}

/** Milliseconds: `41.2 ms`, `1.25 s`. */
export function ms(v: number | undefined | null): string {
  if (!isNum(v)) return MISSING;
  if (Math.abs(v) >= 1000) return `${(v / 1000).toFixed(2)} s`;
  if (v === 0) return '0 ms';
  return `${v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)} ms`;
}

/** Dollars: `$0.0421`, `$12.40`. */
export function usd(v: number | undefined | null): string {
  if (!isNum(v)) return MISSING;
  return v !== 0 && Math.abs(v) < 1 ? `$${v.toFixed(4)}` : `$${v.toFixed(2)}`;
}

/** An integer with thousands separators: `12,480`. */
export function int(v: number | undefined | null): string {
  if (!isNum(v)) return MISSING;
  return Math.round(v)
    .toString()
    .replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/** A plain number with a fixed number of decimals, trailing zeros kept (`0.350`). */
export function fixed(v: number | undefined | null, digits: number): string {
  return isNum(v) ? v.toFixed(digits) : MISSING;
}

/** A number for an SVG coordinate: 2 decimals, never `NaN`. */
export function px(v: number): string {
  return isNum(v) ? String(Math.round(v * 100) / 100) : '0';
}

function trimZeros(s: string): string {
  return s.includes('.') && !s.includes('e') ? s.replace(/\.?0+$/, '') : s;
}
