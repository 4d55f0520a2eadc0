import { ApplicationFailure } from '@temporalio/common';
import { MockActivityEnvironment } from '@temporalio/testing';
import { DefaultLogger, type LogEntry } from '@temporalio/worker';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  createTrainingActivities,
  type FineTuneHeartbeat,
  type FineTuneInput,
  type FineTuneResult,
} from '../../src/activities';
import { downloadModelDir, uploadModelDir, type ModelManifest } from '../../src/activities/model-files';
import { FinetuneConfigSchema, type FinetuneConfig } from '../../src/core/campaign-config';
import { ArtifactStoreError, LocalArtifactStore } from '../../src/storage';
import { realEngines, tempDir } from '../support/test-env';

// The fine-tune activity outside Temporal (MockActivityEnvironment), with the real engine and a real
// LocalArtifactStore: what it heartbeats, what it keeps, how a retried attempt resumes, how it fails.

// One torch thread per engine: on a small shared CPU, torch's default thread pool spins against other
// processes and a democnn step goes from ~0.2 s to ~1.5 s. Results do not depend on it.
const savedThreads = process.env.OMP_NUM_THREADS;
process.env.OMP_NUM_THREADS = '1';

const MAX_STEPS = 40;
const EVERY = 10;

function sha256File(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

describe('fineTune activity (MockActivityEnvironment, real engine, LocalArtifactStore)', () => {
  const engines = realEngines();
  const store = new LocalArtifactStore(tempDir('ap-ft-store-'));
  const acts = createTrainingActivities({ store, ...engines, agents: {}, workDir: tempDir('ap-ft-work-') });
  let datasetRoot: string;
  let uninterrupted: FineTuneResult | undefined;

  function recipe(overrides: Partial<FinetuneConfig> = {}): FinetuneConfig {
    return FinetuneConfigSchema.parse({
      epochs: 2, // 400 train images / 16 = 25 steps per epoch; maxSteps caps it
      batchSize: 16,
      lr: 0.01,
      maxSteps: MAX_STEPS,
      checkpointEverySteps: EVERY,
      keepCheckpoints: 2,
      workers: 0,
      seed: 0,
      ...overrides,
    });
  }

  function input(campaignId: string, overrides: Partial<FineTuneInput> = {}): FineTuneInput {
    return {
      campaignId,
      targetLabel: 't1',
      model: { name: 'democnn', numClasses: 10 },
      dataset: { root: datasetRoot },
      recipe: recipe(),
      ...overrides,
    };
  }

  const runFineTune = (env: MockActivityEnvironment, i: FineTuneInput) =>
    env.run(acts.fineTune, i) as Promise<FineTuneResult>;

  /** The file of a stored object (LocalArtifactStore keeps `<root>/<key>`). */
  const objectFile = (key: string) => path.join(store.root, key);

  /** Every heartbeat, with each referenced checkpoint checked at that very moment: complete and verified. */
  function recordHeartbeats(env: MockActivityEnvironment): FineTuneHeartbeat[] {
    const beats: FineTuneHeartbeat[] = [];
    env.on('heartbeat', (d: FineTuneHeartbeat) => {
      for (const c of d.checkpoints) {
        const file = objectFile(c.ref.key);
        if (!fs.existsSync(file))
          throw new Error(`heartbeat names ${c.ref.key}, which is not in the store yet`);
        if (sha256File(file) !== c.ref.sha256)
          throw new Error(`heartbeat names ${c.ref.key}, whose bytes do not match its sha256`);
      }
      beats.push(structuredClone(d));
    });
    return beats;
  }

  async function finetunedWeightsSha(result: FineTuneResult): Promise<string> {
    const manifest = JSON.parse(
      Buffer.from(await store.getBytes(result.model)).toString('utf8'),
    ) as ModelManifest;
    const weights = manifest.files['model.pt'];
    if (!weights) throw new Error(`manifest has no model.pt: ${Object.keys(manifest.files).join(', ')}`);
    return weights.sha256;
  }

  beforeAll(async () => {
    const out = path.join(tempDir('ap-ft-data-'), 'shapes');
    const ds = await engines.oneShotEngine.run<{ root: string; trainCount: number }>('make-dataset', {
      out,
      classes: 10,
      trainPerClass: 40,
      valPerClass: 10,
      imageSize: 32,
      seed: 0,
    });
    expect(ds.trainCount).toBe(400);
    datasetRoot = ds.root;
  }, 120_000);

  afterAll(async () => {
    await engines.engine.close();
    if (savedThreads === undefined) delete process.env.OMP_NUM_THREADS;
    else process.env.OMP_NUM_THREADS = savedThreads;
  });

  test('writes a checkpoint every N steps, heartbeats each only once stored, keeps the last K, returns a manifest', async () => {
    const env = new MockActivityEnvironment({ attempt: 1 });
    const beats = recordHeartbeats(env);
    const result = await runFineTune(env, input('ft-a'));
    uninterrupted = result;

    // Every checkpoint step was heartbeated, in order, and progress went up to the last step.
    const seen = [...new Set(beats.flatMap((b) => b.checkpoints.map((c) => c.step)))];
    expect(seen).toEqual([10, 20, 30, 40]);
    expect(Math.max(...beats.map((b) => b.step))).toBe(MAX_STEPS);
    // A new checkpoint is heartbeated before the oldest is let go: at most keepCheckpoints + 1 are named.
    expect(Math.max(...beats.map((b) => b.checkpoints.length))).toBeLessThanOrEqual(3);
    // Done: only the final checkpoint remains, the one the result names (the newest the last heartbeat names;
    // the others were let go when the job completed; no heartbeatTimeout here, so at once).
    const listed = (await store.list('campaigns/ft-a/t1/checkpoints/')).map((o) => o.key);
    expect(listed).toEqual(['campaigns/ft-a/t1/checkpoints/ckpt-000000040.pt']);
    expect(result.finalCheckpoint.key).toBe(listed[0]);
    expect(beats.at(-1)!.checkpoints.at(-1)!.ref.key).toBe(listed[0]);

    expect(result.finalCheckpoint).toEqual(beats.at(-1)!.checkpoints.at(-1)!.ref);
    expect(result.steps).toBe(MAX_STEPS);
    expect(result.resumedFromStep).toBeNull();
    expect(result.attempt).toBe(1);
    expect(result.lossCurve.length).toBeGreaterThan(0);
    // The returned model is a manifest of complete, verified files that rebuilds the trained model.
    const manifest = JSON.parse(
      Buffer.from(await store.getBytes(result.model)).toString('utf8'),
    ) as ModelManifest;
    expect(manifest.kind).toBe('finetuned-model');
    expect(manifest.spec).toEqual({ name: 'democnn', numClasses: 10 });
    expect(Object.keys(manifest.files)).toContain('model.pt');
    const local = path.join(tempDir('ap-ft-get-'), 'model.pt');
    await store.get(manifest.files['model.pt']!, local);
    expect(sha256File(local)).toBe(manifest.files['model.pt']!.sha256);
  }, 240_000);

  test('a retried attempt whose newest checkpoint is corrupt logs it, resumes from the older one, ends bit-identical', async () => {
    if (!uninterrupted) throw new Error('the uninterrupted run (previous test) did not complete');
    // Attempt 1: stopped (cancelled) as soon as it has heartbeated the checkpoint of step 20.
    const first = new MockActivityEnvironment({ attempt: 1 });
    let last: FineTuneHeartbeat | undefined;
    first.on('heartbeat', (d: FineTuneHeartbeat) => {
      last = structuredClone(d);
      if (d.checkpoints.some((c) => c.step === 20)) first.cancel();
    });
    const stopped = await runFineTune(first, input('ft-b')).then(
      () => 'completed',
      (err: unknown) => err,
    );
    expect(stopped).not.toBe('completed');
    expect(last?.checkpoints.map((c) => c.step)).toEqual([10, 20]);

    // The newest checkpoint's stored bytes go bad (same length: only the sha256 can tell).
    const newest = last!.checkpoints[1]!;
    const file = objectFile(newest.ref.key);
    const bytes = fs.readFileSync(file);
    bytes.fill(0x5a, 1000, 5000);
    fs.writeFileSync(file, bytes);

    // Attempt 2, as Temporal would run it: the last heartbeat comes back as heartbeatDetails.
    const logs: LogEntry[] = [];
    const second = new MockActivityEnvironment(
      { attempt: 2, heartbeatDetails: last },
      { logger: new DefaultLogger('WARN', (e) => logs.push(e)) },
    );
    const beats = recordHeartbeats(second);
    const result = await runFineTune(second, input('ft-b'));

    expect(logs.map((l) => l.message).join('\n')).toMatch(/checkpoint at step 20 unusable/);
    expect(result.resumedFromStep).toBe(10);
    expect(result.attempt).toBe(2);
    // The bad checkpoint is never named again; training went on from 10 and wrote 20..40 afresh.
    expect(beats[0]!.checkpoints.map((c) => c.step)).toEqual([10]);
    expect([...new Set(beats.flatMap((b) => b.checkpoints.map((c) => c.step)))]).toEqual([10, 20, 30, 40]);
    expect(Math.min(...beats.filter((b) => b.step > 0).map((b) => b.step))).toBe(10);
    // The engine's exact resume: same weights as the run that was never interrupted.
    expect(await finetunedWeightsSha(result)).toBe(await finetunedWeightsSha(uninterrupted));
  }, 300_000);

  test('a retried attempt whose store answers 503 twice resumes from the newest checkpoint and deletes what attempt 1 left', async () => {
    if (!uninterrupted) throw new Error('the uninterrupted run (previous test) did not complete');
    const folder = 'campaigns/ft-e/t1/checkpoints';
    const objects = () =>
      fs.existsSync(objectFile(folder))
        ? fs.readdirSync(objectFile(folder)).filter((f) => f.endsWith('.pt'))
        : [];
    // Attempt 1, with a heartbeat timeout (so retired checkpoints wait out a grace period before deletion),
    // stopped at its first heartbeat after step 30's checkpoint was stored and step 10 retired (still stored
    // during the grace period): what a crash there leaves behind.
    const first = new MockActivityEnvironment({ attempt: 1, heartbeatTimeoutMs: 60_000 });
    let last: FineTuneHeartbeat | undefined;
    let cancelled = false;
    first.on('heartbeat', (d: FineTuneHeartbeat) => {
      if (cancelled) return;
      last = structuredClone(d);
      cancelled = d.checkpoints.map((c) => c.step).join() === '20,30';
      if (cancelled) first.cancel();
    });
    await runFineTune(first, input('ft-e')).then(
      () => {
        throw new Error('attempt 1 was meant to be stopped');
      },
      () => undefined,
    );
    expect(last?.checkpoints.map((c) => c.step)).toEqual([20, 30]);
    expect(objects()).toHaveLength(3);

    // Attempt 2 reads through a store that answers the first two checkpoint reads with S3's 503.
    let failures = 2;
    const flaky: typeof store = Object.create(store) as typeof store;
    flaky.get = async (keyOrRef, dest) => {
      if (typeof keyOrRef !== 'string' && keyOrRef.key.startsWith(folder) && failures-- > 0)
        throw new ArtifactStoreError(
          'get',
          's3://ap-test',
          keyOrRef.key,
          'ServiceUnavailable (HTTP 503)',
          true,
        );
      return store.get(keyOrRef, dest);
    };
    const flakyActs = createTrainingActivities({
      store: flaky,
      ...engines,
      agents: {},
      workDir: tempDir('ap-ft-work-'),
    });
    const logs: LogEntry[] = [];
    const second = new MockActivityEnvironment(
      { attempt: 2, heartbeatDetails: last, heartbeatTimeoutMs: 60_000 },
      { logger: new DefaultLogger('WARN', (e) => logs.push(e)) },
    );
    let afterResume: string[] | undefined;
    second.on('heartbeat', (d: FineTuneHeartbeat) => {
      // when the first checkpoint after the resume is heartbeated (before anything is retired again)
      if (afterResume === undefined && d.checkpoints.some((c) => c.step === 40)) afterResume = objects();
    });
    const result = (await second.run(flakyActs.fineTune, input('ft-e'))) as FineTuneResult;

    expect(failures).toBeLessThan(0);
    expect(logs.map((l) => l.message).join('\n')).toMatch(/step 30: read 1 of 5 failed transiently/);
    expect(logs.map((l) => l.message).join('\n')).not.toMatch(/unusable/);
    expect(result.resumedFromStep).toBe(30);
    // After the resume only the heartbeated list (and the new step 40) is stored: the retired step 10 is gone.
    expect(afterResume?.sort()).toEqual(['ckpt-000000020.pt', 'ckpt-000000030.pt', 'ckpt-000000040.pt']);
    // At the end: the final checkpoint, and nothing else.
    expect(objects().sort()).toEqual(['ckpt-000000040.pt']);
    expect(await finetunedWeightsSha(result)).toBe(await finetunedWeightsSha(uninterrupted));
  }, 300_000);

  test('a pruned model (a stored manifest) fine-tunes into a manifest that downloads and verifies whole', async () => {
    // Regression: the pruned dir's own manifest.json travelled into the fine-tune's outDir, was listed as one
    // of the new manifest's files, and then overwritten by it: every later download failed its sha256 check.
    const pruned = await engines.engine.run<{ saved: { dir: string } }>('prune', {
      model: { name: 'democnn', numClasses: 10 },
      strategy: { pruningRatio: 0.3, importance: 'l2', globalPruning: true, isomorphic: true, roundTo: 8 },
      outDir: path.join(tempDir('ap-ft-prune-'), 'trial'),
    });
    const prunedRef = await uploadModelDir(
      store,
      pruned.saved.dir,
      'campaigns/ft-d/t1/candidates/attempt-1',
      {
        kind: 'pruned-model',
        spec: { name: 'democnn', numClasses: 10 },
      },
    );
    const env = new MockActivityEnvironment({ attempt: 1 });
    const result = await runFineTune(
      env,
      input('ft-d', { model: prunedRef, recipe: recipe({ maxSteps: 10 }) }),
    );
    const manifest = JSON.parse(
      Buffer.from(await store.getBytes(result.model)).toString('utf8'),
    ) as ModelManifest;
    expect(manifest.kind).toBe('finetuned-model');
    expect(Object.keys(manifest.files).sort()).toEqual(
      expect.arrayContaining(['history.json', 'state_dict.pt']),
    );
    expect(Object.keys(manifest.files)).not.toContain('manifest.json');
    const spec = await downloadModelDir(store, result.model, path.join(tempDir('ap-ft-down-'), 'model'));
    expect(spec).toMatchObject({ name: 'democnn' });
  }, 180_000);

  test.each([
    {
      name: 'dataset root missing',
      patch: (i: FineTuneInput): FineTuneInput => ({
        ...i,
        dataset: { root: path.join(datasetRoot, 'does-not-exist') },
      }),
      field: 'dataset.root',
    },
    {
      name: 'batch larger than the train split',
      patch: (i: FineTuneInput): FineTuneInput => ({ ...i, recipe: recipe({ batchSize: 4096 }) }),
      field: 'recipe.batchSize',
    },
  ])(
    'bad config ($name) fails non-retryable as EngineRequestError naming $field',
    async ({ patch, field }) => {
      const env = new MockActivityEnvironment({ attempt: 1 });
      const err = await runFineTune(env, patch(input('ft-c'))).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ApplicationFailure);
      const failure = err as ApplicationFailure;
      expect(failure.type).toBe('EngineRequestError');
      expect(failure.nonRetryable).toBe(true);
      expect(failure.details?.[0]).toMatchObject({ field });
      expect(failure.message.length).toBeGreaterThan(10);
    },
    120_000,
  );
});
