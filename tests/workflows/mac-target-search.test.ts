import { WorkflowUpdateFailedError } from '@temporalio/client';
import { createAgents } from '../../src/agents';
import { CampaignClient } from '../../src/client/campaign-client';
import { attemptRole } from '../../src/core/search-state';
import { inBand } from '../../src/core/tolerance-band';
import { LocalArtifactStore } from '../../src/storage';
import type { CampaignResult } from '../../src/workflows/campaign';
import {
  overrideStrategyUpdate,
  pauseSignal,
  resumeSignal,
  setBandUpdate,
  strategyLogQuery,
} from '../../src/workflows/definitions';
import type { MacTargetSearchInput, MacTargetSearchResult } from '../../src/workflows/mac-target-search';
import { TaskQueues } from '../../src/workflows/presets';
import {
  realEngines,
  runSearch,
  saveHistoryFixture,
  searchInputFor,
  startTestWorkers,
  tempDir,
  testId,
  type TestWorkers,
} from '../support/test-env';

// The Master Agent on the real dev server with the real warm engine and the solver agent.
describe('macTargetSearch and campaign', () => {
  let env: TestWorkers;
  let campaigns: CampaignClient;
  const engines = realEngines();
  const store = new LocalArtifactStore(tempDir('ap-store-'));
  let profileSummary: MacTargetSearchInput['profile'];

  beforeAll(async () => {
    env = await startTestWorkers({ store, ...engines, agents: createAgents({ store }), workDir: tempDir() });
    campaigns = new CampaignClient(env.client);
  });
  afterAll(async () => {
    await env?.stop();
    await engines.engine.close();
  });

  test('convergence slice: 2 models x 2 targets x 2 bands, solver lands every one in band', async () => {
    const results: CampaignResult[] = [];
    for (const model of ['resnet18', 'mobilenet_v2']) {
      const { campaignId } = await campaigns.start(
        {
          model: { name: model, inputSize: 96 },
          targets: [
            { fraction: 0.35, band: '-1%..+1%' },
            { fraction: 0.35, band: '-5%..+1%' },
            { fraction: 0.7, band: '-1%..+1%' },
            { fraction: 0.7, band: '-5%..+1%' },
          ],
          search: { agent: 'solver', maxIterations: 10, extendedSearch: 0 },
        },
        { campaignId: testId(`slice-${model}`) },
      );
      results.push(await campaigns.result(campaignId));
    }
    for (const r of results) {
      for (const t of r.targets) {
        expect({ model: r.model, target: t.targetLabel, status: t.status }).toEqual({
          model: r.model,
          target: t.targetLabel,
          status: 'converged',
        });
        expect(t.chosen).not.toBeNull();
        const d = (t.chosen!.macs - t.targetMacs) / t.targetMacs;
        expect(d).toBeGreaterThanOrEqual(t.band.lo - 1e-9);
        expect(d).toBeLessThanOrEqual(t.band.hi + 1e-9);
        expect(t.attemptCount).toBeLessThanOrEqual(10);
      }
    }
    // The strategy log rebuilt from history (no query) matches what the searches returned.
    const logs = await campaigns.log(results[0]!.campaignId);
    expect(logs).toHaveLength(4);
    for (const log of logs) {
      const t = results[0]!.targets.find((x) => x.targetLabel === log.targetLabel)!;
      expect(log.attempts).toHaveLength(t.attemptCount);
      expect(log.attempts.some((a) => a.inBand)).toBe(true);
      expect(log.attempts[0]!.agent).toBe('solver');
    }
    saveHistoryFixture('campaign-four-targets', results[0]!.campaignId);
  }, 900_000);

  async function searchInput(overrides: Partial<MacTargetSearchInput> = {}): Promise<MacTargetSearchInput> {
    if (!profileSummary) {
      const id = testId('profile-for-search');
      const p = await env.client.workflow.execute('profileModelWorkflow', {
        taskQueue: TaskQueues.control,
        workflowId: id,
        args: [{ campaignId: id, model: { name: 'resnet18', inputSize: 96 } }],
      });
      profileSummary = (p as { summary: MacTargetSearchInput['profile'] }).summary;
    }
    return searchInputFor(profileSummary, overrides);
  }

  test('pause, a validated strategy override, a band change, then resume', async () => {
    const input = await searchInput({ extendedSearch: 1 });
    // Signal-with-start: the search is paused before its first proposal.
    const handle = await env.client.workflow.signalWithStart('macTargetSearch', {
      taskQueue: TaskQueues.control,
      workflowId: `${input.campaignId}--t1`,
      args: [input],
      signal: pauseSignal,
      signalArgs: [],
    });
    // A bad override is rejected by the validator and never enters history.
    const bad = await handle
      .executeUpdate(overrideStrategyUpdate, { args: [{ pruningRatio: 2, importance: 'l2' } as never] })
      .catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(WorkflowUpdateFailedError);
    expect(String(((bad as Error).cause as Error | undefined)?.message ?? bad)).toContain('pruningRatio');
    const badBand = await handle
      .executeUpdate(setBandUpdate, { args: [{ lo: 0.1, hi: 0.05 }] })
      .catch((e: unknown) => e);
    expect(badBand).toBeInstanceOf(WorkflowUpdateFailedError);

    const position = await handle.executeUpdate(overrideStrategyUpdate, {
      args: [
        {
          pruningRatio: 0.3,
          importance: 'l1',
          globalPruning: true,
          isomorphic: true,
          roundTo: 8,
          rationale: 'by hand',
        },
      ],
    });
    expect(position).toBe(1);
    expect(await handle.executeUpdate(setBandUpdate, { args: [{ lo: -0.1, hi: 0.03 }] })).toEqual({
      lo: -0.1,
      hi: 0.03,
    });
    const paused = await handle.query(strategyLogQuery);
    expect(paused.status).toBe('paused');
    expect(paused.attempts).toHaveLength(0);

    await handle.signal(resumeSignal);
    const result: MacTargetSearchResult = await handle.result();
    const log = await handle.query(strategyLogQuery);
    expect(result.status).toBe('converged');
    expect(result.band).toEqual({ lo: -0.1, hi: 0.03 });
    expect(log.attempts[0]).toMatchObject({
      agent: 'human',
      strategy: { pruningRatio: 0.3, importance: 'l1', rationale: 'by hand' },
    });
    expect(log.attempts.slice(1).every((a) => a.agent === 'solver')).toBe(true);
    // History never saw the rejected override.
    const history = JSON.stringify(await handle.fetchHistory());
    expect(history).not.toContain('"pruningRatio":2');
    saveHistoryFixture('mac-target-search-override-band-pause', `${input.campaignId}--t1`);
  });

  test('a human override with scaleToBand: its shape is screened into the band by dry run and lands in one trial', async () => {
    const input = await searchInput({ extendedSearch: 0 });
    const workflowId = `${input.campaignId}--t1`;
    const handle = await env.client.workflow.signalWithStart('macTargetSearch', {
      taskQueue: TaskQueues.control,
      workflowId,
      args: [input],
      signal: pauseSignal,
      signalArgs: [],
    });
    const bad = await handle
      .executeUpdate(overrideStrategyUpdate, {
        args: [
          { pruningRatio: 0.1, importance: 'lamp', globalPruning: true, isomorphic: true, roundTo: 4 },
          {
            scaleToBand: 'yes',
          } as never,
        ],
      })
      .catch((e: unknown) => e);
    expect(String(((bad as Error).cause as Error | undefined)?.message ?? bad)).toContain(
      'invalid override options: scaleToBand',
    );
    // Ratio 0.1 is far above a target of half the dense MACs: the override alone would miss the band.
    await handle.executeUpdate(overrideStrategyUpdate, {
      args: [
        {
          pruningRatio: 0.1,
          importance: 'lamp',
          globalPruning: true,
          isomorphic: true,
          roundTo: 4,
          rationale: 'lamp, fine rounding',
        },
        { scaleToBand: true },
      ],
    });
    await handle.signal(resumeSignal);
    const result: MacTargetSearchResult = await handle.result();
    const log = await handle.query(strategyLogQuery);
    expect(result.status).toBe('converged');
    // The override's own trial is screened by the dry run: its shape (lamp, roundTo 4) scaled into the band
    // from ratio 0.1, landing in one trial at the MACs the dry run predicted. It is the candidate kept.
    const [human, ...rest] = log.attempts;
    expect(rest).toEqual([]);
    expect(human).toMatchObject({
      agent: 'human',
      inBand: true,
      strategy: { importance: 'lamp', roundTo: 4, isomorphic: true, rationale: 'lamp, fine rounding' },
      screen: { proposedRatio: 0.1, landed: true, predictedMacs: human!.macs },
    });
    expect(human!.strategy.pruningRatio).toBeGreaterThan(0.1);
    expect(result.chosen?.index).toBe(human!.index);
    expect(log.events.map((e) => e.note)).toContain(
      `candidate: the human override's shape in band (${human!.deviation >= 0 ? '+' : ''}${(human!.deviation * 100).toFixed(2)}%)`,
    );
    saveHistoryFixture('mac-target-search-human-shape-screened', workflowId);
  });

  test('continue-as-new carries the strategy log by reference', async () => {
    // attemptsPerRun 1: every attempt ends a run; later runs read earlier attempts back from the store.
    const input = await searchInput({ attemptsPerRun: 1, band: { lo: -0.002, hi: 0.002 }, maxIterations: 4 });
    input.targetMacs = Math.round(input.profile.macs * 0.42);
    const workflowId = `${input.campaignId}--t1`;
    const handle = await env.client.workflow.start('macTargetSearch', {
      taskQueue: TaskQueues.control,
      workflowId,
      args: [input],
    });
    const result: MacTargetSearchResult = await env.client.workflow.getHandle(workflowId).result();
    expect(result.attemptCount).toBeGreaterThanOrEqual(2);
    const desc = await env.client.workflow.getHandle(workflowId).describe();
    expect(desc.runId).not.toBe(handle.firstExecutionRunId);
    const log = await env.client.workflow.getHandle(workflowId).query(strategyLogQuery);
    expect(log.attempts.map((a) => a.index)).toEqual(log.attempts.map((_, i) => i + 1));
    expect(log.attempts).toHaveLength(result.attemptCount);
    // The history of the last run carries references to the earlier attempts, never the attempts themselves.
    const started = JSON.stringify(
      (await env.client.workflow.getHandle(workflowId).fetchHistory()).events?.[0],
    );
    expect(started).not.toContain('pruningRatio');
    saveHistoryFixture('mac-target-search-continued-as-new', workflowId);
  });

  test('an infeasible target ends at once as infeasible, naming the floor and the protected layers', async () => {
    const input = await searchInput({ maxIterations: 4 });
    input.targetMacs = Math.round(input.profile.protectedMacs * 0.5) + 1;
    const workflowId = `${input.campaignId}--t1`;
    const result: MacTargetSearchResult = await env.client.workflow.execute('macTargetSearch', {
      taskQueue: TaskQueues.control,
      workflowId,
      args: [input],
    });
    expect(result.status).toBe('infeasible');
    expect(result.attemptCount).toBe(0);
    const floor = (input.profile.protectedMacs / 1e9).toPrecision(4);
    expect(result.reason).toContain(`is below the reachable floor ${floor} GMACs`);
    for (const p of input.profile.protected.slice(0, 5))
      expect(result.reason).toContain(`${p.layer} (${p.reason})`);
    // Not one trial was spent on it.
    const history = await env.client.workflow.getHandle(workflowId).fetchHistory();
    const scheduled = (history.events ?? []).filter((e) => e.activityTaskScheduledEventAttributes);
    expect(scheduled.map((e) => e.activityTaskScheduledEventAttributes?.activityType?.name)).not.toContain(
      'pruneTrial',
    );
    saveHistoryFixture('mac-target-search-infeasible', workflowId);
  });

  test('extended search: each shape is scaled into the band before it counts as a candidate', async () => {
    const input = await searchInput({ extendedSearch: 3, maxIterations: 20 });
    const { workflowId, result, log } = await runSearch(env.client, input);
    expect(result.status).toBe('converged');
    const firstHit = result.attemptsToConverge!;
    const extended = log.attempts.filter((a) => a.index > firstHit);
    const candidates = extended.filter((a) => attemptRole(a) === 'candidate');
    // Three shapes, each screened into the band by the dry run and landing in its one trial, at exactly the
    // MACs the dry run predicted: no scaling step, no extended slot spent out of band, nothing given up.
    expect(log.events.filter((e) => e.note.includes('given up'))).toEqual([]);
    expect(extended).toHaveLength(3);
    expect(candidates).toHaveLength(3);
    for (const c of candidates) {
      expect(inBand(c.deviation, result.band)).toBe(true);
      expect(c.screen).toMatchObject({ landed: true, predictedMacs: c.macs });
    }
    const candidateNotes = log.events
      .filter((e) => e.note.startsWith('candidate: '))
      .map((e) => e.afterAttempt);
    expect(candidateNotes).toEqual(candidates.map((c) => c.index));
    // The kept attempt is one of the in-band candidates.
    expect(result.chosen?.inBand).toBe(true);
    saveHistoryFixture('mac-target-search-extended-screened', workflowId);
  });

  test('a converged search history is recorded for replay', async () => {
    const input = await searchInput();
    const workflowId = `${input.campaignId}--t1`;
    const result: MacTargetSearchResult = await env.client.workflow.execute('macTargetSearch', {
      taskQueue: TaskQueues.control,
      workflowId,
      args: [input],
    });
    expect(result.status).toBe('converged');
    saveHistoryFixture('mac-target-search-converged', workflowId);
  });
});
