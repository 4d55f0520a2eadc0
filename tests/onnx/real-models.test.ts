/**
 * @jest-environment ./tests/onnx/ort-environment.ts
 *
 * Real exports: the engine's `export` job writes torchvision/timm models to ONNX once per cache
 * (`.state/test-cache/onnx/`, reused while present; delete the folder to re-export), and the TS
 * profile must match the published MAC/param counts and the engine's own count. onnxruntime runs
 * resnet18 for latency and a forward pass.
 */
import * as fs from 'node:fs';
import { availableParallelism } from 'node:os';
import * as path from 'node:path';

import { defaultEngineLocation, repoRoot } from '../../src/engine/engine-paths';
import { OneShotEngine } from '../../src/engine/engine-process';
import { OnnxRuntimeError, measureLatency, profileOnnx, runInference } from '../../src/onnx';

const CACHE = path.join(repoRoot(), '.state', 'test-cache', 'onnx');
const EXPORT_TIMEOUT_MS = 300_000;

interface EngineCount {
  macs: number;
  params: number;
}

interface EngineStage {
  name: string;
  macs: number;
  params: number;
}

let engine: OneShotEngine;
beforeAll(() => {
  engine = new OneShotEngine(defaultEngineLocation(process.env.AP_ENGINE_PYTHON));
  fs.mkdirSync(CACHE, { recursive: true });
});
afterAll(() => engine.close());

/** The model's ONNX file from the engine's export job, and the engine's count; cached on disk. */
async function exported(model: string): Promise<{ file: string; engine: EngineCount }> {
  const file = path.join(CACHE, `${model}-opset17.onnx`);
  const meta = path.join(CACHE, `${model}-opset17.json`);
  if (fs.existsSync(file) && fs.existsSync(meta)) {
    return { file, engine: JSON.parse(fs.readFileSync(meta, 'utf8')) as EngineCount };
  }
  const result = await engine.run<EngineCount>(
    'export',
    { model: { name: model }, out: file, opset: 17 },
    { timeoutMs: EXPORT_TIMEOUT_MS },
  );
  const count = { macs: result.macs, params: result.params };
  fs.writeFileSync(meta, JSON.stringify(count));
  return { file, engine: count };
}

const rel = (value: number, reference: number): number => Math.abs(value - reference) / reference;

describe.each([
  // [model, published MACs, published params (PyTorch; BN folded into Conv by the export: -0.1 % on CNNs)]
  ['resnet18', 1.814e9, 11.69e6],
  ['resnet50', 4.089e9, 25.557e6],
  ['mobilenet_v2', 0.301e9, 3.505e6],
  ['deit_small', 4.6e9, 22.1e6],
  ['convnext_small', 8.684e9, 50.224e6],
  ['deit_base', 17.56e9, 86.568e6],
])('%s exported by the engine', (model, macs, params) => {
  test(
    'TS MACs and params within 1 % of the published counts and 0.5 % of the engine export count',
    async () => {
      const { file, engine: count } = await exported(model);
      const profile = await profileOnnx(file);
      expect(profile.opset).toBe(17);
      expect(profile.inputs).toEqual([
        { name: 'input', dataType: 'float', declaredDims: ['batch', 3, 224, 224], shape: [1, 3, 224, 224] },
      ]);
      expect(profile.outputs[0]?.shape).toEqual([1, 1000]);
      expect(rel(profile.macs, macs)).toBeLessThan(0.01);
      expect(rel(profile.params, params)).toBeLessThan(0.01);
      expect(rel(profile.macs, count.macs)).toBeLessThan(0.005);
      expect(profile.byStage.reduce((s, x) => s + x.share, 0)).toBeCloseTo(1, 9);
      expect(profile.byStage.reduce((s, x) => s + x.params, 0)).toBe(profile.params);
      expect(profile.nodes.reduce((s, n) => s + n.macs, 0)).toBe(profile.macs);
    },
    EXPORT_TIMEOUT_MS,
  );
});

describe('against the engine profile job', () => {
  test.each(['resnet50', 'deit_small'])(
    '%s: total MACs within 0.5 %, same stages with the same MACs',
    async (model) => {
      const { file } = await exported(model);
      const profile = await profileOnnx(file);
      const result = await engine.run<{ macs: number; params: number; stages: EngineStage[] }>(
        'profile',
        { model: { name: model } },
        { timeoutMs: EXPORT_TIMEOUT_MS },
      );
      expect(rel(profile.macs, result.macs)).toBeLessThan(0.005);
      expect(profile.byStage.map((s) => [s.name, s.macs])).toEqual(
        result.stages.map((s) => [s.name, s.macs]),
      );
    },
    EXPORT_TIMEOUT_MS,
  );
});

describe('resnet18 details', () => {
  test(
    'MACs scale with the batch size; parameters do not',
    async () => {
      const { file } = await exported('resnet18');
      const one = await profileOnnx(file);
      const four = await profileOnnx(file, { batchSize: 4 });
      expect(four.macs).toBe(4 * one.macs);
      expect(four.params).toBe(one.params);
      expect(four.outputs[0]?.shape).toEqual([4, 1000]);
      // torchvision's stages, with layer3 the heaviest after layer1..2 split evenly.
      expect(one.byStage.map((s) => s.name)).toEqual(['conv1', 'layer1', 'layer2', 'layer3', 'layer4', 'fc']);
      expect(one.byOpType[0]).toMatchObject({ opType: 'Conv', count: 20 });
    },
    EXPORT_TIMEOUT_MS,
  );

  test(
    "latency on 'auto' returns sane numbers and says why it is not on CUDA",
    async () => {
      const { file } = await exported('resnet18');
      const r = await measureLatency(file, { warmupRuns: 2, runs: 10 });
      if (r.provider === 'cpu') expect(r.fallbackReason).toMatch(/CUDA/);
      expect(r).toMatchObject({ batchSize: 1, runs: 10, threads: availableParallelism() });
      expect(r.p50Ms).toBeGreaterThan(0);
      expect(r.p50Ms).toBeLessThanOrEqual(r.p90Ms);
      expect(r.p90Ms).toBeLessThanOrEqual(r.p99Ms);
      expect(r.meanMs).toBeGreaterThan(0);
      expect(r.p99Ms).toBeLessThan(10_000);
    },
    EXPORT_TIMEOUT_MS,
  );

  test(
    "'cpu' reports no fallback; 'cuda' either runs on CUDA or fails with OnnxRuntimeError",
    async () => {
      const { file } = await exported('resnet18');
      const cpu = await measureLatency(file, {
        executionProvider: 'cpu',
        warmupRuns: 1,
        runs: 3,
        intraOpThreads: 1,
        batchSize: 2,
      });
      expect(cpu).toMatchObject({ provider: 'cpu', threads: 1, batchSize: 2, runs: 3 });
      expect(cpu.fallbackReason).toBeUndefined();
      const cuda = await measureLatency(file, { executionProvider: 'cuda', warmupRuns: 1, runs: 3 }).catch(
        (e: unknown) => e,
      );
      if (cuda instanceof Error) expect(cuda).toBeInstanceOf(OnnxRuntimeError);
      else expect(cuda).toMatchObject({ provider: 'cuda' });
    },
    EXPORT_TIMEOUT_MS,
  );

  test(
    'a forward pass gives logits of the shape the profile inferred, deterministically',
    async () => {
      const { file } = await exported('resnet18');
      const shape = [2, 3, 224, 224];
      const input = Float32Array.from({ length: 2 * 3 * 224 * 224 }, (_, i) => Math.sin(i) * 0.5);
      const a = await runInference(file, input, shape);
      const b = await runInference(file, input, shape, { intraOpThreads: 1 });
      const profile = await profileOnnx(file, { batchSize: 2 });
      expect(a.shape).toEqual(profile.outputs[0]?.shape);
      expect(a).toMatchObject({ name: 'logits', provider: 'cpu' });
      expect(a.logits.every(Number.isFinite)).toBe(true);
      const maxDiff = a.logits.reduce((m, v, i) => Math.max(m, Math.abs(v - (b.logits[i] ?? NaN))), 0);
      expect(maxDiff).toBeLessThan(1e-4);
      await expect(runInference(file, input, [1, 3, 224, 224])).rejects.toThrow(/needs 150528/);
    },
    EXPORT_TIMEOUT_MS,
  );
});
