import { Client, Connection } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { tsToMs } from '@temporalio/common/lib/time';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { FineTuneHeartbeat } from '../../src/activities';
import { CampaignClient } from '../../src/client/campaign-client';
import type { CampaignConfigInput } from '../../src/core/campaign-config';
import { LocalArtifactStore, S3ArtifactStore } from '../../src/storage';
import type { CampaignResult } from '../../src/workflows/campaign';
import { searchWorkflowId } from '../../src/workflows/definitions';
import { auditHistories, auditStore, repeated } from '../support/artifact-audit';
import { OwnServices } from '../support/own-services';
import { ensureBuilt, smallShapes, realEngines, tempDir, testId, testServices } from '../support/test-env';
import {
  alive,
  builtCli,
  descendantsOf,
  processTable,
  waitFor,
  WaitCannotSucceed,
  WorkerProcess,
} from '../support/worker-process';

// The fault suite (issue 16, item 3): one campaign on real Temporal, real S3 and the real engine, every
// worker its own process started by the built CLI, and a fault at each kind of activity in turn:
//
//   profile        device worker SIGKILLed while profileModel runs
//   trial          device worker SIGKILLed while a pruneTrial runs
//   scoring        device worker SIGKILLed while a scoreCandidate runs
//   engine child   the fine-tune's engine process SIGKILLed (its worker lives on)
//   control        the control worker (workflows, proposals, strategy-log uploads) SIGKILLed mid-campaign
//   fine-tune      device worker SIGKILLed mid-fine-tune, after a checkpoint
//   upload         device worker SIGKILLed while the fine-tune's next checkpoint upload to S3 is half sent
//   evaluate       device worker SIGKILLed while evaluateModel runs
//   deploy         device worker SIGKILLed while deploymentCheck runs
//
// A killed worker is replaced at once (as a supervisor would), and its replacement is armed for the next
// fault: the engine's failpoints (AP_ENGINE_FAILPOINTS, engine/agentic_engine/failpoints.py) pause the
// next job at its start, so the kill lands while that activity is known to be in flight; the store's
// (AP_STORE_FAILPOINTS, src/storage/failpoints.ts) pause a checkpoint's upload once its first bytes are
// on the wire, so the kill cuts that upload short. Then: the campaign
// completes, each interrupted activity ran again (failover: kill to the retry's start, reported, not
// asserted: timings go to bench/RESULTS.md), the fine-tune lost at most one checkpoint interval, no
// activity completion is recorded twice, every artifact reference in every history verifies (exists, size,
// sha256), the store holds no orphan and no incomplete upload under the campaign (a killed upload leaves
// neither: a PutObject cut short is refused, and what a multipart upload would leave the retry discards),
// and no engine process outlives its worker.
//
// Temporal restart and S3 down are tests/durability/crash.test.ts; S3 answering 503 is
// tests/activities/fine-tune.test.ts; a full local store is the second describe below.

const CAMPAIGN_TIMEOUT_MS = 10 * 60_000;
const EVERY = 10;
// Long enough that the fine-tune is still running at its last fault: its steps are fast (tens a second on
// the small model) and the test sees them late (heartbeats are throttled, and the first attempt has often
// checkpointed 140 steps before its first heartbeat arrives), while each retry resumes near where the last
// attempt stopped. With 160 steps a retry could finish while the control worker restarted, and the next
// fault waited for a fine-tune that had ended.
const MAX_STEPS = 800;
const PAUSE_S = 120;

const own = new OwnServices('faults', {
  temporalPort: process.env.AP_FAULTS_TEMPORAL_PORT ?? '7246',
  s3Port: process.env.AP_FAULTS_S3_PORT ?? '7074', // not started: the shared store serves this file
});
const services = () => ({ ...testServices(), temporalAddress: own.temporalAddress });

/** One fault as it happened: what was killed, when, and when the activity ran again. */
interface FaultFigure {
  fault: string;
  activityType: string;
  killedAtMs: number;
  /** Kill to the start of the activity's next attempt. */
  failoverMs: number | null;
  attemptAfter: number | null;
}

/** A pending activity of one of `workflowIds`, as the server describes it. */
interface Pending {
  workflowId: string;
  activityId: string;
  activityType: string;
  attempt: number;
  startedMs: number | null;
  heartbeat: unknown;
}

async function pendingOf(client: Client, workflowIds: readonly string[]): Promise<Pending[]> {
  const out: Pending[] = [];
  for (const id of workflowIds) {
    const desc = await client.workflow
      .getHandle(id)
      .describe()
      .catch(() => undefined);
    for (const a of desc?.raw.pendingActivities ?? []) {
      const p = a.heartbeatDetails?.payloads?.[0];
      out.push({
        workflowId: id,
        activityId: a.activityId ?? '',
        activityType: a.activityType?.name ?? '',
        attempt: a.attempt ?? 1,
        startedMs: a.lastStartedTime ? tsToMs(a.lastStartedTime) : null,
        heartbeat: p ? defaultPayloadConverter.fromPayload(p) : undefined,
      });
    }
  }
  return out;
}

/** When the last attempt of one activity started, and its number, from history (after it completed). */
async function lastStartOf(
  client: Client,
  workflowId: string,
  activityId: string,
): Promise<{ startedMs: number; attempt: number } | undefined> {
  const events = (await client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
  const scheduled = events.find((e) => e.activityTaskScheduledEventAttributes?.activityId === activityId);
  if (!scheduled) return undefined;
  const started = events.find(
    (e) => String(e.activityTaskStartedEventAttributes?.scheduledEventId ?? '') === String(scheduled.eventId),
  );
  if (!started?.eventTime) return undefined;
  return {
    startedMs: tsToMs(started.eventTime),
    attempt: started.activityTaskStartedEventAttributes!.attempt ?? 1,
  };
}

const engines = realEngines();
let connection: Connection;
let client: Client;
let campaigns: CampaignClient;
let datasetRoot: string;
/** Every worker process this file started (stopped after each describe). */
const workers: WorkerProcess[] = [];

beforeAll(async () => {
  ensureBuilt();
  await own.fresh('temporal');
  datasetRoot = await smallShapes(engines.oneShotEngine, 'ap-faults-data-');
  connection = await Connection.connect({ address: own.temporalAddress });
  client = new Client({ connection, namespace: 'default' });
  campaigns = new CampaignClient(client);
}, 10 * 60_000);

afterAll(async () => {
  for (const w of workers) await w.stop();
  await connection?.close();
  await engines.engine.close();
  await own.run('stop', 'temporal');
}, 120_000);

/** One democnn target at half its MACs, the solver, a fine-tune of `maxSteps` checkpointed every EVERY steps. */
function campaignConfig(maxSteps: number): CampaignConfigInput {
  return {
    model: { name: 'democnn', numClasses: 4 },
    targets: [{ fraction: 0.5, band: '-5%..+1%', label: 't50' }],
    search: { agent: 'solver', maxIterations: 10, extendedSearch: 0 },
    dataset: { root: datasetRoot, calibrationBatches: 1, calibrationBatchSize: 8 },
    finetune: {
      epochs: 100,
      batchSize: 8,
      maxSteps,
      checkpointEverySteps: EVERY,
      workers: 0,
      heartbeatTimeoutSec: 5,
    },
    deployment: { latencyRuns: 2, batchSizes: [1], agreementSamples: 8 },
  };
}

/** The newest checkpoint step a pending fine-tune's heartbeat names (-1: none). */
function ckpt(p: Pending): number {
  return Math.max(
    -1,
    ...((p.heartbeat as FineTuneHeartbeat | undefined)?.checkpoints ?? []).map((c) => c.step),
  );
}

/** A device worker (`--devices 1`) whose engines pause at the start of `armed` jobs. */
async function deviceWorker(
  armed: readonly string[],
  env: Record<string, string> = {},
): Promise<WorkerProcess> {
  const failpoints: Record<string, string> = armed.length
    ? { AP_ENGINE_FAILPOINTS: armed.map((j) => `${j}=${PAUSE_S}`).join(',') }
    : {};
  const w = new WorkerProcess(
    `dev-${workers.length + 1}`,
    ['--devices', '1'],
    { ...env, ...failpoints },
    services(),
  );
  workers.push(w);
  await w.ready();
  return w;
}

async function controlWorker(env: Record<string, string> = {}): Promise<WorkerProcess> {
  const w = new WorkerProcess(`control-${workers.length + 1}`, ['--queues', 'control'], env, services());
  workers.push(w);
  await w.ready();
  return w;
}

describe('the fault suite: a kill at each kind of activity, one campaign', () => {
  const { s3 } = testServices();
  const store = new S3ArtifactStore({
    endpoint: s3.endpoint,
    bucket: s3.bucket,
    accessKeyId: s3.accessKeyId,
    secretAccessKey: s3.secretAccessKey,
  });
  const figures: FaultFigure[] = [];

  /** SIGKILL the worker alone (as the kernel's OOM killer or a lost host would); its engines must follow it. */
  async function killWorker(w: WorkerProcess): Promise<number> {
    const below = descendantsOf(w.pid).map((p) => p.pid);
    const t = Date.now();
    process.kill(w.pid, 'SIGKILL');
    // The engine asks the kernel to kill it with its parent (PR_SET_PDEATHSIG): nothing trains on for nobody.
    await waitFor(`the engines of ${w.name} to die with it (pids ${below.join(', ')})`, 10_000, async () =>
      below.every((p) => !alive(p)) ? true : undefined,
    );
    return t;
  }

  /** Wait for the retry of the activity killed at `killedAtMs`, and record the figure. */
  async function recordFailover(
    fault: string,
    victim: Pending,
    killedAtMs: number,
    ids: string[],
  ): Promise<void> {
    const next = await waitFor(
      `${fault}: the retry of ${victim.activityType} to start`,
      CAMPAIGN_TIMEOUT_MS,
      async () => {
        const p = (await pendingOf(client, ids)).find(
          (x) => x.activityId === victim.activityId && x.workflowId === victim.workflowId,
        );
        if (p && p.attempt > victim.attempt && p.startedMs !== null && p.startedMs >= killedAtMs - 1000)
          return { startedMs: p.startedMs, attempt: p.attempt };
        if (!p) return lastStartOf(client, victim.workflowId, victim.activityId); // done already
        return undefined;
      },
    );
    expect(next.attempt).toBeGreaterThan(victim.attempt);
    figures.push({
      fault,
      activityType: victim.activityType,
      killedAtMs,
      failoverMs: next.startedMs - killedAtMs,
      attemptAfter: next.attempt,
    });
  }

  /**
   * The first started attempt of `activityType` in `ids` (optionally passing `also`; `ids[0]` the campaign).
   * For an activity the campaign runs once (`once`: the fine-tune), the wait fails at once if it completes
   * first (a completion in the histories the artifact audit walks): the fault meant for it can no longer land.
   */
  function started(
    ids: string[],
    activityType: string,
    also: (p: Pending) => boolean = () => true,
    once = false,
  ) {
    return waitFor(`${activityType} to start`, CAMPAIGN_TIMEOUT_MS, async () => {
      const pending = await pendingOf(client, ids);
      const hit = pending.find((p) => p.activityType === activityType && p.startedMs !== null && also(p));
      if (hit) return hit;
      if (
        once &&
        !pending.some((p) => p.activityType === activityType) &&
        (await auditHistories(client, ids[0]!)).completions.some((c) => c.includes(`/${activityType}#`))
      )
        throw new WaitCannotSucceed(
          `${activityType} completed before its fault could land (MAX_STEPS ${MAX_STEPS} too few for this machine)`,
        );
      return undefined;
    });
  }

  afterAll(async () => {
    for (const w of workers) await w.stop();
    store.destroy();
    const out = process.env.AP_FAULT_FIGURES;
    if (out) fs.writeFileSync(out, JSON.stringify(figures, null, 2) + '\n');
    console.log(
      figures
        .map(
          (f) =>
            `${f.fault}: ${f.activityType} failover ${f.failoverMs === null ? '-' : `${(f.failoverMs / 1000).toFixed(1)} s`} (attempt ${f.attemptAfter})`,
        )
        .join('\n'),
    );
  }, 120_000);

  test(
    'the campaign completes through nine faults: nothing lost, nothing twice, nothing orphaned',
    async () => {
      let control = await controlWorker();
      let dev = await deviceWorker(['profile']);
      const { campaignId } = await campaigns.start(campaignConfig(MAX_STEPS), {
        campaignId: testId('faults'),
      });
      const ids = [campaignId, searchWorkflowId(campaignId, 't50')];

      // profile, trial, scoring: a device worker killed while its engine sits in the job's failpoint.
      for (const [fault, activityType, nextArmed] of [
        ['profile', 'profileModel', ['prune']],
        ['trial', 'pruneTrial', ['score']],
        ['scoring', 'scoreCandidate', []],
      ] as const) {
        const victim = await started(ids, activityType);
        const t = await killWorker(dev);
        dev = await deviceWorker([...nextArmed]);
        await recordFailover(fault, victim, t, ids);
      }

      // The fine-tune's engine process killed after a checkpoint: the same worker retries, from that checkpoint.
      const fineTuneEngine = () =>
        descendantsOf(dev.pid).find((r) => / -m agentic_engine finetune/.test(r.cmdline));
      const ft1 = await started(
        ids,
        'fineTune',
        (p) => ckpt(p) >= 2 * EVERY && fineTuneEngine() !== undefined,
        true,
      );
      const engine = fineTuneEngine();
      if (!engine)
        throw new Error(
          `the fine-tune engine below ${dev.name} ended before it could be killed\n${dev.tail()}`,
        );
      const tEngine = Date.now();
      process.kill(engine.pid, 'SIGKILL');
      const resumed1 = await waitFor(
        'the fine-tune retry to start',
        CAMPAIGN_TIMEOUT_MS,
        async () => {
          const p = (await pendingOf(client, ids)).find((x) => x.activityType === 'fineTune');
          return p && p.attempt > ft1.attempt && p.startedMs !== null && p.startedMs >= tEngine - 1000
            ? p
            : undefined;
        },
        100,
      );
      expect(dev.running).toBe(true);
      figures.push({
        fault: 'engine child',
        activityType: 'fineTune',
        killedAtMs: tEngine,
        failoverMs: resumed1.startedMs! - tEngine,
        attemptAfter: resumed1.attempt,
      });
      // Lost work: the retry starts at the last checkpoint the killed attempt announced, or later (its worker says).
      const resumedAt = await waitFor('the worker to say where the retry resumes', 60_000, async () => {
        const m = new RegExp(
          `fine-tune t50: attempt ${resumed1.attempt} resumes from checkpoint step (\\d+)`,
        ).exec(dev.printed);
        return m ? Number(m[1]) : undefined;
      });
      expect(resumedAt).toBeGreaterThanOrEqual(ckpt(ft1));

      // The control worker killed while the fine-tune runs: a new one carries the workflows on.
      const tControl = await killWorker(control);
      control = await controlWorker();
      figures.push({
        fault: 'control',
        activityType: '(workflow tasks)',
        killedAtMs: tControl,
        failoverMs: null,
        attemptAfter: null,
      });

      // The device worker killed mid-fine-tune, after a later checkpoint; its replacement pauses the first
      // checkpoint it uploads. The attempt is the resumed one or a later one: on a loaded machine a heartbeat
      // can come later than the 5 s timeout, and the server then starts the next attempt on the same worker.
      const ft2 = await started(
        ids,
        'fineTune',
        (p) => p.attempt >= resumed1.attempt && ckpt(p) >= 5 * EVERY,
        true,
      );
      const tFt = await killWorker(dev);
      dev = await deviceWorker([], { AP_STORE_FAILPOINTS: `/checkpoints/ckpt-=${PAUSE_S}` });
      await recordFailover('fine-tune', ft2, tFt, ids);

      // The device worker killed mid-upload: the retry's next checkpoint sits half sent (its first bytes on the
      // wire, the rest held by the failpoint) while the activity heartbeats; its replacement is armed for evaluate.
      const [, pausedKey, sentBytes, totalBytes] = await waitFor(
        `${dev.name}: a checkpoint upload to pause mid-way`,
        CAMPAIGN_TIMEOUT_MS,
        async () =>
          /store failpoint: put (\S+\/checkpoints\/ckpt-\S+) paused for \d+ s after (\d+) of (\d+) bytes/.exec(
            dev.printed,
          ) ?? undefined,
      );
      expect(Number(sentBytes)).toBeLessThan(Number(totalBytes));
      const ftUp = (await pendingOf(client, ids)).find((p) => p.activityType === 'fineTune');
      if (!ftUp) throw new Error(`no fine-tune pending while its upload is paused\n${dev.tail()}`);
      const tUp = await killWorker(dev);
      // What the cut left: no short object at the key (S3 refused the short body), no incomplete upload under
      // it. The key may hold a whole object all the same: the device worker killed before this one can have
      // stored the same step's checkpoint and died before its heartbeat naming it reached the server (the SDK
      // throttles heartbeats), so this retry resumed before that step and is overwriting it. Then that object
      // is the earlier one, whole: its bytes match the sha256 stored with it, and its size is the full size.
      await new Promise((r) => setTimeout(r, 1000));
      if (await store.exists(pausedKey!)) {
        const whole = await store.getBytes(pausedKey!); // throws ArtifactIntegrityError on a short body
        expect(whole.byteLength).toBe(Number(totalBytes));
      }
      expect(await store.listIncompleteUploads(pausedKey!)).toEqual([]);
      dev = await deviceWorker(['evaluate']);
      await recordFailover('upload', ftUp, tUp, ids);

      // evaluate, then deploy.
      for (const [fault, activityType, nextArmed] of [
        ['evaluate', 'evaluateModel', ['export']],
        ['deploy', 'deploymentCheck', []],
      ] as const) {
        const victim = await started(ids, activityType);
        const t = await killWorker(dev);
        dev = await deviceWorker([...nextArmed]);
        await recordFailover(fault, victim, t, ids);
      }

      const result = (await client.workflow.getHandle(campaignId).result()) as CampaignResult;
      const t = result.targets[0]!;
      expect(t.status).toBe('converged');
      expect(t.finetune?.steps).toBe(MAX_STEPS);
      expect(t.finetune!.attempt).toBeGreaterThanOrEqual(4);
      // The upload's retry resumed from the last checkpoint heartbeated, never from the one cut short.
      const pausedStep = Number(/ckpt-(\d+)\.pt$/.exec(pausedKey!)?.[1]);
      expect(t.finetune!.resumedFromStep).toBeGreaterThanOrEqual(Math.max(ckpt(ft2), ckpt(ftUp)));
      expect(t.finetune!.resumedFromStep).toBeLessThan(pausedStep);
      expect(t.accuracy?.count).toBe(16);
      expect(t.deployment).toBeDefined();

      // Nothing recorded twice: each activity completed once in history, each attempt once in the log.
      const audit = await auditHistories(client, campaignId);
      expect(repeated(audit.completions)).toEqual([]);
      const [log] = await campaigns.log(campaignId);
      const indexes = log!.attempts.map((a) => a.index);
      expect(indexes).toEqual(indexes.map((_, i) => i + 1));

      // Every reference verifies; nothing under the campaign is left that no reference names, whole or not.
      const storeAudit = await auditStore(store, audit.refs, `campaigns/${campaignId}/`);
      expect(storeAudit.bad).toEqual([]);
      expect(storeAudit.orphans).toEqual([]);
      expect(storeAudit.incomplete).toEqual([]);
      expect(storeAudit.checked).toBeGreaterThan(5);

      // Every fault was met, and each activity ran again.
      expect(figures.map((f) => f.fault)).toEqual([
        'profile',
        'trial',
        'scoring',
        'engine child',
        'control',
        'fine-tune',
        'upload',
        'evaluate',
        'deploy',
      ]);
      // No engine process outlived its worker. One that outlives its parent is re-parented (to init or a
      // subreaper), so each engine left must be the child of a live node process: a worker of this file, this
      // process, or (on a shared machine) another test's or benchmark's, which this file does not judge.
      const table = processTable();
      const stray = table.filter(
        (r) =>
          /-m agentic_engine /.test(r.cmdline) &&
          !/^\S*node /.test(table.find((p) => p.pid === r.ppid)?.cmdline ?? ''),
      );
      expect(stray).toEqual([]);
    },
    CAMPAIGN_TIMEOUT_MS + 120_000,
  );
});

// ---------------------------------------------------------------------------------------------------------
// A full local store: a tmpfs folder (root may mount one; elsewhere the test says why it cannot run).

const STORE_MB = 96;

/** Why a tmpfs cannot be mounted here, or undefined when it can (probed once, at load). */
function tmpfsRefusal(): string | undefined {
  const probe = tempDir('ap-tmpfs-probe-');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', probe], { stdio: 'pipe' });
    execFileSync('umount', [probe], { stdio: 'pipe' });
    return undefined;
  } catch (err) {
    const e = err as { stderr?: Buffer; message: string };
    return `mount -t tmpfs refused (${(e.stderr?.toString() || e.message).trim().split('\n')[0]}): needs root or CAP_SYS_ADMIN`;
  }
}

const refusal = tmpfsRefusal();
if (refusal) console.warn(`the full-disk fault is skipped on this machine: ${refusal}`);

(refusal ? describe.skip : describe)('the local store runs out of space mid-fine-tune', () => {
  const storeRoot = tempDir('ap-faults-store-');
  const filler = path.join(storeRoot, 'filler.bin');

  beforeAll(() => {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${STORE_MB}m`, 'tmpfs', storeRoot], { stdio: 'pipe' });
  });

  afterAll(async () => {
    for (const w of workers) await w.stop();
    execFileSync('umount', [storeRoot], { stdio: 'pipe' });
  }, 120_000);

  test(
    'uploads fail with ENOSPC, `campaign show` says so in one line; space freed, it completes from its last checkpoint, nothing torn',
    async () => {
      const env = { AP_STORE: 'local', AP_STORE_ROOT: storeRoot };
      await controlWorker(env);
      await deviceWorker([], env);
      const { campaignId } = await campaigns.start(campaignConfig(400), {
        campaignId: testId('faults-full'),
      });
      const ids = [campaignId, searchWorkflowId(campaignId, 't50')];
      const before = await waitFor('a first checkpoint uploaded', CAMPAIGN_TIMEOUT_MS, async () =>
        (await pendingOf(client, ids)).find((p) => p.activityType === 'fineTune' && ckpt(p) >= EVERY),
      );
      // Fill the store's disk, leaving less than a checkpoint.
      const free = () => {
        const st = fs.statfsSync(storeRoot);
        return st.bavail * st.bsize;
      };
      const fd = fs.openSync(filler, 'w');
      try {
        for (let room = free() - 32 * 1024; room > 0; room = free() - 32 * 1024)
          fs.writeSync(fd, Buffer.alloc(Math.min(room, 1 << 20)));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
      } finally {
        fs.closeSync(fd);
      }
      expect(free()).toBeLessThan(1 << 20); // a checkpoint is ~3 MB

      // What the user sees: the retry and its reason, in one line, through the built CLI.
      const line = await waitFor(
        '`campaign show` to say the fine-tune retries on a full disk',
        CAMPAIGN_TIMEOUT_MS,
        async () => {
          const shown = await builtCli(own.temporalAddress, 'campaign', 'show', campaignId);
          return /^retrying: fineTune t50 \(attempt \d+ of 20[^)]*\): the last try failed: .*ENOSPC: no space left on device.*$/m.exec(
            shown.out,
          )?.[0];
        },
        1000,
      );
      expect(line).not.toMatch(/\n|    at /);
      const [first] = (await campaigns.describe(campaignId)).retrying;
      expect(first).toMatchObject({ activityType: 'fineTune', targetLabel: 't50', maximumAttempts: 20 });
      expect(first!.reason).toMatch(
        /^artifact store: put .*campaigns\/.*\/t50\/checkpoints\/ckpt-\d+\.pt failed \(transient\): ENOSPC: no space left on device/,
      );

      // Space freed: the retry goes through.
      fs.rmSync(filler);
      const result = (await client.workflow.getHandle(campaignId).result()) as CampaignResult;
      const t = result.targets[0]!;
      expect(t.status).toBe('converged');
      expect(t.finetune?.steps).toBe(400);
      expect(t.finetune!.attempt).toBeGreaterThanOrEqual(2);
      expect(t.finetune!.resumedFromStep).toBeGreaterThanOrEqual(ckpt(before));

      // Nothing torn: every reference verifies, no orphan, no temp file left by a failed write.
      const store = new LocalArtifactStore(storeRoot);
      const audit = await auditHistories(client, campaignId);
      const storeAudit = await auditStore(store, audit.refs, `campaigns/${campaignId}/`);
      expect(storeAudit.bad).toEqual([]);
      expect(storeAudit.orphans).toEqual([]);
      expect(storeAudit.incomplete).toEqual([]);
      const leftovers = fs
        .readdirSync(storeRoot, { recursive: true })
        .map(String)
        .filter((f) => path.basename(f).startsWith('.ap-tmp-'));
      expect(leftovers).toEqual([]);
    },
    CAMPAIGN_TIMEOUT_MS + 120_000,
  );
});
