import { ApplicationFailure } from '@temporalio/common';
import type { LogEntry } from '@temporalio/worker';
import { formatWorkerLog } from '../../src/client/worker-log';

const at = 1_764_600_000_000n * 1_000_000n; // 2025-12-01T14:40:00.000Z
const entry = (
  message: string,
  meta?: Record<string, unknown>,
  level: LogEntry['level'] = 'WARN',
): LogEntry => ({
  level,
  message,
  timestampNanos: at,
  ...(meta ? { meta } : {}),
});

describe('worker log lines (quiet by default)', () => {
  const failure = ApplicationFailure.nonRetryable(
    'strategy.pruningRatio: Input should be less than or equal to 0.95',
    'RequestError',
  );

  test('an expected activity failure is one line: activity, workflow, type and message; no stack', () => {
    const line = formatWorkerLog(
      entry('Activity failed', {
        activityType: 'pruneTrial',
        workflowId: 'c1--t1',
        error: failure,
        durationMs: 12,
      }),
      false,
    );
    expect(line).toBe(
      '2025-12-01T14:40:00.000Z [WARN] Activity failed: pruneTrial (workflow c1--t1): ApplicationFailure: ' +
        'strategy.pruningRatio: Input should be less than or equal to 0.95',
    );
    expect(line!.split('\n')).toHaveLength(1);
  });

  test('--verbose adds the stack', () => {
    const line = formatWorkerLog(
      entry('Activity failed', { activityType: 'pruneTrial', error: failure }),
      true,
    )!;
    expect(line.split('\n').length).toBeGreaterThan(2);
    expect(line).toContain('    at ');
  });

  test('"No workflows registered" on an activity-only queue is dropped; other lines keep their metadata', () => {
    expect(
      formatWorkerLog(
        entry('No workflows registered, not polling for workflow tasks', { taskQueue: 'gpu' }),
        false,
      ),
    ).toBeNull();
    expect(formatWorkerLog(entry('Worker state changed', { state: 'STOPPING' }), false)).toBe(
      '2025-12-01T14:40:00.000Z [WARN] Worker state changed state=STOPPING',
    );
  });
});
