import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  createEngineActivities,
  createScoringActivities,
  FailureTypes,
  type CandidateScore,
  type PruneTrialInput,
  type PruneTrialResult,
  type ScoreCandidateInput,
  type ScoreHeartbeat,
  type SensitivityHeartbeat,
  type SensitivityInput,
  type SensitivityResult,
} from '../src/activities';
import type { ArtifactRef } from '../src/core/artifact-ref';
import type { ModelSpec } from '../src/core/model-spec';
import { ActivityPresets, ActivityQueues, TaskQueues } from '../src/workflows/presets';
import { realEngines, tempDir, testId, testStore } from './support/test-env';
import { runningLine } from '../src/client/worker-presence';

// scoreCandidate and measureSensitivity outside Temporal (MockActivityEnvironment), on the real warm engine and
// the real S3 server, with a democnn trained for a few steps on a generated 10-class dataset.

// One torch thread per engine: on a small shared CPU torch's default pool spins against other processes.
const savedThreads = process.env.OMP_NUM_THREADS;
process.env.OMP_NUM_THREADS = '1';

const TRAIN_IMAGES = 400;

interface EvaluateOut {
  top1: number;
  loss: number;
  count: number;
}

async function failureOf(p: Promise<unknown>): Promise<ApplicationFailure> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ApplicationFailure);
  return err as ApplicationFailure;
}

describe('scoring activities (MockActivityEnvironment, real warm engine, real S3)', () => {
  const engines = realEngines();
  const store = testStore();
  const workDir = tempDir('ap-score-work-');
  const deps = { store, ...engines, agents: {}, workDir };
  const scoring = createScoringActivities(deps);
  const engineActs = createEngineActivities(deps);
  const campaignId = testId('score');
  let datasetRoot: string;
  let dense: ModelSpec;
  let denseAsCandidate: ArtifactRef;
  let halfPruned: ArtifactRef;
  let denseMacs: number;

  function input(overrides: Partial<ScoreCandidateInput> = {}): ScoreCandidateInput {
    return {
      campaignId,
      targetLabel: 't1',
      attemptIndex: 1,
      model: halfPruned,
      dataset: { root: datasetRoot },
      mode: 'zero-shot',
      calibration: { batches: 2, batchSize: 32 },
      scoreImages: 128,
      seed: 0,
      ...overrides,
    };
  }

  const score = (env: MockActivityEnvironment, i: ScoreCandidateInput) =>
    env.run(scoring.scoreCandidate, i) as Promise<CandidateScore>;

  async function prunedAt(pruningRatio: number, attemptIndex: number): Promise<ArtifactRef> {
    const trial: PruneTrialInput = {
      campaignId,
      targetLabel: 't1',
      attemptIndex,
      model: dense,
      strategy: { pruningRatio, importance: 'l2', globalPruning: true, isomorphic: true, roundTo: 8 },
    };
    const res = (await new MockActivityEnvironment().run(engineActs.pruneTrial, trial)) as PruneTrialResult;
    denseMacs = res.denseMacs;
    return res.model;
  }

  beforeAll(async () => {
    const data = tempDir('ap-score-data-');
    const ds = await engines.oneShotEngine.run<{ root: string; trainCount: number }>('make-dataset', {
      out: path.join(data, 'shapes'),
      classes: 10,
      trainPerClass: TRAIN_IMAGES / 10,
      valPerClass: 10,
      imageSize: 32,
      seed: 0,
    });
    expect(ds.trainCount).toBe(TRAIN_IMAGES);
    datasetRoot = ds.root;
    const ft = await engines.oneShotEngine.run<{ modelSpec: ModelSpec }>('finetune', {
      model: { name: 'democnn', numClasses: 10 },
      dataset: { root: datasetRoot },
      recipe: { epochs: 1, batchSize: 32, lr: 0.003, optimizer: 'adamw', maxSteps: 12 },
      checkpointDir: path.join(data, 'ckpt'),
      checkpointEverySteps: 1000,
      outDir: path.join(data, 'dense'),
      device: 'cpu',
    });
    dense = ft.modelSpec;
    denseAsCandidate = await prunedAt(0, 0);
    halfPruned = await prunedAt(0.5, 1);
  }, 300_000);

  afterAll(async () => {
    await engines.engine.close();
    if (savedThreads === undefined) delete process.env.OMP_NUM_THREADS;
    else process.env.OMP_NUM_THREADS = savedThreads;
  });

  test('routed on the engine queue with a heartbeating, retried preset that does not retry bad config', () => {
    expect(ActivityQueues.scoreCandidate).toBe('trials');
    expect(ActivityQueues.measureSensitivity).toBe('trials');
    expect(ActivityPresets.scoring.taskQueue).toBe(TaskQueues.trials);
    expect(ActivityPresets.scoring.heartbeatTimeout).toBeDefined();
    expect(ActivityPresets.scoring.retry.maximumAttempts).toBeGreaterThan(1);
    expect(ActivityPresets.scoring.retry.nonRetryableErrorTypes).toEqual(
      expect.arrayContaining([FailureTypes.engineRequest, FailureTypes.config]),
    );
    expect(ActivityPresets.scoring.retry.nonRetryableErrorTypes).not.toContain(FailureTypes.engineCrashed);
  });

  test("the dense model's zero-shot score without recalibration is the engine evaluate of the same images", async () => {
    // No calibration sample and every train/ image held out: the held-out slice is train/ itself.
    const env = new MockActivityEnvironment({ attempt: 1 });
    const beats: ScoreHeartbeat[] = [];
    env.on('heartbeat', (d: ScoreHeartbeat) => beats.push(structuredClone(d)));
    const result = await score(
      env,
      input({
        model: denseAsCandidate,
        attemptIndex: 0,
        calibration: { batches: 0, batchSize: 1 },
        scoreImages: TRAIN_IMAGES,
      }),
    );
    const ev = await engines.oneShotEngine.run<EvaluateOut>('evaluate', {
      model: dense,
      dataset: { root: datasetRoot, split: 'train' },
    });
    expect(ev.count).toBe(TRAIN_IMAGES);
    expect(result).toEqual({
      mode: 'zero-shot',
      top1: ev.top1,
      loss: expect.closeTo(ev.loss, 5) as number,
      count: TRAIN_IMAGES,
      steps: 0,
      wallMs: expect.any(Number) as number,
    });
    // It heartbeated the engine's progress, up to the scoring pass.
    expect(beats.some((b) => b.stage === 'evaluate')).toBe(true);
    expect(beats.at(-1)!.checkpoints).toEqual([]);
  });

  test('recovery mode runs its steps and beats zero-shot on the half-pruned model; nothing is left stored', async () => {
    const zero = await score(new MockActivityEnvironment(), input());
    const env = new MockActivityEnvironment({ attempt: 1 });
    const beats: ScoreHeartbeat[] = [];
    env.on('heartbeat', (d: ScoreHeartbeat) => beats.push(structuredClone(d)));
    const rec = await score(
      env,
      input({ mode: 'recovery', teacher: dense, recovery: { steps: 20, batchSize: 32, lr: 0.003 } }),
    );
    expect(rec).toMatchObject({ mode: 'recovery', steps: 20, count: 128 });
    expect(zero).toMatchObject({ mode: 'zero-shot', steps: 0, count: 128 });
    expect(rec.loss).toBeLessThan(zero.loss);
    expect(rec.top1).toBeGreaterThanOrEqual(zero.top1);
    // Heartbeats followed the fine-tune step by step, each naming its job, as `status` and `watch` print it.
    const train = beats.filter((b) => b.stage === 'train');
    expect(Math.max(...train.map((b) => b.step))).toBe(20);
    expect(beats.every((b) => b.targetLabel === 't1' && b.attemptIndex === 1 && b.steps === 20)).toBe(true);
    expect(runningLine({ workflowId: 'w', activityType: 'scoreCandidate', details: train.at(-1)! })).toBe(
      't1: scoring attempt 1 (20-step recovery): step 20 of 20',
    );
    // Short fine-tunes store no checkpoints; the local run folder is gone.
    expect(await store.list(`campaigns/${campaignId}/t1/scoring/`)).toEqual([]);
    expect(
      fs.readdirSync(path.join(workDir, campaignId, 't1')).filter((d) => d.startsWith('score-')),
    ).toEqual([]);
  });

  /** A 20-step recovery of attempt `attemptIndex`: long once checkpoints come every 5 steps. */
  const longRecovery = (attemptIndex: number, over: Partial<ScoreCandidateInput> = {}) =>
    input({
      attemptIndex,
      mode: 'recovery',
      teacher: dense,
      recovery: { steps: 20, batchSize: 32, lr: 0.003 },
      ...over,
    });

  test('a long recovery stores its checkpoints, heartbeats them, and a retried attempt resumes from the last', async () => {
    // Checkpoints every 5 steps (instead of 250) so that 20 steps are a long fine-tune.
    const every5 = createScoringActivities(deps, { recoveryCheckpointEverySteps: 5 });
    const long = longRecovery(7);
    const prefix = `campaigns/${campaignId}/t1/scoring/attempt-7/`;
    // Attempt 1 is cancelled (the engine killed) once a heartbeat names the checkpoint at step 10.
    const first = new MockActivityEnvironment({ attempt: 1 });
    const firstBeats: ScoreHeartbeat[] = [];
    first.on('heartbeat', (d: ScoreHeartbeat) => {
      firstBeats.push(structuredClone(d));
      if (d.checkpoints.some((c) => c.step === 10)) first.cancel();
    });
    await expect(first.run(every5.scoreCandidate, long)).rejects.toThrow();
    const last = firstBeats.at(-1)!;
    expect(last.checkpoints.at(-1)!.step).toBe(10);
    // The newest checkpoint the last heartbeat names is in the store, complete; the step-5 one was let go
    // (keep 1, no heartbeat timeout here: at once).
    expect((await store.list(prefix)).map((o) => o.key)).toEqual([`${prefix}ckpt-000000010.pt`]);

    const second = new MockActivityEnvironment({ attempt: 2, heartbeatDetails: last });
    const beats: ScoreHeartbeat[] = [];
    second.on('heartbeat', (d: ScoreHeartbeat) => beats.push(structuredClone(d)));
    const resumed = (await second.run(every5.scoreCandidate, long)) as CandidateScore;
    expect(resumed).toMatchObject({ mode: 'recovery', steps: 20, count: 128 });
    const trainSteps = beats.filter((b) => b.stage === 'train').map((b) => b.step);
    expect(Math.min(...trainSteps)).toBe(11);
    expect(Math.max(...trainSteps)).toBe(20);
    // Scored: its checkpoints are gone.
    expect(await store.list(prefix)).toEqual([]);

    // The same score as an uninterrupted run (the engine's resume is exact on the CPU).
    const whole = await score(new MockActivityEnvironment(), { ...long, attemptIndex: 8 });
    expect(resumed.top1).toBe(whole.top1);
    expect(resumed.loss).toBeCloseTo(whole.loss, 5);
  });

  test("a finalist's second score stores its checkpoints apart from the first score's", async () => {
    const every5 = createScoringActivities(deps, { recoveryCheckpointEverySteps: 5 });
    const again = longRecovery(9, { rescore: true });
    const env = new MockActivityEnvironment({ attempt: 1 });
    env.on('heartbeat', (d: ScoreHeartbeat) => {
      if (d.checkpoints.some((c) => c.step === 10)) env.cancel();
    });
    await expect(env.run(every5.scoreCandidate, again)).rejects.toThrow();
    const scoring = `campaigns/${campaignId}/t1/scoring/`;
    expect((await store.list(scoring)).map((o) => o.key)).toEqual([
      `${scoring}attempt-9-rescore/ckpt-000000010.pt`,
    ]);
    await store.delete(`${scoring}attempt-9-rescore/ckpt-000000010.pt`);
  });

  test.each([
    {
      name: 'held-out slice larger than train/',
      patch: { scoreImages: TRAIN_IMAGES + 1 },
      field: 'scoreImages',
    },
    {
      name: 'calibration larger than train/',
      patch: { calibration: { batches: 20, batchSize: 32 } },
      field: 'calibration.batches',
    },
    {
      name: 'recovery steps 0',
      patch: { mode: 'recovery', recovery: { steps: 0, batchSize: 32, lr: 0.001 } },
      field: 'recovery.steps',
    },
    {
      name: 'recovery steps above 10000',
      patch: { mode: 'recovery', recovery: { steps: 10_001, batchSize: 32, lr: 0.001 } },
      field: 'recovery.steps',
    },
  ] as { name: string; patch: Partial<ScoreCandidateInput>; field: string }[])(
    'bad input ($name) fails non-retryable as EngineRequestError naming $field',
    async ({ patch, field }) => {
      const failure = await failureOf(score(new MockActivityEnvironment(), input(patch)));
      expect(failure.type).toBe(FailureTypes.engineRequest);
      expect(failure.nonRetryable).toBe(true);
      expect(failure.details?.[0]).toMatchObject({ field });
      expect(failure.message).toContain(field);
    },
  );

  test('a dataset without train/ names dataset.root', async () => {
    const root = tempDir('ap-score-notrain-');
    fs.mkdirSync(path.join(root, 'val', 'a'), { recursive: true });
    const failure = await failureOf(score(new MockActivityEnvironment(), input({ dataset: { root } })));
    expect(failure.type).toBe(FailureTypes.engineRequest);
    expect(failure.details?.[0]).toMatchObject({ field: 'dataset.root' });
  });

  function sensitivityInput(overrides: Partial<SensitivityInput> = {}): SensitivityInput {
    return {
      campaignId,
      targetLabel: 't1',
      model: dense,
      dataset: { root: datasetRoot },
      calibration: { batches: 2, batchSize: 32 },
      ratios: [0.5],
      baseStrategy: { importance: 'l2', globalPruning: true, isomorphic: true },
      scoreImages: 128,
      seed: 0,
      ...overrides,
    };
  }

  test('measureSensitivity: one row per prunable stage, MACs below dense, the table stored in S3', async () => {
    const env = new MockActivityEnvironment();
    const beats: SensitivityHeartbeat[] = [];
    env.on('heartbeat', (d: SensitivityHeartbeat) => beats.push(structuredClone(d)));
    const result = (await env.run(scoring.measureSensitivity, sensitivityInput())) as SensitivityResult;
    // democnn's stages; the stem's conv and the head are protected, so pruning them alone removes nothing.
    expect(result.stages.map((s) => s.stage)).toEqual(['stage1', 'stage2', 'stage3']);
    for (const row of result.stages) {
      expect(row.points.map((p) => p.ratio)).toEqual([0.5]);
      expect(row.points[0]!.macs).toBeLessThan(denseMacs);
      expect(row.macs).toBeGreaterThan(0);
    }
    expect(beats.some((b) => b.stage === 'sensitivity')).toBe(true);
    // The heartbeats count the rows as they start, every stage tried (the protected stem and head come out
    // unprunable) at 1 ratio, as `status` and `watch` print them.
    const rows = beats.filter((b) => b.row !== undefined);
    expect(rows.map((b) => [b.row, b.rows, b.layer, b.ratio])).toEqual([
      [1, 5, 'stem', 0.5],
      [2, 5, 'stage1', 0.5],
      [3, 5, 'stage2', 0.5],
      [4, 5, 'stage3', 0.5],
      [5, 5, 'head', 0.5],
    ]);
    expect(runningLine({ workflowId: 'w', activityType: 'measureSensitivity', details: rows[2]! })).toBe(
      't1: sensitivity table, row 3 of 5 (stage2 at 0.5)',
    );
    // The baseline is the dense model scored as a candidate is: same slices, recalibrated the same way.
    const asCandidate = await score(
      new MockActivityEnvironment(),
      input({ model: denseAsCandidate, attemptIndex: 0 }),
    );
    expect(result.baseline.top1).toBe(asCandidate.top1);
    expect(result.baseline.loss).toBeCloseTo(asCandidate.loss, 5);
    // The full table is in the store under its key, and says the same.
    expect(result.table.key).toBe(`campaigns/${campaignId}/t1/sensitivity/sensitivity.json`);
    const stored = JSON.parse(Buffer.from(await store.getBytes(result.table)).toString('utf8')) as {
      stages: { stage: string; points: { macs: number }[] }[];
      unprunable: { stage: string }[];
      denseMacs: number;
    };
    expect(stored.denseMacs).toBe(denseMacs);
    expect(stored.stages.map((s) => s.points[0]!.macs)).toEqual(result.stages.map((s) => s.points[0]!.macs));
    expect(stored.unprunable.map((u) => u.stage)).toEqual(['stem', 'head']);
  });

  test('measureSensitivity with no ratios fails non-retryable naming ratios', async () => {
    const failure = await failureOf(
      new MockActivityEnvironment().run(scoring.measureSensitivity, sensitivityInput({ ratios: [] })),
    );
    expect(failure.type).toBe(FailureTypes.engineRequest);
    expect(failure.nonRetryable).toBe(true);
    expect(failure.details?.[0]).toMatchObject({ field: 'ratios' });
  });

  test('an engine that dies mid-score fails the activity, retryably, with a one-line reason', async () => {
    // A candidate whose architecture factory kills the engine process while the score job builds it.
    const dir = tempDir('ap-score-crash-');
    const factory = path.join(dir, 'crash.py');
    fs.writeFileSync(factory, 'import os\n\ndef make():\n    os._exit(3)\n');
    const name = `file:${factory}:make`;
    const history = {
      format: 'agentic-pruner/pruned-model@1',
      model: { name },
      inputShape: [1, 3, 32, 32],
      history: [],
      attention: {},
    };
    const prefix = `campaigns/${campaignId}/t1/candidates/attempt-99`;
    const historyRef = await store.put(`${prefix}/history.json`, {
      bytes: Buffer.from(JSON.stringify(history)),
    });
    const manifest = await store.put(`${prefix}/manifest.json`, {
      bytes: Buffer.from(
        JSON.stringify({ kind: 'pruned-model', spec: { name }, files: { 'history.json': historyRef } }),
      ),
    });
    const failure = await failureOf(
      score(new MockActivityEnvironment(), input({ model: manifest, attemptIndex: 99 })),
    );
    expect(failure.type).toBe(FailureTypes.engineCrashed);
    expect(failure.nonRetryable).toBe(false);
    expect(failure.message).not.toContain('\n');
    expect(failure.message).toMatch(/^engine score: warm engine exited \(code 3/);
    // The warm engine starts afresh for the next job.
    const again = await score(new MockActivityEnvironment(), input());
    expect(again.count).toBe(128);
  });
});
