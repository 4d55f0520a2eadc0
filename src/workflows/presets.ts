import type { ActivityOptions } from '@temporalio/workflow';
import type { Activities } from '../activities';
import { FailureTypes } from '../activities/failure-types';

/**
 * Task queues, by kind of work: `control` runs workflows, LLM calls and small storage moves; `trials` the
 * short engine jobs (profile, prune trials, scoring: seconds each); `train` the long ones that hold a device
 * for hours or days (fine-tune, evaluation, deployment check). A one-second trial never waits behind a
 * fine-tune, and a device worker runs one `train` job per device slot.
 */
export const TaskQueues = { control: 'control', trials: 'trials', train: 'train' } as const;

/** A task queue a worker process can serve. */
export type QueueName = keyof typeof TaskQueues;

/** The queue names a worker may be asked to serve, in order (for `--queues` and its errors). */
export const QUEUE_NAMES = Object.keys(TaskQueues) as QueueName[];

/** The name of an activity, as registered by the worker and scheduled by workflows. */
export type ActivityName = keyof Activities;

/**
 * The one routing table: which task queue serves each activity. The presets below take their
 * `taskQueue` from it and workers derive the activities they register from it ({@link activitiesOn}),
 * so an activity is scheduled on exactly the queue whose workers can run it.
 *
 * Changing an activity's queue is replay-safe (Temporal's determinism check compares an activity's type
 * and id, not its queue: tests/replay replays histories recorded on the older `gpu` queue), but an
 * activity already scheduled on the old queue stays there until a worker of that queue takes it: see
 * docs/upgrades.md.
 */
export const ActivityQueues = {
  proposeStrategy: 'control',
  saveStrategyLog: 'control',
  loadStrategyLog: 'control',
  discardIncompleteUploads: 'control',
  profileModel: 'trials',
  pruneTrial: 'trials',
  fineTune: 'train',
  evaluateModel: 'train',
  deploymentCheck: 'train',
  scoreCandidate: 'trials',
  measureSensitivity: 'trials',
  planRecovery: 'trials',
} as const satisfies Record<ActivityName, QueueName>;

/** The activities a worker on `queue` registers, in routing-table order. */
export function activitiesOn(queue: QueueName): ActivityName[] {
  return (Object.keys(ActivityQueues) as ActivityName[]).filter((a) => ActivityQueues[a] === queue);
}

/** The task queue of a preset that serves `names`; they must share one queue (checked at module load). */
function queueOf(...names: [ActivityName, ...ActivityName[]]): (typeof TaskQueues)[QueueName] {
  const queues = new Set(names.map((n) => ActivityQueues[n]));
  if (queues.size !== 1) throw new Error(`one preset serves ${names.join(', ')} on different queues`);
  return TaskQueues[ActivityQueues[names[0]]];
}

/**
 * The task queue of a fine-tune that needs `gpus` devices on one host: `train` for one, `train-gpus-<N>`
 * for more. A worker started with `--gpus-per-job N` polls `train-gpus-<N>` and has slots of N devices
 * each, so the queue name is how a worker advertises the size of its slots: a job is only ever taken by a
 * worker that can hold it, and a campaign can ask the server whether any worker polls that queue.
 *
 * @example
 * trainQueueFor(1) // 'train'
 * trainQueueFor(4) // 'train-gpus-4'
 */
export function trainQueueFor(gpus: number): string {
  return gpus > 1 ? `${TaskQueues.train}-gpus-${gpus}` : TaskQueues.train;
}

/**
 * The heartbeat timeout of every engine activity but the fine-tune (whose timeout is the campaign's
 * `finetune.heartbeatTimeoutSec`): how long the server waits after a worker's last heartbeat before it
 * retries the activity on another worker. The activities heartbeat every few seconds whatever the engine
 * is doing (src/activities/heartbeat.ts), so this only has to outlast a heartbeat or two in flight.
 */
export const ENGINE_HEARTBEAT_TIMEOUT = '20 seconds';

/**
 * Timeout/retry presets, declared once and named. Permanent failures are non-retryable
 * ApplicationFailures thrown by the activities themselves; everything else is retried by these policies.
 */
export const ActivityPresets = {
  /** Profile a dense model: import torch, build, trace, count (minutes on a cold CPU host). */
  profile: {
    taskQueue: queueOf('profileModel'),
    startToCloseTimeout: '30 minutes',
    heartbeatTimeout: ENGINE_HEARTBEAT_TIMEOUT,
    retry: { maximumAttempts: 3, initialInterval: '2s', backoffCoefficient: 2 },
  },
  /** One prune trial on the warm engine (about a second warm; a cold start pays imports). */
  pruneTrial: {
    taskQueue: queueOf('pruneTrial'),
    startToCloseTimeout: '20 minutes',
    heartbeatTimeout: ENGINE_HEARTBEAT_TIMEOUT,
    retry: { maximumAttempts: 3, initialInterval: '2s', backoffCoefficient: 2 },
  },
  /** An LLM or solver proposal. The SDK retries 429/529 itself; the agent falls back on its own. */
  llmCall: {
    taskQueue: queueOf('proposeStrategy'),
    startToCloseTimeout: '5 minutes',
    retry: { maximumAttempts: 3, initialInterval: '1s', backoffCoefficient: 2 },
  },
  /** Small artifact moves (strategy log snapshots, reports). */
  storage: {
    taskQueue: queueOf('saveStrategyLog', 'loadStrategyLog', 'discardIncompleteUploads'),
    startToCloseTimeout: '5 minutes',
    retry: { maximumAttempts: 10, initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1 minute' },
  },
  /** Fine-tuning: days long, heartbeats carry the last checkpoint reference. */
  fineTune: {
    taskQueue: queueOf('fineTune'),
    startToCloseTimeout: '14 days',
    heartbeatTimeout: '5 minutes',
    retry: {
      maximumAttempts: 20,
      // A retry after a dead worker starts at once (the heartbeat timeout already waited); a crash loop backs off.
      initialInterval: '1s',
      backoffCoefficient: 2,
      maximumInterval: '5 minutes',
      nonRetryableErrorTypes: [
        FailureTypes.engineRequest,
        FailureTypes.outOfMemory,
        FailureTypes.checkpointMismatch,
        FailureTypes.config,
      ],
    },
  },
  /**
   * Scoring candidates (zero-shot, or a short recovery fine-tune) and the per-stage sensitivity table, on
   * the warm engine. A crashed engine (`EngineCrashed`) is retried; bad config is not.
   */
  scoring: {
    taskQueue: queueOf('scoreCandidate', 'measureSensitivity', 'planRecovery'),
    startToCloseTimeout: '2 hours',
    heartbeatTimeout: ENGINE_HEARTBEAT_TIMEOUT,
    retry: {
      maximumAttempts: 3,
      initialInterval: '2s',
      backoffCoefficient: 2,
      nonRetryableErrorTypes: [
        FailureTypes.engineRequest,
        FailureTypes.outOfMemory,
        FailureTypes.checkpointMismatch,
        FailureTypes.config,
      ],
    },
  },
  /** Evaluation of a fine-tuned (or dense) model on val/, in the engine. */
  evaluate: {
    taskQueue: queueOf('evaluateModel'),
    startToCloseTimeout: '1 day',
    heartbeatTimeout: ENGINE_HEARTBEAT_TIMEOUT,
    retry: { maximumAttempts: 5, initialInterval: '1s', backoffCoefficient: 2 },
  },
  /**
   * The deployment check: export, ONNX agreement and latency on the worker. onnxruntime runs on a thread of
   * its own (src/onnx/ort-runner.ts), so the worker's heartbeat timer fires through a measurement and the
   * engine activities' timeout holds here too (it was 30 s while onnxruntime ran on the main thread).
   */
  deploy: {
    taskQueue: queueOf('deploymentCheck'),
    startToCloseTimeout: '1 day',
    heartbeatTimeout: ENGINE_HEARTBEAT_TIMEOUT,
    retry: { maximumAttempts: 5, initialInterval: '1s', backoffCoefficient: 2 },
  },
} satisfies Record<string, ActivityOptions>;
