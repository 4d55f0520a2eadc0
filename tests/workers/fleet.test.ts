import { Client, Connection } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { tsToMs } from '@temporalio/common/lib/time';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { FineTuneHeartbeat } from '../../src/activities';
import { CampaignClient } from '../../src/client/campaign-client';
import type { CampaignConfigInput } from '../../src/core/campaign-config';
import type { CampaignResult } from '../../src/workflows/campaign';
import { searchWorkflowId } from '../../src/workflows/definitions';
import type { MacTargetSearchResult } from '../../src/workflows/mac-target-search';
import { OwnServices } from '../support/own-services';
import { ensureBuilt, smallShapes, realEngines, tempDir, testId, testServices } from '../support/test-env';
import {
  builtCli,
  descendantsOf,
  envOf,
  processTable,
  sleep,
  waitFor,
  WorkerProcess,
} from '../support/worker-process';

// A fleet on real Temporal, real S3 and the real engine, every worker its own process started by the built
// CLI: one control worker and two device workers with one slot each (`--devices 1`; one of them pinned to
// a named device through CUDA_VISIBLE_DEVICES, which a CPU host accepts and ignores). Fine-tunes of three
// targets overlap, a second campaign's search runs while they hold both train slots, and a device worker
// killed mid-fine-tune hands the job to the other, which resumes from the last checkpoint.
//
// The fleet counts the workers a server sees, so it gets its own Temporal dev server (infra/services.sh,
// AP_STATE_DIR=.state/fleet, its own port): on the shared one, the pollers of an earlier file's workers
// still show for a while after those workers stop. The shared S3 store serves it.

const CAMPAIGN_TIMEOUT_MS = 8 * 60_000;
const own = new OwnServices('fleet', {
  temporalPort: process.env.AP_FLEET_TEMPORAL_PORT ?? '7245',
  s3Port: process.env.AP_FLEET_S3_PORT ?? '7073', // not started: the shared store serves this file
});
const fleetServices = () => ({ ...testServices(), temporalAddress: own.temporalAddress });

/** One activity attempt of a workflow, from its history: when it started and ended, and on which worker. */
interface Attempt {
  activityType: string;
  targetLabel: string | undefined;
  queue: string;
  startedMs: number;
  endedMs: number;
  identity: string;
}

async function attemptsOf(client: Client, workflowId: string): Promise<Attempt[]> {
  const events = (await client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
  const byId = new Map<string, Attempt>();
  for (const e of events) {
    const s = e.activityTaskScheduledEventAttributes;
    if (s) {
      const input = defaultPayloadConverter.fromPayload(s.input!.payloads![0]!) as { targetLabel?: string };
      byId.set(String(e.eventId), {
        activityType: s.activityType!.name!,
        targetLabel: input.targetLabel,
        queue: s.taskQueue!.name!,
        startedMs: 0,
        endedMs: 0,
        identity: '',
      });
    }
    const st = e.activityTaskStartedEventAttributes;
    if (st) {
      const a = byId.get(String(st.scheduledEventId))!;
      a.startedMs = tsToMs(e.eventTime);
      a.identity = st.identity ?? '';
    }
    const done =
      e.activityTaskCompletedEventAttributes ??
      e.activityTaskFailedEventAttributes ??
      e.activityTaskTimedOutEventAttributes;
    if (done) byId.get(String(done.scheduledEventId))!.endedMs = tsToMs(e.eventTime);
  }
  return [...byId.values()];
}

/** The most intervals open at one instant. */
function peakOverlap(intervals: readonly { startedMs: number; endedMs: number }[]): number {
  const edges = intervals.flatMap((i) => [
    { t: i.startedMs, d: 1 },
    { t: i.endedMs, d: -1 },
  ]);
  edges.sort((a, b) => a.t - b.t || a.d - b.d);
  let open = 0;
  let peak = 0;
  for (const e of edges) peak = Math.max(peak, (open += e.d));
  return peak;
}

/** Engine processes below a worker process: warm trial engines (`serve`) and one-shot jobs (the rest). */
function enginesBelow(pid: number): { serve: number[]; jobs: { pid: number; job: string }[] } {
  const below = descendantsOf(pid, processTable()).filter((r) => /-m agentic_engine /.test(r.cmdline));
  const jobOf = (c: string) => /-m agentic_engine (\S+)/.exec(c)?.[1] ?? '?';
  return {
    serve: below.filter((r) => jobOf(r.cmdline) === 'serve').map((r) => r.pid),
    jobs: below
      .filter((r) => jobOf(r.cmdline) !== 'serve')
      .map((r) => ({ pid: r.pid, job: jobOf(r.cmdline) })),
  };
}

describe('a fleet: one control worker and two device workers with one slot each', () => {
  const engines = realEngines();
  let connection: Connection;
  let client: Client;
  let campaigns: CampaignClient;
  const workers: WorkerProcess[] = [];
  let control: WorkerProcess;
  let devA: WorkerProcess;
  let devB: WorkerProcess;
  let datasetRoot: string;
  /** Peak engine processes seen below each device worker, sampled every 200 ms while the tests run. */
  const peaks = new Map<string, { serve: number; jobs: number }>();
  let sampling = true;
  let sampler: Promise<void> = Promise.resolve();

  const config = (overrides: Partial<CampaignConfigInput>): CampaignConfigInput => ({
    model: { name: 'democnn', numClasses: 4 },
    targets: [{ fraction: 0.5, band: '-5%..+1%', label: 't50' }],
    search: { agent: 'solver', maxIterations: 10, extendedSearch: 0 },
    dataset: { root: datasetRoot, calibrationBatches: 1, calibrationBatchSize: 8 },
    ...overrides,
  });

  beforeAll(async () => {
    ensureBuilt();
    await own.fresh('temporal');
    datasetRoot = await smallShapes(engines.oneShotEngine, 'ap-fleet-data-');
    control = new WorkerProcess('control', ['--queues', 'control'], {}, fleetServices());
    devA = new WorkerProcess('dev-a', ['--devices', '1,'], { CUDA_VISIBLE_DEVICES: '5,7' }, fleetServices());
    devB = new WorkerProcess('dev-b', ['--devices', '1'], {}, fleetServices());
    workers.push(control, devA, devB);
    const lines = await Promise.all(workers.map((w) => w.ready()));
    expect(lines).toEqual([
      'worker running on control; Ctrl-C to stop',
      'worker running on trials, train (1 device slot: 7); Ctrl-C to stop',
      'worker running on trials, train (1 device slot: cpu); Ctrl-C to stop',
    ]);
    connection = await Connection.connect({ address: own.temporalAddress });
    client = new Client({ connection, namespace: 'default' });
    campaigns = new CampaignClient(client);
    sampler = (async () => {
      while (sampling) {
        for (const w of [devA, devB]) {
          if (!w.running) continue;
          const e = enginesBelow(w.pid);
          const p = peaks.get(w.name) ?? { serve: 0, jobs: 0 };
          peaks.set(w.name, {
            serve: Math.max(p.serve, e.serve.length),
            jobs: Math.max(p.jobs, e.jobs.length),
          });
        }
        await sleep(200);
      }
    })();
  }, 10 * 60_000);

  afterAll(async () => {
    sampling = false;
    await sampler;
    for (const w of workers) await w.stop();
    await connection?.close();
    await engines.engine.close();
    await own.run('stop', 'temporal');
  }, 120_000);

  test(
    'three targets fine-tune at once on the two slots; a second campaign searches meanwhile; show says who waits',
    async () => {
      const first = await campaigns.start(
        config({
          targets: [
            { fraction: 0.4, band: '-5%..+1%', label: 't40' },
            { fraction: 0.55, band: '-5%..+1%', label: 't55' },
            { fraction: 0.7, band: '-5%..+1%', label: 't70' },
          ],
          finetune: { epochs: 100, batchSize: 8, maxSteps: 700, checkpointEverySteps: 100, workers: 0 },
        }),
        { campaignId: testId('fleet-three') },
      );
      // Both slots busy with fine-tunes, the third target's waiting on `train`.
      const waiting = await waitFor(
        'two fine-tunes running and one waiting',
        CAMPAIGN_TIMEOUT_MS,
        async () => {
          const d = await campaigns.describe(first.campaignId);
          const desc = await client.workflow.getHandle(first.campaignId).describe();
          const started = (desc.raw.pendingActivities ?? []).filter(
            (a) => a.activityType?.name === 'fineTune' && a.lastStartedTime,
          );
          const w = d.waiting.filter((j) => j.activityType === 'fineTune' && j.waitingMs >= 5000);
          return started.length === 2 && w.length === 1 ? w[0] : undefined;
        },
      );
      expect(waiting).toMatchObject({ queue: 'train', pollers: 2, slots: 2, attempt: 1 });
      // What the user sees, through the built CLI.
      const shown = await builtCli(own.temporalAddress, 'campaign', 'show', first.campaignId);
      expect(shown.code).toBe(0);
      expect(shown.out).toMatch(
        new RegExp(
          `waiting: fineTune ${waiting.targetLabel}: waiting for a slot on task queue "train" for \\d+ s: 2 workers serve it with 2 slots, all busy`,
        ),
      );

      // The second campaign's search runs on `trials` while both `train` slots are held (its evaluations
      // then wait for a `train` slot like any long job).
      const second = await campaigns.start(config({}), { campaignId: testId('fleet-second') });
      const secondSearch = client.workflow.getHandle(searchWorkflowId(second.campaignId, 't50'));
      await waitFor('the second campaign to start its search', 60_000, () =>
        secondSearch.describe().catch(() => undefined),
      );
      const searched = (await secondSearch.result()) as MacTargetSearchResult;
      expect(searched.status).toBe('converged');
      const secondSearchClosed = (await secondSearch.describe()).closeTime!.getTime();
      const secondResult = await campaigns.result(second.campaignId);
      expect(secondResult.targets[0]!.status).toBe('converged');

      const result = (await client.workflow.getHandle(first.campaignId).result()) as CampaignResult;
      for (const t of result.targets) {
        expect(t.status).toBe('converged');
        expect(t.finetune?.steps).toBe(700);
        expect(t.accuracy?.count).toBe(16);
      }
      const attempts = await attemptsOf(client, first.campaignId);
      const fineTunes = attempts.filter((a) => a.activityType === 'fineTune');
      expect(fineTunes.map((a) => a.targetLabel).sort()).toEqual(['t40', 't55', 't70']);
      expect(fineTunes.every((a) => a.queue === 'train')).toBe(true);
      // Overlapping, two at most (two slots), and on both device workers.
      expect(peakOverlap(fineTunes)).toBe(2);
      expect(new Set(fineTunes.map((a) => a.identity.split(' ')[0])).size).toBe(2);
      // Every long job of the campaign (fine-tunes, evaluations) held one slot: never more than two at once.
      expect(peakOverlap(attempts.filter((a) => a.queue === 'train'))).toBeLessThanOrEqual(2);
      // Each target's evaluation follows its own fine-tune, not the last of them.
      for (const ft of fineTunes) {
        const ev = attempts.find(
          (a) => a.activityType === 'evaluateModel' && a.targetLabel === ft.targetLabel,
        )!;
        expect(ev.startedMs).toBeGreaterThanOrEqual(ft.endedMs);
      }
      const firstTwo = [...fineTunes].sort((a, b) => a.startedMs - b.startedMs).slice(0, 2);
      const firstEval = attempts
        .filter((a) => a.activityType === 'evaluateModel' && a.targetLabel !== '_model')
        .sort((a, b) => a.startedMs - b.startedMs)[0]!;
      const lastFineTuneEnd = Math.max(...fineTunes.map((a) => a.endedMs));
      expect(firstEval.startedMs).toBeLessThan(lastFineTuneEnd);
      // The second campaign's search finished while the first two fine-tunes both still ran.
      for (const ft of firstTwo) {
        expect(ft.startedMs).toBeLessThan(secondSearchClosed);
        expect(ft.endedMs).toBeGreaterThan(secondSearchClosed);
      }
      // Engine processes never exceeded the slots: one warm trial engine and one long job per device worker.
      for (const name of ['dev-a', 'dev-b']) expect(peaks.get(name)).toEqual({ serve: 1, jobs: 1 });
    },
    CAMPAIGN_TIMEOUT_MS + 120_000,
  );

  test('each engine is pinned to its slot: CUDA_VISIBLE_DEVICES=7 on dev-a, nothing pinned on dev-b', () => {
    const a = enginesBelow(devA.pid).serve;
    const b = enginesBelow(devB.pid).serve;
    expect(a).toHaveLength(1);
    expect(b).toHaveLength(1);
    expect(envOf(a[0]!, 'CUDA_VISIBLE_DEVICES')).toBe('7');
    expect(envOf(b[0]!, 'CUDA_VISIBLE_DEVICES')).toBeUndefined();
  });

  test('finetune.gpus: 2 with only one-device slots up: campaign start refuses it, naming the field (exit 2)', async () => {
    const file = path.join(tempDir('ap-fleet-cfg-'), 'gpus2.json');
    fs.writeFileSync(
      file,
      JSON.stringify(config({ finetune: { epochs: 1, batchSize: 8, maxSteps: 4, gpus: 2, workers: 0 } })),
    );
    const r = await builtCli(
      own.temporalAddress,
      'campaign',
      'start',
      '-c',
      file,
      '--id',
      testId('fleet-gpus2'),
    );
    expect(r.code).toBe(2);
    expect(r.err.trim()).toBe(
      'agentic-pruner: finetune.gpus: 2: no worker can take a 2-GPU fine-tune (none serves task queue "train-gpus-2"; ' +
        'the device workers up have slots of 1 device); start one with `agentic-pruner worker --devices 0,1 --gpus-per-job 2`',
    );
  });

  test(
    'a device worker killed mid-fine-tune: its slot frees, the other worker resumes from the last checkpoint',
    async () => {
      const { campaignId } = await campaigns.start(
        config({
          finetune: {
            epochs: 100,
            batchSize: 8,
            maxSteps: 400,
            checkpointEverySteps: 25,
            workers: 0,
            heartbeatTimeoutSec: 5,
          },
        }),
        { campaignId: testId('fleet-kill') },
      );
      const seen = await waitFor(
        'a heartbeat naming a checkpoint at step >= 50',
        CAMPAIGN_TIMEOUT_MS,
        async () => {
          const desc = await client.workflow.getHandle(campaignId).describe();
          const a = (desc.raw.pendingActivities ?? []).find((x) => x.activityType?.name === 'fineTune');
          const p = a?.heartbeatDetails?.payloads?.[0];
          const hb = p ? (defaultPayloadConverter.fromPayload(p) as FineTuneHeartbeat) : undefined;
          return hb && hb.checkpoints.some((c) => c.step >= 50) ? hb : undefined;
        },
      );
      const victim = [devA, devB].find((w) => enginesBelow(w.pid).jobs.some((j) => j.job === 'finetune'));
      if (!victim) throw new Error('no device worker runs the fine-tune');
      const survivor = victim === devA ? devB : devA;
      const survivorId = String(survivor.pid);
      victim.kill();
      const killedStep = Math.max(...seen.checkpoints.map((c) => c.step));

      const result = (await client.workflow.getHandle(campaignId).result()) as CampaignResult;
      const t = result.targets[0]!;
      expect(t.finetune?.steps).toBe(400);
      expect(t.finetune!.attempt).toBeGreaterThanOrEqual(2);
      expect(t.finetune!.resumedFromStep).toBeGreaterThanOrEqual(killedStep);
      const fineTune = (await attemptsOf(client, campaignId)).find((a) => a.activityType === 'fineTune')!;
      // The attempt that completed ran on the survivor (the history keeps the last attempt's worker).
      expect(fineTune.identity.split('@')[0]).toBe(survivorId);
    },
    CAMPAIGN_TIMEOUT_MS + 120_000,
  );
});
