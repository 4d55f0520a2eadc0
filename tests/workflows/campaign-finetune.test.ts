import * as fs from 'node:fs';
import * as path from 'node:path';
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
  const storeRoot = tempDir('ap-cft-store-');
  const store = new LocalArtifactStore(storeRoot);
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

  test('finetune.parallel: 1 fine-tunes one target at a time; the campaign ends by discarding incomplete uploads', async () => {
    const campaigns = new CampaignClient(env.client);
    // What a worker SIGKILLed mid-put of a candidate model leaves (its temp file, never committed), planted
    // before the campaign starts; another campaign's is not this campaign's to discard.
    const id = testId('cft-one');
    const plant = (campaign: string) => {
      const dir = path.join(storeRoot, 'campaigns', campaign, 't50', 'candidates', 'attempt-9');
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, '.ap-tmp-0123456789ab-state_dict.pt'), Buffer.alloc(4096, 7));
    };
    plant(id);
    plant(`${id}-other`);
    expect((await store.listIncompleteUploads(`campaigns/${id}/`)).map((u) => u.key)).toEqual([
      `campaigns/${id}/t50/candidates/attempt-9/state_dict.pt`,
    ]);
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
      { campaignId: id },
    );
    const result = await campaigns.result(campaignId);
    expect(result.targets.map((t) => t.finetune?.steps)).toEqual([2, 2]);
    expect(await fineTuneOrder(campaignId)).toEqual(['scheduled', 'completed', 'scheduled', 'completed']);
    // The campaign's last step discarded its own incomplete upload, and only its own.
    expect(await store.listIncompleteUploads(`campaigns/${id}/`)).toEqual([]);
    expect((await store.listIncompleteUploads(`campaigns/${id}-other/`)).length).toBe(1);
    const events = (await env.client.workflow.getHandle(campaignId).fetchHistory()).events ?? [];
    const swept = events.find(
      (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'discardIncompleteUploads',
    );
    expect(swept).toBeDefined();
    const done = events.find(
      (e) =>
        String(e.activityTaskCompletedEventAttributes?.scheduledEventId ?? '') === String(swept!.eventId),
    );
    const payload = done?.activityTaskCompletedEventAttributes?.result?.payloads?.[0]?.data;
    expect(JSON.parse(Buffer.from(payload!).toString())).toEqual({
      discarded: [`campaigns/${id}/t50/candidates/attempt-9/state_dict.pt`],
    });
    saveHistoryFixture('campaign-discard-uploads', campaignId);
  }, 900_000);
});
