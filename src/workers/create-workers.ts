import type { NativeConnection } from '@temporalio/worker';
import { Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities';
import { activitiesOn, TaskQueues, type QueueName } from '../workflows/presets';

export type { QueueName };

/** Options of {@link createWorkers}. */
export interface CreateWorkersOptions {
  connection: NativeConnection;
  namespace: string;
  queues: QueueName[];
  deps: ActivityDeps;
  /** A pre-built workflow bundle (tests bundle once per run); otherwise workflows are bundled from source. */
  workflowBundle?: { codePath: string };
  /** Concurrent activities per queue. @default control 8, gpu 1 */
  concurrency?: Partial<Record<QueueName, number>>;
}

/** The longest the worker holds back an activity's heartbeat before sending it to the server. */
export const HEARTBEAT_THROTTLE = '5 seconds';

function pick<T extends object, K extends keyof T>(obj: T, keys: readonly K[]): Pick<T, K> {
  const out = {} as Pick<T, K>;
  for (const k of keys) out[k] = obj[k];
  return out;
}

/**
 * Build the workers of one process: `control` runs workflows, LLM calls and small storage moves;
 * `gpu` runs engine jobs one at a time (the engine owns the accelerator). Each registers the activities
 * the routing table (`ActivityQueues` in workflows/presets.ts) puts on its queue.
 */
export async function createWorkers(opts: CreateWorkersOptions): Promise<Worker[]> {
  const activities = createActivities(opts.deps);
  const workers: Worker[] = [];
  for (const queue of opts.queues) {
    const base: WorkerOptions = {
      connection: opts.connection,
      namespace: opts.namespace,
      taskQueue: TaskQueues[queue],
      activities: pick(activities, activitiesOn(queue)),
      // Heartbeats reach the server at least this often (the SDK's default holds them back for up to
      // 0.8 x the heartbeat timeout): the short engine heartbeat timeouts keep a wide margin.
      maxHeartbeatThrottleInterval: HEARTBEAT_THROTTLE,
    };
    if (queue === 'control') {
      workers.push(
        await Worker.create({
          ...base,
          ...(opts.workflowBundle
            ? { workflowBundle: opts.workflowBundle }
            : { workflowsPath: require.resolve('../workflows') }),
          maxConcurrentActivityTaskExecutions: opts.concurrency?.control ?? 8,
        }),
      );
    } else {
      workers.push(
        await Worker.create({
          ...base,
          maxConcurrentActivityTaskExecutions: opts.concurrency?.gpu ?? 1,
        }),
      );
    }
  }
  return workers;
}
