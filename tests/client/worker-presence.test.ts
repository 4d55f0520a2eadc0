// A running campaign that no worker serves says so in `campaign status`; a job that waits for a slot says
// on which queue and who serves it.
import {
  BUSY_AFTER_MS,
  missingWorkers,
  POLLER_STALE_MS,
  retryingLine,
  runningLine,
  startHint,
  waitingLine,
  type RetryingJob,
  type RunningJob,
  type WaitingJob,
} from '../../src/client/worker-presence';
import type { ProfileHeartbeat, TrialHeartbeat } from '../../src/activities';

const now = 1_800_000_000_000;

test.each([
  // [case, last polls of control (workflows), of train (its workers' presence), warnings]
  ['both served', [now - 1000], [now - 5000], []],
  ['no train worker ever', [now - 1000], [], ['train']],
  ['a train worker that stopped polling long ago', [now], [now - POLLER_STALE_MS - 1], ['train']],
  ['nothing at all: one line, one worker for every queue', [], [], ['all']],
  ['one of two control workers still polls', [now - 10 * POLLER_STALE_MS, now - 100], [now], []],
])('%s', (_case, control, train, queues) => {
  const lines = missingWorkers(
    [
      { queue: 'control', kind: 'workflows', lastPollMs: control },
      { queue: 'train', kind: 'activities', lastPollMs: train },
    ],
    now,
  );
  expect(lines).toEqual(
    queues.map((q) =>
      q === 'all'
        ? "no worker is polling any of the campaign's task queues (control, train): start one with `agentic-pruner worker` (every queue in one process)"
        : q === 'control'
          ? 'no worker is polling task queue "control" (workflows): start one with `agentic-pruner worker --queues control`'
          : 'no worker is polling task queue "train" (activities): start one with `agentic-pruner worker --devices 1`',
    ),
  );
});

test.each([
  ['control', 'agentic-pruner worker --queues control'],
  ['trials', 'agentic-pruner worker --devices 1'],
  ['train', 'agentic-pruner worker --devices 1'],
  ['train-gpus-4', 'agentic-pruner worker --devices 0,1,2,3 --gpus-per-job 4'],
])('start hint for %s', (queue, hint) => expect(startHint(queue)).toBe(hint));

const job = (over: Partial<WaitingJob>): WaitingJob => ({
  workflowId: 'c1',
  activityType: 'fineTune',
  targetLabel: 't50',
  queue: 'train',
  waitingMs: 12_400,
  attempt: 1,
  pollers: 2,
  slots: 2,
  ...over,
});

test.each([
  [
    'two workers, every slot busy',
    job({}),
    'fineTune t50: waiting for a slot on task queue "train" for 12 s: 2 workers serve it with 2 slots, all busy',
  ],
  [
    'just scheduled: not yet called busy',
    job({ waitingMs: BUSY_AFTER_MS - 1, pollers: 1, slots: 4 }),
    'fineTune t50: waiting for a slot on task queue "train" for 5 s: 1 worker serves it with 4 slots',
  ],
  [
    'a retry after its worker died, nobody left',
    job({ attempt: 2, pollers: 0, slots: 0, queue: 'train-gpus-2' }),
    'fineTune t50 (attempt 2): waiting for a slot on task queue "train-gpus-2" for 12 s: no worker serves it; start one with `agentic-pruner worker --devices 0,1 --gpus-per-job 2`',
  ],
  [
    'a trial without a target in its input',
    job({ activityType: 'pruneTrial', targetLabel: undefined, queue: 'trials', waitingMs: 61_000 }),
    'pruneTrial: waiting for a slot on task queue "trials" for 61 s: 2 workers serve it with 2 slots, all busy',
  ],
  [
    "the dense model's evaluation: named as the dense model, not by the store's label",
    job({ activityType: 'evaluateModel', targetLabel: '_model', queue: 'trials', waitingMs: 7000 }),
    'evaluateModel dense model: waiting for a slot on task queue "trials" for 7 s: 2 workers serve it with 2 slots, all busy',
  ],
])('waiting line: %s', (_case, j, line) => expect(waitingLine(j)).toBe(line));

const retry = (over: Partial<RetryingJob>): RetryingJob => ({
  workflowId: 'c1',
  activityType: 'profileModel',
  targetLabel: undefined,
  attempt: 2,
  maximumAttempts: 3,
  reason:
    'artifact store: put /data/artifacts/campaigns/c1/_model/profile/profile.json failed (transient): ENOSPC: no space left on device, write',
  nextInMs: 1800,
  ...over,
});

test.each([
  [
    'a full disk, waiting out the backoff',
    retry({}),
    'profileModel (attempt 2 of 3, next try in 2 s): the last try failed: artifact store: put /data/artifacts/campaigns/c1/_model/profile/profile.json failed (transient): ENOSPC: no space left on device, write',
  ],
  [
    'a fine-tune running again after its worker died',
    retry({
      activityType: 'fineTune',
      targetLabel: 't50',
      attempt: 3,
      maximumAttempts: 20,
      nextInMs: undefined,
      reason: 'activity Heartbeat timeout',
    }),
    'fineTune t50 (attempt 3 of 20): the last try failed: activity Heartbeat timeout',
  ],
  [
    'no limit, a backoff under a second',
    retry({
      maximumAttempts: undefined,
      nextInMs: 200,
      reason: 'engine score: warm engine exited (code 3, signal null)',
    }),
    'profileModel (attempt 2, next try in 1 s): the last try failed: engine score: warm engine exited (code 3, signal null)',
  ],
])('retrying line: %s', (_case, j, line) => expect(retryingLine(j)).toBe(line));

const score = (
  over: Partial<Extract<RunningJob, { activityType: 'scoreCandidate' }>['details']>,
): RunningJob => ({
  workflowId: 'c1/t50',
  activityType: 'scoreCandidate',
  details: {
    targetLabel: 't50',
    attemptIndex: 4,
    mode: 'zero-shot',
    stage: 'recalibrating',
    fraction: null,
    step: 0,
    checkpoints: [],
    ...over,
  },
});

test.each<[string, RunningJob, string]>([
  [
    'the sensitivity table at its seventh row',
    {
      workflowId: 'c1/t50',
      activityType: 'measureSensitivity',
      details: {
        targetLabel: 't50',
        stage: 'sensitivity',
        fraction: 6 / 18,
        row: 7,
        rows: 18,
        layer: 'features.6',
        ratio: 0.5,
      },
    },
    't50: sensitivity table, row 7 of 18 (features.6 at 0.5)',
  ],
  [
    "the campaign's sensitivity table, measured once on the dense model",
    {
      workflowId: 'c1',
      activityType: 'measureSensitivity',
      details: { targetLabel: '_model', stage: 'starting', fraction: null },
    },
    'dense model: sensitivity table, starting',
  ],
  [
    'the sensitivity table before its first row',
    {
      workflowId: 'c1/t50',
      activityType: 'measureSensitivity',
      details: { targetLabel: 't50', stage: 'calibrating', fraction: null },
    },
    't50: sensitivity table, calibrating',
  ],
  [
    "the dense model's profile",
    {
      workflowId: 'c1',
      activityType: 'profileModel',
      details: { model: 'resnet50', stage: 'grouping', fraction: null },
    },
    'profiling resnet50: finding the pruning groups',
  ],
  [
    'a profile at a stage without words of its own, from an older worker',
    {
      workflowId: 'c1',
      activityType: 'profileModel',
      details: { stage: 'starting', fraction: null } as unknown as ProfileHeartbeat,
    },
    'profiling: starting',
  ],
  [
    "a prune trial's dry-run screen",
    {
      workflowId: 'c1/t50',
      activityType: 'pruneTrial',
      details: {
        targetLabel: 't50',
        attemptIndex: 3,
        importance: 'l2',
        ratio: 0.3125,
        stage: 'screening',
        fraction: 0.4,
      },
    },
    't50: prune trial attempt 3 (l2, ratio 0.313 as proposed): screening shapes into the band',
  ],
  [
    'a prune trial past its screen',
    {
      workflowId: 'c1/t50',
      activityType: 'pruneTrial',
      details: {
        targetLabel: 't50',
        attemptIndex: 3,
        importance: 'taylor',
        ratio: 0.5,
        stage: 'pruning',
        fraction: null,
      },
      heartbeatAgeMs: 4_200,
    },
    't50: prune trial attempt 3 (taylor, ratio 0.500 as proposed): pruning (4 s ago)',
  ],
  [
    "a prune trial of a worker older than the trial's fields",
    {
      workflowId: 'c1/t50',
      activityType: 'pruneTrial',
      details: { stage: 'saving', fraction: null } as unknown as TrialHeartbeat,
    },
    'prune trial: saving',
  ],
  [
    "the campaign's scoring plan counting train/ before any search",
    { workflowId: 'c1', activityType: 'planRecovery', details: { stage: 'planning' } },
    'scoring plan: counting the train/ images',
  ],
  ['a zero-shot score', score({}), 't50: scoring attempt 4 (zero-shot): recalibrating'],
  [
    'a recovery, mid-way',
    score({ mode: 'recovery', steps: 50, stage: 'train', step: 22, fraction: 0.44 }),
    't50: scoring attempt 4 (50-step recovery): step 22 of 50',
  ],
  [
    "a finalist's second score",
    score({ mode: 'recovery', rescore: true, steps: 40, stage: 'train', step: 40, fraction: 1 }),
    't50: scoring attempt 4 again (finalist, 40-step recovery): step 40 of 40',
  ],
  [
    'a heartbeat the server got 12.3 s before the description',
    { ...score({ mode: 'recovery', steps: 40, stage: 'train', step: 22 }), heartbeatAgeMs: 12_300 },
    't50: scoring attempt 4 (40-step recovery): step 22 of 40 (12 s ago)',
  ],
  [
    'one under a second old: no age',
    { ...score({}), heartbeatAgeMs: 999 },
    't50: scoring attempt 4 (zero-shot): recalibrating',
  ],
  [
    "a worker older than the job's fields",
    {
      workflowId: 'c1/t50',
      activityType: 'scoreCandidate',
      details: { stage: 'train', fraction: 0.1, step: 3, checkpoints: [] },
    },
    'scoring: step 3',
  ],
])('running line: %s', (_case, j, line) => expect(runningLine(j)).toBe(line));
