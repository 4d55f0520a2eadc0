import * as fs from 'node:fs';
import * as path from 'node:path';
import { createAgents } from '../../src/agents';
import { CampaignClient } from '../../src/client/campaign-client';
import { LocalArtifactStore } from '../../src/storage';
import { realEngines, startTestWorkers, tempDir, testId, type TestWorkers } from '../support/test-env';

// A torchvision ViT reaches 0.3 of its dense MACs: the Master Agent with the solver on the real dev server and
// the real warm engine. A small torchvision VisionTransformer (the class behind vit_b_16: same blocks, same
// fused nn.MultiheadAttention, which the engine splits so heads prune) keeps each trial short on a CPU.
const FACTORY = path.join(tempDir('ap-vit-search-'), 'small_vit.py');
fs.writeFileSync(
  FACTORY,
  [
    'from torchvision.models.vision_transformer import VisionTransformer',
    'def build(num_classes=1000):',
    '    return VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=4, hidden_dim=64,',
    '                             mlp_dim=256, num_classes=num_classes)',
    '',
  ].join('\n'),
);

describe('torchvision ViT MAC targets', () => {
  let env: TestWorkers;
  let campaigns: CampaignClient;
  const engines = realEngines();
  const store = new LocalArtifactStore(tempDir('ap-vit-store-'));

  beforeAll(async () => {
    env = await startTestWorkers({ store, ...engines, agents: createAgents({ store }), workDir: tempDir() });
    campaigns = new CampaignClient(env.client);
  });
  afterAll(async () => {
    await env?.stop();
    await engines.engine.close();
  });

  test('0.3 and 0.5 of dense in the default band -5%..+1%, heads pruned, within 10 attempts', async () => {
    const { campaignId } = await campaigns.start(
      {
        model: { name: `file:${FACTORY}:build`, numClasses: 10 },
        targets: [
          { fraction: 0.3, band: '-5%..+1%' },
          { fraction: 0.5, band: '-5%..+1%' },
        ],
        search: {
          agent: 'solver',
          maxIterations: 10,
          extendedSearch: 0,
          base: { roundTo: 1, vit: { pruneHeads: true, pruneHeadDims: true, headRatio: 0.25 } },
        },
      },
      { campaignId: testId('vit-reach') },
    );
    const r = await campaigns.result(campaignId);
    expect(r.targets.map((t) => t.status)).toEqual(['converged', 'converged']);
    for (const t of r.targets) {
      const d = (t.chosen!.macs - t.targetMacs) / t.targetMacs;
      expect(d).toBeGreaterThanOrEqual(-0.05 - 1e-9);
      expect(d).toBeLessThanOrEqual(0.01 + 1e-9);
      expect(t.attemptCount).toBeLessThanOrEqual(10);
      expect(t.chosen!.strategy.vit).toEqual({ pruneHeads: true, pruneHeadDims: true, headRatio: 0.25 });
    }
  });
});
