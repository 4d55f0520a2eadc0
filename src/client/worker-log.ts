import type { LogEntry } from '@temporalio/worker';

/** Worker log lines that say nothing a user can act on: an activity-only queue has no workflows to poll. */
const EXPECTED = [/^No workflows registered, not polling for workflow tasks/];

/** One value of a log line's metadata, short: strings as they are, the rest as JSON. */
function short(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

/**
 * The line a worker log entry prints as, or `null` for none: quiet by default on a healthy host. Expected
 * lines are dropped, and an activity failure is one line — activity, workflow, the error's type and message
 * — with its stack only when `verbose` (failures the search expects, like a strategy the engine rejects,
 * printed 10 stack frames each).
 *
 * @example
 * formatWorkerLog({ level: 'WARN', message: 'Activity failed', timestampNanos: 0n,
 *   meta: { activityType: 'pruneTrial', workflowId: 'c1--t1', error: new Error('ratio 0.99') } }, false)
 * // '1970-01-01T00:00:00.000Z [WARN] Activity failed: pruneTrial (workflow c1--t1): Error: ratio 0.99'
 */
export function formatWorkerLog(entry: LogEntry, verbose: boolean): string | null {
  if (EXPECTED.some((re) => re.test(entry.message))) return null;
  const when = new Date(Number(entry.timestampNanos / 1_000_000n)).toISOString();
  const meta = (entry.meta ?? {}) as Record<string, unknown>;
  const error = meta.error;
  if (error instanceof Error) {
    const where = [
      typeof meta.activityType === 'string' ? meta.activityType : undefined,
      typeof meta.workflowId === 'string' ? `(workflow ${meta.workflowId})` : undefined,
    ]
      .filter(Boolean)
      .join(' ');
    const line = `${when} [${entry.level}] ${entry.message}${where ? `: ${where}` : ''}: ${error.name}: ${error.message}`;
    return verbose && error.stack ? `${line}\n${error.stack}` : line;
  }
  const rest = Object.entries(meta)
    .filter(([k]) => k !== 'sdkComponent')
    .map(([k, v]) => `${k}=${short(v)}`)
    .join(' ');
  return `${when} [${entry.level}] ${entry.message}${rest ? ` ${rest}` : ''}`;
}

/** A Temporal log function writing {@link formatWorkerLog}'s lines to stderr. */
export function workerLogFunction(verbose: boolean): (entry: LogEntry) => void {
  return (entry) => {
    const line = formatWorkerLog(entry, verbose);
    if (line !== null) process.stderr.write(`${line}\n`);
  };
}
