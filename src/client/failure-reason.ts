import type { temporal } from '@temporalio/proto';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;
type Failure = temporal.api.failure.v1.IFailure;

/** A failure as the SDK throws it or as history records it: a message and an optional cause. */
interface FailureLike {
  message?: string | null;
  cause?: unknown;
}

// Temporal's wrapper messages say where a failure passed, not why it happened.
const WRAPPERS = [
  /^Activity task failed$/,
  /^Child Workflow execution failed$/,
  /^Workflow execution failed$/,
  /^Activity task timed out$/,
];

/**
 * The one-line reason of a failure: the innermost message that is not one of Temporal's wrappers
 * ("Activity task failed"), first line only.
 *
 * @example
 * // ActivityFailure('Activity task failed') <- ApplicationFailure("engine profile: unknown model 'resnet19'; ...")
 * failureReason(err) // "engine profile: unknown model 'resnet19'; ..."
 */
export function failureReason(failure: FailureLike | null | undefined): string {
  let reason = '';
  for (let f = failure; f; f = f.cause as FailureLike | null | undefined) {
    const message = (f.message ?? '').trim();
    if (message && !WRAPPERS.some((w) => w.test(message))) reason = message;
  }
  if (!reason) reason = (failure?.message ?? '').trim() || 'no reason recorded';
  return reason.split('\n')[0] ?? reason;
}

/**
 * Why a closed workflow did not complete, read from its history's last event: the failure's reason, the
 * termination's reason, "cancelled" or "timed out"; `undefined` when it completed or still runs.
 */
export function closeReason(events: readonly HistoryEvent[]): string | undefined {
  const last = events.at(-1);
  if (!last) return undefined;
  if (last.workflowExecutionFailedEventAttributes)
    return failureReason(last.workflowExecutionFailedEventAttributes.failure as Failure | null);
  if (last.workflowExecutionTerminatedEventAttributes)
    return `terminated${last.workflowExecutionTerminatedEventAttributes.reason ? `: ${last.workflowExecutionTerminatedEventAttributes.reason}` : ''}`;
  if (last.workflowExecutionCanceledEventAttributes) return 'cancelled';
  if (last.workflowExecutionTimedOutEventAttributes) return 'timed out';
  return undefined;
}
