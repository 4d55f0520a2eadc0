/**
 * @jest-environment ./tests/onnx/ort-environment.ts
 *
 * The deployment check keeps the worker's main thread free while onnxruntime measures latency (on a thread
 * of its own since issue 16, so its heartbeat timeout is the engine activities' 20 s), and cancelling the
 * activity stops the measurement. Real parts throughout: a democnn pruned by the warm engine, exported by
 * the one-shot engine, measured by onnxruntime, a real LocalArtifactStore, MockActivityEnvironment. A batch
 * of 2048 makes one forward pass of the dense model long (hundreds of ms on 2 cores): on the main thread it
 * would stop every timer for that long.
 */
import { MockActivityEnvironment } from '@temporalio/testing';

import {
  createDeploymentActivities,
  createEngineActivities,
  type DeploymentCheckInput,
  type DeploymentCheckResult,
  type PruneTrialInput,
  type PruneTrialResult,
} from '../../src/activities';
import type { ArtifactRef } from '../../src/core/artifact-ref';
import { OnnxCancelledError } from '../../src/onnx';
import { LocalArtifactStore } from '../../src/storage';
import { deploymentOnnxKey } from '../../src/storage/keys';
import { realEngines, tempDir } from '../support/test-env';

const BATCH = 2048;
const engines = realEngines();
const store = new LocalArtifactStore(tempDir('ap-deploy-check-store-'));
const deps = { store, ...engines, agents: {}, workDir: tempDir('ap-deploy-check-work-') };
const acts = createDeploymentActivities(deps);
let pruned: ArtifactRef;

beforeAll(async () => {
  const trial = (await new MockActivityEnvironment().run(createEngineActivities(deps).pruneTrial, {
    campaignId: 'c-deploy',
    targetLabel: 't1',
    attemptIndex: 1,
    model: { name: 'democnn', numClasses: 4 },
    strategy: { pruningRatio: 0.3, importance: 'l2', globalPruning: true, isomorphic: true, roundTo: 8 },
  } satisfies PruneTrialInput)) as PruneTrialResult;
  pruned = trial.model;
}, 180_000);

afterAll(async () => {
  await engines.engine.close();
});

const input = (campaignId: string, latencyRuns: number): DeploymentCheckInput => ({
  campaignId,
  targetLabel: 't1',
  dense: { name: 'democnn', numClasses: 4 },
  pruned,
  batchSizes: [BATCH],
  latencyRuns,
  agreementSamples: 0,
});

const threadHandles = () => process.getActiveResourcesInfo().filter((r) => r === 'MessagePort').length;

test('the main thread keeps ticking and heartbeating through the measurement', async () => {
  const env = new MockActivityEnvironment({ heartbeatTimeoutMs: 3000 });
  const beats: number[] = [];
  const t0 = performance.now();
  env.on('heartbeat', () => beats.push(performance.now()));
  // A 20 ms timer on the main thread: its longest gap is how long the main thread was held.
  const ticks: number[] = [];
  const timer = setInterval(() => ticks.push(performance.now()), 20);
  let r: DeploymentCheckResult;
  try {
    r = (await env.run(acts.deploymentCheck, input('c-deploy-hb', 3))) as DeploymentCheckResult;
  } finally {
    clearInterval(timer);
  }
  const elapsedMs = performance.now() - t0;
  expect(r.dense.latency).toHaveLength(1);
  const dense = r.dense.latency[0]!;
  expect(dense.batchSize).toBe(BATCH);
  expect(r.pruned.latency[0]!.p50Ms).toBeGreaterThan(0);
  // The premise: one dense forward pass holds a thread long enough for a held main thread to show.
  expect(dense.p50Ms).toBeGreaterThan(100);
  const gaps = ticks.slice(1).map((t, i) => t - ticks[i]!);
  const beatGaps = beats.slice(1).map((b, i) => b - beats[i]!);
  console.log(
    `dense p50 ${dense.p50Ms.toFixed(0)} ms at batch ${BATCH}; main-thread timer: ${ticks.length} ticks, ` +
      `longest gap ${Math.max(...gaps).toFixed(0)} ms; ${beats.length} heartbeats, longest gap ${Math.max(...beatGaps).toFixed(0)} ms`,
  );
  // No forward pass ran on the main thread: it was never held for as long as one takes.
  expect(Math.max(...gaps)).toBeLessThan(dense.p50Ms);
  // And heartbeats kept coming, a heartbeat each second, inside the 3 s timeout.
  expect(beats.length).toBeGreaterThanOrEqual(elapsedMs / 1000 / 2);
  expect(Math.max(...beatGaps)).toBeLessThan(3000);
}, 180_000);

test('a cancelled check stops the measurement with OnnxCancelledError and leaves no thread', async () => {
  const before = threadHandles();
  const env = new MockActivityEnvironment({ heartbeatTimeoutMs: 3000 });
  // Many runs: the measurement would take minutes if the cancel did not stop it.
  const run = env.run(acts.deploymentCheck, input('c-deploy-cancel', 1000)).catch((e: unknown) => e);
  // Cancel once both exports are stored, i.e. while onnxruntime measures.
  const prunedOnnx = deploymentOnnxKey('c-deploy-cancel', 't1', 'pruned');
  while (!(await store.exists(prunedOnnx))) await new Promise((r) => setTimeout(r, 100));
  await new Promise((r) => setTimeout(r, 500));
  const cancelledAt = performance.now();
  env.cancel();
  const err = await run;
  expect(err).toBeInstanceOf(OnnxCancelledError);
  // within the forward pass in flight, not after the other thousand
  expect(performance.now() - cancelledAt).toBeLessThan(10_000);
  expect(threadHandles()).toBe(before);
}, 180_000);
