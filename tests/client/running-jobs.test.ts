// What `campaign status` and `watch` say while a search's engine job runs: the job and the progress its last
// heartbeat brought. On the real dev server, S3 store and engine; the engine's job is held at its start by a
// failpoint (AP_ENGINE_FAILPOINTS) for far longer than the heartbeat throttle (5 s, HEARTBEAT_THROTTLE), so the
// server is known to hold a beat the activity sent while it waits (`starting`; a trial's `pruning`).
import { createAgents } from '../../src/agents';
import { CampaignClient } from '../../src/client/campaign-client';
import type { CampaignConfigInput } from '../../src/core/campaign-config';
import { runningLine, type RunningJob } from '../../src/client/worker-presence';
import { defaultEngineLocation } from '../../src/engine/engine-paths';
import { WarmEngine } from '../../src/engine/engine-process';
import { searchWorkflowId } from '../../src/workflows/definitions';
import {
  denseDemocnn,
  realEngines,
  startTestWorkers,
  tempDir,
  testId,
  testStore,
  type TestWorkers,
} from '../support/test-env';
import { waitFor } from '../support/worker-process';
import { cli } from './run-cli';

/** How long the engine holds every score job before it starts. */
const HOLD_S = 30;

describe('a running search job in status and watch (real dev server, S3 and engine)', () => {
  const engines = realEngines();
  // The score job held; so is the count of train/ that plans a recovery's length (engine `finetune-plan`).
  const held = new WarmEngine(defaultEngineLocation(process.env.AP_ENGINE_PYTHON), {
    env: { AP_ENGINE_FAILPOINTS: `score=${HOLD_S},finetune-plan=${HOLD_S}` },
  });
  let env: TestWorkers;

  beforeAll(async () => {
    const store = testStore();
    env = await startTestWorkers({
      store,
      engine: held,
      oneShotEngine: engines.oneShotEngine,
      agents: createAgents({ store }),
      workDir: tempDir(),
    });
  }, 5 * 60_000);

  afterAll(async () => {
    await env?.stop();
    await held.close();
    await engines.engine.close();
  });

  /** A campaign of one candidate of democnn at half its MACs (a dense model trained 20 steps), scored as `search` says. */
  async function startOne(
    campaigns: CampaignClient,
    id: string,
    search: Partial<NonNullable<CampaignConfigInput['search']>>,
    finetune?: CampaignConfigInput['finetune'],
  ) {
    const dense = await denseDemocnn(engines.oneShotEngine, 20);
    return campaigns.start(
      {
        model: { name: 'democnn', numClasses: 10, weights: dense.weights },
        targets: [{ fraction: 0.5, band: '-5%..+1%', label: 'half' }],
        search: { agent: 'solver', maxIterations: 30, candidates: 1, scoreImages: 64, ...search },
        dataset: { root: dense.dataset, calibrationBatches: 1, calibrationBatchSize: 16 },
        ...(finetune ? { finetune } : {}),
        deployment: { enabled: false },
      },
      { campaignId: testId(id) },
    );
  }

  test(
    'status names the candidate being scored, its mode and where its engine job is',
    async () => {
      const campaigns = new CampaignClient(env.client);
      const { campaignId } = await startOne(campaigns, 'running', { scoring: 'zero-shot' });
      try {
        // The first in-band attempt is scored: its job is held, and after the throttle the server has its beat.
        const job = await waitFor(
          'a held score job past the heartbeat throttle',
          (HOLD_S + 20) * 1000,
          async () => {
            const d = await campaigns.describe(campaignId);
            return d.running.find(
              (j) => j.activityType === 'scoreCandidate' && j.details.stage === 'starting',
            );
          },
        );
        expect(job.workflowId).toBe(searchWorkflowId(campaignId, 'half'));
        const log = await campaigns.log(campaignId);
        const inBand = log[0]!.attempts.filter((a) => a.inBand);
        expect(inBand.length).toBeGreaterThanOrEqual(1);
        const line = `half: scoring attempt ${inBand[0]!.index} (zero-shot): starting`;
        // The line, and the age of the beat the server holds: within the hold.
        const { heartbeatAgeMs, ...beat } = job;
        expect(runningLine(beat as RunningJob)).toBe(line);
        expect(heartbeatAgeMs).toBeGreaterThanOrEqual(0);
        expect(heartbeatAgeMs).toBeLessThan(HOLD_S * 1000);
        // What status and watch print: the line, with the beat's age once it is a second or more.
        const printed = (out: string) => {
          const shown = out.split('\n').find((l) => l.startsWith(`running: ${line}`));
          expect(shown?.slice(`running: ${line}`.length)).toMatch(/^( \(\d+ s ago\))?$/);
        };
        // What the user sees.
        const status = await cli('campaign', 'status', campaignId);
        printed(status.out);
        // watch prints it in its frames (one a second) until the campaign ends: cancelled after a few.
        const watching = cli('campaign', 'watch', campaignId);
        await new Promise((r) => setTimeout(r, 3000));
        await campaigns.cancel(campaignId);
        const watched = await watching;
        printed(watched.out);
      } finally {
        await campaigns.cancel(campaignId).catch(() => undefined);
      }
      // Once the campaign has ended, nothing is said to be running.
      await waitFor('the campaign to end', 60_000, async () =>
        (await campaigns.status(campaignId)) !== 'RUNNING' ? true : undefined,
      );
      expect((await campaigns.describe(campaignId)).running).toEqual([]);
      const after = await cli('campaign', 'status', campaignId);
      expect(after.out).not.toContain('running:');
    },
    4 * 60_000,
  );

  test(
    "status names the campaign's scoring plan while the engine counts train/, before any search",
    async () => {
      const campaigns = new CampaignClient(env.client);
      // A recovery as a share of the final fine-tune: its steps are counted on train/ before the search starts.
      const { campaignId } = await startOne(
        campaigns,
        'running-plan',
        { scoring: 'recovery', recovery: { share: 0.5 } },
        { epochs: 1, batchSize: 16 },
      );
      try {
        const job = await waitFor('the held count of train/', (HOLD_S + 20) * 1000, async () =>
          (await campaigns.describe(campaignId)).running.find((j) => j.activityType === 'planRecovery'),
        );
        expect(job.workflowId).toBe(campaignId);
        const line = 'scoring plan: counting the train/ images';
        const { heartbeatAgeMs, ...beat } = job;
        expect(runningLine(beat as RunningJob)).toBe(line);
        // The activity beats at its start: the server holds that beat, younger than the hold.
        expect(heartbeatAgeMs).toBeGreaterThanOrEqual(0);
        expect(heartbeatAgeMs ?? 0).toBeLessThan(HOLD_S * 1000);
        // What the user sees: the line (with the beat's age once it is a second or more), and no search yet.
        const status = await cli('campaign', 'status', campaignId);
        const shown = status.out.split('\n').find((l) => l.startsWith(`running: ${line}`));
        expect(shown?.slice(`running: ${line}`.length)).toMatch(/^( \(\d+ s ago\))?$/);
        expect((await campaigns.log(campaignId)).flatMap((l) => l.attempts)).toEqual([]);
      } finally {
        await campaigns.cancel(campaignId).catch(() => undefined);
      }
    },
    4 * 60_000,
  );
});

describe('a running prune trial in status (real dev server, S3 and engine)', () => {
  const engines = realEngines();
  // Every prune job held at its start (the dry-run screen before it is not): the trial's line says so.
  const held = new WarmEngine(defaultEngineLocation(process.env.AP_ENGINE_PYTHON), {
    env: { AP_ENGINE_FAILPOINTS: `prune=${HOLD_S}` },
  });
  let env: TestWorkers;

  beforeAll(async () => {
    const store = testStore();
    env = await startTestWorkers({
      store,
      engine: held,
      oneShotEngine: engines.oneShotEngine,
      agents: createAgents({ store }),
      workDir: tempDir(),
    });
  }, 5 * 60_000);

  afterAll(async () => {
    await env?.stop();
    await held.close();
    await engines.engine.close();
  });

  test(
    "status names the trial's attempt, its strategy as proposed, and that its prune job runs",
    async () => {
      const campaigns = new CampaignClient(env.client);
      const dense = await denseDemocnn(engines.oneShotEngine, 20);
      const { campaignId } = await campaigns.start(
        {
          model: { name: 'democnn', numClasses: 10, weights: dense.weights },
          targets: [{ fraction: 0.5, band: '-5%..+1%', label: 'half' }],
          search: {
            agent: 'solver',
            maxIterations: 30,
            candidates: 1,
            scoreImages: 64,
            scoring: 'zero-shot',
          },
          dataset: { root: dense.dataset, calibrationBatches: 1, calibrationBatchSize: 16 },
          deployment: { enabled: false },
        },
        { campaignId: testId('running-trial') },
      );
      try {
        const job = await waitFor('a held prune job', (HOLD_S + 20) * 1000, async () =>
          (await campaigns.describe(campaignId)).running.find(
            (j) => j.activityType === 'pruneTrial' && j.details.stage === 'pruning',
          ),
        );
        expect(job.workflowId).toBe(searchWorkflowId(campaignId, 'half'));
        const { heartbeatAgeMs, ...beat } = job;
        expect(heartbeatAgeMs).toBeGreaterThanOrEqual(0);
        expect(heartbeatAgeMs).toBeLessThan(HOLD_S * 1000);
        const line = runningLine(beat as RunningJob);
        const status = await cli('campaign', 'status', campaignId);
        const shown = status.out.split('\n').find((l) => l.startsWith(`running: ${line}`));
        expect(shown?.slice(`running: ${line}`.length)).toMatch(/^( \(\d+ s ago\))?$/);
        // Once the hold ends the trial lands in the log: the line named its attempt, importance and ratio as proposed.
        if (job.activityType !== 'pruneTrial') throw new Error('not a trial');
        const attempt = await waitFor('the held trial in the log', (HOLD_S + 60) * 1000, async () =>
          (await campaigns.log(campaignId))[0]?.attempts.find((a) => a.index === job.details.attemptIndex),
        );
        const proposed = attempt.screen?.proposedRatio ?? attempt.strategy.pruningRatio;
        expect(line).toBe(
          `half: prune trial attempt ${attempt.index} (${attempt.strategy.importance}, ratio ${proposed.toFixed(3)} as proposed): pruning`,
        );
      } finally {
        await campaigns.cancel(campaignId).catch(() => undefined);
      }
    },
    5 * 60_000,
  );
});
