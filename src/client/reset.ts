import type { Client } from '@temporalio/client';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import Long from 'long';
import type { ProposeInput } from '../agents/agent';

/**
 * Reset a search workflow so it re-runs from attempt `attempt`: Temporal's reset to the workflow task
 * that scheduled that attempt's proposal. Attempts before it are replayed from history; the new run
 * proposes attempt `attempt` afresh (with whatever agent, band or override applies then).
 * Returns the new run id.
 */
export async function resetToAttempt(
  client: Client,
  workflowId: string,
  attempt: number,
  reason: string,
): Promise<string> {
  const handle = client.workflow.getHandle(workflowId);
  const history = await handle.fetchHistory();
  const events = history.events ?? [];
  let lastTaskCompleted: number | undefined;
  let target: number | undefined;
  for (const ev of events) {
    const id = Number(ev.eventId ?? 0);
    if (ev.workflowTaskCompletedEventAttributes) lastTaskCompleted = id;
    const s = ev.activityTaskScheduledEventAttributes;
    if (s?.activityType?.name === 'proposeStrategy') {
      const input = defaultPayloadConverter.fromPayload(s.input?.payloads?.[0] as Payload) as ProposeInput;
      if (input.history.length === attempt - 1) {
        target = lastTaskCompleted;
        break;
      }
    }
  }
  if (target === undefined) {
    throw new Error(
      `${workflowId} has no proposal for attempt ${attempt} in its current run (see \`campaign log\`)`,
    );
  }
  const desc = await handle.describe();
  const res = await client.workflowService.resetWorkflowExecution({
    namespace: client.options.namespace,
    workflowExecution: { workflowId, runId: desc.runId },
    workflowTaskFinishEventId: Long.fromNumber(target),
    reason,
    requestId: `reset-${workflowId}-${attempt}-${desc.runId}`,
  });
  return (res as { runId?: string | null }).runId ?? '';
}
