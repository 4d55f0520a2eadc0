import type { NativeConnection } from '@temporalio/worker';
import { Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities';
import { TaskQueues } from '../workflows/presets';

/** Which task queues a process serves. */
export type QueueName = keyof typeof TaskQueues;

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

const CONTROL_ACTIVITIES = ['proposeStrategy', 'saveStrategyLog', 'loadStrategyLog'] as const;
const GPU_ACTIVITIES = [
  'profileModel',
  'pruneTrial',
  'fineTune',
  'evaluateModel',
  'deploymentCheck',
] as const;

function pick<T extends object, K extends keyof T>(obj: T, keys: readonly K[]): Pick<T, K> {
  const out = {} as Pick<T, K>;
  for (const k of keys) out[k] = obj[k];
  return out;
}

/**
 * Build the workers of one process: `control` runs workflows, LLM calls and small storage moves;
 * `gpu` runs engine jobs one at a time (the engine owns the accelerator).
 */
export async function createWorkers(opts: CreateWorkersOptions): Promise<Worker[]> {
  const activities = createActivities(opts.deps);
  const workers: Worker[] = [];
  for (const queue of opts.queues) {
    const base: WorkerOptions = {
      connection: opts.connection,
      namespace: opts.namespace,
      taskQueue: TaskQueues[queue],
    };
    if (queue === 'control') {
      workers.push(
        await Worker.create({
          ...base,
          ...(opts.workflowBundle
            ? { workflowBundle: opts.workflowBundle }
            : { workflowsPath: require.resolve('../workflows') }),
          activities: pick(activities, CONTROL_ACTIVITIES),
          maxConcurrentActivityTaskExecutions: opts.concurrency?.control ?? 8,
        }),
      );
    } else {
      workers.push(
        await Worker.create({
          ...base,
          activities: pick(activities, GPU_ACTIVITIES),
          maxConcurrentActivityTaskExecutions: opts.concurrency?.gpu ?? 1,
        }),
      );
    }
  }
  return workers;
}
