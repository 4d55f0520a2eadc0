import type { Client } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import { TaskQueues, type QueueName } from '../workflows/presets';

/** How long after its last poll a worker still counts as there: an idle worker re-polls within ~70 s. */
export const POLLER_STALE_MS = 90_000;

/** When each worker last polled one task queue (ms since the epoch), for one kind of task. */
export interface QueuePollers {
  queue: QueueName;
  kind: 'workflows' | 'activities';
  lastPollMs: number[];
}

/**
 * Why a running campaign may not move: one line per task queue no worker has polled within `staleMs`,
 * saying how to start one.
 *
 * @example
 * missingWorkers([{ queue: 'gpu', kind: 'activities', lastPollMs: [] }], Date.now())
 * // ['no worker is polling task queue "gpu" (activities): start one with `agentic-pruner worker --queues gpu`']
 */
export function missingWorkers(
  pollers: readonly QueuePollers[],
  nowMs: number,
  staleMs = POLLER_STALE_MS,
): string[] {
  return pollers
    .filter((p) => !p.lastPollMs.some((t) => nowMs - t <= staleMs))
    .map(
      (p) =>
        `no worker is polling task queue "${TaskQueues[p.queue]}" (${p.kind}): start one with \`agentic-pruner worker --queues ${p.queue}\``,
    );
}

/** Who polls the queues a campaign needs: `control` for its workflows, `gpu` for its engine jobs. */
export async function campaignQueuePollers(client: Client): Promise<QueuePollers[]> {
  const T = temporal.api.enums.v1.TaskQueueType;
  const ask = async (queue: QueueName, kind: QueuePollers['kind']): Promise<QueuePollers> => {
    const res = await client.workflowService.describeTaskQueue({
      namespace: client.options.namespace,
      taskQueue: { name: TaskQueues[queue] },
      taskQueueType: kind === 'workflows' ? T.TASK_QUEUE_TYPE_WORKFLOW : T.TASK_QUEUE_TYPE_ACTIVITY,
    });
    const lastPollMs = (res.pollers ?? []).map((p) => Number(p.lastAccessTime?.seconds ?? 0) * 1000);
    return { queue, kind, lastPollMs };
  };
  return Promise.all([ask('control', 'workflows'), ask('gpu', 'activities')]);
}
