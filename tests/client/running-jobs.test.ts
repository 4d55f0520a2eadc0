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

/** How long the engine holds each job its failpoints name before the job starts. */
const HOLD_S = 30;

/** `out` (what `status` or `watch` printed) has `line` as a running line, with the beat's age once it is 1 s or more. */
function expectShown(out: string, line: string): void {
  const shown = out.split('\n').find((l) => l.startsWith(`running: ${line}`));
  expect(shown?.slice(`running: ${line}`.length)).toMatch(/^( \(\d+ s ago\))?$/);
}

/**
 * Workers on the test services for one describe block, whose warm engine (trials and scoring) holds the jobs
 * `failpoints` names; started before its tests, stopped after them.
 */
function heldWorkers(failpoints: string) {
  const engines = realEngines();
  const held = new WarmEngine(defaultEngineLocation(process.env.AP_ENGINE_PYTHON), {
    env: { AP_ENGINE_FAILPOINTS: failpoints },
  });
  let env: TestWorkers | undefined;
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
  return {
    campaigns: () => new CampaignClient(env!.client),
    /** A campaign of one candidate of democnn at half its MACs (a dense model trained 20 steps), scored as `search` says. */
    async startOne(
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
    },
  };
}

describe('a running search job in status and watch (real dev server, S3 and engine)', () => {
  // The score job held; so is the count of train/ that plans a recovery's length (engine `finetune-plan`).
  const { campaigns: client, startOne } = heldWorkers(`score=${HOLD_S},finetune-plan=${HOLD_S}`);

  test(
    'status names the candidate being scored, its mode and where its engine job is',
    async () => {
      const campaigns = client();
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
        // What the user sees in status and watch: the line, with the beat's age once it is a second or more.
        expectShown((await cli('campaign', 'status', campaignId)).out, line);
        // watch prints it in its frames (one a second) until the campaign ends: cancelled after a few.
        const watching = cli('campaign', 'watch', campaignId);
        await new Promise((r) => setTimeout(r, 3000));
        await campaigns.cancel(campaignId);
        const watched = (await watching).out;
        expectShown(watched, line);
        // To a pipe, watch writes a frame only when something changed (not the beat's age or the job's step),
        // each stamped with its time: every frame header is stamped, and no frame repeats the one before it.
        const headers = watched.split('\n').filter((l) => l.includes(`${campaignId}  stage: `));
        expect(headers.length).toBeGreaterThanOrEqual(1);
        for (const h of headers) expect(h).toMatch(/^\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\] /);
        const frames = watched
          .split(/\n\n(?=\[\d{4}-)/)
          .map((f) => f.replace(/^\[[^\]]+\] /, '').replace(/ \(\d+ s ago\)/g, ''));
        expect(frames).toHaveLength(headers.length);
        for (let i = 1; i < frames.length; i++) expect(frames[i]).not.toBe(frames[i - 1]);
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
      const campaigns = client();
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
        expectShown((await cli('campaign', 'status', campaignId)).out, line);
        expect((await campaigns.log(campaignId)).flatMap((l) => l.attempts)).toEqual([]);
      } finally {
        await campaigns.cancel(campaignId).catch(() => undefined);
      }
    },
    4 * 60_000,
  );
});

describe("a campaign's profile and prune trial running, in status (real dev server, S3 and engine)", () => {
  // The dense model's profile and every prune job held at their start (the dry-run screen before a prune is not).
  const { campaigns: client, startOne } = heldWorkers(`profile=${HOLD_S},prune=${HOLD_S}`);

  test(
    "status names the model being profiled, then the trial's attempt, its strategy as proposed, and its stage",
    async () => {
      const campaigns = client();
      const { campaignId } = await startOne(campaigns, 'running-trial', { scoring: 'zero-shot' });
      try {
        // The campaign's first job: the profile, held before the engine's first stage.
        const profile = await waitFor('the held profile', (HOLD_S + 20) * 1000, async () =>
          (await campaigns.describe(campaignId)).running.find((j) => j.activityType === 'profileModel'),
        );
        expect(profile.workflowId).toBe(campaignId);
        const { heartbeatAgeMs: profileAge, ...profileBeat } = profile;
        expect(profileAge).toBeGreaterThanOrEqual(0);
        expect(runningLine(profileBeat as RunningJob)).toBe('profiling democnn: starting');
        expectShown((await cli('campaign', 'status', campaignId)).out, 'profiling democnn: starting');

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
        expectShown((await cli('campaign', 'status', campaignId)).out, line);
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
