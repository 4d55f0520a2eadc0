// What a revision reuses and what it re-runs, one case per kind of change (pure: no services).
import type { ProfileModelResult } from '../../src/activities';
import type { Attempt } from '../../src/core/attempt';
import { CampaignConfigSchema, type CampaignConfig } from '../../src/core/campaign-config';
import {
  applySet,
  planRevision,
  stateAfter,
  type PreviousRevision,
  type ResetRequest,
} from '../../src/client/reset';
import type { CampaignTargetResult } from '../../src/workflows/campaign';

// A 100 M-MAC dense model whose protected layers hold 2 M MACs.
const profile: ProfileModelResult = {
  macs: 100e6,
  params: 1e6,
  profile: {
    uri: 's3://b/campaigns/c-1/_model/profile/profile.json',
    key: 'campaigns/c-1/_model/profile/profile.json',
    sha256: 'a'.repeat(64),
    sizeBytes: 10,
  },
  summary: {
    model: 'democnn',
    inputShape: [1, 3, 32, 32],
    macs: 100e6,
    params: 1e6,
    stages: [],
    isomorphicClasses: [],
    protected: [{ layer: 'fc', reason: 'classifier' }],
    protectedMacs: 2e6,
    layerCount: 5,
  },
};

const config = (over: Record<string, unknown> = {}): CampaignConfig =>
  CampaignConfigSchema.parse({
    model: { name: 'democnn', numClasses: 4 },
    targets: [
      { fraction: 0.5, band: '-2%..+1%', label: 'a' },
      { fraction: 0.7, label: 'b' },
    ],
    search: { agent: 'solver', extendedSearch: 0 },
    dataset: { root: '/data/shapes' },
    finetune: { epochs: 1, maxSteps: 2 },
    ...over,
  });

const attempt = (index: number, macs: number, target: number): Attempt => ({
  index,
  agent: 'solver',
  strategy: { pruningRatio: 0.3, importance: 'l2', globalPruning: true, isomorphic: true, roundTo: 8 },
  macs,
  params: 1,
  deviation: (macs - target) / target,
  inBand: false,
  wallMs: 5,
});

const row = (label: string, targetMacs: number): CampaignTargetResult => ({
  targetLabel: label,
  targetMacs,
  band: { lo: -0.05, hi: 0.01 },
  status: 'converged',
  reason: 'converged',
  chosen: attempt(2, targetMacs, targetMacs),
  attemptCount: 2,
  attemptsToConverge: 2,
  agentsUsed: ['solver'],
  searchWorkflowId: `c-1--${label}`,
  notes: [],
  finetune: { steps: 2 } as CampaignTargetResult['finetune'] & object,
});

function previous(complete: boolean, cfg = config()): PreviousRevision {
  return {
    workflowId: 'c-1',
    status: complete ? 'COMPLETED' : 'FAILED',
    input: { campaignId: 'c-1', config: cfg },
    profile,
    denseAccuracy: { top1: 0.5, top5: 1, loss: 1, count: 16 },
    rows: new Map([
      ['a', { row: row('a', 50e6), complete }],
      ['b', { row: row('b', 70e6), complete }],
    ]),
  };
}

test('nothing changed on a completed campaign: everything is reused, nothing re-runs', () => {
  const { revision, rerun } = planRevision(previous(true), config(), 2);
  expect(rerun).toEqual([]);
  expect(revision.profile).toBe(profile);
  expect(revision.denseAccuracy).toEqual({ top1: 0.5, top5: 1, loss: 1, count: 16 });
  expect(Object.fromEntries(Object.entries(revision.reuse).map(([k, v]) => [k, v.steps]))).toEqual({
    a: 'all',
    b: 'all',
  });
  expect(revision).toMatchObject({ campaignId: 'c-1', number: 2, previousId: 'c-1', resume: {} });
});

test('a changed band re-runs that target only; the other and the profile are reused', () => {
  const changed = applySet(config(), 'targets.1.band=-3%..+1%');
  const { revision, rerun } = planRevision(previous(true), CampaignConfigSchema.parse(changed), 3);
  expect(rerun).toEqual(['targets.1 (b): band changed: search re-run']);
  expect(Object.keys(revision.reuse)).toEqual(['a']);
  expect(revision.reason).toBe('retry: targets.1 (b): band changed: search re-run');
  expect(revision.profile).toBe(profile);
});

test('a changed fine-tune recipe keeps every search and re-runs the steps after them', () => {
  const { revision, rerun } = planRevision(
    previous(true),
    CampaignConfigSchema.parse(applySet(config(), 'finetune.maxSteps=4')),
    2,
  );
  expect(Object.fromEntries(Object.entries(revision.reuse).map(([k, v]) => [k, v.steps]))).toEqual({
    a: 'search',
    b: 'search',
  });
  expect(rerun).toEqual([
    'targets.0 (a): dataset, finetune or deployment changed: they run again on the same search',
    'targets.1 (b): dataset, finetune or deployment changed: they run again on the same search',
  ]);
  // The dense accuracy depends on the model, dataset and batch size only: it stands.
  expect(revision.denseAccuracy).toBeDefined();
});

test('a failed campaign retried unchanged: finished searches stand, the steps after them run again', () => {
  const { revision, rerun } = planRevision(previous(false), config(), 2);
  expect(revision.reuse.a?.steps).toBe('search');
  expect(rerun[0]).toBe(
    'targets.0 (a): the steps after its search did not finish before: they run again on the same search',
  );
});

test('a changed model re-profiles and re-runs every search', () => {
  const { revision, rerun } = planRevision(
    previous(true),
    CampaignConfigSchema.parse(applySet(config(), 'model.numClasses=10')),
    2,
  );
  expect(revision.profile).toBeUndefined();
  expect(revision.reuse).toEqual({});
  expect(rerun).toEqual(['profile: the model changed']);
});

test('a changed target above dense is refused naming the field', () => {
  expect(() =>
    planRevision(
      previous(true),
      CampaignConfigSchema.parse(applySet(config(), 'targets.0={"macs":"200M"}')),
      2,
    ),
  ).toThrow("targets.0.macs: 200000000 is not below the dense model's 100000000 MACs");
});

test('reset: the target resumes from its attempt with the attempts before it and the state they left', () => {
  const target = 50e6;
  const log = {
    band: { lo: -0.02, hi: 0.01 },
    attempts: [attempt(1, 70e6, target), attempt(2, 50.2e6, target), attempt(3, 49.5e6, target)],
  } as ResetRequest['log'];
  const { revision } = planRevision(previous(true), config(), 2, { targetLabel: 'a', fromAttempt: 2, log });
  const resume = revision.resume.a!;
  expect(resume.fromAttempt).toBe(2);
  expect(resume.attempts.map((a) => a.index)).toEqual([1]);
  expect(resume.replaces).toEqual({ searchWorkflowId: 'c-1--a', attempts: 3 });
  // One attempt, 40 % over, out of band: not converged, one proposal spent, the solver still asked.
  expect(resume.state).toMatchObject({ agent: 'solver', converged: false, proposals: 1, extendedLeft: 0 });
  expect(revision.reuse).toEqual({ b: expect.objectContaining({ steps: 'all' }) });
  expect(revision.reason).toBe('reset a to attempt 2');
});

test("reset: the replaced run's second scores stay behind; its first scores carry over", () => {
  const target = 50e6;
  const score = { mode: 'recovery' as const, top1: 0.5, loss: 1, count: 64, steps: 10, wallMs: 1 };
  const second = { ...score, top1: 0.7, steps: 40 };
  const log = {
    band: { lo: -0.02, hi: 0.01 },
    attempts: [
      { ...attempt(1, 50.2e6, target), inBand: true, score, rescore: second },
      { ...attempt(2, 49.5e6, target), inBand: true, score, rescoreError: 'error: boom' },
      attempt(3, 49.6e6, target),
    ],
  } as ResetRequest['log'];
  const { revision } = planRevision(previous(true), config(), 2, { targetLabel: 'a', fromAttempt: 3, log });
  const carried = revision.resume.a!.attempts;
  expect(carried.map((a) => [a.index, a.score, a.rescore, a.rescoreError])).toEqual([
    [1, score, undefined, undefined],
    [2, score, undefined, undefined],
  ]);
  expect(carried.every((a) => !('rescore' in a) && !('rescoreError' in a))).toBe(true);
});

test('stateAfter an in-band attempt: converged, with the event the search logs', () => {
  const s = stateAfter(
    [attempt(1, 50e6, 50e6)],
    config(),
    { targetMacs: 50e6, band: { lo: -0.02, hi: 0.01 } },
    profile,
  );
  expect(s.converged).toBe(true);
  expect(s.events.map((e) => e.note)).toContain('in band after 1 attempts (+0.00%)');
});

test("stateAfter with the search's sensitivity table: replayed first, and carried into the re-run", () => {
  const table = {
    baseline: { top1: 0.9, loss: 0.4 },
    stages: [
      { stage: 'block1', macs: 30e6, points: [{ ratio: 0.5, macs: 85e6, top1: 0.6, loss: 1.2 }] },
      { stage: 'block2', macs: 60e6, points: [{ ratio: 0.5, macs: 70e6, top1: 0.85, loss: 0.5 }] },
    ],
  };
  const target = { targetMacs: 50e6, band: { lo: -0.02, hi: 0.01 } };
  const s = stateAfter([attempt(1, 80e6, 50e6)], config(), target, profile, table);
  // A reset run does not measure it again: without the table its stage-allocation shape would be gone.
  expect(s.sensitivity).toEqual(table);
  expect(s.events[0]?.note).toBe('sensitivity measured: 2 stages, baseline top-1 90.0% on the scoring slice');
  expect(stateAfter([attempt(1, 80e6, 50e6)], config(), target, profile).sensitivity).toBeUndefined();
});

test.each([
  ['finetune.batchSize=128', ['finetune', 'batchSize'], 128],
  ['targets.1.band=-3%..+1%', ['targets', 1, 'band'], '-3%..+1%'],
  ['search.agent="grid"', ['search', 'agent'], 'grid'],
])('--set %s', (assignment, where, value) => {
  let node = applySet(config(), assignment) as Record<string | number, unknown>;
  for (const k of where.slice(0, -1)) node = node[k] as Record<string | number, unknown>;
  expect(node[where.at(-1)!]).toEqual(value);
});

test('--set refuses a missing = and a path through a value', () => {
  expect(() => applySet(config(), 'finetune.batchSize')).toThrow('--set: expected path=value');
  expect(() => applySet(config(), 'model.name.x=1')).toThrow('--set: model.name is not an object');
});

test('a campaign started before the dataset defaults: --set keeps its searches; its file again (-c) changes the search', () => {
  // What a config without extendedSearch parsed to before the defaults: extendedSearch filled at 3, no scoring.
  const older = config({ search: { agent: 'solver', extendedSearch: 3 } });
  expect(older.search.candidates).toBeUndefined();
  const withSet = CampaignConfigSchema.parse(applySet(older, 'finetune.maxSteps=4'));
  expect(withSet.search).toEqual(older.search);
  const kept = planRevision(previous(true, older), withSet, 2);
  expect(Object.values(kept.revision.reuse).map((r) => r.steps)).toEqual(['search', 'search']);
  // The same file parsed today gets the defaults: the log of the retry says the search changed.
  const again = config({ search: { agent: 'solver' } });
  expect(again.search.candidates).toBe(6);
  expect(planRevision(previous(true, older), again, 2).rerun).toEqual([
    'targets.0 (a): search changed: search re-run',
    'targets.1 (b): search changed: search re-run',
  ]);
});
