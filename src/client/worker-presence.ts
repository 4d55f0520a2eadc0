import type { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import type { ProfileHeartbeat, ScoreHeartbeat, SensitivityHeartbeat, TrialHeartbeat } from '../activities';
import { failureReason } from './failure-reason';
import { MODEL_LABEL } from '../storage/keys';
import { presenceQueue, slotsOfIdentity } from '../workers/create-workers';
import { TaskQueues, trainQueueFor } from '../workflows/presets';

/** How long after its last poll a worker still counts as there: an idle worker re-polls within ~70 s. */
export const POLLER_STALE_MS = 90_000;

/** When each worker last polled one task queue (ms since the epoch), for one kind of task. */
export interface QueuePollers {
  /** The task queue's name: `control`, `trials`, `train`, `train-gpus-4`... */
  queue: string;
  kind: 'workflows' | 'activities';
  lastPollMs: number[];
  /** Each poller's slot count, as its identity advertises it (`slots=<n>`); 1 for workers that say none. */
  slots?: number[];
}

/**
 * The command that starts a worker for a task queue, for messages.
 *
 * @example
 * startHint('train-gpus-4') // 'agentic-pruner worker --devices 0,1,2,3 --gpus-per-job 4'
 */
export function startHint(queue: string): string {
  const gpus = /^train-gpus-(\d+)$/.exec(queue);
  if (gpus) {
    const n = Number(gpus[1]);
    return `agentic-pruner worker --devices ${Array.from({ length: n }, (_, i) => i).join(',')} --gpus-per-job ${n}`;
  }
  if (queue === TaskQueues.train || queue === TaskQueues.trials) return 'agentic-pruner worker --devices 1';
  return `agentic-pruner worker --queues ${queue}`;
}

/** The pollers seen within `staleMs` of `nowMs`. */
function freshPollers(p: QueuePollers, nowMs: number, staleMs: number): number[] {
  return p.lastPollMs.map((t, i) => (nowMs - t <= staleMs ? i : -1)).filter((i) => i >= 0);
}

/**
 * Why a running campaign may not move: one line per task queue no worker has polled within `staleMs`,
 * saying how to start one.
 *
 * @example
 * missingWorkers([{ queue: 'train', kind: 'activities', lastPollMs: [] }], Date.now())
 * // ['no worker is polling task queue "train" (activities): start one with `agentic-pruner worker --devices 1`']
 */
export function missingWorkers(
  pollers: readonly QueuePollers[],
  nowMs: number,
  staleMs = POLLER_STALE_MS,
): string[] {
  const unserved = pollers.filter((p) => !isServed(p, nowMs, staleMs));
  // Nothing runs at all (the first hour's usual case: no worker started yet): one process serves every queue.
  if (unserved.length > 1 && unserved.length === pollers.length)
    return [
      `no worker is polling any of the campaign's task queues (${unserved.map((p) => p.queue).join(', ')}): start one with \`agentic-pruner worker\` (every queue in one process)`,
    ];
  return unserved.map(
    (p) =>
      `no worker is polling task queue "${p.queue}" (${p.kind}): start one with \`${startHint(p.queue)}\``,
  );
}

/** Who polls one task queue, as the server's DescribeTaskQueue says. */
export async function queuePollers(
  client: Client,
  queue: string,
  kind: QueuePollers['kind'],
): Promise<QueuePollers> {
  const T = temporal.api.enums.v1.TaskQueueType;
  const res = await client.workflowService.describeTaskQueue({
    namespace: client.options.namespace,
    taskQueue: { name: queue },
    taskQueueType: kind === 'workflows' ? T.TASK_QUEUE_TYPE_WORKFLOW : T.TASK_QUEUE_TYPE_ACTIVITY,
  });
  const pollers = res.pollers ?? [];
  return {
    queue,
    kind,
    lastPollMs: pollers.map((p) => Number(p.lastAccessTime?.seconds ?? 0) * 1000),
    slots: pollers.map((p) => slotsOfIdentity(p.identity ?? '')),
  };
}

/**
 * The workers that serve an activity task queue, busy or not: the pollers of its presence queue (a worker
 * whose slots are all busy does not poll the queue itself), under the queue's own name.
 */
export async function queueWorkers(client: Client, queue: string): Promise<QueuePollers> {
  // Control workers run short activities (proposals, logs) and have no presence queue: they poll `control` itself.
  if (queue === TaskQueues.control) return queuePollers(client, queue, 'activities');
  return { ...(await queuePollers(client, presenceQueue(queue), 'activities')), queue };
}

/**
 * Who serves the queues a campaign needs: `control` for its workflows, `trials` and `train` for engine jobs,
 * and `train-gpus-N` for its fine-tunes when they take `gpus` > 1 devices.
 */
export async function campaignQueuePollers(client: Client, gpus = 1): Promise<QueuePollers[]> {
  return Promise.all([
    queuePollers(client, TaskQueues.control, 'workflows'),
    queueWorkers(client, TaskQueues.trials),
    queueWorkers(client, TaskQueues.train),
    ...(gpus > 1 ? [queueWorkers(client, trainQueueFor(gpus))] : []),
  ]);
}

/** Whether some worker polled this queue within `staleMs` of `nowMs`. */
export function isServed(p: QueuePollers, nowMs: number, staleMs = POLLER_STALE_MS): boolean {
  return freshPollers(p, nowMs, staleMs).length > 0;
}

/** An activity the server holds on its task queue because no worker has taken it (yet). */
export interface WaitingJob {
  workflowId: string;
  activityType: string;
  /** The target it serves, when its input names one. */
  targetLabel: string | undefined;
  queue: string;
  /** How long it has waited, at the time of the description. */
  waitingMs: number;
  /** Attempt number (> 1: a retry, e.g. after its worker died). */
  attempt: number;
  /** Workers that serve its queue (seen within {@link POLLER_STALE_MS}), and the slots they advertise. */
  pollers: number;
  slots: number;
}

export type History = Awaited<ReturnType<ReturnType<Client['workflow']['getHandle']>['fetchHistory']>>;
type Description = Awaited<ReturnType<ReturnType<Client['workflow']['getHandle']>['describe']>>;
export type PendingActivity = NonNullable<Description['raw']['pendingActivities']>[number];

function scheduledEvent(history: History, activityId: string) {
  return (history.events ?? []).find((e) => e.activityTaskScheduledEventAttributes?.activityId === activityId)
    ?.activityTaskScheduledEventAttributes;
}

/** The `targetLabel` of an activity's input, from its ActivityTaskScheduled event, when it names one. */
export function scheduledTarget(history: History, activityId: string): string | undefined {
  try {
    const arg = scheduledEvent(history, activityId)?.input?.payloads?.[0];
    const input = arg ? (defaultPayloadConverter.fromPayload(arg) as { targetLabel?: unknown }) : undefined;
    return typeof input?.targetLabel === 'string' ? input.targetLabel : undefined;
  } catch {
    return undefined; // an input this client cannot decode
  }
}

/** An activity that failed and is tried again (after a worker died, a store outage, a full disk...). */
export interface RetryingJob {
  workflowId: string;
  activityType: string;
  targetLabel: string | undefined;
  /** The attempt now running or next due (2 or more). */
  attempt: number;
  /** The retry policy's limit, when it has one. */
  maximumAttempts: number | undefined;
  /** Why the last attempt failed, in one line. */
  reason: string;
  /** Until the next attempt is due, when it waits out a backoff. */
  nextInMs: number | undefined;
}

/**
 * A campaign's or a search's engine job a worker is running, with the progress its last heartbeat reached the
 * server with (heartbeats are throttled: seconds old): the dense model's profile, the sensitivity table, a
 * prune trial or a candidate's score. The final fine-tune has its own line (`fineTuneLine`).
 */
export type RunningJob = (
  | { activityType: 'profileModel'; details: ProfileHeartbeat }
  | { activityType: 'measureSensitivity'; details: SensitivityHeartbeat }
  | { activityType: 'pruneTrial'; details: TrialHeartbeat }
  | { activityType: 'scoreCandidate'; details: ScoreHeartbeat }
  /** The campaign's scoring plan: the engine counts `train/` for the final fine-tune's steps or an epoch. */
  | { activityType: 'planRecovery'; details: { stage: string } }
) & {
  workflowId: string;
  /** How long before the description the server got that heartbeat, when it says (never below 0). */
  heartbeatAgeMs?: number;
};

/** The activities {@link RunningJob} reports. */
const REPORTED_RUNNING = new Set([
  'profileModel',
  'measureSensitivity',
  'pruneTrial',
  'scoreCandidate',
  'planRecovery',
]);

/** What the engine's profile stages mean, in a running line (other stages are printed as they are). */
const PROFILE_STAGES: Record<string, string> = {
  building: 'building the model',
  counting: 'counting MACs and parameters',
  grouping: 'finding the pruning groups',
  exporting: 'exporting ONNX',
};

/** The details of a pending activity's last heartbeat, when it has one this client can decode. */
export function lastHeartbeat(a: PendingActivity): unknown {
  const payload = a.heartbeatDetails?.payloads?.[0];
  if (!payload) return undefined;
  try {
    return defaultPayloadConverter.fromPayload(payload);
  } catch {
    return undefined; // details this client cannot decode
  }
}

/** `a`'s heartbeat details as a {@link RunningJob}, when it is one that reports and they decode. */
function runningJob(workflowId: string, a: PendingActivity, nowMs: number): RunningJob | undefined {
  const type = a.activityType?.name ?? '';
  if (!REPORTED_RUNNING.has(type)) return undefined;
  const details = lastHeartbeat(a) as { stage?: unknown } | undefined;
  if (typeof details?.stage !== 'string') return undefined;
  const beatSeconds = Number(a.lastHeartbeatTime?.seconds ?? 0);
  const age = beatSeconds > 0 ? { heartbeatAgeMs: Math.max(0, nowMs - beatSeconds * 1000) } : {};
  return { workflowId, activityType: type, details, ...age } as RunningJob;
}

/**
 * The pending activities of these workflows that a user should hear about: those that wait on a task
 * queue for a worker with a free slot (pending and not started; a retry's backoff is not waiting for a
 * slot), each with its queue (from the history's ActivityTaskScheduled event) and who polls it; those
 * being retried, each with why its last attempt failed; and the searches' engine jobs that are running,
 * with their progress ({@link RunningJob}).
 */
export async function pendingJobs(
  client: Client,
  workflowIds: readonly string[],
  nowMs: number,
  known: ReadonlyMap<string, { history?: History | undefined; description?: Description }> = new Map(),
): Promise<{ waiting: WaitingJob[]; retrying: RetryingJob[]; running: RunningJob[] }> {
  const SCHEDULED = temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_SCHEDULED;
  const STARTED = temporal.api.enums.v1.PendingActivityState.PENDING_ACTIVITY_STATE_STARTED;
  const waiting: WaitingJob[] = [];
  const retrying: RetryingJob[] = [];
  const running: RunningJob[] = [];
  const pollersOf = new Map<string, Promise<QueuePollers>>();
  for (const workflowId of workflowIds) {
    const handle = client.workflow.getHandle(workflowId);
    const desc = known.get(workflowId)?.description ?? (await handle.describe().catch(() => undefined)); // a search not started yet
    if (desc?.status.name !== 'RUNNING') continue;
    for (const a of desc.raw.pendingActivities ?? []) {
      const job = a.state === STARTED ? runningJob(workflowId, a, nowMs) : undefined;
      if (job) running.push(job);
    }
    const isRetry = (a: PendingActivity) => (a.attempt ?? 1) > 1 && !!a.lastFailure;
    const dueAt = (a: PendingActivity) => Number(a.nextAttemptScheduleTime?.seconds ?? 0) * 1000;
    const isDue = (a: PendingActivity) => a.state === SCHEDULED && (dueAt(a) === 0 || dueAt(a) <= nowMs);
    // Only these need the history (their queue and target); a running search's other activities do not.
    const pending = (desc.raw.pendingActivities ?? []).filter((a) => isRetry(a) || isDue(a));
    if (pending.length === 0) continue;
    const history = known.get(workflowId)?.history ?? (await handle.fetchHistory());
    for (const a of pending) {
      const next = dueAt(a);
      const targetLabel = scheduledTarget(history, a.activityId ?? '');
      if (isRetry(a)) {
        retrying.push({
          workflowId,
          activityType: a.activityType?.name ?? '?',
          targetLabel,
          attempt: a.attempt ?? 2,
          maximumAttempts: a.maximumAttempts ? a.maximumAttempts : undefined,
          reason: failureReason(a.lastFailure),
          nextInMs: a.state === SCHEDULED && next > nowMs ? next - nowMs : undefined,
        });
      }
      if (!isDue(a)) continue;
      const scheduled = scheduledEvent(history, a.activityId ?? '');
      const queue = scheduled?.taskQueue?.name;
      if (!queue) continue;
      if (!pollersOf.has(queue)) pollersOf.set(queue, queueWorkers(client, queue));
      const p = await pollersOf.get(queue)!;
      const fresh = freshPollers(p, nowMs, POLLER_STALE_MS);
      // Waiting since the attempt was due: its first scheduling, or the end of a retry's backoff.
      const since = Number((a.nextAttemptScheduleTime ?? a.scheduledTime)?.seconds ?? 0) * 1000;
      const waitingMs = since > 0 ? Math.max(0, nowMs - since) : 0;
      // On a served queue a task a worker is about to take is not waiting: only one left for seconds is.
      if (fresh.length > 0 && waitingMs < BUSY_AFTER_MS) continue;
      waiting.push({
        workflowId,
        activityType: a.activityType?.name ?? '?',
        targetLabel,
        queue,
        waitingMs,
        attempt: a.attempt ?? 1,
        pollers: fresh.length,
        slots: fresh.reduce((sum, i) => sum + (p.slots?.[i] ?? 1), 0),
      });
    }
  }
  return { waiting, retrying, running };
}

/**
 * A job's target as its line names it: the label, or `dense model` for the campaign's jobs on the dense model
 * (its profile, evaluation, sensitivity table), which carry the store's {@link MODEL_LABEL}.
 *
 * @example shownTarget('_model') // 'dense model'
 */
export function shownTarget(label: string): string {
  return label === MODEL_LABEL ? 'dense model' : label;
}

/**
 * One line for an activity being retried, as `campaign show` and `watch` print it.
 *
 * @example
 * retryingLine({ activityType: 'profileModel', targetLabel: undefined, attempt: 2, maximumAttempts: 3, nextInMs: 1800,
 *   reason: 'artifact store: put /data/artifacts/campaigns/c1/_model/profile/profile.json failed (transient): ENOSPC: no space left on device, write', ... })
 * // 'profileModel (attempt 2 of 3, next try in 2 s): the last try failed: artifact store: put ... ENOSPC: no space left on device, write'
 */
export function retryingLine(j: RetryingJob): string {
  const what = `${j.activityType}${j.targetLabel ? ` ${shownTarget(j.targetLabel)}` : ''}`;
  const of = j.maximumAttempts ? ` of ${j.maximumAttempts}` : '';
  const next =
    j.nextInMs !== undefined ? `, next try in ${Math.max(1, Math.round(j.nextInMs / 1000))} s` : '';
  return `${what} (attempt ${j.attempt}${of}${next}): the last try failed: ${j.reason}`;
}

/** How long a task waits on a served queue before its line says every slot is busy. */
export const BUSY_AFTER_MS = 5000;

/**
 * One line for a waiting job, as `campaign show` and `watch` print it.
 *
 * @example
 * waitingLine({ activityType: 'fineTune', targetLabel: 't50', queue: 'train', waitingMs: 12_000, pollers: 2, slots: 2, ... })
 * // 'fineTune t50: waiting for a slot on task queue "train" for 12 s: 2 workers serve it with 2 slots, all busy'
 */
export function waitingLine(j: WaitingJob): string {
  const what = `${j.activityType}${j.targetLabel ? ` ${shownTarget(j.targetLabel)}` : ''}${j.attempt > 1 ? ` (attempt ${j.attempt})` : ''}`;
  const head = `${what}: waiting for a slot on task queue "${j.queue}" for ${Math.round(j.waitingMs / 1000)} s`;
  if (j.pollers === 0) return `${head}: no worker serves it; start one with \`${startHint(j.queue)}\``;
  // A free slot takes a task within milliseconds: one that waited seconds found every slot busy.
  const busy = j.waitingMs >= BUSY_AFTER_MS ? ', all busy' : '';
  return `${head}: ${j.pollers} worker${j.pollers === 1 ? '' : 's'} serve${j.pollers === 1 ? 's' : ''} it with ${j.slots} slot${j.slots === 1 ? '' : 's'}${busy}`;
}

/**
 * One line for a running search job, as `campaign status` and `watch` print it: what it is, how far its last
 * heartbeat said it was, and how old that heartbeat is when it is 1 s or more (the SDK throttles heartbeats).
 *
 * @example
 * runningLine({ activityType: 'measureSensitivity', details: { targetLabel: 't50', stage: 'sensitivity',
 *   fraction: 0.33, row: 7, rows: 18, layer: 'features.6', ratio: 0.5 }, ... })
 * // 't50: sensitivity table, row 7 of 18 (features.6 at 0.5)'
 * runningLine({ activityType: 'scoreCandidate', details: { targetLabel: 't50', attemptIndex: 4, mode: 'recovery',
 *   rescore: true, steps: 40, stage: 'train', step: 22, ... }, heartbeatAgeMs: 12_300, ... })
 * // 't50: scoring attempt 4 again (finalist, 40-step recovery): step 22 of 40 (12 s ago)'
 * runningLine({ activityType: 'pruneTrial', details: { targetLabel: 't50', attemptIndex: 3, importance: 'l2',
 *   ratio: 0.3125, stage: 'screening', fraction: 0.4 }, ... })
 * // 't50: prune trial attempt 3 (l2, ratio 0.313 as proposed): screening shapes into the band'
 * runningLine({ activityType: 'profileModel', details: { model: 'resnet50', stage: 'grouping', fraction: null }, ... })
 * // 'profiling resnet50: finding the pruning groups'
 * runningLine({ activityType: 'planRecovery', details: { stage: 'planning' }, ... })
 * // 'scoring plan: counting the train/ images'
 */
export function runningLine(j: RunningJob): string {
  const age =
    j.heartbeatAgeMs !== undefined && j.heartbeatAgeMs >= 1000
      ? ` (${Math.round(j.heartbeatAgeMs / 1000)} s ago)`
      : '';
  return `${runningWhat(j)}${age}`;
}

function runningWhat(j: RunningJob): string {
  // Before any search: a large train/ (ImageNet's 1.28 M images) takes a while to index.
  if (j.activityType === 'planRecovery') return 'scoring plan: counting the train/ images';
  if (j.activityType === 'profileModel') {
    const p = j.details;
    // Heartbeats of workers older than these details carry the stage alone.
    return `profiling${p.model !== undefined ? ` ${p.model}` : ''}: ${PROFILE_STAGES[p.stage] ?? p.stage}`;
  }
  const target = j.details.targetLabel ? `${shownTarget(j.details.targetLabel)}: ` : '';
  if (j.activityType === 'measureSensitivity') {
    const s = j.details;
    const where =
      s.row !== undefined && s.rows !== undefined
        ? `row ${s.row} of ${s.rows}${s.layer !== undefined && s.ratio !== undefined ? ` (${s.layer} at ${s.ratio})` : ''}`
        : s.stage;
    return `${target}sensitivity table, ${where}`;
  }
  if (j.activityType === 'pruneTrial') {
    const t = j.details;
    // Heartbeats of workers older than these details carry the stage alone.
    const what =
      t.attemptIndex !== undefined && t.ratio !== undefined
        ? ` attempt ${t.attemptIndex} (${t.importance}, ratio ${t.ratio.toFixed(3)} as proposed)`
        : '';
    const stage = t.stage === 'screening' ? 'screening shapes into the band' : t.stage;
    return `${target}prune trial${what}: ${stage}`;
  }
  const c = j.details;
  const attempt = c.attemptIndex !== undefined ? ` attempt ${c.attemptIndex}` : '';
  const how =
    c.mode === 'recovery'
      ? ` (${c.rescore ? 'finalist, ' : ''}${c.steps !== undefined ? `${c.steps}-step ` : ''}recovery)`
      : c.mode
        ? ` (${c.mode})`
        : '';
  const where =
    c.stage === 'train' ? `step ${c.step}${c.steps !== undefined ? ` of ${c.steps}` : ''}` : c.stage;
  return `${target}scoring${attempt}${c.rescore ? ' again' : ''}${how}: ${where}`;
}
