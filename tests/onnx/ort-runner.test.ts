/**
 * @jest-environment ./tests/onnx/ort-environment.ts
 *
 * onnxruntime runs on a thread of its own (issue 16: the deployment check's heartbeats stopped while
 * latency was measured on the main thread): the main thread's timers keep firing through a measurement,
 * an abort stops the thread, and the thread's errors reach the caller with their class and message.
 * Real onnxruntime on small models built here; margins are generous for a loaded 2-core host.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { OnnxCancelledError, OnnxRuntimeError, measureLatency, runInference } from '../../src/onnx';
import { GraphBuilder, matMulChain } from './onnx-builder';

let dir: string;
/** 26 G MACs per forward pass: a few hundred ms on one core. */
let slow: string;
/** x [2] -> Relu -> y [2]. */
let relu: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ap-ort-runner-'));
  slow = matMulChain(2048, 3).save(dir, 'slow.onnx');
  relu = new GraphBuilder().input('x', [2]).node('Relu', 'y', ['x']).output('y').save(dir, 'relu.onnx');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** Worker threads show as a MessagePort among the active resources while they live. */
const threadHandles = () => process.getActiveResourcesInfo().filter((r) => r === 'MessagePort').length;

/** Tick every 10 ms on the main thread; `stop()` says how many ticks came and the longest gap between two. */
function ticker(): { stop: () => { ticks: number; maxGapMs: number; elapsedMs: number } } {
  const t0 = performance.now();
  let last = t0;
  let ticks = 0;
  let maxGapMs = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    maxGapMs = Math.max(maxGapMs, now - last);
    last = now;
    ticks++;
  }, 10);
  return {
    stop: () => {
      clearInterval(timer);
      const now = performance.now();
      return { ticks, maxGapMs: Math.max(maxGapMs, now - last), elapsedMs: now - t0 };
    },
  };
}

test('the main thread keeps ticking while a measurement runs', async () => {
  const before = threadHandles();
  const tick = ticker();
  const r = await measureLatency(slow, {
    intraOpThreads: 1,
    warmupRuns: 1,
    runs: 4,
    executionProvider: 'cpu',
  });
  const { ticks, maxGapMs, elapsedMs } = tick.stop();
  console.log(
    `${ticks} ticks in ${elapsedMs.toFixed(0)} ms, longest gap ${maxGapMs.toFixed(0)} ms, p50 ${r.p50Ms.toFixed(0)} ms`,
  );
  expect(r).toMatchObject({ provider: 'cpu', batchSize: 1, runs: 4, threads: 1 });
  expect(elapsedMs).toBeGreaterThanOrEqual(5 * r.p50Ms);
  // On the main thread every forward pass blocked the timers: a gap of at least one pass, about one tick
  // per pass. On its own thread the 10 ms timer ticks all through (a pass is tens of ticks long).
  expect(maxGapMs).toBeLessThan(r.p50Ms);
  expect(ticks).toBeGreaterThanOrEqual(4 * 5);
  expect(ticks).toBeGreaterThanOrEqual(elapsedMs / 10 / 4);
  expect(threadHandles()).toBe(before);
});

test('a forward pass on the thread returns the output as a Float32Array', async () => {
  const out = await runInference(relu, Float32Array.from([-1, 2]), [2]);
  expect(out).toMatchObject({ name: 'y', shape: [2], provider: 'cpu' });
  expect(out.logits).toBeInstanceOf(Float32Array);
  expect([...out.logits]).toEqual([0, 2]);
});

test('an abort stops the thread and rejects with OnnxCancelledError, none left running', async () => {
  const before = threadHandles();
  const controller = new AbortController();
  // 1000 passes: minutes unless it stops
  const run = measureLatency(slow, {
    intraOpThreads: 1,
    warmupRuns: 0,
    runs: 1000,
    executionProvider: 'cpu',
    signal: controller.signal,
  }).catch((e: unknown) => e);
  await new Promise((r) => setTimeout(r, 1500));
  expect(threadHandles()).toBe(before + 1);
  const abortedAt = performance.now();
  controller.abort();
  const err = await run;
  const rejectedInMs = performance.now() - abortedAt;
  console.log(`rejected ${rejectedInMs.toFixed(0)} ms after the abort`);
  expect(err).toBeInstanceOf(OnnxCancelledError);
  expect((err as Error).message).toBe(`${slow}: onnxruntime: cancelled`);
  // it waits for the forward pass in flight (a few hundred ms), not for the 1000
  expect(rejectedInMs).toBeLessThan(10_000);
  expect(threadHandles()).toBe(before);
});

test('an already aborted signal rejects at once, without starting a thread', async () => {
  const before = threadHandles();
  const signal = AbortSignal.abort();
  await expect(measureLatency(relu, { signal })).rejects.toBeInstanceOf(OnnxCancelledError);
  await expect(runInference(relu, Float32Array.from([1, 2]), [2], { signal })).rejects.toBeInstanceOf(
    OnnxCancelledError,
  );
  expect(threadHandles()).toBe(before);
});

describe("the thread's errors keep their class and message", () => {
  test('a file that is not ONNX is an OnnxRuntimeError naming the path', async () => {
    const file = path.join(dir, 'not-onnx.onnx');
    fs.writeFileSync(file, 'hello, not a model');
    for (const call of [
      () => measureLatency(file, { runs: 1, warmupRuns: 0 }),
      () => runInference(file, Float32Array.from([1, 2]), [2]),
    ]) {
      const err = await call().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OnnxRuntimeError);
      expect(err).toMatchObject({ modelPath: file });
      expect((err as Error).message).toMatch(`${file}: onnxruntime: cannot create a session: `);
    }
  });

  test('a bad intraOpThreads (checked in the thread) is a RangeError', async () => {
    await expect(measureLatency(relu, { intraOpThreads: 0 })).rejects.toThrow(
      new RangeError('intraOpThreads must be a positive integer, got 0'),
    );
    const err = await runInference(relu, Float32Array.from([1, 2]), [2], { intraOpThreads: 1.5 }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RangeError);
    expect((err as Error).message).toBe('intraOpThreads must be a positive integer, got 1.5');
  });

  test("'cuda' runs on CUDA or fails with OnnxRuntimeError; 'auto' then says why it fell back", async () => {
    const cuda = await measureLatency(relu, { executionProvider: 'cuda', warmupRuns: 0, runs: 1 }).catch(
      (e: unknown) => e,
    );
    const auto = await measureLatency(relu, { warmupRuns: 0, runs: 1 });
    if (cuda instanceof Error) {
      expect(cuda).toBeInstanceOf(OnnxRuntimeError);
      expect(cuda.message).toMatch(/CUDA execution provider unavailable/);
      expect(auto.provider).toBe('cpu');
      expect(auto.fallbackReason).toMatch(/^CUDA execution provider unavailable: /);
    } else {
      expect(cuda).toMatchObject({ provider: 'cuda' });
      expect(auto).toMatchObject({ provider: 'cuda' });
    }
  });
});
