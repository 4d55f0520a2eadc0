/**
 * @jest-environment ./tests/onnx/ort-environment.ts
 *
 * The deployment check passes for one dense and one pruned model of every family the engine lists:
 * the real pruneTrial and deploymentCheck activities (MockActivityEnvironment, real engine, real
 * LocalArtifactStore) at 32 px so the whole table stays short on a CPU. Per family: the ONNX exports,
 * the TS profiler's MACs against the engine's, onnxruntime latency at two batch sizes, and PyTorch vs
 * onnxruntime top-1 on the same validation images.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  createDeploymentActivities,
  createEngineActivities,
  type DeploymentCheckResult,
  type PruneTrialResult,
} from '../src/activities';
import type { ModelSpec } from '../src/core/model-spec';
import type { Strategy } from '../src/core/strategy';
import { baseStrategy } from '../src/core/strategy';
import { profileOnnx } from '../src/onnx';
import { LocalArtifactStore } from '../src/storage';
import { realEngines, tempDir } from './support/test-env';

// One torch thread per engine process: on a small shared CPU torch's thread pool spins against others.
const savedThreads = process.env.OMP_NUM_THREADS;
process.env.OMP_NUM_THREADS = '1';

const CLASSES = 10;
const SAMPLES = 8;
const BATCH_SIZES = [1, 4];
const heads: Strategy['vit'] = { pruneHeads: true, pruneHeadDims: true, headRatio: 0.25 };

// torchvision's VisionTransformer (the class behind vit_b_16, same blocks and fused attention) at a
// small width, so it builds and exports in seconds: vit_b_16 itself has 86 M parameters at any input
// size; engine/tests/test_vit.py prunes and exports it at 32 px.
const VIT_FACTORY = path.join(tempDir('ap-deploy-vit-'), 'small_vit.py');
fs.writeFileSync(
  VIT_FACTORY,
  [
    'from torchvision.models.vision_transformer import VisionTransformer',
    'def build(num_classes=1000):',
    '    return VisionTransformer(image_size=32, patch_size=8, num_layers=2, num_heads=4, hidden_dim=64,',
    '                             mlp_dim=256, num_classes=num_classes)',
    '',
  ].join('\n'),
);

// [family, dense model at 32 px with a 10-class head, strategy]
const FAMILIES: [string, ModelSpec, Strategy][] = [
  ['resnet', { name: 'resnet18', numClasses: CLASSES, inputSize: 32 }, baseStrategy(0.4)],
  ['mobilenet_v2', { name: 'mobilenet_v2', numClasses: CLASSES, inputSize: 32 }, baseStrategy(0.4)],
  ['convnext', { name: 'convnext_tiny', numClasses: CLASSES, inputSize: 32 }, baseStrategy(0.4)],
  [
    'torchvision vit',
    { name: `file:${VIT_FACTORY}:build`, numClasses: CLASSES, inputSize: 32 },
    baseStrategy(0.4, { vit: heads }),
  ],
  ['timm deit', { name: 'deit_tiny', numClasses: CLASSES, inputSize: 32 }, baseStrategy(0.4, { vit: heads })],
];

const rel = (value: number, reference: number): number => Math.abs(value - reference) / reference;

describe('deployment check, every family (real engine, MockActivityEnvironment)', () => {
  const engines = realEngines();
  const store = new LocalArtifactStore(tempDir('ap-deploy-store-'));
  const deps = { store, ...engines, agents: {}, workDir: tempDir('ap-deploy-work-') };
  const engineActs = createEngineActivities(deps);
  const deployActs = createDeploymentActivities(deps);
  let datasetRoot: string;

  beforeAll(async () => {
    const out = path.join(tempDir('ap-deploy-data-'), 'shapes');
    const ds = await engines.oneShotEngine.run<{ root: string }>('make-dataset', {
      out,
      classes: CLASSES,
      trainPerClass: 1,
      valPerClass: 1,
      imageSize: 32,
      seed: 0,
    });
    datasetRoot = ds.root;
  });
  afterAll(async () => {
    await engines.engine.close();
    if (savedThreads === undefined) delete process.env.OMP_NUM_THREADS;
    else process.env.OMP_NUM_THREADS = savedThreads;
  });

  test.each(FAMILIES)('%s: dense and pruned deploy', async (family, dense, strategy) => {
    const env = new MockActivityEnvironment();
    const campaignId = `deploy-${family.replace(/\s+/g, '-')}`;
    const trial = (await env.run(engineActs.pruneTrial, {
      campaignId,
      targetLabel: 't1',
      attemptIndex: 1,
      model: dense,
      strategy,
    })) as PruneTrialResult;
    expect(trial.macs).toBeLessThan(0.9 * trial.denseMacs);

    const r = (await env.run(deployActs.deploymentCheck, {
      campaignId,
      targetLabel: 't1',
      dense,
      pruned: trial.model,
      dataset: { root: datasetRoot },
      batchSizes: BATCH_SIZES,
      latencyRuns: 3,
      agreementSamples: SAMPLES,
    })) as DeploymentCheckResult;

    // The exports count what the prune trial measured.
    expect(r.dense.macs).toBe(trial.denseMacs);
    expect(r.pruned.macs).toBe(trial.macs);
    expect(r.pruned.params).toBe(trial.params);
    expect(r.macRatio).toBeCloseTo(trial.denseMacs / trial.macs, 9);

    // The TS profiler reads the stored ONNX files and counts the engine's MACs (0.5 %), at 32 px;
    // parameters within 2 %: the export folds BatchNorm into the convolutions (mobilenet_v2 at 10
    // classes: -1.2 %).
    for (const [name, side] of [
      ['dense', r.dense],
      ['pruned', r.pruned],
    ] as const) {
      const file = path.join(deps.workDir, `${campaignId}-${name}.onnx`);
      await store.get(side.onnx, file);
      const profile = await profileOnnx(file);
      expect(profile.inputs[0]?.shape).toEqual([1, 3, 32, 32]);
      expect(profile.outputs[0]?.shape).toEqual([1, CLASSES]);
      expect(rel(profile.macs, side.macs)).toBeLessThan(0.005);
      expect(rel(profile.params, side.params)).toBeLessThan(0.02);
    }

    // onnxruntime latency at each batch size; the speedup is dense p50 / pruned p50 row by row.
    for (const side of [r.dense, r.pruned]) {
      expect(side.latency.map((l) => l.batchSize)).toEqual(BATCH_SIZES);
      for (const l of side.latency) {
        expect(l.p50Ms).toBeGreaterThan(0);
        expect(l.p50Ms).toBeLessThanOrEqual(l.p90Ms);
      }
    }
    expect(r.speedup.map((s) => s.batchSize)).toEqual(BATCH_SIZES);
    r.speedup.forEach((s, i) =>
      expect(s.ratio).toBeCloseTo(r.dense.latency[i]!.p50Ms / r.pruned.latency[i]!.p50Ms, 9),
    );

    // PyTorch and onnxruntime pick the same class for every validation image.
    expect(r.agreement).toBeDefined();
    expect(r.agreement!.count).toBe(SAMPLES);
    expect(r.agreement!.top1Agreement).toBe(1);
    expect(r.agreement!.onnxTop1).toBe(r.agreement!.torchTop1);
  });
});
