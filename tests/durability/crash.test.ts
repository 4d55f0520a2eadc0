import type { Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import * as path from 'node:path';
import type { FineTuneHeartbeat } from '../../src/activities';
import type { ModelManifest } from '../../src/activities/model-files';
import { createAgents } from '../../src/agents';
import { CampaignClient } from '../../src/client/campaign-client';
import type { ArtifactRef } from '../../src/core/artifact-ref';
import type { CampaignConfigInput } from '../../src/core/campaign-config';
import { S3ArtifactStore } from '../../src/storage';
import type { CampaignResult, CampaignTargetResult } from '../../src/workflows/campaign';
import { OwnServices } from '../support/own-services';
import {
  denseDemocnn,
  ensureBuilt,
  realEngines,
  startTestWorkers,
  tempDir,
  testId,
  testServices,
  type TestWorkers,
} from '../support/test-env';
import { alive, descendantsOf, sleep, waitFor, WorkerProcess } from '../support/worker-process';

// Crash tests of a whole campaign on real services: the gpu worker killed with SIGKILL mid-fine-tune, the
// Temporal dev server restarted mid-campaign, the S3 server down mid-fine-tune. Each campaign must finish
// with exactly the weights of a campaign that was never interrupted (the engine's exact resume, on CPU).
//
// These tests stop and restart servers, so they get their own: a Temporal dev server (SQLite) and a
// versitygw started by infra/services.sh with AP_STATE_DIR=.state/durability on their own ports. The
// shared servers of the rest of the suite (and of anyone else's run on this host) are never touched.

const TEMPORAL_PORT = process.env.AP_DURABILITY_TEMPORAL_PORT ?? '7243';
const S3_PORT = process.env.AP_DURABILITY_S3_PORT ?? '7071';
const own = new OwnServices('durability', { temporalPort: TEMPORAL_PORT, s3Port: S3_PORT });
const TEMPORAL_ADDRESS = own.temporalAddress;
const S3_ENDPOINT = own.s3Endpoint;

const HEARTBEAT_TIMEOUT_SEC = 5;
const EVERY = 10;
const MAX_STEPS = 200;
const CAMPAIGN_TIMEOUT_MS = 6 * 60_000;

// ---------------------------------------------------------------------------------------------------------
// Helpers: services, bounded waits, processes

/** A trials+train worker run as the CLI runs it on a GPU host, on this file's own servers and the S3 store. */
function gpuWorkerProcess(name: string): WorkerProcess {
  const { s3 } = testServices();
  return new WorkerProcess(
    name,
    ['--queues', 'trials,train'],
    {},
    {
      temporalAddress: TEMPORAL_ADDRESS,
      s3: { ...s3, endpoint: S3_ENDPOINT },
    },
  );
}

/** The fine-tune activity pending in a campaign, as the server sees it. */
interface PendingFineTune {
  attempt: number;
  heartbeat: FineTuneHeartbeat | undefined;
  lastFailure: string | undefined;
}

async function pendingFineTune(client: Client, campaignId: string): Promise<PendingFineTune | undefined> {
  const desc = await client.workflow.getHandle(campaignId).describe();
  const a = (desc.raw.pendingActivities ?? []).find((x) => x.activityType?.name === 'fineTune');
  if (!a) return undefined;
  const p = a.heartbeatDetails?.payloads?.[0];
  return {
    attempt: a.attempt ?? 1,
    heartbeat: p ? (defaultPayloadConverter.fromPayload(p) as FineTuneHeartbeat) : undefined,
    lastFailure: a.lastFailure?.message ?? undefined,
  };
}

/**
 * Wait for a campaign's result by polling describe(): unlike a long-poll on the result, it rides out a
 * Temporal restart (each poll is a fresh call that may fail while the server is away).
 */
async function campaignResult(client: Client, campaignId: string): Promise<CampaignResult> {
  const handle = client.workflow.getHandle(campaignId);
  const status = await waitFor(
    `campaign ${campaignId} to close`,
    CAMPAIGN_TIMEOUT_MS,
    async () => {
      const s = (await handle.describe()).status.name;
      return s === 'RUNNING' ? undefined : s;
    },
    1000,
  );
  if (status !== 'COMPLETED') throw new Error(`campaign ${campaignId} ended ${status}`);
  return (await handle.result()) as CampaignResult;
}

// ---------------------------------------------------------------------------------------------------------

describe('durable fine-tuning: crashes on real Temporal and real S3', () => {
  const engines = realEngines();
  const { s3 } = testServices();
  const store = new S3ArtifactStore({
    endpoint: S3_ENDPOINT,
    bucket: s3.bucket,
    accessKeyId: s3.accessKeyId,
    secretAccessKey: s3.secretAccessKey,
  });
  let client: Client;
  let campaigns: CampaignClient;
  /** The in-process control workers on this file's own server, and the client. */
  let control: TestWorkers | undefined;
  const gpuWorkers: WorkerProcess[] = [];
  let config: CampaignConfigInput;
  let reference: { result: CampaignTargetResult; weightsSha: string; prunedSha: string } | undefined;

  const gpuWorker = () => gpuWorkers.at(-1)!;

  async function startGpuWorker(): Promise<WorkerProcess> {
    const w = gpuWorkerProcess(`gpu-worker-${gpuWorkers.length + 1}`);
    gpuWorkers.push(w);
    await w.ready();
    return w;
  }

  async function readManifest(ref: ArtifactRef): Promise<ModelManifest> {
    return JSON.parse(Buffer.from(await store.getBytes(ref)).toString('utf8')) as ModelManifest;
  }

  /** sha256 of the fine-tuned state_dict, downloaded and verified from the store. */
  async function weightsSha(t: CampaignTargetResult): Promise<string> {
    if (!t.finetune)
      throw new Error(`target ${t.targetLabel} has no fine-tune result: ${t.notes.join('; ')}`);
    const manifest = await readManifest(t.finetune.model);
    const weights = manifest.files['state_dict.pt'];
    if (!weights)
      throw new Error(
        `fine-tuned manifest lists no state_dict.pt: ${Object.keys(manifest.files).join(', ')}`,
      );
    await store.get(weights, path.join(tempDir('ap-dur-get-'), 'state_dict.pt'));
    return weights.sha256;
  }

  async function prunedSha(t: CampaignTargetResult): Promise<string> {
    if (!t.chosen?.model) throw new Error(`target ${t.targetLabel} chose no model`);
    return (await readManifest(t.chosen.model)).files['state_dict.pt']!.sha256;
  }

  /** One converged, fine-tuned target whose weights equal the uninterrupted run's. */
  async function expectSameAsReference(result: CampaignResult): Promise<CampaignTargetResult> {
    if (!reference) throw new Error('the uninterrupted reference campaign (first test) did not complete');
    expect(result.targets).toHaveLength(1);
    const t = result.targets[0]!;
    expect(t.status).toBe('converged');
    expect(await prunedSha(t)).toBe(reference.prunedSha);
    expect(t.finetune?.steps).toBe(MAX_STEPS);
    expect(await weightsSha(t)).toBe(reference.weightsSha);
    return t;
  }

  beforeAll(async () => {
    ensureBuilt();
    // A clean slate: no workflow left over from an earlier run of this file is picked up by these workers.
    await own.fresh();

    // Fixed dense weights (one seeded step): the campaigns below must prune the very same model.
    const dense = await denseDemocnn(engines.oneShotEngine, 1);
    config = {
      model: { name: 'democnn', numClasses: 10, weights: dense.weights },
      targets: [{ fraction: 0.5, band: '-5%..+1%', label: 't50' }],
      search: { agent: 'solver', maxIterations: 10, extendedSearch: 0 },
      dataset: { root: dense.dataset, calibrationBatches: 1, calibrationBatchSize: 16 },
      finetune: {
        epochs: 8, // 400 train images / 16 = 25 steps per epoch; maxSteps caps it
        batchSize: 16,
        lr: 0.01,
        maxSteps: MAX_STEPS,
        checkpointEverySteps: EVERY,
        keepCheckpoints: 3,
        workers: 0,
        seed: 0,
        heartbeatTimeoutSec: HEARTBEAT_TIMEOUT_SEC,
      },
    };

    control = await startTestWorkers(
      { store, ...engines, agents: createAgents({ store }), workDir: tempDir('ap-dur-work-') },
      ['control'],
      { address: TEMPORAL_ADDRESS },
    );
    client = control.client;
    campaigns = new CampaignClient(client);
    await startGpuWorker();
  }, 10 * 60_000);

  afterAll(async () => {
    // Whatever happened above: servers back up (so the stops below are clean), every process we started ended.
    try {
      await own.run('start', 'all');
    } catch (err) {
      console.error(String(err));
    }
    for (const w of gpuWorkers) await w.stop();
    // At most 30 s for the control workers to stop; errors of a server that went down are ignored.
    await control?.stop({ waitMs: 30_000 });
    await engines.engine.close();
    store.destroy();
    await own.run('stop', 'all');
  }, 120_000);

  test(
    'reference: the same campaign, never interrupted, fine-tunes on the first attempt',
    async () => {
      const { campaignId } = await campaigns.start(config, { campaignId: testId('dur-ref') });
      // What `campaign watch` shows while it fine-tunes: the step out of the total, moving (it showed
      // `fine-tune 0/?` for the whole fine-tune while progress rode on throttled heartbeats only).
      const seen: { step: number; totalSteps: number | null }[] = [];
      for await (const frame of campaigns.watch(campaignId, 500)) {
        if (frame.finetune)
          seen.push({ step: frame.finetune.step, totalSteps: frame.finetune.totalSteps ?? null });
        if (frame.done) break;
      }
      const result = await campaignResult(client, campaignId);
      const t = result.targets[0]!;
      expect(t.status).toBe('converged');
      expect(t.finetune).toMatchObject({ steps: MAX_STEPS, attempt: 1, resumedFromStep: null });
      const moving = seen.filter((f) => f.step > 0);
      // Heartbeats reach the server every 5 s (the worker's throttle; Temporal's default is up to 60 s), and
      // this fine-tune lasts seconds: at least one frame past step 0, with the right total.
      expect(moving.length).toBeGreaterThanOrEqual(1);
      for (const f of moving) expect(f.totalSteps).toBe(MAX_STEPS);
      reference = { result: t, weightsSha: await weightsSha(t), prunedSha: await prunedSha(t) };
    },
    CAMPAIGN_TIMEOUT_MS + 60_000,
  );

  test(
    'kill -9 of the gpu worker mid-fine-tune: a new worker resumes from the last checkpoint, same weights',
    async () => {
      const { campaignId } = await campaigns.start(config, { campaignId: testId('dur-kill') });
      // Kill once the server holds a heartbeat naming the checkpoint of step 20 (what a retry resumes from).
      const seen = await waitFor(
        'the fine-tune heartbeat to name a checkpoint at step >= 20',
        CAMPAIGN_TIMEOUT_MS,
        async () => {
          const p = await pendingFineTune(client, campaignId);
          return p?.heartbeat && p.heartbeat.checkpoints.some((c) => c.step >= 20) ? p : undefined;
        },
      );
      const victim = gpuWorker();
      const engineProcesses = descendantsOf(victim.pid).map((p) => p.pid);
      process.kill(victim.pid, 'SIGKILL');
      const killStep = seen.heartbeat!.step;
      await waitFor(`${victim.name} to die`, 10_000, async () => (victim.running ? undefined : true));
      expect(engineProcesses.length).toBeGreaterThan(0);
      // The engine processes of the dead worker must not train on: a new worker will need the accelerator.
      const leftOver = await waitFor("the dead worker's engine processes to exit", 30_000, async () => {
        const still = engineProcesses.filter(alive);
        return still.length === 0 ? [] : undefined;
      }).catch(() => engineProcesses.filter(alive));
      for (const p of leftOver) process.kill(p, 'SIGKILL');
      expect(leftOver).toEqual([]);

      await startGpuWorker();
      const result = await campaignResult(client, campaignId);
      const t = await expectSameAsReference(result);
      expect(killStep).toBeLessThan(MAX_STEPS);
      expect(t.finetune!.attempt).toBeGreaterThanOrEqual(2);
      expect(t.finetune!.resumedFromStep).not.toBeNull();
      expect(t.finetune!.resumedFromStep!).toBeGreaterThanOrEqual(killStep - EVERY);
      expect(t.finetune!.resumedFromStep!).toBeGreaterThanOrEqual(20);
    },
    CAMPAIGN_TIMEOUT_MS + 60_000,
  );

  test(
    'the Temporal dev server restarted mid-fine-tune (same SQLite file): the campaign completes, same weights',
    async () => {
      const { campaignId } = await campaigns.start(config, { campaignId: testId('dur-temporal') });
      await waitFor('the fine-tune heartbeat to reach step 10', CAMPAIGN_TIMEOUT_MS, async () => {
        const p = await pendingFineTune(client, campaignId);
        return p?.heartbeat && p.heartbeat.step >= 10 ? p : undefined;
      });
      const t0 = Date.now();
      await own.run('restart', 'temporal');
      const downMs = Date.now() - t0;

      const result = await campaignResult(client, campaignId);
      // Workers reconnect by themselves: neither the in-process control worker nor the gpu worker process was restarted.
      expect(control!.workers.every((w) => w.getState() === 'RUNNING')).toBe(true);
      expect(gpuWorker().running).toBe(true);
      const t = await expectSameAsReference(result);
      console.log(
        `temporal restart took ${downMs} ms; fine-tune attempt ${t.finetune!.attempt}, resumed from ${t.finetune!.resumedFromStep}`,
      );
    },
    CAMPAIGN_TIMEOUT_MS + 120_000,
  );

  test(
    'S3 down mid-fine-tune: uploads fail, the job retries from its last good checkpoint, every heartbeated reference verifies',
    async () => {
      const { campaignId } = await campaigns.start(config, { campaignId: testId('dur-s3') });
      // Every checkpoint reference the server ever holds, sampled as it changes.
      const referenced = new Map<string, ArtifactRef & { step: number }>();
      let sampling = true;
      const sampler = (async () => {
        while (sampling) {
          const p = await pendingFineTune(client, campaignId).catch(() => undefined);
          for (const c of p?.heartbeat?.checkpoints ?? [])
            referenced.set(`${c.ref.key}@${c.ref.sha256}`, { ...c.ref, step: c.step });
          await sleep(200);
        }
      })();
      try {
        await waitFor('the fine-tune heartbeat to name a checkpoint', CAMPAIGN_TIMEOUT_MS, async () => {
          const p = await pendingFineTune(client, campaignId);
          return p?.heartbeat && p.heartbeat.checkpoints.length > 0 ? p : undefined;
        });
        await own.run('stop', 's3');
        const downAt = Date.now();
        // Down until the fine-tune has failed on it (its next checkpoint upload), then a few seconds more
        // so that retries meet a dead store too.
        const failed = await waitFor('the fine-tune to fail while S3 is down', 120_000, async () => {
          const p = await pendingFineTune(client, campaignId);
          return p && (p.attempt >= 2 || p.lastFailure) ? p : undefined;
        });
        await sleep(6000);
        await own.run('start', 's3');
        const downMs = Date.now() - downAt;

        const result = await campaignResult(client, campaignId);
        const t = await expectSameAsReference(result);
        expect(t.finetune!.attempt).toBeGreaterThanOrEqual(2);
        expect(t.finetune!.resumedFromStep).not.toBeNull();
        console.log(
          `S3 down ${downMs} ms; first failure: ${failed.lastFailure ?? '(none recorded)'}; ` +
            `fine-tune attempt ${t.finetune!.attempt}, resumed from ${t.finetune!.resumedFromStep}; ${referenced.size} references seen`,
        );
      } finally {
        sampling = false;
        await sampler;
      }
      // Nothing referenced that was not fully written: each reference the server held is a complete object whose
      // bytes match its sha256, or one the job deleted later on purpose (older than the newest keepCheckpoints as
      // it ran; all but the final one when it completed).
      expect(referenced.size).toBeGreaterThan(0);
      const stored = new Set((await store.list(`campaigns/`)).map((o) => o.key));
      const problems: string[] = [];
      for (const ref of referenced.values()) {
        if (!stored.has(ref.key)) {
          if (ref.step >= MAX_STEPS) problems.push(`${ref.key}: missing, but the final checkpoint`);
          continue;
        }
        await store
          .get(ref, path.join(tempDir('ap-dur-verify-'), 'ckpt.pt'))
          .catch((e: unknown) => problems.push(`${ref.key}: ${(e as Error).message}`));
      }
      expect(problems).toEqual([]);
    },
    CAMPAIGN_TIMEOUT_MS + 180_000,
  );
});
