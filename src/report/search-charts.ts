/**
 * Charts of the MAC-target search: MACs per model (summary), measured MACs per attempt against the
 * tolerance band (convergence), and pruning ratio against measured MACs (the search's view of the curve).
 */
import type { Attempt } from '../core/attempt';
import { bandText, esc, isNum, pct, px, si } from './format';
import type { ReportData, TargetReport } from './report-data';
import {
  COLORS,
  agentColor,
  axisBottom,
  axisLeft,
  chartLegend,
  crossMark,
  frame,
  linear,
  niceTicks,
  plotBox,
  polyline,
  targetColor,
  tickDomain,
  type LegendItem,
} from './svg-kit';

/** Attempts that measured MACs (no engine error, a positive finite count). */
export function measuredAttempts(t: TargetReport): Attempt[] {
  return t.attempts.filter((a) => !a.error && isNum(a.macs) && a.macs > 0);
}

/** The attempt the search kept, if any. */
export function chosenAttempt(t: TargetReport): Attempt | undefined {
  return t.chosenIndex === null ? undefined : t.attempts.find((a) => a.index === t.chosenIndex);
}

/** The band's MAC bounds for a target. */
export function bandMacs(t: TargetReport): [number, number] {
  return [t.targetMacs * (1 + t.band.lo), t.targetMacs * (1 + t.band.hi)];
}

const tooltip = (text: string) => `<title>${esc(text)}</title>`;

function attemptTooltip(a: Attempt): string {
  const lines = [
    `attempt ${a.index} (${a.agent})`,
    `pruning ratio ${isNum(a.strategy.pruningRatio) ? a.strategy.pruningRatio.toFixed(3) : '—'}`,
  ];
  if (a.error) lines.push(`error: ${a.error}`);
  else lines.push(`${si(a.macs)}MACs, deviation ${pct(a.deviation)}${a.inBand ? ' (in band)' : ''}`);
  if (a.fallbackReason) lines.push(`fallback: ${a.fallbackReason}`);
  return tooltip(lines.join('\n'));
}

/** The hatch pattern for bars of attempts that were not kept (defined once, in the summary chart). */
const hatchDef =
  '<defs><pattern id="ap-hatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)">' +
  `<rect width="6" height="6" fill="#f1f5f9"/><line x1="0" y1="0" x2="0" y2="6" stroke="${COLORS.axis}" stroke-width="2"/></pattern></defs>`;

/**
 * Horizontal bars: dense MACs and each target's pruned MACs, with the target and its band marked.
 * Targets without a pruned model show their closest measured attempt, hatched.
 */
export function summaryMacsChart(data: ReportData): string {
  const width = 1120;
  const rowH = 34;
  const rows = 1 + data.targets.length;
  const items: LegendItem[] = [
    { label: 'dense', color: COLORS.dense, shape: 'rect' },
    ...data.targets.flatMap((t, i): LegendItem[] => {
      if (t.pruned) return [{ label: `${t.label}: kept model`, color: targetColor(i), shape: 'rect' }];
      return measuredAttempts(t).length
        ? [{ label: `${t.label}: closest attempt (no model kept)`, color: targetColor(i), shape: 'hatch' }]
        : [];
    }),
    { label: 'target', color: COLORS.target, shape: 'dash' },
    { label: 'tolerance band', color: COLORS.band, shape: 'band' },
  ];
  const lg = chartLegend(items, width);
  const margin = { top: lg.plotTop + 4, right: 330, bottom: 52, left: 130 };
  const height = margin.top + rows * rowH + margin.bottom;
  const box = plotBox(width, height, margin);
  const maxV = Math.max(
    data.dense.macs,
    ...data.targets.map((t) => Math.max(t.targetMacs * (1 + t.band.hi), t.pruned?.macs ?? 0)),
  );
  const ticks = niceTicks(0, isNum(maxV) && maxV > 0 ? maxV : 1, 8);
  const x = linear(tickDomain(ticks), [box.x, box.x + box.w]);
  const parts: string[] = [
    axisBottom(box, x, ticks, (v) => si(v), 'MACs (1 MAC = 1 multiply-add)', { grid: true }),
  ];

  const bar = (
    row: number,
    value: number,
    color: string,
    label: string,
    valueLabel: string,
    hatched = false,
    labelFrom = 0,
  ) => {
    const y = box.y + row * rowH + 7;
    const w = Math.max(0, x(value) - box.x);
    const labelX = Math.max(box.x + w, labelFrom) + 8;
    parts.push(
      `<text class="row-label" x="${px(box.x - 10)}" y="${px(y + 10)}" text-anchor="end" dominant-baseline="middle">${esc(label)}</text>`,
      `<rect x="${px(box.x)}" y="${px(y)}" width="${px(w)}" height="20" rx="3" fill="${hatched ? 'url(#ap-hatch)' : color}"${hatched ? ` stroke="${color}"` : ''}>${tooltip(`${label}: ${valueLabel}`)}</rect>`,
      `<text class="value" x="${px(labelX)}" y="${px(y + 10)}" dominant-baseline="middle">${esc(valueLabel)}</text>`,
    );
  };
  bar(0, data.dense.macs, COLORS.dense, 'dense', `${si(data.dense.macs)}MACs`);
  data.targets.forEach((t, i) => {
    const row = i + 1;
    const color = targetColor(i);
    const y = box.y + row * rowH + 7;
    const [lo, hi] = bandMacs(t);
    parts.push(
      `<rect x="${px(x(lo))}" y="${px(y - 4)}" width="${px(Math.max(2, x(hi) - x(lo)))}" height="28" fill="${COLORS.band}" fill-opacity="0.22" stroke="${COLORS.band}" stroke-opacity="0.6"/>`,
    );
    if (t.pruned && isNum(t.pruned.macs)) {
      const ratio = data.dense.macs / t.pruned.macs;
      bar(
        row,
        t.pruned.macs,
        color,
        t.label,
        `${si(t.pruned.macs)}MACs  (${pct(t.pruned.macs / t.targetMacs - 1)} vs target, ${isNum(ratio) ? ratio.toFixed(2) : '—'}× fewer than dense)`,
        false,
        x(hi),
      );
    } else {
      const closest = measuredAttempts(t).reduce<Attempt | undefined>(
        (b, a) => (!b || Math.abs(a.deviation) < Math.abs(b.deviation) ? a : b),
        undefined,
      );
      if (closest)
        bar(
          row,
          closest.macs,
          color,
          t.label,
          `${t.status}: closest attempt ${si(closest.macs)}MACs (${pct(closest.deviation)} vs target)`,
          true,
          x(hi),
        );
      else
        parts.push(
          `<text class="row-label" x="${px(box.x - 10)}" y="${px(y + 10)}" text-anchor="end" dominant-baseline="middle">${esc(t.label)}</text>`,
          `<text class="value muted" x="${px(box.x + 8)}" y="${px(y + 10)}" dominant-baseline="middle">${esc(`${t.status}: nothing measured`)}</text>`,
        );
    }
    parts.push(
      `<line x1="${px(x(t.targetMacs))}" x2="${px(x(t.targetMacs))}" y1="${px(y - 6)}" y2="${px(y + 26)}" stroke="${COLORS.target}" stroke-width="2" stroke-dasharray="4 3"/>`,
    );
  });
  parts.push(lg.svg);
  return frame(
    {
      chart: 'summary',
      width,
      height,
      title: 'MACs per model: dense vs pruned',
      subtitle: 'Bars: measured MACs; dashed: the target; green: its tolerance band',
    },
    hatchDef + parts.join(''),
  );
}

/**
 * Measured MACs per attempt (points joined by a line) against the target line and the shaded band;
 * in-band points green, out-of-band orange, failed attempts as red crosses on the baseline, the kept
 * attempt ringed. Returns `''` when the target has no attempts (the caller writes a note).
 */
export function convergenceChart(t: TargetReport, i: number): string {
  if (t.attempts.length === 0) return '';
  const width = 560;
  const items: LegendItem[] = [
    { label: 'in band', color: COLORS.inBand, shape: 'dot' },
    { label: 'out of band', color: COLORS.outOfBand, shape: 'dot' },
    { label: 'kept', color: COLORS.target, shape: 'ring' },
    { label: 'target', color: COLORS.target, shape: 'dash' },
    { label: 'band', color: COLORS.band, shape: 'band' },
  ];
  if (t.attempts.some((a) => a.error))
    items.push({ label: 'engine error', color: COLORS.error, shape: 'cross' });
  const lg = chartLegend(items, width);
  const margin = { top: lg.plotTop + 4, right: 96, bottom: 52, left: 74 };
  const height = margin.top + 230 + margin.bottom;
  const box = plotBox(width, height, margin);
  const measured = measuredAttempts(t);
  const [bandLo, bandHi] = bandMacs(t);
  const values = [bandLo, bandHi, t.targetMacs, ...measured.map((a) => a.macs)].filter(isNum);
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const pad = (hi - lo) * 0.08 || Math.abs(hi) * 0.05 || 1;
  const yTicks = niceTicks(lo - pad, hi + pad, 5);
  const y = linear(tickDomain(yTicks), [box.y + box.h, box.y]);
  const indices = t.attempts.map((a) => a.index).filter(isNum);
  const maxIndex = Math.max(1, ...indices);
  const minIndex = Math.min(maxIndex, ...indices);
  const x = linear([minIndex - 0.5, maxIndex + 0.5], [box.x, box.x + box.w]);
  const step = Math.max(1, Math.ceil((maxIndex - minIndex + 1) / 12));
  const xTicks: number[] = [];
  for (let k = minIndex; k <= maxIndex; k += step) xTicks.push(k);

  const parts: string[] = [
    axisLeft(box, y, yTicks, (v) => si(v), 'measured MACs'),
    axisBottom(box, x, xTicks, (v) => String(v), 'attempt'),
  ];
  const bandTop = y(bandHi);
  const bandBottom = y(bandLo);
  parts.push(
    `<rect x="${px(box.x)}" y="${px(bandTop)}" width="${px(box.w)}" height="${px(Math.max(1.5, bandBottom - bandTop))}" fill="${COLORS.band}" fill-opacity="0.18"/>`,
    `<line x1="${px(box.x)}" x2="${px(box.x + box.w)}" y1="${px(y(t.targetMacs))}" y2="${px(y(t.targetMacs))}" stroke="${COLORS.target}" stroke-width="1.5" stroke-dasharray="6 4"/>`,
    `<text class="annot" x="${px(box.x + box.w + 6)}" y="${px(y(t.targetMacs))}" dominant-baseline="middle">target</text>`,
    `<text class="annot muted" x="${px(box.x + box.w + 6)}" y="${px(y(t.targetMacs) + 14)}" dominant-baseline="middle">${esc(si(t.targetMacs))}</text>`,
    `<text class="annot band-label" x="${px(box.x + box.w + 6)}" y="${px(Math.min(bandTop, y(t.targetMacs) - 14))}" dominant-baseline="middle">${esc(bandText(t.band))}</text>`,
  );
  const lineColor = targetColor(i);
  parts.push(
    `<path d="${polyline(measured.map((a) => [x(a.index), y(a.macs)] as const))}" fill="none" stroke="${lineColor}" stroke-width="2" stroke-opacity="0.55"/>`,
  );
  const labelled = t.attempts.length <= 12;
  for (const a of measured) {
    const cx = x(a.index);
    const cy = y(a.macs);
    const color = a.inBand ? COLORS.inBand : COLORS.outOfBand;
    if (a.index === t.chosenIndex)
      parts.push(
        `<circle cx="${px(cx)}" cy="${px(cy)}" r="10" fill="none" stroke="${COLORS.target}" stroke-width="2"/>`,
      );
    parts.push(
      `<circle class="point" cx="${px(cx)}" cy="${px(cy)}" r="6" fill="${color}" stroke="#fff" stroke-width="1.5">${attemptTooltip(a)}</circle>`,
    );
    if (labelled) {
      // Above the point when it lies over the target, below when under: the label then sits away from the line.
      const above = a.macs >= t.targetMacs ? cy - box.y > 24 : box.y + box.h - cy < 30;
      parts.push(
        `<text class="point-label" x="${px(cx)}" y="${px(above ? cy - 15 : cy + 22)}" text-anchor="middle">${esc(pct(a.deviation, 1))}</text>`,
      );
    }
  }
  for (const a of t.attempts.filter((a) => a.error)) {
    const cx = x(a.index);
    const cy = box.y + box.h - 12;
    parts.push(`<g class="error-mark">${crossMark(cx, cy, 6, COLORS.error)}${attemptTooltip(a)}</g>`);
    parts.push(
      `<text class="point-label error-text" x="${px(cx)}" y="${px(cy - 13)}" text-anchor="middle">error</text>`,
    );
  }
  parts.push(lg.svg);
  const inBand = measured.filter((a) => a.inBand).length;
  return frame(
    {
      chart: 'convergence',
      width,
      height,
      title: `Convergence — target ${t.label} (${si(t.targetMacs)}MACs)`,
      subtitle: `${t.attempts.length} attempt${t.attempts.length === 1 ? '' : 's'}, ${inBand} in band · ${t.status}`,
      data: { target: t.label },
    },
    parts.join(''),
  );
}

/**
 * Pruning ratio proposed (x) against measured MACs (y), one point per attempt coloured by agent and
 * labelled with its index: how the search learned the ratio-to-MACs curve. `''` when nothing was measured.
 */
export function ratioMacsChart(t: TargetReport): string {
  const measured = measuredAttempts(t).filter((a) => isNum(a.strategy.pruningRatio));
  if (measured.length === 0) return '';
  const width = 560;
  const agents = [...new Set(measured.map((a) => a.agent))];
  const items: LegendItem[] = [
    ...agents.map((a) => ({ label: a, color: agentColor(a), shape: 'dot' as const })),
    { label: 'target', color: COLORS.target, shape: 'dash' },
    { label: 'band', color: COLORS.band, shape: 'band' },
  ];
  const lg = chartLegend(items, width);
  const margin = { top: lg.plotTop + 4, right: 60, bottom: 52, left: 74 };
  const height = margin.top + 220 + margin.bottom;
  const box = plotBox(width, height, margin);
  const [bandLo, bandHi] = bandMacs(t);
  const ys = [bandLo, bandHi, ...measured.map((a) => a.macs)];
  const yPad = (Math.max(...ys) - Math.min(...ys)) * 0.08 || t.targetMacs * 0.05 || 1;
  const yTicks = niceTicks(Math.min(...ys) - yPad, Math.max(...ys) + yPad, 5);
  const y = linear(tickDomain(yTicks), [box.y + box.h, box.y]);
  const ratios = measured.map((a) => a.strategy.pruningRatio);
  const xPad = (Math.max(...ratios) - Math.min(...ratios)) * 0.1 || 0.05;
  const xTicks = niceTicks(
    Math.max(0, Math.min(...ratios) - xPad),
    Math.min(0.95, Math.max(...ratios) + xPad),
    6,
  );
  const x = linear(tickDomain(xTicks), [box.x, box.x + box.w]);
  const parts: string[] = [
    axisLeft(box, y, yTicks, (v) => si(v), 'measured MACs'),
    axisBottom(box, x, xTicks, (v) => v.toFixed(2), 'global pruning ratio', { grid: true }),
    `<rect x="${px(box.x)}" y="${px(y(bandHi))}" width="${px(box.w)}" height="${px(Math.max(1.5, y(bandLo) - y(bandHi)))}" fill="${COLORS.band}" fill-opacity="0.18"/>`,
    `<line x1="${px(box.x)}" x2="${px(box.x + box.w)}" y1="${px(y(t.targetMacs))}" y2="${px(y(t.targetMacs))}" stroke="${COLORS.target}" stroke-width="1.5" stroke-dasharray="6 4"/>`,
    `<text class="annot" x="${px(box.x + box.w + 6)}" y="${px(y(t.targetMacs))}" dominant-baseline="middle">target</text>`,
  ];
  const sorted = [...measured].sort((a, b) => a.strategy.pruningRatio - b.strategy.pruningRatio);
  parts.push(
    `<path d="${polyline(sorted.map((a) => [x(a.strategy.pruningRatio), y(a.macs)] as const))}" fill="none" stroke="${COLORS.axis}" stroke-width="1.5" stroke-dasharray="2 3"/>`,
  );
  for (const a of measured) {
    const cx = x(a.strategy.pruningRatio);
    const cy = y(a.macs);
    parts.push(
      `<circle class="point" cx="${px(cx)}" cy="${px(cy)}" r="9" fill="${agentColor(a.agent)}" stroke="#fff" stroke-width="1.5">${attemptTooltip(a)}</circle>`,
      `<text class="point-index" x="${px(cx)}" y="${px(cy)}" text-anchor="middle" dominant-baseline="central">${esc(a.index)}</text>`,
    );
  }
  parts.push(lg.svg);
  const title = `Pruning ratio vs MACs — target ${t.label}`;
  return frame(
    {
      chart: 'ratio-macs',
      width,
      height,
      title,
      subtitle: 'Each point is one attempt (number = attempt index), coloured by agent',
      data: { target: t.label },
    },
    parts.join(''),
  );
}
