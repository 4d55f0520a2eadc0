import { createAgents } from '../../src/agents';
import { CampaignClient } from '../../src/client/campaign-client';
import { LocalArtifactStore } from '../../src/storage';
import {
  realEngines,
  saveHistoryFixture,
  startTestWorkers,
  smallShapes,
  tempDir,
  testId,
  type TestWorkers,
} from '../support/test-env';

// A whole campaign past its searches on the real dev server and the real engine: two democnn targets, each
// fine-tuned (a few steps) and evaluated on val/ (the deployment check's onnxruntime-node cannot run inside
// jest's sandbox). Its recorded history, campaign-finetune-parallel, is the post-search path (targets at
// once, patch parallel-finetune) that tests/replay replays against newer code; campaign-finetune-two-targets
// is the same test recorded by the code before that patch (one target after the other).
describe('campaign with fine-tune and evaluation', () => {
  let env: TestWorkers;
  const engines = realEngines();
  const store = new LocalArtifactStore(tempDir('ap-cft-store-'));
  let datasetRoot: string;

  beforeAll(async () => {
    env = await startTestWorkers({ store, ...engines, agents: createAgents({ store }), workDir: tempDir() });
    datasetRoot = await smallShapes(engines.oneShotEngine, 'ap-cft-data-');
  });
  afterAll(async () => {
    await env?.stop();
    await engines.engine.close();
  });

  /** The fine-tunes' scheduled and completed events of a campaign's history, in order. */
  async function fineTuneOrder(campaignId: string): Promise<string[]> {
    const events = (await env.client.workflow.getHandle(campaignId).fetchHistory()).events ?? [];
    return events.flatMap((e) => {
      const scheduled = e.activityTaskScheduledEventAttributes?.activityType?.name;
      if (scheduled === 'fineTune') return ['scheduled'];
      const done = e.activityTaskCompletedEventAttributes?.scheduledEventId;
      const of = done ? events.find((x) => String(x.eventId) === String(done)) : undefined;
      return of?.activityTaskScheduledEventAttributes?.activityType?.name === 'fineTune' ? ['completed'] : [];
    });
  }

  test('two targets: each converged target is fine-tuned and evaluated', async () => {
    const campaigns = new CampaignClient(env.client);
    const { campaignId } = await campaigns.start(
      {
        model: { name: 'democnn', numClasses: 4 },
        targets: [
          { fraction: 0.5, band: '-5%..+1%', label: 't50' },
          { fraction: 0.7, band: '-5%..+1%', label: 't70' },
        ],
        search: { agent: 'solver', maxIterations: 10, extendedSearch: 0 },
        dataset: { root: datasetRoot, calibrationBatches: 1, calibrationBatchSize: 8 },
        finetune: { epochs: 1, batchSize: 8, maxSteps: 4, checkpointEverySteps: 2, workers: 0 },
      },
      { campaignId: testId('cft') },
    );
    const result = await campaigns.result(campaignId);
    expect(result.targets.map((t) => t.targetLabel).sort()).toEqual(['t50', 't70']);
    for (const t of result.targets) {
      expect(t.status).toBe('converged');
      expect(t.finetune?.steps).toBe(4);
      expect(t.accuracy?.count).toBe(16); // 4 classes x 4 val images
      expect(t.notes).toEqual([]);
    }
    // Both fine-tunes were scheduled before either ended: the targets fine-tune at once.
    expect((await fineTuneOrder(campaignId)).slice(0, 2)).toEqual(['scheduled', 'scheduled']);
    expect(result.denseAccuracy?.count).toBe(16);
    saveHistoryFixture('campaign-finetune-parallel', campaignId);
  }, 900_000);

  test('finetune.parallel: 1 fine-tunes one target at a time', async () => {
    const campaigns = new CampaignClient(env.client);
    const { campaignId } = await campaigns.start(
      {
        model: { name: 'democnn', numClasses: 4 },
        targets: [
          { fraction: 0.5, band: '-5%..+1%', label: 't50' },
          { fraction: 0.7, band: '-5%..+1%', label: 't70' },
        ],
        search: { agent: 'solver', maxIterations: 10, extendedSearch: 0 },
        dataset: { root: datasetRoot, calibrationBatches: 1, calibrationBatchSize: 8 },
        finetune: { epochs: 1, batchSize: 8, maxSteps: 2, checkpointEverySteps: 2, workers: 0, parallel: 1 },
      },
      { campaignId: testId('cft-one') },
    );
    const result = await campaigns.result(campaignId);
    expect(result.targets.map((t) => t.finetune?.steps)).toEqual([2, 2]);
    expect(await fineTuneOrder(campaignId)).toEqual(['scheduled', 'completed', 'scheduled', 'completed']);
  }, 900_000);
});
