/**
 * The report's one inline stylesheet: system fonts only (no web fonts, no network), print-friendly,
 * and the classes the SVG charts use for text, grid and axes.
 */
import { COLORS } from './svg-kit';

/** CSS placed in the page's `<style>` element. */
export const REPORT_CSS = `
:root { --text: #0f172a; --body: #334155; --muted: #64748b; --line: #e2e8f0; --bg: #f1f5f9; --card: #ffffff;
  --ok: #15803d; --ok-bg: #dcfce7; --bad: #b91c1c; --bad-bg: #fee2e2; --warn: #b45309; --warn-bg: #fef3c7; --accent: #2563eb; }
* { box-sizing: border-box; }
html { background: var(--bg); }
body { margin: 0; color: var(--body); font: 14px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", "DejaVu Sans", sans-serif; }
.page { max-width: 1200px; margin: 0 auto; padding: 32px 24px 48px; }
header.top { background: #0f172a; color: #e2e8f0; }
header.top .inner { max-width: 1200px; margin: 0 auto; padding: 28px 24px 24px; }
header.top .eyebrow { font-size: 12px; letter-spacing: .08em; text-transform: uppercase; color: #94a3b8; }
header.top h1 { margin: 4px 0 6px; font-size: 28px; font-weight: 650; color: #fff; }
header.top .meta { font-size: 13px; color: #94a3b8; }
header.top .meta code { color: #cbd5e1; }
.kpis { display: grid; grid-template-columns: repeat(auto-fit, minmax(170px, 1fr)); gap: 12px; margin-top: 20px; }
.kpi { background: #1e293b; border: 1px solid #334155; border-radius: 10px; padding: 12px 14px; }
.kpi .label { font-size: 12px; color: #94a3b8; }
.kpi .value { font-size: 22px; font-weight: 650; color: #fff; font-variant-numeric: tabular-nums; }
.kpi .hint { font-size: 12px; color: #94a3b8; }
nav.toc { display: flex; flex-wrap: wrap; gap: 6px 18px; margin: 0 0 24px; font-size: 13px; }
nav.toc a { color: var(--accent); text-decoration: none; }
section { background: var(--card); border: 1px solid var(--line); border-radius: 12px; padding: 22px 24px 24px; margin: 0 0 22px;
  box-shadow: 0 1px 2px rgba(15, 23, 42, .04); }
section > h2 { margin: 0 0 4px; font-size: 19px; color: var(--text); font-weight: 650; }
section > p.lead { margin: 0 0 16px; color: var(--muted); font-size: 13px; }
h3 { font-size: 15px; color: var(--text); margin: 22px 0 8px; }
.grid-2 { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 18px; }
.chart-cell { min-width: 0; }
svg.chart { display: block; max-width: 100%; height: auto; margin: 8px 0; }
svg.chart .chart-bg { fill: #fff; stroke: var(--line); }
svg.chart .chart-title { font-size: 15px; font-weight: 650; fill: ${COLORS.target}; }
svg.chart .chart-subtitle { font-size: 12px; fill: ${COLORS.muted}; }
svg.chart .grid { stroke: ${COLORS.grid}; stroke-width: 1; }
svg.chart .axis { stroke: ${COLORS.axis}; stroke-width: 1; }
svg.chart .tick { font-size: 11px; fill: ${COLORS.muted}; font-variant-numeric: tabular-nums; }
svg.chart .axis-title { font-size: 12px; fill: ${COLORS.text}; font-weight: 600; }
svg.chart .legend { font-size: 12px; fill: ${COLORS.text}; }
svg.chart .row-label { font-size: 13px; fill: ${COLORS.target}; font-weight: 600; }
svg.chart .value { font-size: 12px; fill: ${COLORS.text}; font-variant-numeric: tabular-nums; }
svg.chart .value.small { font-size: 11px; }
svg.chart .annot { font-size: 11px; fill: ${COLORS.target}; font-weight: 600; }
svg.chart .band-label { fill: #15803d; }
svg.chart .point-label { font-size: 11px; fill: ${COLORS.text}; }
svg.chart .point-label.strong { font-weight: 650; fill: ${COLORS.target}; }
svg.chart .point-index { font-size: 10px; font-weight: 700; fill: #fff; }
svg.chart .muted { fill: ${COLORS.muted}; }
svg.chart .error-text { fill: ${COLORS.error}; font-weight: 600; }
.note { margin: 8px 0; padding: 12px 14px; border-radius: 8px; background: #f8fafc; border: 1px dashed #cbd5e1; color: var(--muted); font-size: 13px; }
table.data { width: 100%; border-collapse: collapse; font-size: 13px; margin: 8px 0 4px; }
table.data th { text-align: left; font-weight: 600; color: var(--muted); font-size: 12px; border-bottom: 2px solid var(--line); padding: 8px 10px; vertical-align: bottom; }
table.data td { border-bottom: 1px solid var(--line); padding: 9px 10px; vertical-align: top; }
table.data .num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.data .wide { width: 38%; }
table.data .sub { font-size: 11px; color: var(--muted); font-weight: 400; white-space: normal; }
table.data .num .sub { white-space: nowrap; }
table.data .strategy { min-width: 225px; }
.nowrap { white-space: nowrap; }
table.data tr.dense-row td { background: #f8fafc; }
table.data tr.row-chosen td { background: #f0fdf4; }
table.data tr.row-chosen td:first-child { box-shadow: inset 3px 0 0 var(--ok); }
table.data tr.row-error td { background: #fef2f2; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 999px; font-size: 12px; font-weight: 600; }
.badge-ok { color: var(--ok); background: var(--ok-bg); }
.badge-bad { color: var(--bad); background: var(--bad-bg); }
.in-band { color: var(--ok); font-weight: 600; }
.out-band { color: var(--warn); font-weight: 600; }
.muted { color: var(--muted); }
.agent { display: inline-block; padding: 0 7px; border-radius: 4px; font-size: 12px; font-weight: 600; background: #eef2ff; color: #3730a3; }
.agent-claude { background: #ffedd5; color: #9a3412; }
.agent-grid { background: #f1f5f9; color: #334155; }
.agent-human { background: #ccfbf1; color: #115e59; }
.flag { font-size: 12px; border-radius: 6px; padding: 3px 8px; margin: 0 0 6px; overflow-wrap: anywhere; }
.flag-error { color: var(--bad); background: var(--bad-bg); }
.flag-fallback { color: var(--warn); background: var(--warn-bg); }
.rationale { white-space: pre-wrap; overflow-wrap: anywhere; color: var(--body); }
details.rationale summary { cursor: pointer; }
dl.facts { display: grid; grid-template-columns: 110px 1fr; gap: 8px 14px; margin: 8px 0; padding: 16px 18px; border: 1px solid var(--line); border-radius: 8px; font-size: 13px; }
dl.facts dt { color: var(--muted); font-weight: 600; }
dl.facts dd { margin: 0; }
.target-head { display: flex; align-items: baseline; gap: 10px; margin: 26px 0 6px; }
.target-head h3 { margin: 0; }
.target-head .reason { color: var(--muted); font-size: 13px; }
footer { color: var(--muted); font-size: 12px; text-align: center; margin-top: 28px; }
@media (max-width: 900px) { .grid-2 { grid-template-columns: 1fr; } }
@media print { html { background: #fff; } section { box-shadow: none; break-inside: avoid; } header.top { print-color-adjust: exact; -webkit-print-color-adjust: exact; } }
`;
