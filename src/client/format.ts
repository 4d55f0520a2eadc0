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

/** The strategy log as a table: one row per attempt. */
export function attemptsTable(attempts: Attempt[]): string {
  return table(
    ['#', 'agent', 'ratio', 'crit', 'round', 'MACs', 'dev', 'band', 'params', 'ms', 'rationale / error'],
    attempts.map((a) => [
      a.index,
      a.agent,
      a.strategy.pruningRatio.toFixed(3),
      a.strategy.importance,
      a.strategy.roundTo,
      a.error ? '-' : formatMacs(a.macs),
      a.error ? '-' : formatPercent(a.deviation),
      a.error ? 'error' : a.inBand ? 'IN' : 'out',
      a.error ? '-' : formatMacs(a.params),
      Math.round(a.wallMs),
      (a.error ?? a.fallbackReason ?? a.strategy.rationale ?? '').replace(/\s+/g, ' ').slice(0, 80),
    ]),
  );
}
