import type { Attempt } from '../core/attempt';
import { formatMacs, formatPercent } from '../core/units';

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

/** A share in [0, 1] as a percentage with one decimal (`0.7312` -> `73.1%`); `-` when absent. */
export function percent(share: number | null | undefined): string {
  return share === undefined || share === null ? '-' : `${(share * 100).toFixed(1)}%`;
}

/**
 * The strategy log as a table: one row per attempt; `kept` marks the attempt kept for fine-tuning
 * (`chosenIndex`), `acc` is the attempt's quick accuracy (its accuracyProxy top-1) when it was scored.
 */
export function attemptsTable(attempts: Attempt[], chosenIndex: number | null = null): string {
  return table(
    [
      '#',
      'kept',
      'agent',
      'ratio',
      'crit',
      'round',
      'MACs',
      'dev',
      'band',
      'params',
      'acc',
      'ms',
      'rationale / error',
    ],
    attempts.map((a) => [
      a.index,
      a.index === chosenIndex ? 'kept' : '',
      a.agent,
      a.strategy.pruningRatio.toFixed(3),
      a.strategy.importance,
      a.strategy.roundTo,
      a.error ? '-' : formatMacs(a.macs),
      a.error ? '-' : formatPercent(a.deviation),
      a.error ? 'error' : a.inBand ? 'IN' : 'out',
      a.error ? '-' : formatMacs(a.params),
      percent(a.accuracyProxy?.top1),
      Math.round(a.wallMs),
      (a.error ?? a.fallbackReason ?? a.strategy.rationale ?? '').replace(/\s+/g, ' ').slice(0, 80),
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
