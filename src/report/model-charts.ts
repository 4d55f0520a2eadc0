/**
 * Charts of the models themselves: MACs per stage, accuracy against MACs, latency per batch size,
 * speedup against the MAC ratio, and the fine-tuning loss curve. Each returns `''` when it has
 * nothing to draw, so the caller can write a note instead.
 */
import type { StageMacs } from '../core/attempt';
import { acc, esc, int, isNum, ms, msTick, pct, pp, px, si, times } from './format';
import type { LatencyPoint, ReportData, TargetReport } from './report-data';
import { chosenAttempt } from './search-charts';
import {
  COLORS,
  axisBottom,
  axisLeft,
  chartLegend,
  frame,
  linear,
  niceTicks,
  plotBox,
  polyline,
  targetColor,
  textWidth,
  tickDomain,
  type LegendItem,
} from './svg-kit';

const tip = (text: string) => `<title>${esc(text)}</title>`;

/** The stages of the model kept for a target: the pruned model's, else the kept attempt's. */
export function prunedStages(t: TargetReport): readonly StageMacs[] {
  if (t.pruned && t.pruned.stages.length > 0) return t.pruned.stages;
  return chosenAttempt(t)?.stages ?? [];
}

interface StageSeries {
  readonly label: string;
  readonly color: string;
  readonly byName: ReadonlyMap<string, StageMacs>;
}

/**
 * Grouped horizontal bars: MACs of each stage for the dense model and for each target's kept model;
 * pruned bars are labelled with their change against the dense stage.
 */
export function stagesChart(data: ReportData): string {
  const series: StageSeries[] = [
    { label: 'dense', color: COLORS.dense, byName: new Map(data.dense.stages.map((s) => [s.name, s])) },
  ];
  data.targets.forEach((t, i) => {
    const stages = prunedStages(t);
    if (stages.length > 0)
      series.push({
        label: `pruned ${t.label}`,
        color: targetColor(i),
        byName: new Map(stages.map((s) => [s.name, s])),
      });
  });
  const names: string[] = [];
  for (const s of series) for (const name of s.byName.keys()) if (!names.includes(name)) names.push(name);
  if (names.length === 0) return '';

  const barH = 14;
  const gap = 3;
  const groupH = series.length * (barH + gap) + 18;
  const width = 1120;
  const longest = Math.max(...names.map((n) => textWidth(n, 13)));
  const lg = chartLegend(
    series.map((s) => ({ label: s.label, color: s.color, shape: 'rect' as const })),
    width,
  );
  const margin = {
    top: lg.plotTop + 4,
    right: 190,
    bottom: 52,
    left: Math.min(260, Math.max(120, longest + 24)),
  };
  const height = margin.top + names.length * groupH + margin.bottom;
  const box = plotBox(width, height, margin);
  const maxV = Math.max(
    1,
    ...series.flatMap((s) => [...s.byName.values()].map((st) => st.macs).filter(isNum)),
  );
  const ticks = niceTicks(0, maxV, 8);
  const x = linear(tickDomain(ticks), [box.x, box.x + box.w]);
  const parts: string[] = [axisBottom(box, x, ticks, (v) => si(v), 'MACs per stage', { grid: true })];
  const dense = series[0]?.byName ?? new Map<string, StageMacs>();

  names.forEach((name, row) => {
    const gy = box.y + row * groupH + 9;
    const d = dense.get(name);
    const labelY = gy + (series.length * (barH + gap)) / 2;
    if (row % 2 === 1)
      parts.push(
        `<rect x="0" y="${px(gy - 9)}" width="${px(width)}" height="${px(groupH)}" fill="#f8fafc"/>`,
      );
    parts.push(
      `<text class="row-label" x="${px(box.x - 10)}" y="${px(labelY - (d ? 7 : 0))}" text-anchor="end" dominant-baseline="middle">${esc(name)}</text>`,
    );
    if (d)
      parts.push(
        `<text class="tick" x="${px(box.x - 10)}" y="${px(labelY + 9)}" text-anchor="end" dominant-baseline="middle">${esc(`${(d.share * 100).toFixed(1)}% of dense`)}</text>`,
      );
    series.forEach((s, k) => {
      const st = s.byName.get(name);
      const y = gy + k * (barH + gap);
      if (!st || !isNum(st.macs)) return;
      const w = Math.max(1, x(st.macs) - box.x);
      const change = k > 0 && d && d.macs > 0 ? ` (${pct(st.macs / d.macs - 1, 1)})` : '';
      parts.push(
        `<rect x="${px(box.x)}" y="${px(y)}" width="${px(w)}" height="${barH}" rx="2" fill="${s.color}">${tip(`${s.label} · ${name}: ${si(st.macs)}MACs, ${si(st.params)} params, ${(st.share * 100).toFixed(1)}% of the model`)}</rect>`,
        `<text class="value small" x="${px(box.x + w + 6)}" y="${px(y + barH / 2)}" dominant-baseline="middle">${esc(`${si(st.macs)}${change}`)}</text>`,
      );
    });
  });
  parts.push(lg.svg);
  return frame(
    {
      chart: 'stages',
      width,
      height,
      title: 'MAC distribution per stage',
      subtitle:
        'Kept model of each target against the dense model; in brackets: change against the dense stage',
    },
    parts.join(''),
  );
}

interface AccuracyPoint {
  readonly label: string;
  readonly color: string;
  readonly macs: number;
  readonly top1: number;
  readonly top5: number | undefined;
}

/** Scatter of top-1 (filled) and top-5 (ring) accuracy against MACs for the dense and each pruned model. */
export function accuracyChart(data: ReportData): string {
  const points: AccuracyPoint[] = [];
  const da = data.dense.accuracy;
  if (da && isNum(da.top1) && isNum(data.dense.macs))
    points.push({
      label: 'dense',
      color: COLORS.denseDark,
      macs: data.dense.macs,
      top1: da.top1,
      top5: isNum(da.top5) ? da.top5 : undefined,
    });
  data.targets.forEach((t, i) => {
    const a = t.pruned?.accuracy;
    if (t.pruned && a && isNum(a.top1) && isNum(t.pruned.macs))
      points.push({
        label: t.label,
        color: targetColor(i),
        macs: t.pruned.macs,
        top1: a.top1,
        top5: isNum(a.top5) ? a.top5 : undefined,
      });
  });
  if (points.length === 0) return '';
  const width = 1120;
  const items: LegendItem[] = [
    ...points.map((p) => ({
      label: p.label === 'dense' ? 'dense' : `pruned ${p.label}`,
      color: p.color,
      shape: 'dot' as const,
    })),
    { label: 'top-1 (filled), top-5 (ring)', color: COLORS.muted, shape: 'ring' },
  ];
  const lg = chartLegend(items, width);
  const margin = { top: lg.plotTop + 8, right: 60, bottom: 56, left: 80 };
  const height = margin.top + 260 + margin.bottom;
  const box = plotBox(width, height, margin);
  const xTicks = niceTicks(0, Math.max(...points.map((p) => p.macs)) * 1.08, 8);
  const x = linear(tickDomain(xTicks), [box.x, box.x + box.w]);
  const accs = points
    .flatMap((p) => (p.top5 === undefined ? [p.top1] : [p.top1, p.top5]))
    .map((v) => v * 100);
  const pad = (Math.max(...accs) - Math.min(...accs)) * 0.12 || 2;
  const yTicks = niceTicks(Math.max(0, Math.min(...accs) - pad), Math.min(100, Math.max(...accs) + pad), 5);
  const y = linear(tickDomain(yTicks), [box.y + box.h, box.y]);
  const parts: string[] = [
    axisLeft(box, y, yTicks, (v) => `${v}%`, 'accuracy (val split)'),
    axisBottom(box, x, xTicks, (v) => si(v), 'MACs', { grid: true }),
  ];
  const dense = points.find((p) => p.label === 'dense');
  for (const p of points) {
    if (dense && p !== dense) {
      parts.push(
        `<path d="${polyline([
          [x(dense.macs), y(dense.top1 * 100)],
          [x(p.macs), y(p.top1 * 100)],
        ])}" stroke="${p.color}" stroke-width="1.5" stroke-dasharray="4 4" fill="none" opacity="0.6"/>`,
      );
    }
  }
  // Labels go right of a point, or left of it when they would run past the plot's right edge.
  const label = (cx: number, cy: number, text: string, cls: string, gapPx: number) => {
    const right = cx + gapPx + textWidth(text, 11.5) < box.x + box.w + margin.right - 8;
    return `<text class="point-label ${cls}" x="${px(right ? cx + gapPx : cx - gapPx)}" y="${px(cy)}" text-anchor="${right ? 'start' : 'end'}" dominant-baseline="middle">${esc(text)}</text>`;
  };
  for (const p of points) {
    const cx = x(p.macs);
    const delta = dense && p !== dense ? ` (${pp(p.top1 - dense.top1)})` : '';
    if (p.top5 !== undefined) {
      const y5 = y(p.top5 * 100);
      parts.push(
        `<circle class="point" cx="${px(cx)}" cy="${px(y5)}" r="6" fill="#fff" stroke="${p.color}" stroke-width="2">${tip(`${p.label}: top-5 ${acc(p.top5)} at ${si(p.macs)}MACs`)}</circle>`,
        label(cx, y5, `top-5 ${acc(p.top5)}`, 'muted', 11),
      );
    }
    const y1 = y(p.top1 * 100);
    parts.push(
      `<circle class="point" cx="${px(cx)}" cy="${px(y1)}" r="7" fill="${p.color}" stroke="#fff" stroke-width="1.5">${tip(`${p.label}: top-1 ${acc(p.top1)} at ${si(p.macs)}MACs`)}</circle>`,
      label(cx, y1 - 16, `${p.label} · top-1 ${acc(p.top1)}${delta}`, 'strong', 0),
    );
  }
  parts.push(lg.svg);
  const missing = data.targets
    .filter((t) => t.status === 'converged' && !t.pruned?.accuracy)
    .map((t) => t.label);
  const subtitle = missing.length
    ? `Not evaluated: ${missing.join(', ')}`
    : 'Up and to the left is better; dashed: from the dense model to each pruned one';
  return frame({ chart: 'accuracy', width, height, title: 'Accuracy vs MACs', subtitle }, parts.join(''));
}

/** Execution providers the report knows, with display names. */
export const DEVICES = [
  ['cpu', 'CPU'],
  ['cuda', 'CUDA'],
] as const;
/** An execution provider key. */
export type Device = (typeof DEVICES)[number][0];

interface LatencySeries {
  readonly label: string;
  readonly color: string;
  readonly points: readonly LatencyPoint[];
}

/**
 * Small multiples, one panel per batch size (each with its own scale): p50 latency bars with a p90
 * whisker for the dense model and each pruned model on one execution provider.
 */
export function latencyChart(data: ReportData, device: Device, deviceName: string): string {
  const series: LatencySeries[] = [];
  const dense = data.dense.latency?.[device] ?? [];
  if (dense.length) series.push({ label: 'dense', color: COLORS.dense, points: dense });
  data.targets.forEach((t, i) => {
    const pts = t.pruned?.latency?.[device] ?? [];
    if (pts.length) series.push({ label: `pruned ${t.label}`, color: targetColor(i), points: pts });
  });
  const batches = [...new Set(series.flatMap((s) => s.points.map((p) => p.batch)).filter(isNum))].sort(
    (a, b) => a - b,
  );
  if (series.length === 0 || batches.length === 0) return '';
  const width = 560;
  const items: LegendItem[] = [
    ...series.map((s) => ({ label: s.label, color: s.color, shape: 'rect' as const })),
    { label: 'p90', color: COLORS.target, shape: 'line' },
  ];
  const lg = chartLegend(items, width);
  const margin = { top: lg.plotTop + 10, right: 16, bottom: 50, left: 16 };
  const height = margin.top + 200 + margin.bottom;
  const outer = plotBox(width, height, margin);
  const panelGap = 14;
  const panelW = (outer.w - panelGap * (batches.length - 1)) / batches.length;
  const parts: string[] = [];
  batches.forEach((batch, b) => {
    const left = 52;
    const box = {
      x: outer.x + b * (panelW + panelGap) + left,
      y: outer.y,
      w: Math.max(10, panelW - left),
      h: outer.h,
    };
    const rows = series.map((s) => ({ s, p: s.points.find((p) => p.batch === batch) }));
    const maxV = Math.max(
      ...rows.map((r) => Math.max(r.p?.p90Ms ?? 0, r.p?.p50Ms ?? 0)).filter(isNum),
      0.001,
    );
    const yTicks = niceTicks(0, maxV * 1.1, 4);
    const y = linear(tickDomain(yTicks), [box.y + box.h, box.y]);
    parts.push(axisLeft(box, y, yTicks, msTick));
    const base = box.y + box.h;
    const slot = box.w / series.length;
    const barW = Math.min(44, slot * 0.66);
    rows.forEach(({ s, p }, k) => {
      const cx = box.x + slot * (k + 0.5);
      if (!p || !isNum(p.p50Ms)) {
        parts.push(`<text class="tick" x="${px(cx)}" y="${px(base - 8)}" text-anchor="middle">n/a</text>`);
        return;
      }
      const top = y(p.p50Ms);
      parts.push(
        `<rect x="${px(cx - barW / 2)}" y="${px(top)}" width="${px(barW)}" height="${px(Math.max(0.5, base - top))}" rx="2" fill="${s.color}">${tip(`${s.label}, batch ${batch}: p50 ${ms(p.p50Ms)}, p90 ${ms(p.p90Ms)}`)}</rect>`,
      );
      let labelY = top - 6;
      if (isNum(p.p90Ms) && p.p90Ms > p.p50Ms) {
        const y90 = y(p.p90Ms);
        parts.push(
          `<path d="M${px(cx)} ${px(top)}V${px(y90)}M${px(cx - 6)} ${px(y90)}H${px(cx + 6)}" stroke="${COLORS.target}" stroke-width="1.5" fill="none"/>`,
        );
        labelY = y90 - 6;
      }
      if (slot >= 34)
        parts.push(
          `<text class="value small" x="${px(cx)}" y="${px(labelY)}" text-anchor="middle">${esc(ms(p.p50Ms))}</text>`,
        );
    });
    parts.push(
      `<line class="axis" x1="${px(box.x)}" x2="${px(box.x + box.w)}" y1="${px(base)}" y2="${px(base)}"/>`,
      `<text class="axis-title" x="${px(box.x + box.w / 2)}" y="${px(base + 22)}" text-anchor="middle">${esc(`batch ${batch}`)}</text>`,
    );
  });
  parts.push(lg.svg);
  return frame(
    {
      chart: 'latency',
      width,
      height,
      title: `Latency on ${deviceName} (onnxruntime)`,
      subtitle: 'Bars: p50 per batch; whiskers: p90. Each panel has its own scale.',
      data: { device },
    },
    parts.join(''),
  );
}

/**
 * Per target: the MAC ratio (dense / pruned MACs: what MACs alone promise) beside the measured
 * speedup on each provider, against a 1x reference line.
 */
export function speedupChart(data: ReportData): string {
  const rows = data.targets
    .flatMap((t, i) => (t.pruned ? [{ t, i, p: t.pruned }] : []))
    .map(({ t, i, p }) => {
      const bars: { label: string; value: number; color: string; measured: boolean }[] = [];
      if (isNum(p.macRatio))
        bars.push({ label: 'MAC ratio', value: p.macRatio, color: COLORS.ideal, measured: false });
      for (const [key, name] of DEVICES) {
        const v = p.speedup?.[key];
        if (isNum(v))
          bars.push({ label: `${name} speedup`, value: v, color: targetColor(i), measured: true });
      }
      return { t, i, bars };
    })
    .filter((r) => r.bars.length > 0);
  if (rows.length === 0) return '';
  const barH = 18;
  const gap = 5;
  const headH = 24;
  const groupPad = 14;
  const width = 560;
  const items: LegendItem[] = [
    { label: 'MAC ratio', color: COLORS.ideal, shape: 'rect' },
    ...rows.map(({ t, i }) => ({
      label: `measured ${t.label}`,
      color: targetColor(i),
      shape: 'rect' as const,
    })),
    { label: '1× = dense', color: COLORS.target, shape: 'dash' },
  ];
  const lg = chartLegend(items, width);
  const margin = { top: lg.plotTop + 4, right: 80, bottom: 52, left: 120 };
  const groupHeights = rows.map((r) => headH + r.bars.length * (barH + gap) + groupPad);
  const height = margin.top + groupHeights.reduce((a, b) => a + b, 0) + margin.bottom;
  const box = plotBox(width, height, margin);
  const maxV = Math.max(1, ...rows.flatMap((r) => r.bars.map((b) => b.value)));
  const ticks = niceTicks(0, maxV * 1.1, 5);
  const x = linear(tickDomain(ticks), [box.x, box.x + box.w]);
  const parts: string[] = [
    axisBottom(box, x, ticks, (v) => `${v}×`, 'times faster (measured) or fewer MACs (MAC ratio)', {
      grid: true,
    }),
  ];
  let gy = box.y + 6;
  rows.forEach(({ t, bars }, r) => {
    parts.push(
      `<text class="row-label" x="16" y="${px(gy + 8)}" dominant-baseline="middle">${esc(`target ${t.label}`)}</text>`,
    );
    bars.forEach((b, k) => {
      const y = gy + headH + k * (barH + gap);
      const w = Math.max(1, x(b.value) - box.x);
      parts.push(
        `<text class="tick" x="${px(box.x - 10)}" y="${px(y + barH / 2)}" text-anchor="end" dominant-baseline="middle">${esc(b.label)}</text>`,
        `<rect x="${px(box.x)}" y="${px(y)}" width="${px(w)}" height="${barH}" rx="2" fill="${b.color}"${b.measured ? '' : ` stroke="${COLORS.axis}"`}>${tip(`${t.label}: ${b.label} ${times(b.value)}`)}</rect>`,
        `<text class="value small" x="${px(box.x + w + 6)}" y="${px(y + barH / 2)}" dominant-baseline="middle">${esc(times(b.value))}</text>`,
      );
    });
    gy += groupHeights[r] ?? 0;
  });
  parts.push(
    `<line x1="${px(x(1))}" x2="${px(x(1))}" y1="${px(box.y)}" y2="${px(box.y + box.h)}" stroke="${COLORS.target}" stroke-width="1.5" stroke-dasharray="4 3"/>`,
  );
  parts.push(lg.svg);
  return frame(
    {
      chart: 'speedup',
      width,
      height,
      title: 'Speedup vs MAC ratio',
      subtitle: 'Measured latency speedup beside the reduction in MACs',
    },
    parts.join(''),
  );
}

/** Exponential moving average, for a readable trend over a noisy loss curve. */
function ema(values: readonly number[], span: number): number[] {
  const alpha = 2 / (span + 1);
  const out: number[] = [];
  let acc = values[0] ?? 0;
  for (const v of values) {
    acc = alpha * v + (1 - alpha) * acc;
    out.push(acc);
  }
  return out;
}

/** Fine-tuning loss against step (raw and smoothed), with the resume point marked. */
export function lossChart(t: TargetReport, i: number): string {
  const ft = t.finetune;
  const pts = (ft?.lossCurve ?? [])
    .filter((p) => isNum(p.step) && isNum(p.loss))
    .sort((a, b) => a.step - b.step);
  if (!ft || pts.length === 0) return '';
  const width = 560;
  const color = targetColor(i);
  const smooth = pts.length >= 20;
  const resumed = ft.resumedFromStep !== null && isNum(ft.resumedFromStep) ? ft.resumedFromStep : undefined;
  const items: LegendItem[] = [
    { label: smooth ? 'loss (raw)' : 'loss', color, shape: smooth ? 'faint-line' : 'line' },
  ];
  if (smooth) items.push({ label: 'smoothed (EMA)', color, shape: 'line' });
  if (resumed !== undefined)
    items.push({ label: 'resumed from checkpoint', color: COLORS.outOfBand, shape: 'dash' });
  const lg = chartLegend(items, width);
  const margin = { top: lg.plotTop + 4, right: 24, bottom: 52, left: 64 };
  const height = margin.top + 220 + margin.bottom;
  const box = plotBox(width, height, margin);
  const steps = pts.map((p) => p.step);
  const losses = pts.map((p) => p.loss);
  const xTicks = niceTicks(Math.min(...steps), Math.max(...steps, ft.steps), 6);
  const x = linear(tickDomain(xTicks), [box.x, box.x + box.w]);
  const yPad = (Math.max(...losses) - Math.min(...losses)) * 0.06;
  const yTicks = niceTicks(Math.max(0, Math.min(...losses) - yPad), Math.max(...losses) + yPad, 5);
  const y = linear(tickDomain(yTicks), [box.y + box.h, box.y]);
  const parts: string[] = [
    axisLeft(box, y, yTicks, (v) => String(Number(v.toPrecision(4))), 'training loss'),
    axisBottom(box, x, xTicks, (v) => si(v), 'step'),
  ];
  parts.push(
    `<path d="${polyline(pts.map((p) => [x(p.step), y(p.loss)] as const))}" fill="none" stroke="${color}" stroke-width="${smooth ? 1.2 : 2}" stroke-opacity="${smooth ? 0.35 : 1}"/>`,
  );
  if (smooth) {
    const sm = ema(losses, Math.max(5, Math.round(pts.length / 15)));
    parts.push(
      `<path d="${polyline(pts.map((p, k) => [x(p.step), y(sm[k] ?? p.loss)] as const))}" fill="none" stroke="${color}" stroke-width="2.5"/>`,
    );
  } else {
    for (const p of pts)
      parts.push(
        `<circle cx="${px(x(p.step))}" cy="${px(y(p.loss))}" r="3" fill="${color}">${tip(`step ${p.step}: loss ${p.loss}`)}</circle>`,
      );
  }
  const last = pts[pts.length - 1];
  if (last) {
    parts.push(
      `<circle class="point" cx="${px(x(last.step))}" cy="${px(y(last.loss))}" r="4" fill="${color}">${tip(`last: step ${last.step}, loss ${last.loss}`)}</circle>`,
      `<text class="point-label strong" x="${px(x(last.step))}" y="${px(Math.max(box.y + 10, y(Math.max(...losses.slice(-Math.max(3, Math.ceil(losses.length / 10))))) - 12))}" text-anchor="end">${esc(`final loss ${Number(last.loss.toPrecision(4))}`)}</text>`,
    );
  }
  if (resumed !== undefined) {
    const rx = x(resumed);
    parts.push(
      `<line x1="${px(rx)}" x2="${px(rx)}" y1="${px(box.y)}" y2="${px(box.y + box.h)}" stroke="${COLORS.outOfBand}" stroke-width="1.5" stroke-dasharray="5 4"/>`,
      `<text class="annot" x="${px(rx + 5)}" y="${px(box.y + 12)}" fill="${COLORS.outOfBand}">${esc(`resumed at step ${int(resumed)}`)}</text>`,
    );
  }
  parts.push(lg.svg);
  const subtitle = `${int(ft.steps)} steps · ${int(ft.imagesPerSec)} images/s${resumed !== undefined ? ` · resumed from step ${int(resumed)} after a restart` : ''}`;
  return frame(
    {
      chart: 'loss',
      width,
      height,
      title: `Fine-tuning loss — target ${t.label}`,
      subtitle,
      data: { target: t.label },
    },
    parts.join(''),
  );
}
