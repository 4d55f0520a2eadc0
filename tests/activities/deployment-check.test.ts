/**
 * @jest-environment ./tests/onnx/ort-environment.ts
 *
 * The deployment check heartbeats while onnxruntime measures latency (on a thread of its own since issue
 * 16, so its heartbeat timeout is the engine activities' 20 s), and cancelling the activity stops the
 * measurement. The engine is the one thing faked: its `export` writes a model built here whose forward
 * pass takes a few hundred ms. Real onnxruntime, real LocalArtifactStore, MockActivityEnvironment.
 */
import { MockActivityEnvironment } from '@temporalio/testing';
import * as fs from 'node:fs';

import {
  createDeploymentActivities,
  type DeploymentCheckInput,
  type DeploymentCheckResult,
} from '../../src/activities';
import type { EngineRunner } from '../../src/engine/engine-process';
import { OnnxCancelledError } from '../../src/onnx';
import { LocalArtifactStore } from '../../src/storage';
import { matMulChain } from '../onnx/onnx-builder';
import { tempDir } from '../support/test-env';

const slow = matMulChain(2048, 3).save(tempDir('ap-deploy-check-model-'), 'slow.onnx');

/** An engine whose `export` copies the slow model to the requested path. */
const exportingEngine: EngineRunner = {
  run: async <T>(job: string, request: unknown): Promise<T> => {
    if (job !== 'export') throw new Error(`unexpected engine job ${job}`);
    const { out } = request as { out: string };
    fs.copyFileSync(slow, out);
    return { onnx: { path: out, sha256: '' }, macs: 2, params: 1 } as T;
  },
  close: async () => undefined,
};

const store = new LocalArtifactStore(tempDir('ap-deploy-check-store-'));
const acts = createDeploymentActivities({
  store,
  engine: exportingEngine,
  oneShotEngine: exportingEngine,
  agents: {},
  workDir: tempDir('ap-deploy-check-work-'),
});

async function input(campaignId: string): Promise<DeploymentCheckInput> {
  const manifest = { kind: 'pruned-model', spec: { name: 'democnn' }, files: {} };
  const pruned = await store.put(`${campaignId}/pruned/manifest.json`, {
    bytes: Buffer.from(JSON.stringify(manifest)),
  });
  return {
    campaignId,
    targetLabel: 't1',
    dense: { name: 'democnn' },
    pruned,
    batchSizes: [1],
    latencyRuns: 3,
    agreementSamples: 0,
  };
}

const threadHandles = () => process.getActiveResourcesInfo().filter((r) => r === 'MessagePort').length;

test('heartbeats keep coming while latency is measured', async () => {
  // a 3 s timeout: a heartbeat every second
  const env = new MockActivityEnvironment({ heartbeatTimeoutMs: 3000 });
  const beats: number[] = [];
  const t0 = performance.now();
  env.on('heartbeat', () => beats.push(performance.now() - t0));
  const r = (await env.run(acts.deploymentCheck, await input('c-deploy-hb'))) as DeploymentCheckResult;
  const elapsedMs = performance.now() - t0;
  expect(r.dense.latency).toHaveLength(1);
  expect(r.pruned.latency[0]?.p50Ms).toBeGreaterThan(0);
  const gaps = beats.slice(1).map((b, i) => b - beats[i]!);
  console.log(
    `${beats.length} heartbeats in ${elapsedMs.toFixed(0)} ms, longest gap ${Math.max(...gaps).toFixed(0)} ms`,
  );
  // 16 forward passes (5 warm-up + 3 timed, twice): several seconds, a heartbeat each second
  expect(beats.length).toBeGreaterThanOrEqual(elapsedMs / 1000 / 2);
  expect(Math.max(...gaps)).toBeLessThan(3000);
});

test('a cancelled check stops the measurement with OnnxCancelledError and leaves no thread', async () => {
  const before = threadHandles();
  const env = new MockActivityEnvironment({ heartbeatTimeoutMs: 3000 });
  const run = env.run(acts.deploymentCheck, await input('c-deploy-cancel')).catch((e: unknown) => e);
  await new Promise((r) => setTimeout(r, 1500));
  const cancelledAt = performance.now();
  env.cancel();
  const err = await run;
  expect(err).toBeInstanceOf(OnnxCancelledError);
  // within the forward pass in flight, not after the other 15
  expect(performance.now() - cancelledAt).toBeLessThan(10_000);
  expect(threadHandles()).toBe(before);
});
