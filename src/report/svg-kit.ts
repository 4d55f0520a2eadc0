/**
 * A small kit for hand-written SVG charts: linear scales, "nice" ticks, axes with grid lines, legends
 * and the chart frame. Everything returns SVG markup strings; coordinates go through `px`, so a bad
 * number draws at 0 instead of writing `NaN`.
 */
import { esc, isNum, px } from './format';

/** Colours shared by all charts (and by the CSS legend swatches). */
export const COLORS = {
  dense: '#94a3b8',
  denseDark: '#475569',
  inBand: '#16a34a',
  outOfBand: '#ea580c',
  error: '#dc2626',
  target: '#0f172a',
  band: '#22c55e',
  grid: '#e2e8f0',
  axis: '#94a3b8',
  text: '#334155',
  muted: '#64748b',
  line: '#2563eb',
  ideal: '#cbd5e1',
} as const;

/** One colour per target, in order; wraps around after six. */
export const TARGET_COLORS = ['#2563eb', '#9333ea', '#0891b2', '#db2777', '#ca8a04', '#4f46e5'] as const;

/** The colour of the target at `i`. */
export function targetColor(i: number): string {
  return (
    TARGET_COLORS[((i % TARGET_COLORS.length) + TARGET_COLORS.length) % TARGET_COLORS.length] ?? '#2563eb'
  );
}

/** One colour per agent name. */
export function agentColor(agent: string): string {
  const byAgent: Record<string, string> = {
    solver: '#2563eb',
    grid: '#64748b',
    claude: '#c2410c',
    hybrid: '#9333ea',
    human: '#0d9488',
  };
  return byAgent[agent] ?? '#334155';
}

/** A plot area inside the SVG canvas. */
export interface Box {
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
}

/** Margins around the plot area. */
export interface Margin {
  readonly top: number;
  readonly right: number;
  readonly bottom: number;
  readonly left: number;
}

/** The plot area of a `width` x `height` canvas with margins `m`. */
export function plotBox(width: number, height: number, m: Margin): Box {
  return {
    x: m.left,
    y: m.top,
    w: Math.max(10, width - m.left - m.right),
    h: Math.max(10, height - m.top - m.bottom),
  };
}

/** A linear map from `domain` to `range`; a zero-width domain maps everything to the middle. */
export function linear(
  domain: readonly [number, number],
  range: readonly [number, number],
): (v: number) => number {
  const [d0, d1] = domain;
  const [r0, r1] = range;
  const span = d1 - d0;
  if (!isNum(span) || span === 0) return () => (r0 + r1) / 2;
  return (v: number) => r0 + ((v - d0) / span) * (r1 - r0);
}

/**
 * Round tick values covering [lo, hi] with about `count` steps of 1, 2 or 5 x 10^k.
 * A degenerate range is widened around its value so there are always at least two ticks.
 */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  let a = isNum(lo) ? lo : 0;
  let b = isNum(hi) ? hi : 1;
  if (a > b) [a, b] = [b, a];
  if (a === b) {
    const pad = a === 0 ? 1 : Math.abs(a) * 0.1;
    a -= pad;
    b += pad;
  }
  const raw = (b - a) / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const norm = raw / mag;
  const step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
  const start = Math.floor(a / step + 1e-9) * step;
  const end = Math.ceil(b / step - 1e-9) * step;
  const ticks: number[] = [];
  for (let v = start, i = 0; v <= end + step * 1e-6 && i < 50; v += step, i++) {
    ticks.push(Math.abs(v) < step * 1e-9 ? 0 : Number(v.toPrecision(12)));
  }
  return ticks;
}

/** The first and last tick: a domain that ends on round numbers. */
export function tickDomain(ticks: readonly number[]): [number, number] {
  return [ticks[0] ?? 0, ticks[ticks.length - 1] ?? 1];
}

/** Horizontal grid lines and tick labels on the left of the plot area, with an optional rotated axis title. */
export function axisLeft(
  box: Box,
  y: (v: number) => number,
  ticks: readonly number[],
  fmt: (v: number) => string,
  title?: string,
): string {
  const parts = ticks.map((t) => {
    const yy = px(y(t));
    return (
      `<line class="grid" x1="${px(box.x)}" x2="${px(box.x + box.w)}" y1="${yy}" y2="${yy}"/>` +
      `<text class="tick" x="${px(box.x - 8)}" y="${yy}" text-anchor="end" dominant-baseline="middle">${esc(fmt(t))}</text>`
    );
  });
  parts.push(
    `<line class="axis" x1="${px(box.x)}" x2="${px(box.x)}" y1="${px(box.y)}" y2="${px(box.y + box.h)}"/>`,
  );
  if (title) {
    const cx = box.x - 52;
    const cy = box.y + box.h / 2;
    parts.push(
      `<text class="axis-title" x="${px(cx)}" y="${px(cy)}" text-anchor="middle" transform="rotate(-90 ${px(cx)} ${px(cy)})">${esc(title)}</text>`,
    );
  }
  return `<g class="axis-left">${parts.join('')}</g>`;
}

/** The baseline, tick marks and tick labels under the plot area, with an optional axis title. */
export function axisBottom(
  box: Box,
  x: (v: number) => number,
  ticks: readonly number[],
  fmt: (v: number) => string,
  title?: string,
  options: { grid?: boolean } = {},
): string {
  const base = box.y + box.h;
  const parts = ticks.map((t) => {
    const xx = px(x(t));
    const grid = options.grid
      ? `<line class="grid" x1="${xx}" x2="${xx}" y1="${px(box.y)}" y2="${px(base)}"/>`
      : '';
    return (
      grid +
      `<line class="axis" x1="${xx}" x2="${xx}" y1="${px(base)}" y2="${px(base + 5)}"/>` +
      `<text class="tick" x="${xx}" y="${px(base + 18)}" text-anchor="middle">${esc(fmt(t))}</text>`
    );
  });
  parts.push(
    `<line class="axis" x1="${px(box.x)}" x2="${px(box.x + box.w)}" y1="${px(base)}" y2="${px(base)}"/>`,
  );
  if (title)
    parts.push(
      `<text class="axis-title" x="${px(box.x + box.w / 2)}" y="${px(base + 38)}" text-anchor="middle">${esc(title)}</text>`,
    );
  return `<g class="axis-bottom">${parts.join('')}</g>`;
}

/** How a legend entry is drawn. */
export type LegendShape =
  | 'dot'
  | 'ring'
  | 'line'
  | 'faint-line'
  | 'dash'
  | 'rect'
  | 'band'
  | 'cross'
  | 'hatch';

/** One legend entry. */
export interface LegendItem {
  readonly label: string;
  readonly color: string;
  readonly shape: LegendShape;
}

/** Rough width of a text at `size` px in a sans-serif font (DejaVu/Arial-like average advance). */
export function textWidth(text: string, size = 12): number {
  return text.length * size * 0.6;
}

/** A marker of `shape` centred at (cx, cy). */
export function swatch(shape: LegendShape, color: string, cx: number, cy: number): string {
  switch (shape) {
    case 'dot':
      return `<circle cx="${px(cx)}" cy="${px(cy)}" r="5" fill="${color}" stroke="#fff" stroke-width="1.5"/>`;
    case 'ring':
      return `<circle cx="${px(cx)}" cy="${px(cy)}" r="6" fill="none" stroke="${color}" stroke-width="2"/>`;
    case 'line':
      return `<line x1="${px(cx - 9)}" x2="${px(cx + 9)}" y1="${px(cy)}" y2="${px(cy)}" stroke="${color}" stroke-width="2.5"/>`;
    case 'faint-line':
      return `<line x1="${px(cx - 9)}" x2="${px(cx + 9)}" y1="${px(cy)}" y2="${px(cy)}" stroke="${color}" stroke-width="1.2" stroke-opacity="0.4"/>`;
    case 'hatch':
      return `<rect x="${px(cx - 7)}" y="${px(cy - 6)}" width="14" height="12" rx="2" fill="url(#ap-hatch)" stroke="${color}"/>`;
    case 'dash':
      return `<line x1="${px(cx - 9)}" x2="${px(cx + 9)}" y1="${px(cy)}" y2="${px(cy)}" stroke="${color}" stroke-width="2" stroke-dasharray="4 3"/>`;
    case 'rect':
      return `<rect x="${px(cx - 7)}" y="${px(cy - 6)}" width="14" height="12" rx="2" fill="${color}"/>`;
    case 'band':
      return `<rect x="${px(cx - 9)}" y="${px(cy - 6)}" width="18" height="12" fill="${color}" fill-opacity="0.18" stroke="${color}" stroke-opacity="0.5"/>`;
    case 'cross':
      return crossMark(cx, cy, 5, color);
  }
}

/** An X marker (used for attempts that measured nothing). */
export function crossMark(cx: number, cy: number, r: number, color: string): string {
  return (
    `<path d="M${px(cx - r)} ${px(cy - r)}L${px(cx + r)} ${px(cy + r)}M${px(cx - r)} ${px(cy + r)}L${px(cx + r)} ${px(cy - r)}" ` +
    `stroke="${color}" stroke-width="2.5" stroke-linecap="round" fill="none"/>`
  );
}

/** Where chart legends start (below the title and subtitle). */
export const LEGEND_Y = 64;

/**
 * The chart legend at `LEGEND_Y`, and the y at which the plot area may start below it
 * (so a legend that wraps onto a second row never overlaps the plot).
 */
export function chartLegend(items: readonly LegendItem[], width: number): { svg: string; plotTop: number } {
  const lg = legend(items, 16, LEGEND_Y, width - 32);
  return { svg: lg.svg, plotTop: LEGEND_Y + lg.height + 8 };
}

/** A one-row (wrapping) legend starting at (x, y), at most `maxWidth` wide. Returns markup and its height. */
export function legend(
  items: readonly LegendItem[],
  x: number,
  y: number,
  maxWidth: number,
): { svg: string; height: number } {
  let cx = x;
  let cy = y;
  const parts: string[] = [];
  for (const item of items) {
    const w = 26 + textWidth(item.label, 12) + 18;
    if (cx > x && cx + w > x + maxWidth) {
      cx = x;
      cy += 20;
    }
    parts.push(swatch(item.shape, item.color, cx + 9, cy));
    parts.push(
      `<text class="legend" x="${px(cx + 24)}" y="${px(cy)}" dominant-baseline="middle">${esc(item.label)}</text>`,
    );
    cx += w;
  }
  return { svg: `<g class="legend">${parts.join('')}</g>`, height: items.length ? cy - y + 20 : 0 };
}

/** Options of a chart frame. */
export interface FrameOptions {
  /** The `data-chart` attribute: which chart this is (tests and styles select on it). */
  readonly chart: string;
  readonly width: number;
  readonly height: number;
  readonly title: string;
  readonly subtitle?: string;
  /** Extra `data-*` attributes, e.g. `{ target: '1.77G' }`. */
  readonly data?: Readonly<Record<string, string>>;
}

/**
 * The `<svg class="chart" data-chart=...>` element with a title, subtitle and `<title>` for screen readers
 * around `body`.
 */
export function frame(o: FrameOptions, body: string): string {
  const attrs = Object.entries(o.data ?? {})
    .map(([k, v]) => ` data-${k.replace(/[^a-z0-9-]/gi, '')}="${esc(v)}"`)
    .join('');
  const sub = o.subtitle ? `<text class="chart-subtitle" x="16" y="44">${esc(o.subtitle)}</text>` : '';
  return (
    `<svg class="chart" data-chart="${esc(o.chart)}"${attrs} xmlns="http://www.w3.org/2000/svg" ` +
    `viewBox="0 0 ${px(o.width)} ${px(o.height)}" width="${px(o.width)}" height="${px(o.height)}" role="img">` +
    `<title>${esc(o.title)}</title>` +
    `<rect class="chart-bg" x="0" y="0" width="${px(o.width)}" height="${px(o.height)}" rx="8"/>` +
    `<text class="chart-title" x="16" y="24">${esc(o.title)}</text>${sub}${body}</svg>`
  );
}

/** An SVG path through the points, in order (`M x y L x y ...`); empty for no points. */
export function polyline(points: readonly (readonly [number, number])[]): string {
  return points.map(([x, y], i) => `${i === 0 ? 'M' : 'L'}${px(x)} ${px(y)}`).join('');
}
