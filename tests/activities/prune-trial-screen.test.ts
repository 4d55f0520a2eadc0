import { MockActivityEnvironment } from '@temporalio/testing';
import { createEngineActivities, type PruneTrialInput, type PruneTrialResult } from '../../src/activities';
import { screenText } from '../../src/core/attempt';
import { deviation, inBand } from '../../src/core/tolerance-band';
import { defaultEngineLocation } from '../../src/engine/engine-paths';
import { WarmEngine } from '../../src/engine/engine-process';
import { realEngines, tempDir, testId, testStore } from '../support/test-env';

// pruneTrial's dry-run screen (issue 12, item 5), outside Temporal (MockActivityEnvironment), on the real warm
// engine and the real S3 server: a proposal screened into the band is pruned at the screened ratio and lands
// at exactly the MACs the dry run predicted; when the dry run itself fails (the engine's failpoint
// `prune-dry-run=fail`, a real failure of that one job of a warm engine that prunes on), the trial records
// why, prunes the proposal as given, and does not fail.

const BAND = { lo: -0.05, hi: 0.01 };
const strategy = (pruningRatio: number) => ({
  pruningRatio,
  importance: 'l2' as const,
  globalPruning: true,
  isomorphic: true,
  roundTo: 8,
});

describe('pruneTrial with a dry-run screen (real warm engine, real S3)', () => {
  const engines = realEngines();
  // The same engine, whose dry-run job fails every time while its prune job works.
  const failingDryRun = new WarmEngine(defaultEngineLocation(process.env.AP_ENGINE_PYTHON), {
    env: { AP_ENGINE_FAILPOINTS: 'prune-dry-run=fail' },
  });
  const store = testStore();
  const campaignId = testId('screen');
  const base = { store, oneShotEngine: engines.oneShotEngine, agents: {}, workDir: tempDir('ap-screen-') };
  const acts = createEngineActivities({ ...base, engine: engines.engine });
  const failing = createEngineActivities({ ...base, engine: failingDryRun });
  let targetMacs: number;

  const trial = (
    activities: typeof acts,
    attemptIndex: number,
    pruningRatio: number,
    screen?: PruneTrialInput['screen'],
  ) =>
    new MockActivityEnvironment().run(activities.pruneTrial, {
      campaignId,
      targetLabel: 't1',
      attemptIndex,
      model: { name: 'democnn', numClasses: 4 },
      strategy: strategy(pruningRatio),
      ...(screen ? { screen } : {}),
    } satisfies PruneTrialInput) as Promise<PruneTrialResult>;

  beforeAll(async () => {
    // The target: what ratio 0.4 measures, so a screen of a 0.1 proposal has a band to find.
    targetMacs = (await trial(acts, 1, 0.4)).macs;
  }, 180_000);

  afterAll(async () => {
    await engines.engine.close();
    await failingDryRun.close();
  });

  test('a screened proposal is pruned at the screened ratio and lands at the predicted MACs', async () => {
    const r = await trial(acts, 2, 0.1, { targetMacs, band: BAND, scale: 'ratio' });
    expect(r.screen).toMatchObject({ landed: true, proposedRatio: 0.1, proposedRoundTo: 8 });
    expect(r.screen!.shapes).toBeGreaterThanOrEqual(96);
    expect(r.screen!.error).toBeUndefined();
    expect(r.strategy).toBeDefined();
    expect(r.strategy!.pruningRatio).toBeGreaterThan(0.1);
    // The prune measured what the dry run predicted, in band.
    expect(r.macs).toBe(r.screen!.predictedMacs);
    expect(inBand(deviation(r.macs, targetMacs), BAND)).toBe(true);
    expect(r.strategy!.roundTo).toBe(8);
    expect(screenText(r.screen!, r.strategy!)).toBe(
      `screened ${r.screen!.shapes} shapes by dry run: ratio 0.100 -> ${r.strategy!.pruningRatio.toFixed(3)}`,
    );
  }, 120_000);

  test('a dry run that fails is recorded and the proposal is pruned as given', async () => {
    const unscreened = await trial(acts, 3, 0.1);
    const r = await trial(failing, 4, 0.1, { targetMacs, band: BAND, scale: 'ratio' });
    expect(r.screen).toMatchObject({ landed: false, shapes: 0, proposedRatio: 0.1 });
    expect(r.screen!.error).toContain('failpoint: prune-dry-run failed (AP_ENGINE_FAILPOINTS)');
    expect(r.screen!.error).not.toContain('\n');
    // Pruned as proposed: no replacement strategy, the same MACs as the same proposal without a screen.
    expect(r.strategy).toBeUndefined();
    expect(r.macs).toBe(unscreened.macs);
    expect(r.params).toBe(unscreened.params);
    expect(screenText(r.screen!, { pruningRatio: 0.1, roundTo: 8 })).toBe(
      `dry-run screen failed (${r.screen!.error}); pruned as proposed`,
    );
  }, 120_000);

  test('a shape whose factors that reach the band all empty a group: the screen says from where and why', async () => {
    // mobilenet_v2 (random init, 32 px) with the stage allocation its old sensitivity table gave at half its
    // MACs, proposed at 0.8 of its ratios: a stage's global ranking takes a whole residual stream
    // ('features.13.conv.2', 'features.16.conv.2') before the MACs reach the band, at roundTo 8 and at 1.
    const alloc: Record<string, number> = { 'features.12': 0.75, 'features.13': 0.75, 'features.15': 0.0108 };
    for (const n of [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 14, 17]) alloc[`features.${n}`] = 0;
    Object.assign(alloc, { 'features.16': 0.75, 'features.18': 0.75 });
    const proposal = {
      ...strategy(0.6),
      stageRatios: Object.fromEntries(
        Object.entries(alloc).map(([k, v]) => [k, Math.round(v * 0.8 * 1e5) / 1e5]),
      ),
    };
    const r = (await new MockActivityEnvironment().run(acts.pruneTrial, {
      campaignId,
      targetLabel: 't2',
      attemptIndex: 1,
      model: { name: 'mobilenet_v2', numClasses: 10 },
      inputShape: [1, 3, 32, 32],
      strategy: proposal,
      screen: { targetMacs: 3_062_464, band: BAND, scale: 'factor' },
    } satisfies PruneTrialInput)) as PruneTrialResult;
    expect(r.screen).toMatchObject({ landed: false, proposedRatio: 0.6, proposedRoundTo: 8 });
    // Two roundings screened, one ladder each (nothing to narrow).
    expect(r.screen!.shapes).toBe(192);
    expect(r.screen!.refused).toMatch(
      /^refused from largest ratio 0\.\d{3}: stageRatios\.features\.1[36]: the strategy would remove every channel of the group at 'features\.1[36]\.conv\.2' \(\d+ channels; roundTo=1\)/,
    );
    // Pruned as proposed, above the band.
    expect(r.strategy).toBeUndefined();
    expect(deviation(r.macs, 3_062_464)).toBeGreaterThan(BAND.hi);
    expect(screenText(r.screen!, proposal)).toBe(
      `screened 192 shapes by dry run: none in band, every value that reaches it ${r.screen!.refused}; pruned as proposed`,
    );
  }, 180_000);
});
