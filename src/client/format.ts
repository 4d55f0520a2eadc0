import type { FineTuneHeartbeat } from '../activities';
import { scoreModeText, screenText, type Attempt } from '../core/attempt';
import { recoveryPlanNote, searchCost, type Finalists, type RecoveryPlan } from '../core/attempt-selection';
import { SCORING_DEFAULTS, type CampaignConfig, type RankBy } from '../core/campaign-config';
import { attemptRole, type AttemptRole } from '../core/search-state';
import { shapeText } from '../core/strategy';
import { formatBand, type Band } from '../core/tolerance-band';
import { formatMacs, formatPercent, truncate } from '../core/units';
import { int } from '../report/format';

/** Render rows as an aligned text table. */
export function table(headers: string[], rows: (string | number)[][]): string {
  const cells = [headers, ...rows.map((r) => r.map(String))];
  const widths = headers.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [
    line(cells[0] ?? []),
    widths.map((w) => '-'.repeat(w)).join('  '),
    ...cells.slice(1).map(line),
  ].join('\n');
}

/** A horizontal bar of `width` cells for a share in [0, 1]. */
export function bar(share: number, width = 30): string {
  const n = Math.max(0, Math.min(width, Math.round(share * width)));
  return '█'.repeat(n) + '·'.repeat(width - n);
}

/**
 * One running fine-tune, as `watch` shows it: progress bar, steps, loss, ETA and the last stored checkpoint.
 *
 * @example
 * fineTuneLine('t50', { step: 120, totalSteps: 400, loss: 0.4321, etaSec: 61.4, checkpoints: [{ step: 100, ref }] }, 10)
 * // 'fine-tune t50 ███······· 120/400, loss 0.432, ETA 61 s; last checkpoint step 100'
 */
export function fineTuneLine(
  targetLabel: string | undefined,
  ft: Pick<FineTuneHeartbeat, 'step' | 'totalSteps' | 'loss' | 'etaSec' | 'checkpoints'>,
  width = 40,
): string {
  const total = ft.totalSteps ?? 0;
  const share = total > 0 ? ft.step / total : 0;
  const eta = ft.etaSec !== null ? `, ETA ${Math.round(ft.etaSec)} s` : '';
  const loss = ft.loss !== null ? `, loss ${ft.loss.toFixed(3)}` : '';
  return `fine-tune${targetLabel ? ` ${targetLabel}` : ''} ${bar(share, width)} ${ft.step}/${total || '?'}${loss}${eta}; last checkpoint step ${ft.checkpoints.at(-1)?.step ?? '-'}`;
}

/** A share in [0, 1] as a percentage with one decimal (`0.7312` -> `73.1%`); `-` when absent. */
export function percent(share: number | null | undefined): string {
  return share === undefined || share === null ? '-' : `${(share * 100).toFixed(1)}%`;
}

/**
 * A candidate's score in the log: top-1 as {@link percent}, the mode and, for `recovery`, the fine-tune
 * steps (`61.3% zero-shot`, `74.0% recovery 50 steps`); `failed` when scoring failed; `-` when unscored.
 * A finalist's second score follows an arrow: `61.0% recovery 10 steps -> 74.0% 40 steps` (or `-> failed`).
 */
export function scoreText(a: Pick<Attempt, 'score' | 'scoreError' | 'rescore' | 'rescoreError'>): string {
  const second = a.rescore
    ? ` -> ${percent(a.rescore.top1)} ${a.rescore.steps} steps`
    : a.rescoreError !== undefined
      ? ' -> failed'
      : '';
  if (a.score) return `${percent(a.score.top1)} ${scoreModeText(a.score)}${second}`;
  return a.scoreError !== undefined ? 'failed' : '-';
}

/**
 * The second stage of a two-stage scoring as `campaign watch` shows it under a target's table: each finalist
 * with its second score's top-1, `failed`, or `pending` while its recovery has not returned; `undefined`
 * before the search chose finalists.
 *
 * @example
 * finalistsLine(log) // 'finalists, scored again with 40 recovery steps each: #9 74.0%, #12 failed, #7 pending'
 */
export function finalistsLine(l: {
  finalists?: Finalists;
  attempts: readonly Pick<Attempt, 'index' | 'rescore' | 'rescoreError'>[];
}): string | undefined {
  if (!l.finalists) return undefined;
  const each = l.finalists.indices.map((i) => {
    const a = l.attempts.find((x) => x.index === i);
    const state = a?.rescore ? percent(a.rescore.top1) : a?.rescoreError !== undefined ? 'failed' : 'pending';
    return `#${i} ${state}`;
  });
  return `finalists, scored again with ${l.finalists.steps} recovery steps each: ${each.join(', ')}`;
}

/**
 * How the scoring was planned before the search, as `log` and `watch` print it under the target's table (the
 * report's facts card says the same as `scoring plan`), or `undefined` where nothing was planned.
 *
 * @example
 * scoringPlanLine(log) // "scoring plan: zero-shot scoring decides: 10% of the final fine-tune's 37 steps is 3 steps, ..."
 */
export function scoringPlanLine(l: { recoveryPlan?: RecoveryPlan }): string | undefined {
  return l.recoveryPlan ? `scoring plan: ${recoveryPlanNote(l.recoveryPlan)}` : undefined;
}

/**
 * The heading of one target's strategy log in `log`: model, target, band, status, attempts, the scoring's
 * fine-tune steps when scores fine-tuned, and the kept one (with the figure that kept it when the search ranked
 * by loss).
 *
 * @example
 * // t: democnn -> 13.7 M MACs, band -5%..+1% (converged, 9 attempts, kept #7 (the lowest score loss))
 * // t: democnn -> 13.7 M MACs, band -5%..+1% (converged, 13 attempts, 6 scored with 240 fine-tune steps, kept #10)
 * // scored with no training: t: ... (converged, 10 attempts, 6 scored zero-shot, kept #8)
 * // with finalists scored again (search.recovery.rescore):
 * // t: ... (converged, 13 attempts, 6 scored and 3 finalists again with 240 fine-tune steps, kept #10 (the best second score))
 */
export function logHeading(l: {
  targetLabel: string;
  model: string;
  targetMacs: number;
  band: Band;
  status: string;
  attempts: readonly Pick<Attempt, 'inBand' | 'error' | 'score' | 'scoreError' | 'rescore'>[];
  chosenIndex: number | null;
  result?: { status: string; rankBy?: RankBy };
}): string {
  const cost = searchCost(l.attempts);
  const finalists = cost.rescored
    ? ` and ${cost.rescored} finalist${cost.rescored === 1 ? '' : 's'} again`
    : '';
  const scoring = cost.scoringSteps
    ? `, ${cost.scored} scored${finalists} with ${int(cost.scoringSteps)} fine-tune steps`
    : cost.scored
      ? `, ${cost.scored} scored zero-shot`
      : '';
  const which = cost.rescored
    ? l.result?.rankBy === 'loss'
      ? ' (the lowest second-score loss)'
      : ' (the best second score)'
    : l.result?.rankBy === 'loss'
      ? ' (the lowest score loss)'
      : '';
  const kept = l.chosenIndex === null ? '' : `, kept #${l.chosenIndex}${which}`;
  return `${l.targetLabel}: ${l.model} -> ${formatMacs(l.targetMacs)} MACs, band ${formatBand(l.band)} (${l.result?.status ?? l.status}, ${l.attempts.length} attempts${scoring}${kept})`;
}

/** The widest `shape` cell of the log table; a longer shape ends in `…` (the export has it whole). */
const SHAPE_CHARS = 32;
/** The log's `note` cell: the error, fallback or rationale on one line, cut with `…` past this. */
const NOTE_CHARS = 80;

/**
 * The strategy log as a table: one row per attempt; `kept` marks the attempt kept for fine-tuning
 * (`chosenIndex`), `role` what the attempt was for (a `candidate` in band, a `scaling` step, `failed`),
 * `shape` what the strategy changes of global isomorphic pruning ({@link shapeText}: `-` for none, `local;
 * non-isomorphic` for per-layer uniform pruning, stage ratios for a stage allocation), `acc` the attempt's
 * quick accuracy (its accuracyProxy top-1), `score` the candidate's score ({@link scoreText}) when the search
 * scored it.
 */
export function attemptsTable(attempts: Attempt[], chosenIndex: number | null = null): string {
  return table(
    [
      '#',
      'kept',
      'role',
      'agent',
      'ratio',
      'crit',
      'round',
      'shape',
      'MACs',
      'dev',
      'band',
      'params',
      'acc',
      'score',
      'ms',
      'rationale / error',
    ],
    attempts.map((a) => [
      a.index,
      a.index === chosenIndex ? 'kept' : '',
      attemptRole(a),
      a.agent,
      a.strategy.pruningRatio.toFixed(3),
      a.strategy.importance,
      a.strategy.roundTo,
      truncate(shapeText(a.strategy), SHAPE_CHARS),
      a.error ? '-' : formatMacs(a.macs),
      a.error ? '-' : formatPercent(a.deviation),
      a.error ? 'error' : a.inBand ? 'IN' : 'out',
      a.error ? '-' : formatMacs(a.params),
      percent(a.accuracyProxy?.top1),
      scoreText(a),
      Math.round(a.wallMs),
      truncate(
        (
          a.error ??
          (a.scoreError !== undefined ? `scoring failed: ${a.scoreError}` : undefined) ??
          (a.rescoreError !== undefined ? `second score failed: ${a.rescoreError}` : undefined) ??
          a.fallbackReason ??
          ([a.screen && screenText(a.screen, a.strategy), a.strategy.rationale].filter(Boolean).join('; ') ||
            '')
        )
          .replace(/\s+/g, ' ')
          .trim(),
        NOTE_CHARS,
      ),
    ]),
  );
}

/** What {@link resultTable} reads of a campaign result (a subset of CampaignResult). */
export interface ResultTableInput {
  targets: {
    targetLabel: string;
    targetMacs: number;
    status: string;
    attemptCount: number;
    attemptsToConverge: number | null;
    chosen: { index: number; macs: number; params: number; deviation: number } | null;
    accuracy?: { top1: number };
    deployment?: { pruned: { latency: { batchSize: number; provider: string; p50Ms: number }[] } };
  }[];
}

/**
 * A campaign's result table, one line per target: the goal, whether it converged, the kept attempt and its
 * MACs, deviation and params, the final top-1 (after fine-tuning when configured) and the batch-1 p50 latency.
 */
export function resultTable(result: ResultTableInput): string {
  return table(
    ['target', 'goal', 'status', 'attempts', 'to band', 'kept', 'MACs', 'dev', 'params', 'top-1', 'p50 b1'],
    result.targets.map((t) => {
      const b1 = t.deployment?.pruned.latency.find((r) => r.batchSize === 1);
      return [
        t.targetLabel,
        formatMacs(t.targetMacs),
        t.status,
        t.attemptCount,
        t.attemptsToConverge ?? '-',
        t.chosen ? `#${t.chosen.index}` : '-',
        t.chosen ? formatMacs(t.chosen.macs) : '-',
        t.chosen ? formatPercent(t.chosen.deviation) : '-',
        t.chosen ? formatMacs(t.chosen.params) : '-',
        percent(t.accuracy?.top1),
        b1 ? `${b1.p50Ms.toFixed(2)} ms (${b1.provider})` : '-',
      ];
    }),
  );
}

/** The columns of `campaign export --format csv`, in order. */
export const EXPORT_CSV_COLUMNS = [
  'target',
  'targetMacs',
  'index',
  'role',
  'agent',
  'pruningRatio',
  'importance',
  'roundTo',
  'shape',
  'macs',
  'params',
  'deviation',
  'inBand',
  'kept',
  'accuracy',
  'scoreMode',
  'scoreTop1',
  'scoreLoss',
  'scoreCount',
  'scoreSteps',
  'scoreError',
  'rescoreTop1',
  'rescoreLoss',
  'rescoreCount',
  'rescoreSteps',
  'rescoreError',
  'wallMs',
  'error',
  'rationale',
] as const;

/** What {@link exportCsv} reads of an exported row (`CampaignClient.exportRows`). */
/** One exported attempt: the attempt as logged, its target, its role, and whether it was kept. */
export type ExportRow = Attempt & { target: string; targetMacs: number; role: AttemptRole; kept: boolean };

/**
 * `campaign export --format csv`: a header and one line per attempt, {@link EXPORT_CSV_COLUMNS}: the strategy's
 * fields flattened, `shape` its whole {@link shapeText} (`-`, `local; non-isomorphic`, stage ratios, every layer ratio and ignored layer), `accuracy` the quick accuracy proxy's top-1, `score*` the candidate's score (top-1 and
 * loss as fractions, as recorded), `rescore*` a finalist's second score — empty cells where absent; RFC 4180
 * quoting.
 */
export function exportCsv(rows: readonly ExportRow[]): string {
  const esc = (v: unknown) => {
    const s =
      v === undefined || v === null
        ? ''
        : typeof v === 'object'
          ? JSON.stringify(v)
          : String(v as string | number | boolean);
    return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  const lines = [EXPORT_CSV_COLUMNS.join(',')];
  for (const r of rows) {
    const flat: Record<string, unknown> = {
      ...r,
      ...r.strategy,
      shape: shapeText(r.strategy, { whole: true }),
      accuracy: r.accuracyProxy?.top1,
      scoreMode: r.score?.mode,
      scoreTop1: r.score?.top1,
      scoreLoss: r.score?.loss,
      scoreCount: r.score?.count,
      scoreSteps: r.score?.steps,
      rescoreTop1: r.rescore?.top1,
      rescoreLoss: r.rescore?.loss,
      rescoreCount: r.rescore?.count,
      rescoreSteps: r.rescore?.steps,
    };
    lines.push(EXPORT_CSV_COLUMNS.map((c) => esc(flat[c])).join(','));
  }
  return lines.join('\n');
}

/**
 * The line `campaign start` prints on stderr once the campaign started: the search the parsed config asks for,
 * defaults filled in (core/campaign-config `withDatasetSearchDefaults`), so a user sees what their budget buys.
 *
 * @example
 * // with a dataset and no search choices:
 * // search: solver, up to 10 iterations: up to 6 in-band candidates, a stage allocation from a sensitivity
 * //   table at 0.5 among the shapes; each scored zero-shot on a train/ slice, the best 3 again after 40
 * //   recovery steps each within 10% of the final fine-tune's steps (with a `finetune`: fewer steps, fewer
 * //   finalists or none on a short one, core/attempt-selection `finalistsPlan`)
 * (Up to: a shape the solver cannot bring into the band, or that the engine refuses, is given up.)
 */
export function searchPlanLine(config: Pick<CampaignConfig, 'search' | 'dataset' | 'finetune'>): string {
  const s = config.search;
  const head = `search: ${s.agent}, up to ${s.maxIterations} iterations: `;
  const collected =
    s.candidates !== undefined
      ? `up to ${s.candidates} in-band candidate${s.candidates === 1 ? '' : 's'}`
      : s.extendedSearch > 0
        ? `the first in-band attempt and ${s.extendedSearch} more of fixed shapes`
        : 'the first in-band attempt';
  if (!config.dataset) return `${head}${collected}, not scored (no dataset)`;
  const table = s.sensitivity
    ? `, a stage allocation from a sensitivity table at ${s.sensitivity.ratios.join(', ')} among the shapes`
    : '';
  const r = s.recovery;
  const length =
    r?.share !== undefined
      ? `${+(r.share * 100).toFixed(2)}% of the final fine-tune's steps over the candidates`
      : r?.epochs !== undefined
        ? `${r.epochs} epoch${r.epochs > 1 ? 's' : ''} of train/`
        : `${r?.steps ?? SCORING_DEFAULTS.recovery.steps} steps`;
  const first =
    s.scoring === 'recovery'
      ? `each scored on a train/ slice after a recovery of ${length}`
      : 'each scored zero-shot on a train/ slice';
  const cap =
    r?.rescore?.maxShare !== undefined && config.finetune
      ? ` within ${+(r.rescore.maxShare * 100).toFixed(2)}% of the final fine-tune's steps`
      : '';
  const again = r?.rescore
    ? `, the best ${r.rescore.top} again after ${r.rescore.steps} recovery steps each${cap}`
    : '';
  const by = s.rankBy === 'loss' ? ', kept by the lowest held-out loss' : '';
  return `${head}${collected}${table}; ${first}${again}${by}`;
}
