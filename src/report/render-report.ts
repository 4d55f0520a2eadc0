/**
 * The campaign report page: one static, self-contained HTML document (inline CSS and SVG, no script,
 * no network) built from `ReportData` by a pure function.
 */
import { esc, int, isNum, macs, si, times, usd } from './format';
import {
  DEVICES,
  accuracyChart,
  latencyChart,
  lossChart,
  prunedStages,
  speedupChart,
  stagesChart,
} from './model-charts';
import type { ReportData, TargetReport } from './report-data';
import { convergenceChart, ratioMacsChart, summaryMacsChart } from './search-charts';
import { REPORT_CSS } from './styles';
import { searchFacts, strategyLogTable, summaryTable } from './tables';

const note = (text: string) => `<p class="note">${esc(text)}</p>`;
const orNote = (svg: string, text: string) => svg || note(text);

function section(id: string, title: string, lead: string, body: string): string {
  return `<section id="${esc(id)}"><h2>${esc(title)}</h2>${lead ? `<p class="lead">${esc(lead)}</p>` : ''}${body}</section>`;
}

/** Cells of a two-column grid; a single cell spans as a normal block. */
function grid(cells: readonly string[]): string {
  if (cells.length === 0) return '';
  if (cells.length === 1) return cells[0] ?? '';
  return `<div class="grid-2">${cells.map((c) => `<div class="chart-cell">${c}</div>`).join('')}</div>`;
}

function header(data: ReportData): string {
  const converged = data.targets.filter((t) => t.status === 'converged').length;
  const attempts = data.targets.reduce((n, t) => n + t.attempts.length, 0);
  const best = data.targets
    .map((t) => t.pruned?.speedup)
    .flatMap((s) => DEVICES.map(([k]) => s?.[k]))
    .filter(isNum);
  const kpis = [
    ['dense model', macs(data.dense.macs), `${si(data.dense.params)} params`],
    [
      'targets converged',
      `${converged} / ${data.targets.length}`,
      data.targets.map((t) => t.label).join(', ') || 'no targets',
    ],
    [
      'attempts',
      int(attempts),
      `${data.targets.reduce((n, t) => n + t.attempts.filter((a) => a.error).length, 0)} failed`,
    ],
    [
      'best measured speedup',
      best.length ? times(Math.max(...best)) : '—',
      best.length ? 'over the dense model' : 'no latency measured',
    ],
  ];
  if (data.llmTotals) {
    kpis.push([
      'LLM cost',
      usd(data.llmTotals.costUsd),
      `${int(data.llmTotals.inputTokens)} in / ${int(data.llmTotals.outputTokens)} out tokens`,
    ]);
  }
  return (
    `<header class="top"><div class="inner"><div class="eyebrow">agentic-pruner · campaign report</div>` +
    `<h1>${esc(data.model)} → ${esc(data.targets.map((t) => t.label).join(' / ') || 'no targets')}</h1>` +
    `<div class="meta">campaign <code>${esc(data.campaignId)}</code> · ${esc(data.createdAt)}</div>` +
    (data.outcome
      ? `<p class="outcome"><span class="badge badge-bad">${esc(data.outcome.status)}</span> ${esc(data.outcome.reason)}</p>`
      : '') +
    `<div class="kpis">` +
    kpis
      .map(
        ([label, value, hint]) =>
          `<div class="kpi"><div class="label">${esc(label)}</div><div class="value">${esc(value)}</div><div class="hint">${esc(hint)}</div></div>`,
      )
      .join('') +
    `</div></div></header>`
  );
}

const SECTIONS = [
  ['summary', 'Summary'],
  ['convergence', 'Convergence'],
  ['stages', 'MACs per stage'],
  ['accuracy', 'Accuracy vs MACs'],
  ['latency', 'Latency and speedup'],
  ['finetune', 'Fine-tuning'],
  ['log', 'Strategy log'],
] as const;

function targetHead(t: TargetReport): string {
  return `<div class="target-head"><h3>${esc(`Target ${t.label}`)}</h3><span class="badge badge-${t.status === 'converged' ? 'ok' : 'bad'}">${esc(t.status)}</span><span class="reason">${esc(t.reason)}</span></div>`;
}

/**
 * Render the campaign report as one self-contained HTML page (inline CSS and SVG charts, no scripts,
 * no external resources). Pure: the same data gives the same string; every text from the data,
 * LLM rationales included, is escaped. Missing pieces (no attempts, no accuracy, no latency, no
 * fine-tuning) render as a short note rather than an empty or broken chart.
 *
 * Charts carry `<svg class="chart" data-chart="...">` with `summary`, `convergence`, `ratio-macs`,
 * `stages`, `accuracy`, `latency`, `speedup` and `loss`.
 *
 * @example
 * const html = renderReport(data);
 * await store.put(`campaigns/${data.campaignId}/report/report.html`, Buffer.from(html));
 */
export function renderReport(data: ReportData): string {
  const targets = data.targets;
  const noTargets = targets.length === 0 ? note('This campaign has no MAC targets.') : '';

  const summary = section(
    'summary',
    'Summary',
    'Dense model against the model kept for each target. Changes are relative to the dense model.',
    summaryTable(data) + summaryMacsChart(data),
  );

  const convergence = section(
    'convergence',
    'Convergence',
    'Measured MACs of each attempt against the target and its tolerance band.',
    noTargets ||
      grid(
        targets.map((t, i) =>
          orNote(
            convergenceChart(t, i),
            `Target ${t.label}: no attempts were made (${t.reason || t.status}).`,
          ),
        ),
      ),
  );

  const stages = section(
    'stages',
    'MAC distribution per stage',
    'Where the MACs are, before and after pruning (kept attempt of each target).',
    orNote(stagesChart(data), 'No per-stage MACs were recorded for this campaign.') +
      (targets.length && data.dense.stages.length > 0 && targets.every((t) => prunedStages(t).length === 0)
        ? note('No target kept a model with per-stage MACs: only the dense distribution is shown.')
        : ''),
  );

  const accuracy = section(
    'accuracy',
    'Accuracy vs MACs',
    'Top-1 and top-5 accuracy of the dense model and of each fine-tuned pruned model.',
    orNote(
      accuracyChart(data),
      'No accuracy is known: neither the dense model nor any pruned model was evaluated.',
    ),
  );

  const latencyCharts = DEVICES.map(([key, name]) => latencyChart(data, key, name)).filter(Boolean);
  const speedup = speedupChart(data);
  const latency = section(
    'latency',
    'Latency and speedup',
    'onnxruntime latency of the exported models per batch size, and the measured speedup beside the MAC ratio.',
    latencyCharts.length || speedup
      ? grid([...latencyCharts, ...(speedup ? [speedup] : [])])
      : note('No latency was measured and no pruned model was exported.'),
  );

  const finetune = section(
    'finetune',
    'Fine-tuning',
    'Training loss of each pruned model while it recovers accuracy.',
    noTargets ||
      grid(
        targets.map((t, i) =>
          orNote(
            lossChart(t, i),
            t.finetune
              ? `Target ${t.label}: fine-tuning recorded no loss values.`
              : `Target ${t.label}: not fine-tuned${t.status === 'diverged' ? ' (the search diverged)' : ''}.`,
          ),
        ),
      ),
  );

  const log = section(
    'log',
    'Strategy log',
    'Every strategy proposed, by which agent, what it measured and why it was proposed. The kept attempt is highlighted.',
    noTargets ||
      targets
        .map((t) => {
          const chart = ratioMacsChart(t);
          const body = t.attempts.length ? strategyLogTable(t) : note('No attempts.');
          return (
            targetHead(t) +
            grid([chart || note('Nothing was measured for this target.'), searchFacts(t)]) +
            body
          );
        })
        .join(''),
  );

  const toc = `<nav class="toc">${SECTIONS.map(([id, title]) => `<a href="#${id}">${esc(title)}</a>`).join('')}</nav>`;
  return (
    '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">' +
    '<meta name="viewport" content="width=device-width, initial-scale=1">' +
    `<title>${esc(`Pruning report — ${data.model} — ${data.campaignId}`)}</title>` +
    `<style>${REPORT_CSS}</style></head><body>${header(data)}<main class="page">${toc}` +
    summary +
    convergence +
    stages +
    accuracy +
    latency +
    finetune +
    log +
    `<footer>agentic-pruner · campaign ${esc(data.campaignId)} · ${esc(data.createdAt)} · 1 MAC = 1 multiply-add</footer></main></body></html>\n`
  );
}
