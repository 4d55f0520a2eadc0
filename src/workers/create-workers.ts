import * as os from 'node:os';
import type { NativeConnection } from '@temporalio/worker';
import { Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities, type ActivityDeps } from '../activities';
import { activitiesOn, TaskQueues, trainQueueFor, type QueueName } from '../workflows/presets';

export type { QueueName };

/** Options of {@link createWorkers}. */
export interface CreateWorkersOptions {
  connection: NativeConnection;
  namespace: string;
  queues: QueueName[];
  deps: ActivityDeps;
  /** A pre-built workflow bundle (tests bundle once per run); otherwise workflows are bundled from source. */
  workflowBundle?: { codePath: string };
  /**
   * Device slots of this process: how many `trials` and `train` jobs it runs at once (one per slot; the
   * deps' engines are pinned per slot, see workers/device-slots.ts). @default 1
   */
  slots?: number;
  /** Devices per `train` slot: the train worker polls `trainQueueFor(gpusPerJob)`. @default 1 */
  gpusPerJob?: number;
}

/** The longest the worker holds back an activity's heartbeat before sending it to the server. */
export const HEARTBEAT_THROTTLE = '5 seconds';

/**
 * How a worker introduces itself to the server (shown by DescribeTaskQueue, read by `campaign show`):
 * `<pid>@<host> <queue> slots=<n>`, so a campaign can tell how many slots poll a queue.
 */
export function workerIdentity(queue: string, slots: number): string {
  return `${process.pid}@${os.hostname()} ${queue} slots=${slots}`;
}

/**
 * The task queue on which the workers of `taskQueue` say they are there. A worker whose slots are all busy
 * stops polling its queue (it has nowhere to run a task), so after a long fine-tune starts the server no
 * longer lists it there; it keeps one poll open on this queue, where nothing is ever scheduled, for as
 * long as it runs. DescribeTaskQueue on it tells who serves `taskQueue` and with how many slots.
 */
export function presenceQueue(taskQueue: string): string {
  return `${taskQueue}-workers`;
}

/** The one activity a presence queue registers (never scheduled: a worker must register something). */
const presenceActivities = { workerPresence: (): Promise<void> => Promise.resolve() };

/** The slot count a worker identity advertises (see {@link workerIdentity}); 1 when it says none. */
export function slotsOfIdentity(identity: string): number {
  const m = /\bslots=(\d+)\b/.exec(identity);
  return m ? Number(m[1]) : 1;
}

function pick<T extends object, K extends keyof T>(obj: T, keys: readonly K[]): Pick<T, K> {
  const out = {} as Pick<T, K>;
  for (const k of keys) out[k] = obj[k];
  return out;
}

/**
 * Build the workers of one process: `control` runs workflows, LLM calls and small storage moves;
 * `trials` the short engine jobs and `train` the long ones, each up to one job per device slot (the
 * engines own the accelerators). Each registers the activities the routing table (`ActivityQueues` in
 * workflows/presets.ts) puts on its queue.
 */
export async function createWorkers(opts: CreateWorkersOptions): Promise<Worker[]> {
  const activities = createActivities(opts.deps);
  const slots = opts.slots ?? 1;
  const workers: Worker[] = [];
  for (const queue of opts.queues) {
    const taskQueue = queue === 'train' ? trainQueueFor(opts.gpusPerJob ?? 1) : TaskQueues[queue];
    // Control runs short activities (proposals, logs) 8 at a time; trials and train one job per slot.
    const concurrency = queue === 'control' ? 8 : slots;
    const base: WorkerOptions = {
      connection: opts.connection,
      namespace: opts.namespace,
      taskQueue,
      identity: workerIdentity(taskQueue, concurrency),
      activities: pick(activities, activitiesOn(queue)),
      // Heartbeats reach the server at least this often (the SDK's default holds them back for up to
      // 0.8 x the heartbeat timeout): the short engine heartbeat timeouts keep a wide margin.
      maxHeartbeatThrottleInterval: HEARTBEAT_THROTTLE,
      // One job per slot: a worker never takes a task it has no free device for, so the task waits on the
      // queue (visible to `campaign show`) and another worker with a free slot can take it.
      maxConcurrentActivityTaskExecutions: concurrency,
    };
    if (queue === 'control') {
      workers.push(
        await Worker.create({
          ...base,
          ...(opts.workflowBundle
            ? { workflowBundle: opts.workflowBundle }
            : { workflowsPath: require.resolve('../workflows') }),
        }),
      );
    } else {
      workers.push(await Worker.create(base));
      workers.push(
        await Worker.create({
          connection: opts.connection,
          namespace: opts.namespace,
          taskQueue: presenceQueue(taskQueue),
          identity: base.identity!,
          activities: presenceActivities,
          maxConcurrentActivityTaskExecutions: 1,
          maxConcurrentActivityTaskPolls: 1,
        }),
      );
    }
  }
  return workers;
}
