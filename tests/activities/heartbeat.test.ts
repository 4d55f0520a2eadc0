// Long activities heartbeat every few seconds whatever the engine says, under short heartbeat timeouts: a
// killed worker's activity is retried elsewhere in seconds, not after 10 minutes (issue 16, "Stalls").
import { MockActivityEnvironment } from '@temporalio/testing';
import { msToNumber } from '@temporalio/common/lib/time';
import type { ActivityDeps } from '../../src/activities';
import { createEngineActivities } from '../../src/activities/engine-activities';
import { HEARTBEAT_EVERY_MS, keepHeartbeating } from '../../src/activities/heartbeat';
import type { EngineRunner } from '../../src/engine/engine-process';
import { LocalArtifactStore } from '../../src/storage';
import { HEARTBEAT_THROTTLE } from '../../src/workers/create-workers';
import { ActivityPresets, ENGINE_HEARTBEAT_TIMEOUT } from '../../src/workflows/presets';
import { tempDir } from '../support/test-env';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test.each([
  ['profile', ENGINE_HEARTBEAT_TIMEOUT],
  ['pruneTrial', ENGINE_HEARTBEAT_TIMEOUT],
  ['scoring', ENGINE_HEARTBEAT_TIMEOUT],
  ['evaluate', ENGINE_HEARTBEAT_TIMEOUT],
  ['deploy', ENGINE_HEARTBEAT_TIMEOUT],
] as const)(
  'the %s preset has a heartbeat timeout of seconds (%s), several heartbeats wide',
  (name, expected) => {
    const timeoutMs = msToNumber(ActivityPresets[name].heartbeatTimeout);
    expect(ActivityPresets[name].heartbeatTimeout).toBe(expected);
    expect(timeoutMs).toBeLessThanOrEqual(30_000);
    // a live worker gets a heartbeat to the server at least three times per timeout
    expect(Math.max(HEARTBEAT_EVERY_MS, msToNumber(HEARTBEAT_THROTTLE)) * 3).toBeLessThanOrEqual(timeoutMs);
  },
);

test('keepHeartbeating heartbeats at once and every few seconds while the work is silent', async () => {
  const env = new MockActivityEnvironment({ heartbeatTimeoutMs: 6000 });
  const beats: number[] = [];
  const t0 = Date.now();
  env.on('heartbeat', () => beats.push(Date.now() - t0));
  const out = await env.run(() =>
    keepHeartbeating(
      () => sleep(4500).then(() => 'done'),
      () => ({ stage: 'x' }),
    ),
  );
  expect(out).toBe('done');
  // a third of the 6 s timeout: at 0, ~2 s, ~4 s
  expect(beats.length).toBeGreaterThanOrEqual(3);
  expect(beats[0]).toBeLessThan(500);
  // and nothing after it returned
  const n = beats.length;
  await sleep(2500);
  expect(beats).toHaveLength(n);
});

test('keepHeartbeating outside an activity just runs the work', async () => {
  await expect(keepHeartbeating(async () => 42)).resolves.toBe(42);
});

test('profileModel heartbeats while the engine says nothing (a cold start: importing torch, building)', async () => {
  // The engine is the one thing faked: a profile that takes 11 s without a progress event.
  const silent: EngineRunner = {
    run: async () => {
      await sleep(11_000);
      throw new Error('engine gave up');
    },
    close: async () => undefined,
  };
  const deps: ActivityDeps = {
    store: new LocalArtifactStore(tempDir('ap-hb-store-')),
    engine: silent,
    oneShotEngine: silent,
    agents: {},
    workDir: tempDir('ap-hb-work-'),
  };
  const env = new MockActivityEnvironment({ heartbeatTimeoutMs: msToNumber(ENGINE_HEARTBEAT_TIMEOUT) });
  const beats: unknown[] = [];
  env.on('heartbeat', (d: unknown) => beats.push(d));
  const acts = createEngineActivities(deps);
  await expect(
    env.run(acts.profileModel, { campaignId: 'c-hb', model: { name: 'democnn' } }),
  ).rejects.toThrow('engine gave up');
  // at 0, 5 and 10 s (every HEARTBEAT_EVERY_MS): the old code sent none until the engine's first event
  expect(beats.length).toBeGreaterThanOrEqual(3);
  expect(beats[0]).toEqual({ model: 'democnn', stage: 'starting', fraction: null });
}, 30_000);
