/**
 * The report's tables: the dense-vs-pruned summary and the strategy log of each target.
 * Every cell goes through `esc` or a formatter; LLM text (rationales, fallback reasons) is data.
 */
import { scoreModeText, screenText, type Attempt } from '../core/attempt';
import { decidingScore, runnerUp, searchCost, top1ErrorWords } from '../core/attempt-selection';
import { attemptRole } from '../core/search-state';
import { shapeParts } from '../core/strategy';
import { MISSING, acc, bandText, esc, fixed, int, isNum, macs, ms, pct, pp, si, times, usd } from './format';
import type { LatencyByDevice, LatencyPoint, ReportData, TargetReport } from './report-data';
import { DEVICES, type Device } from './model-charts';
import { chosenAttempt } from './search-charts';

/** Rationales longer than this are folded into a `<details>` element. */
const RATIONALE_FOLD = 360;

interface LatencyRef {
  readonly device: Device;
  readonly deviceName: string;
  readonly batch: number;
}

/** The provider and batch size the summary table quotes: the first provider measured, its smallest batch. */
function latencyRef(data: ReportData): LatencyRef | undefined {
  const all: (LatencyByDevice | undefined)[] = [
    data.dense.latency,
    ...data.targets.map((t) => t.pruned?.latency),
  ];
  for (const [device, deviceName] of DEVICES) {
    const batches = all.flatMap((l) => (l?.[device] ?? []).map((p) => p.batch)).filter(isNum);
    if (batches.length) return { device, deviceName, batch: Math.min(...batches) };
  }
  return undefined;
}

function latencyAt(l: LatencyByDevice | undefined, ref: LatencyRef | undefined): LatencyPoint | undefined {
  return ref ? (l?.[ref.device] ?? []).find((p) => p.batch === ref.batch) : undefined;
}

const sub = (text: string) => (text ? `<div class="sub">${text}</div>` : '');

function statusBadge(status: string): string {
  return `<span class="badge badge-${status === 'converged' ? 'ok' : 'bad'}">${esc(status)}</span>`;
}

/** Dense vs pruned, one row per target: MACs, params, top-1, p50 latency, speedup, attempts, status. */
export function summaryTable(data: ReportData): string {
  const ref = latencyRef(data);
  const latHead = ref
    ? `p50 latency<div class="sub">${esc(`${ref.deviceName}, batch ${ref.batch}`)}</div>`
    : 'p50 latency';
  const d = data.dense;
  const denseLat = latencyAt(d.latency, ref);
  const rows = [
    `<tr class="dense-row"><td><strong>dense</strong>${sub(esc(data.model))}</td><td>${MISSING}</td><td class="num">${esc(macs(d.macs))}</td>` +
      `<td class="num">${esc(si(d.params))}</td><td class="num">${esc(acc(d.accuracy?.top1))}</td><td class="num">${esc(ms(denseLat?.p50Ms))}</td>` +
      `<td class="num">1.00×</td><td class="num">${MISSING}</td><td>${MISSING}</td></tr>`,
  ];
  for (const t of data.targets) {
    const p = t.pruned;
    const errors = t.attempts.filter((a) => a.error).length;
    const lat = latencyAt(p?.latency, ref);
    const speed = p
      ? DEVICES.filter(([k]) => isNum(p.speedup?.[k]))
          .map(([k, name]) => `${times(p.speedup?.[k])} <span class="muted">${name}</span>`)
          .join('<br>')
      : '';
    const macCell = p
      ? `${esc(macs(p.macs))}${sub(esc(`${pct(p.macs / t.targetMacs - 1)} vs target`))}`
      : MISSING;
    const paramCell = p ? `${esc(si(p.params))}${sub(esc(pct(p.params / d.params - 1, 1)))}` : MISSING;
    const top1 = p?.accuracy
      ? `${esc(acc(p.accuracy.top1))}${d.accuracy ? sub(esc(pp(p.accuracy.top1 - d.accuracy.top1))) : ''}`
      : MISSING;
    const latCell = lat
      ? `${esc(ms(lat.p50Ms))}${denseLat ? sub(esc(pct(lat.p50Ms / denseLat.p50Ms - 1, 1))) : ''}`
      : MISSING;
    const speedCell = p ? `${speed || MISSING}${sub(esc(`MAC ratio ${times(p.macRatio)}`))}` : MISSING;
    rows.push(
      `<tr><td><strong>${esc(t.label)}</strong></td>` +
        `<td class="num">${esc(si(t.targetMacs))}${sub(esc(bandText(t.band)))}</td>` +
        `<td class="num">${macCell}</td><td class="num">${paramCell}</td><td class="num">${top1}</td><td class="num">${latCell}</td>` +
        `<td class="num">${speedCell}</td><td class="num">${t.attempts.length}${errors ? sub(esc(`${errors} failed`)) : ''}</td>` +
        `<td>${statusBadge(t.status)}${sub(esc(t.reason))}</td></tr>`,
    );
  }
  return (
    '<table class="data summary-table"><thead><tr><th>model</th><th class="num">target<div class="sub">band</div></th><th class="num">MACs</th>' +
    `<th class="num">params</th><th class="num">top-1</th><th class="num">${latHead}</th><th class="num">speedup</th>` +
    `<th class="num">attempts</th><th>status</th></tr></thead><tbody>${rows.join('')}</tbody></table>`
  );
}

function strategyCell(a: Attempt): string {
  const s = a.strategy;
  const lines = [
    `<span class="nowrap">ratio <strong>${esc(fixed(s.pruningRatio, 3))}</strong></span> <span class="nowrap">· ${esc(s.importance)} · round ${esc(s.roundTo)}</span>`,
  ];
  const shape = shapeParts(s, { whole: true });
  if (shape.length) lines.push(esc(shape.join(' · ')));
  return lines.map((l, i) => (i === 0 ? l : `<div class="sub">${l}</div>`)).join('');
}

function notesCell(a: Attempt): string {
  const parts: string[] = [];
  if (a.error) parts.push(`<div class="flag flag-error">engine error: ${esc(a.error)}</div>`);
  if (a.fallbackReason)
    parts.push(`<div class="flag flag-fallback">fallback: ${esc(a.fallbackReason)}</div>`);
  if (a.scoreError !== undefined)
    parts.push(`<div class="flag flag-error">scoring failed (kept unscored): ${esc(a.scoreError)}</div>`);
  if (a.rescoreError !== undefined)
    parts.push(
      `<div class="flag flag-error">second score failed (finalist not kept): ${esc(a.rescoreError)}</div>`,
    );
  if (a.screen) parts.push(`<div class="flag">${esc(screenText(a.screen, a.strategy))}</div>`);
  const r = a.strategy.rationale?.trim();
  if (r) {
    parts.push(
      r.length > RATIONALE_FOLD
        ? `<details class="rationale"><summary>${esc(`${r.slice(0, RATIONALE_FOLD).trimEnd()}…`)}</summary><div>${esc(r)}</div></details>`
        : `<div class="rationale">${esc(r)}</div>`,
    );
  }
  return parts.join('') || `<span class="muted">${MISSING}</span>`;
}

/**
 * A candidate's score: top-1 on the scoring slice, with the mode (and recovery steps) and loss below; a
 * finalist's second score below that (`then 74.0%`, its steps and loss), or that it failed.
 */
function scoreCell(a: Attempt): string {
  if (a.score) {
    const first = `${esc(acc(a.score.top1, 1))}${sub(`${esc(scoreModeText(a.score))} · loss ${esc(fixed(a.score.loss, 3))}`)}`;
    if (a.rescore)
      return `${first}${sub(`then <strong>${esc(acc(a.rescore.top1, 1))}</strong>`)}${sub(`${esc(scoreModeText(a.rescore))} · loss ${esc(fixed(a.rescore.loss, 3))}`)}`;
    return a.rescoreError !== undefined ? `${first}${sub('then failed')}` : first;
  }
  return a.scoreError !== undefined ? '<span class="muted">failed</span>' : MISSING;
}

/**
 * The strategy log of one target: each attempt's role (candidate / scaling / failed), agent, strategy,
 * measurement, score, LLM use and rationale.
 */
export function strategyLogTable(t: TargetReport): string {
  const withLlm = t.attempts.some((a) => a.llm);
  const withProxy = t.attempts.some((a) => a.accuracyProxy);
  const withScore = t.attempts.some((a) => a.score || a.scoreError !== undefined);
  const head =
    '<tr><th class="num">#</th><th>agent</th><th class="strategy">strategy</th><th class="num">MACs</th><th class="num">deviation</th><th class="num">params</th>' +
    `${withProxy ? '<th class="num">proxy top-1</th>' : ''}${withScore ? '<th class="num">score top-1<div class="sub">train/ slice</div></th>' : ''}<th class="num">wall</th>${withLlm ? '<th class="num">LLM tokens<div class="sub">in / out · cost</div></th>' : ''}` +
    '<th class="wide">rationale and notes</th></tr>';
  const rows = t.attempts.map((a) => {
    const chosen = a.index === t.chosenIndex;
    const cls = [a.error ? 'row-error' : '', chosen ? 'row-chosen' : ''].filter(Boolean).join(' ');
    const dev = a.error
      ? MISSING
      : `<span class="${a.inBand ? 'in-band' : 'out-band'}">${esc(pct(a.deviation))}</span>${sub(a.inBand ? 'in band' : 'out of band')}`;
    const llm = a.llm
      ? `${esc(int(a.llm.inputTokens))} / ${esc(int(a.llm.outputTokens))}${sub(esc(usd(a.llm.costUsd)))}`
      : MISSING;
    return (
      `<tr${cls ? ` class="${cls}"` : ''}><td class="num">${esc(a.index)}${sub(`${attemptRole(a)}${chosen ? ' · kept' : ''}`)}</td>` +
      `<td><span class="agent agent-${esc(a.agent)}">${esc(a.agent)}</span></td><td class="strategy">${strategyCell(a)}</td>` +
      `<td class="num">${a.error ? MISSING : esc(macs(a.macs))}</td><td class="num">${dev}</td><td class="num">${a.error ? MISSING : esc(si(a.params))}</td>` +
      `${withProxy ? `<td class="num">${esc(acc(a.accuracyProxy?.top1, 1))}</td>` : ''}${withScore ? `<td class="num">${scoreCell(a)}</td>` : ''}<td class="num">${esc(ms(a.wallMs))}</td>` +
      `${withLlm ? `<td class="num">${llm}</td>` : ''}<td class="wide">${notesCell(a)}</td></tr>`
    );
  });
  return `<table class="data log-table" data-target="${esc(t.label)}"><thead>${head}</thead><tbody>${rows.join('')}</tbody></table>`;
}

/**
 * The scoring's fine-tune steps beside the final fine-tune's, or undefined when no score fine-tuned: e.g.
 * `240 fine-tune steps for 6 candidates, 9.8% of the final fine-tune's 2,442 steps`.
 */
export function scoringCostText(t: TargetReport): string | undefined {
  const { scored, rescored, scoringSteps } = searchCost(t.attempts);
  return scoringSteps ? scoringCostWords(scoringSteps, scored, t.finetune?.steps, rescored) : undefined;
}

/**
 * The words of {@link scoringCostText} from its counts (bench/accuracy prints them too): the share to a tenth
 * of a percent, so a scoring just under a 10 % budget does not read as 10 %. With finalists scored again:
 * `240 fine-tune steps for 6 candidates and 3 finalists again, 9.8% of ...`.
 */
export function scoringCostWords(
  scoringSteps: number,
  scored: number,
  finalSteps?: number,
  rescored = 0,
): string {
  return (
    `${int(scoringSteps)} fine-tune steps for ${scored} candidate${scored === 1 ? '' : 's'}` +
    (rescored ? ` and ${rescored} finalist${rescored === 1 ? '' : 's'} again` : '') +
    (finalSteps
      ? `, ${acc(scoringSteps / finalSteps, 1)} of the final fine-tune's ${int(finalSteps)} steps`
      : '')
  );
}

/**
 * How far the kept candidate's score led the next-best one, and how exactly the held-out slice measures a score,
 * so a reader can tell a clear win from one within the slice's noise (empty when nothing else was scored):
 * `; 0.8 points ahead of attempt 9 (86.3%); one score's 95% sampling error on 1,000 held-out images: ±2.1 points`.
 * Ranked by loss: `; attempt 8 next (loss 0.447)`.
 */
export function scoreLeadText(t: Pick<TargetReport, 'attempts' | 'band' | 'rankBy'>, kept: Attempt): string {
  // Once finalists were scored again, the second scores decide: the lead is over the next finalist.
  const by = decidingScore(t.attempts);
  const mine = kept[by];
  if (!mine) return '';
  const next = runnerUp(t.attempts, t.band, kept.index, t.rankBy);
  const theirs = next?.[by];
  if (!next || !theirs) return '';
  if (t.rankBy === 'loss') return `; attempt ${next.index} next (loss ${fixed(theirs.loss, 3)})`;
  const lead = (mine.top1 - theirs.top1) * 100;
  const error = top1ErrorWords(mine);
  return (
    (mine.top1 === theirs.top1
      ? `; level with attempt ${next.index} (${acc(theirs.top1, 1)}), kept for its lower loss`
      : `; ${Math.abs(lead).toFixed(Math.abs(lead) < 0.1 ? 2 : 1)} points ${lead > 0 ? 'ahead of' : 'behind'} attempt ${next.index} (${acc(theirs.top1, 1)})`) +
    (error === undefined ? '' : `; one score's ${error}`)
  );
}

/**
 * The kept candidate's deciding score in the search facts: `, the best score: top-1 87.1% (recovery)`, by
 * loss `, the best score: loss 0.447, top-1 87.1% (recovery, ranked by loss)`; after finalists were scored
 * again, `, the best second score of 3 finalists: top-1 88.0% (recovery 40 steps)`; empty when unscored.
 */
export function keptScoreText(t: Pick<TargetReport, 'attempts' | 'rankBy'>, kept: Attempt): string {
  const by = decidingScore(t.attempts);
  const score = kept[by];
  if (!score) return '';
  const { rescored } = searchCost(t.attempts);
  const what =
    by === 'rescore'
      ? `the best second score of ${rescored} finalist${rescored === 1 ? '' : 's'}`
      : 'the best score';
  const mode = by === 'rescore' ? scoreModeText(score) : score.mode;
  return t.rankBy === 'loss'
    ? `, ${what}: loss ${fixed(score.loss, 3)}, top-1 ${acc(score.top1, 1)} (${mode}, ranked by loss)`
    : `, ${what}: top-1 ${acc(score.top1, 1)} (${mode})`;
}

/** A card of facts about one target's search: outcome, kept attempt, scoring plan and cost, agents, fallbacks, LLM use, time. */
export function searchFacts(t: TargetReport): string {
  const kept = chosenAttempt(t);
  const { inBand, scored, scoreErrors: scoreFailed, rescored } = searchCost(t.attempts);
  const failed = t.attempts.filter((a) => a.error).length;
  const scoring = scoringCostText(t);
  const fallbacks = t.attempts.filter((a) => a.fallbackReason).length;
  const agents = new Map<string, number>();
  for (const a of t.attempts) agents.set(a.agent, (agents.get(a.agent) ?? 0) + 1);
  const llm = t.attempts.flatMap((a) => (a.llm ? [a.llm] : []));
  const wallMs = t.attempts.reduce((n, a) => n + (isNum(a.wallMs) ? a.wallMs : 0), 0);
  const rows: [string, string][] = [
    [
      'outcome',
      `<span class="badge badge-${t.status === 'converged' ? 'ok' : 'bad'}">${esc(t.status)}</span> ${esc(t.reason)}`,
    ],
    ['target', `${esc(macs(t.targetMacs))}, band ${esc(bandText(t.band))}`],
    [
      'attempts',
      `${t.attempts.length}: ${inBand} in band${failed ? `, ${failed} failed in the engine` : ''}` +
        (scored || scoreFailed
          ? `; ${scored} candidate${scored === 1 ? '' : 's'} scored${scoreFailed ? `, scoring failed for ${scoreFailed}` : ''}` +
            (rescored ? `; ${rescored} finalist${rescored === 1 ? '' : 's'} scored again` : '')
          : ''),
    ],
    [
      'kept',
      kept
        ? `attempt ${esc(kept.index)} by ${esc(kept.agent)}: ${esc(macs(kept.macs))} (${esc(pct(kept.deviation))})` +
          esc(keptScoreText(t, kept)) +
          esc(scoreLeadText(t, kept))
        : 'none',
    ],
    ...(t.scoringPlan ? [['scoring plan', esc(t.scoringPlan)] as [string, string]] : []),
    ...(scoring ? [['scoring cost', esc(scoring)] as [string, string]] : []),
    [
      'agents',
      [...agents]
        .map(([name, n]) => `<span class="agent agent-${esc(name)}">${esc(name)}</span> ×${n}`)
        .join(' ') || MISSING,
    ],
    [
      'fallbacks',
      fallbacks ? `${fallbacks} (an agent's proposal was replaced; see the notes below)` : 'none',
    ],
    ['search time', esc(ms(wallMs))],
  ];
  if (llm.length) {
    const sum = (f: (u: (typeof llm)[number]) => number) => llm.reduce((n, u) => n + f(u), 0);
    rows.push([
      'LLM use',
      `${llm.length} call${llm.length === 1 ? '' : 's'}, ${esc(int(sum((u) => u.inputTokens)))} in / ${esc(int(sum((u) => u.outputTokens)))} out tokens, ${esc(usd(sum((u) => u.costUsd)))}`,
    ]);
  }
  return `<dl class="facts">${rows.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${v}</dd>`).join('')}</dl>`;
}
