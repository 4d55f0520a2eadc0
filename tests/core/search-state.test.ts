import type { Attempt } from '../../src/core/attempt';
import { failedAttempt } from '../../src/core/attempt-selection';
import type { SearchConfig, SearchEvent, SearchState } from '../../src/core/search-state';
import {
  attemptRole,
  candidateShapes,
  EXTENDED_SHAPES,
  initialSearchState,
  MAX_SCALING_STEPS,
  nextRequest,
  searchReducer,
} from '../../src/core/search-state';
import { baseStrategy } from '../../src/core/strategy';
import type { Band } from '../../src/core/tolerance-band';
import { inBand } from '../../src/core/tolerance-band';

const TARGET = 1e9;
const BAND: Band = { lo: -0.01, hi: 0.01 };
const CONFIG: SearchConfig = {
  targetMacs: TARGET,
  fallbackAgent: 'solver',
  maxIterations: 10,
  maxProposals: 30,
  stagnationWindow: 3,
  extendedSearch: 0,
  baseStrategy: { importance: 'l2' },
  floorMacs: 0.05e9,
  ceilingMacs: 4e9,
};

/** A measured attempt at deviation `d` (ratio distinct per index), or a failed one when `d` is a string. */
function attempt(index: number, d: number | string, agent: Attempt['agent'] = 'claude'): Attempt {
  const base = { index, agent, strategy: baseStrategy(0.1 + index * 0.01) };
  if (typeof d === 'string') return failedAttempt(base, d);
  return { ...base, macs: TARGET * (1 + d), params: 0, deviation: d, inBand: inBand(d, BAND), wallMs: 0 };
}

function state(over: Partial<SearchState> = {}, ds: (number | string)[] = []): SearchState {
  return {
    ...initialSearchState({
      attempts: ds.map((d, i) => attempt(i + 1, d)),
      band: BAND,
      agent: 'claude',
      extendedLeft: 0,
    }),
    ...over,
  };
}

/** Fields expected after an event; `note: undefined` means the state has no note. */
type Expected = Partial<Omit<SearchState, 'note'>> & { note?: string | undefined };

const notes = (s: SearchState) => s.events.map((e) => `${e.afterAttempt}: ${e.note}`);

describe('searchReducer transition table', () => {
  // [label, state before, event, config changes, expected fields of the state after, expected new notes]
  test.each<[string, SearchState, SearchEvent, Partial<SearchConfig>, Expected, string[]]>([
    ['round: nothing to stop', state(), { type: 'round' }, {}, { status: 'running', reason: null }, []],
    [
      'round: attempts ran out',
      state({}, [0.3, 0.2]),
      { type: 'round' },
      { maxIterations: 2 },
      { status: 'diverged', reason: 'max-iterations' },
      [],
    ],
    [
      'round: attempts ran out after converging',
      state({ converged: true }, [0.3, 0.005]),
      { type: 'round' },
      { maxIterations: 2 },
      { status: 'converged', reason: 'converged' },
      [],
    ],
    [
      'round: proposals ran out',
      state({ proposals: 30 }),
      { type: 'round' },
      {},
      { status: 'diverged', reason: 'agent-failures' },
      [],
    ],
    [
      'round: an ended search stays as it ended',
      state({ status: 'diverged', reason: 'exhausted' }, [0.3, 0.2]),
      { type: 'round' },
      { maxIterations: 2 },
      { status: 'diverged', reason: 'exhausted' },
      [],
    ],
    [
      'agent-failed: switch to the fallback',
      state(),
      { type: 'agent-failed', agent: 'claude', message: 'HTTP 500' },
      {},
      { agent: 'solver', proposals: 1, status: 'running' },
      ['0: agent claude failed: HTTP 500', '0: switched to solver'],
    ],
    [
      'agent-failed: the fallback itself failed',
      state({ agent: 'solver' }, [0.3]),
      { type: 'agent-failed', agent: 'solver', message: 'boom' },
      {},
      { agent: 'solver', proposals: 1, status: 'diverged', reason: 'agent-failures' },
      ['1: agent solver failed: boom'],
    ],
    [
      'agent-failed: the fallback failed in the extended search',
      state({ agent: 'solver', converged: true }, [0.005]),
      { type: 'agent-failed', agent: 'solver', message: 'boom' },
      {},
      { status: 'converged', reason: 'converged' },
      ['1: agent solver failed: boom'],
    ],
    [
      'proposed: counts the proposal and clears the note',
      state({ note: 'shrink-bracket: x' }),
      { type: 'proposed', agent: 'claude', exhausted: false, extended: false },
      {},
      { proposals: 1, note: undefined, status: 'running' },
      [],
    ],
    [
      'proposed: exhausted, switch to the fallback',
      state({ agent: 'grid' }),
      { type: 'proposed', agent: 'grid', exhausted: true, extended: false },
      {},
      { agent: 'solver', status: 'running' },
      ['0: grid has no strategy left to try', '0: switched to solver'],
    ],
    [
      'proposed: the fallback is exhausted',
      state({ agent: 'solver' }, [0.3]),
      { type: 'proposed', agent: 'solver', exhausted: true, extended: false },
      {},
      { status: 'diverged', reason: 'exhausted' },
      ['1: solver has no strategy left to try'],
    ],
    [
      'proposed: exhausted in the extended search ends it',
      state({ converged: true, extendedLeft: 2 }, [0.005]),
      { type: 'proposed', agent: 'solver', exhausted: true, extended: true },
      {},
      { status: 'converged', reason: 'converged', agent: 'claude' },
      ['1: solver has no strategy left to try'],
    ],
    [
      'proposed: exhausted in the extended search after the band moved away',
      state({ converged: false, extendedLeft: 2 }, [0.005]),
      { type: 'proposed', agent: 'solver', exhausted: true, extended: true },
      {},
      { status: 'diverged', reason: 'stopped' },
      ['1: solver has no strategy left to try'],
    ],
    [
      'measured: first in band, no extended search',
      state({}, [0.3]),
      { type: 'measured', attempt: attempt(2, 0.004), extended: false },
      {},
      { converged: true, status: 'converged', reason: 'converged' },
      ['2: in band after 2 attempts (+0.40%)'],
    ],
    [
      'measured: first in band, extended search to come',
      state({ extendedLeft: 2 }, [0.3]),
      { type: 'measured', attempt: attempt(2, -0.004), extended: false },
      {},
      { converged: true, extendedLeft: 2, status: 'running' },
      ['2: in band after 2 attempts (-0.40%)'],
    ],
    [
      'measured: an extended attempt counts down',
      state({ converged: true, extendedLeft: 2 }, [0.004]),
      { type: 'measured', attempt: attempt(2, 0.3), extended: true },
      {},
      { extendedLeft: 1, status: 'running' },
      [],
    ],
    [
      'measured: the last extended attempt ends converged',
      state({ converged: true, extendedLeft: 1 }, [0.004]),
      { type: 'measured', attempt: attempt(2, '  engine: bad'), extended: true },
      {},
      { extendedLeft: 0, status: 'converged', reason: 'converged' },
      [],
    ],
    [
      'measured: the monitor continues',
      state({}, [0.3]),
      { type: 'measured', attempt: attempt(2, 0.1), extended: false },
      {},
      { status: 'running', agent: 'claude' },
      [],
    ],
    [
      'measured: the monitor switches agents (repeated strategy)',
      state({}, [0.3]),
      {
        type: 'measured',
        attempt: { ...attempt(2, 0.2), strategy: baseStrategy(0.11) },
        extended: false,
      },
      {},
      { agent: 'solver', status: 'running' },
      ['2: repeated-strategy: attempt 2 repeats the strategy of attempt 1; switched claude -> solver'],
    ],
    [
      'measured: the fallback repeats itself: the reason becomes the note',
      state({ agent: 'solver' }, [0.3]),
      {
        type: 'measured',
        attempt: { ...attempt(2, 0.2, 'solver'), strategy: baseStrategy(0.11) },
        extended: false,
      },
      {},
      {
        agent: 'solver',
        status: 'running',
        note: 'repeated-strategy: attempt 2 repeats the strategy of attempt 1',
      },
      ['2: repeated-strategy: attempt 2 repeats the strategy of attempt 1'],
    ],
    [
      'measured: the monitor asks to shrink the bracket',
      state({}, [0.04, -0.041]),
      { type: 'measured', attempt: attempt(3, 0.042), extended: false },
      {},
      { status: 'running', note: expect.stringMatching(/^shrink-bracket: deviations/) as unknown as string },
      [expect.stringMatching(/^3: oscillation: .*shrinking to the best bracket$/) as unknown as string],
    ],
    [
      'measured: the monitor stops (infeasible)',
      state({}, []),
      { type: 'measured', attempt: attempt(1, 0.3), extended: false },
      { floorMacs: 1.5e9 },
      { status: 'infeasible', reason: 'infeasible-target' },
      [expect.stringMatching(/^1: stopped: infeasible-target: /) as unknown as string],
    ],
    [
      'band-changed: an attempt falls into the new band',
      state({}, [0.3, 0.02, 'x']),
      { type: 'band-changed', band: { lo: -0.05, hi: 0.05 } },
      {},
      { converged: true, band: { lo: -0.05, hi: 0.05 }, status: 'running' },
      [],
    ],
    [
      'band-changed: the in-band attempt falls out',
      state({ converged: true, status: 'converged', reason: 'converged' }, [0.3, 0.009]),
      { type: 'band-changed', band: { lo: -0.005, hi: 0.005 } },
      {},
      { converged: false, status: 'converged' },
      [],
    ],
  ])('%s', (_label, before, event, over, after, newNotes) => {
    const next = searchReducer(before, event, { ...CONFIG, ...over });
    const { note, ...rest } = after;
    expect(next).toMatchObject(rest);
    if ('note' in after) {
      if (note === undefined) expect(next).not.toHaveProperty('note');
      else expect(next.note).toEqual(note);
    }
    expect(notes(next).slice(notes(before).length)).toEqual(newNotes);
    expect(notes(next).slice(0, notes(before).length)).toEqual(notes(before));
  });

  test('band-changed re-derives every in-band flag, leaves failures alone, and mutates nothing', () => {
    const before = state({}, [0.3, 0.02, 'x']);
    const frozen = JSON.stringify(before);
    const next = searchReducer(before, { type: 'band-changed', band: { lo: -0.05, hi: 0.05 } }, CONFIG);
    expect(next.attempts.map((a) => a.inBand)).toEqual([false, true, false]);
    expect(next.attempts[2]).toBe(before.attempts[2]);
    expect(JSON.stringify(before)).toBe(frozen);
  });

  test('a measured attempt joins the history', () => {
    const next = searchReducer(
      state({}, [0.3]),
      { type: 'measured', attempt: attempt(2, 0.1), extended: false },
      CONFIG,
    );
    expect(next.attempts.map((a) => a.index)).toEqual([1, 2]);
  });
});

describe('nextRequest', () => {
  test('outside the extended search: the current agent, the base strategy and the monitor note', () => {
    expect(nextRequest(state({ note: 'oscillation: x' }), CONFIG)).toEqual({
      agent: 'claude',
      baseStrategy: { importance: 'l2' },
      note: 'oscillation: x',
      extended: false,
    });
    expect(nextRequest(state(), CONFIG)).toEqual({
      agent: 'claude',
      baseStrategy: { importance: 'l2' },
      extended: false,
    });
  });

  test.each([
    [3, 3, 'another importance criterion', { importance: 'l1' }],
    [3, 2, 'finer channel rounding', { importance: 'l2', roundTo: 4 }],
    [3, 1, 'L1 magnitude without isomorphic grouping', { importance: 'l1', isomorphic: false }],
    [5, 2, 'LAMP importance', { importance: 'lamp' }],
    [5, 1, 'another importance criterion', { importance: 'l1' }],
  ])('extended search %i, %i left: %s', (total, left, label, base) => {
    const r = nextRequest(state({ converged: true, extendedLeft: left, note: 'ignored' }), {
      ...CONFIG,
      extendedSearch: total,
    });
    expect(r).toEqual({
      agent: 'claude',
      baseStrategy: base,
      note: `extended search: try ${label} while staying in band`,
      extended: true,
    });
    expect(EXTENDED_SHAPES.map((s) => s.label)).toContain(label);
  });

  test('the solver stands in for the grid in the extended search', () => {
    expect(nextRequest(state({ agent: 'grid', converged: true, extendedLeft: 1 }), CONFIG).agent).toBe(
      'solver',
    );
    expect(nextRequest(state({ agent: 'grid' }), CONFIG).agent).toBe('grid');
  });
});

describe('extended search with candidates scaled into the band (scaleCandidates)', () => {
  const SCALED: SearchConfig = { ...CONFIG, extendedSearch: 2, maxIterations: 20, scaleCandidates: true };
  const measuredAt = (s: SearchState, d: number | string): SearchState =>
    searchReducer(
      s,
      { type: 'measured', attempt: attempt(s.attempts.length + 1, d), extended: true },
      SCALED,
    );

  test("a shape's first step is the agent's, the scaling steps are the solver's, each with its note", () => {
    const start = state({ converged: true, extendedLeft: 2 }, [0.3, 0.005]);
    expect(nextRequest(start, SCALED)).toEqual({
      agent: 'claude',
      baseStrategy: { importance: 'l1' },
      note: 'extended search: try another importance criterion, scaled into the band',
      extended: true,
      scaling: true,
    });
    const afterMiss = measuredAt(start, 0.0425); // the demo's +4.25 % miss
    expect(afterMiss).toMatchObject({ extendedLeft: 2, shapeSteps: 1, status: 'running' });
    expect(nextRequest(afterMiss, SCALED)).toEqual({
      agent: 'solver',
      baseStrategy: { importance: 'l1' },
      note: 'extended search: scale another importance criterion into the band (scaling step 2 of 4)',
      extended: true,
      scaling: true,
    });
  });

  test('out-of-band attempts do not count as candidates; the search ends after the candidates it asked for', () => {
    let s = state({ converged: true, extendedLeft: 2 }, [0.3, 0.005]);
    s = measuredAt(s, 0.0425); // shape 1, scaling
    s = measuredAt(s, -0.003); // shape 1, candidate
    expect(s).toMatchObject({ extendedLeft: 1, shapeSteps: 0, status: 'running' });
    expect(nextRequest(s, SCALED).baseStrategy).toEqual({ importance: 'l2', roundTo: 4 });
    s = measuredAt(s, 0.0815); // shape 2, scaling
    s = measuredAt(s, 'engine: boom'); // shape 2, a failed step counts as a step
    s = measuredAt(s, 0.002); // shape 2, candidate
    expect(s).toMatchObject({ extendedLeft: 0, status: 'converged', reason: 'converged' });
    expect(s.attempts.map(attemptRole)).toEqual([
      'scaling',
      'candidate',
      'scaling',
      'candidate',
      'scaling',
      'failed',
      'candidate',
    ]);
    expect(notes(s)).toEqual([
      '4: candidate: another importance criterion in band (-0.30%)',
      '7: candidate: finer channel rounding in band (+0.20%)',
    ]);
  });

  test(`a shape that stays out of band is given up after ${MAX_SCALING_STEPS} scaling steps`, () => {
    let s = state({ converged: true, extendedLeft: 2 }, [0.005]);
    for (let i = 0; i < MAX_SCALING_STEPS - 1; i++) s = measuredAt(s, 0.05);
    expect(s).toMatchObject({ extendedLeft: 2, shapeSteps: MAX_SCALING_STEPS - 1 });
    s = measuredAt(s, 0.05);
    expect(s).toMatchObject({ extendedLeft: 1, shapeSteps: 0, status: 'running' });
    expect(notes(s)).toEqual([
      `${1 + MAX_SCALING_STEPS}: another importance criterion: not in band after ${MAX_SCALING_STEPS} scaling steps; given up`,
    ]);
    expect(nextRequest(s, SCALED).note).toBe(
      'extended search: try finer channel rounding, scaled into the band',
    );
  });

  test('without scaleCandidates (runs recorded before it) every extended attempt counts, in band or not', () => {
    const old = { ...SCALED, scaleCandidates: false };
    const s = searchReducer(
      state({ converged: true, extendedLeft: 2 }, [0.005]),
      { type: 'measured', attempt: attempt(2, 0.0425), extended: true },
      old,
    );
    expect(s).toMatchObject({ extendedLeft: 1 });
    expect(s.shapeSteps).toBeUndefined();
  });
});

describe('feasibility before the first trial (started)', () => {
  const PROTECTED = [
    { layer: 'conv1', reason: 'stem' },
    { layer: 'fc', reason: 'classifier' },
  ];
  const started = (band: Band, config: Partial<SearchConfig> = {}) =>
    searchReducer(
      { ...state(), band },
      { type: 'started', protectedLayers: PROTECTED },
      { ...CONFIG, ...config },
    );

  test('a band whose top is below the protected floor ends at once as infeasible, naming the floor and layers', () => {
    // Target 1 G, band -1%..+1%: top 1.01 G; protected layers alone cost 1.2 G.
    const s = started(BAND, { floorMacs: 1.2e9 });
    expect(s.status).toBe('infeasible');
    expect(s.attempts).toHaveLength(0);
    expect(s.reason).toBe(
      "infeasible-target: the band's top 1.010 GMACs is below the reachable floor 1.200 GMACs: the MACs of " +
        'protected layers no strategy removes — conv1 (stem), fc (classifier); raise the target, or unprotect ' +
        'layers (those listed in search.base.ignoredLayers)',
    );
    expect(notes(s)).toEqual([`0: infeasible: ${s.reason!.slice('infeasible-target: '.length)}`]);
  });

  test('a band whose bottom is above the dense model ends as infeasible: nothing to prune', () => {
    const s = started(BAND, { ceilingMacs: 0.9e9 });
    expect(s.status).toBe('infeasible');
    expect(s.reason).toBe(
      "infeasible-target: the band's bottom 0.9900 GMACs is above the dense model's 0.9000 GMACs: nothing to prune",
    );
  });

  test('a reachable band, or a run that already has attempts, goes on', () => {
    expect(started(BAND)).toMatchObject({ status: 'running', reason: null, events: [] });
    const carried = searchReducer(
      state({}, [0.3]),
      { type: 'started', protectedLayers: PROTECTED },
      { ...CONFIG, floorMacs: 1.2e9 },
    );
    expect(carried.status).toBe('running');
  });

  test("the monitor's infeasible verdict after a trial also ends as infeasible, not diverged", () => {
    const s = searchReducer(
      state(),
      { type: 'measured', attempt: attempt(1, 0.5), extended: false },
      { ...CONFIG, floorMacs: 1.2e9 },
    );
    expect(s).toMatchObject({ status: 'infeasible', reason: 'infeasible-target' });
  });
});

describe('a human override scaled into the band (human-shape)', () => {
  const override = { ...baseStrategy(0.05), importance: 'lamp' as const, roundTo: 4, rationale: 'by hand' };
  const withShape = (s: SearchState) => searchReducer(s, { type: 'human-shape', strategy: override }, CONFIG);
  const measuredAt = (s: SearchState, d: number | string, config: SearchConfig = CONFIG): SearchState =>
    searchReducer(
      s,
      { type: 'measured', attempt: attempt(s.attempts.length + 1, d), extended: s.converged },
      config,
    );

  test("the solver scales the override's shape (all but ratio and rationale) until it lands in band", () => {
    let s = withShape(state());
    expect(s.humanShape?.steps).toBe(0);
    expect(s.humanShape?.base).toEqual({
      importance: 'lamp',
      globalPruning: true,
      isomorphic: true,
      roundTo: 4,
    });
    s = measuredAt(s, 0.4); // the override's own trial: far above
    expect(nextRequest(s, CONFIG)).toEqual({
      agent: 'solver',
      baseStrategy: { importance: 'lamp', globalPruning: true, isomorphic: true, roundTo: 4 },
      note: "scale the human override's shape into the band (scaling step 2 of 4)",
      extended: false,
      scaling: true,
    });
    s = measuredAt(s, 0.004);
    expect(s.humanShape).toBeUndefined();
    expect(s).toMatchObject({ converged: true, status: 'converged' });
    expect(notes(s)).toContain("2: candidate: the human override's shape in band (+0.40%)");
  });

  test('after convergence it is an extra candidate: no extended slot is spent on it', () => {
    const config = { ...CONFIG, extendedSearch: 2, scaleCandidates: true };
    let s = withShape(state({ converged: true, extendedLeft: 2 }, [0.005]));
    s = measuredAt(s, 0.2, config);
    s = measuredAt(s, -0.003, config);
    expect(s).toMatchObject({ extendedLeft: 2, status: 'running' });
    expect(s.humanShape).toBeUndefined();
  });

  test(`a shape that stays out of band is given up after ${MAX_SCALING_STEPS} steps and the search goes on`, () => {
    let s = withShape(state({ converged: true, extendedLeft: 1 }, [0.005]));
    for (let i = 0; i < MAX_SCALING_STEPS; i++) s = measuredAt(s, 0.2);
    expect(s.humanShape).toBeUndefined();
    expect(s).toMatchObject({ extendedLeft: 1, status: 'running' });
    expect(notes(s).at(-1)).toBe(
      `${1 + MAX_SCALING_STEPS}: the human override's shape: not in band after ${MAX_SCALING_STEPS} scaling steps; given up`,
    );
  });
});

describe('a search with candidates (scored shapes)', () => {
  const TABLE = {
    baseline: { top1: 0.9, loss: 0.4 },
    stages: [
      { stage: 's1', macs: 1.5e9, points: [{ ratio: 0.6, macs: 2.74e9, top1: 0.3, loss: 2.4 }] },
      { stage: 's2', macs: 2.4e9, points: [{ ratio: 0.6, macs: 1.98e9, top1: 0.85, loss: 0.5 }] },
    ],
  };
  const CANDIDATES: SearchConfig = { ...CONFIG, maxIterations: 30, candidates: 3 };
  const measuredAt = (s: SearchState, d: number | string): SearchState =>
    searchReducer(
      s,
      { type: 'measured', attempt: attempt(s.attempts.length + 1, d), extended: s.converged },
      CANDIDATES,
    );

  test('the shapes: the stage allocation first (the robust stage free, the sensitive one pinned), then isomorphic off, then the criteria', () => {
    const shapes = candidateShapes(CANDIDATES, BAND, TABLE);
    expect(shapes.map((s) => s.label)).toEqual([
      expect.stringMatching(/^stage allocation from sensitivity \(s2 0\.\d+, s1 0\.\d+\)$/),
      'isomorphic off',
      'taylor importance',
      'lamp importance',
      'l1 importance',
      'bn_scale importance',
    ]);
    const allocation = shapes[0]!.change(CANDIDATES.baseStrategy);
    // s2 saves 2.02 G for +0.1 loss by 0.6, s1 1.26 G for +2.0: s2 is cut hardest and follows the global ratio.
    expect(Object.keys(allocation.stageRatios ?? {})).toEqual(['s1']);
    expect(allocation.pruningRatio).toBeGreaterThan(allocation.stageRatios!.s1!);
    expect(candidateShapes(CANDIDATES, BAND).map((s) => s.label)[0]).toBe('isomorphic off');
  });

  test('with perLayerShape, per-layer uniform L1 follows isomorphic off; never for a per-layer base', () => {
    const perLayer: SearchConfig = { ...CANDIDATES, perLayerShape: true };
    const shapes = candidateShapes(perLayer, BAND);
    expect(shapes.map((s) => s.label)).toEqual([
      'isomorphic off',
      'l1 per-layer uniform',
      'taylor importance',
      'lamp importance',
      'l1 importance',
      'bn_scale importance',
    ]);
    // The base's rounding and ratio stay; the ranking becomes per layer.
    expect(shapes[1]!.change({ importance: 'l2', roundTo: 8, pruningRatio: 0.4 })).toEqual({
      importance: 'l1',
      roundTo: 8,
      pruningRatio: 0.4,
      globalPruning: false,
      isomorphic: false,
    });
    const alreadyPerLayer = {
      ...perLayer,
      baseStrategy: { importance: 'l1' as const, globalPruning: false },
    };
    expect(candidateShapes(alreadyPerLayer, BAND).map((s) => s.label)).not.toContain('l1 per-layer uniform');
    // Runs recorded before it (perLayerShape unset) keep their shapes.
    expect(candidateShapes(CANDIDATES, BAND).map((s) => s.label)).not.toContain('l1 per-layer uniform');
  });

  test('a sensitivity event keeps the table and notes it; a failed one notes why', () => {
    const s = searchReducer(state(), { type: 'sensitivity', table: TABLE }, CANDIDATES);
    expect(s.sensitivity).toEqual(TABLE);
    expect(notes(s)).toEqual([
      '0: sensitivity measured: 2 stages, baseline top-1 90.0% on the scoring slice',
    ]);
    const f = searchReducer(state(), { type: 'sensitivity', error: 'EngineError: boom' }, CANDIDATES);
    expect(f.sensitivity).toBeUndefined();
    expect(notes(f)).toEqual(['0: sensitivity not measured: EngineError: boom']);
  });

  test('shapes are tried until candidates - 1 more land in band; a shape given up does not count', () => {
    let s = searchReducer(state({ extendedLeft: 2 }), { type: 'sensitivity', table: TABLE }, CANDIDATES);
    s = measuredAt(s, 0.3);
    s = measuredAt(s, 0.004); // candidate 1: converged
    expect(s).toMatchObject({ converged: true, extendedLeft: 2, status: 'running' });
    expect(nextRequest(s, CANDIDATES).note).toMatch(/^extended search: try stage allocation/);
    for (let i = 0; i < MAX_SCALING_STEPS; i++) s = measuredAt(s, 0.05); // the allocation given up
    expect(s).toMatchObject({ extendedLeft: 2, shapeIndex: 1, status: 'running' });
    expect(nextRequest(s, CANDIDATES).baseStrategy).toEqual({ importance: 'l2', isomorphic: false });
    s = measuredAt(s, -0.002); // candidate 2: isomorphic off
    expect(s).toMatchObject({ extendedLeft: 1, shapeIndex: 2 });
    expect(nextRequest(s, CANDIDATES).baseStrategy).toEqual({ importance: 'taylor' });
    s = measuredAt(s, 0.02);
    s = measuredAt(s, 0.001); // candidate 3: taylor
    expect(s).toMatchObject({ extendedLeft: 0, status: 'converged', reason: 'converged' });
    expect(s.attempts.filter((a) => attemptRole(a) === 'candidate').map((a) => a.index)).toEqual([2, 7, 9]);
  });

  test('when the shapes run out before the candidates, the search ends converged and says so', () => {
    const few: SearchConfig = { ...CANDIDATES, candidates: 10 };
    let s = state({ extendedLeft: 9 }, [0.004]);
    s = { ...s, converged: true };
    const shapes = candidateShapes(few, BAND).length; // no table: 5 shapes
    for (let i = 0; i < shapes; i++)
      s = searchReducer(
        s,
        { type: 'measured', attempt: attempt(s.attempts.length + 1, 0.001), extended: true },
        few,
      );
    expect(s).toMatchObject({ status: 'converged', reason: 'converged', extendedLeft: 4 });
    expect(notes(s).at(-1)).toBe(`${shapes + 1}: no candidate shapes left (6 of 10 candidates in band)`);
  });
});

describe('candidates: an agent out of ideas for a shape', () => {
  const CANDIDATES: SearchConfig = { ...CONFIG, maxIterations: 30, candidates: 3 };
  test('gives that shape up and moves to the next; the search ends only when no shape is left', () => {
    let s = { ...state({ extendedLeft: 2 }, [0.004]), converged: true };
    s = searchReducer(s, { type: 'proposed', agent: 'solver', exhausted: true, extended: true }, CANDIDATES);
    expect(s).toMatchObject({ status: 'running', shapeIndex: 1, extendedLeft: 2 });
    expect(nextRequest(s, CANDIDATES).baseStrategy).toEqual({ importance: 'taylor' });
    const last = { ...s, shapeIndex: candidateShapes(CANDIDATES, BAND).length - 1 };
    const done = searchReducer(
      last,
      { type: 'proposed', agent: 'solver', exhausted: true, extended: true },
      CANDIDATES,
    );
    expect(done).toMatchObject({ status: 'converged', reason: 'converged' });
    expect(notes(done).at(-1)).toBe('1: no candidate shapes left (1 of 3 candidates in band)');
  });
});

describe('two-stage scoring after the search (finalists, rescored)', () => {
  const second = { mode: 'recovery' as const, top1: 0.8, loss: 0.7, count: 64, steps: 40, wallMs: 5 };

  test('finalists: a note after the last attempt and the finalists kept, the state otherwise unchanged', () => {
    const s = state({ status: 'converged' }, [-0.005, 0.002, 0.004]);
    const next = searchReducer(s, { type: 'finalists', indices: [3, 1], steps: 40 }, CONFIG);
    expect(notes(next)).toEqual(['3: finalists #3, #1 scored again with 40 recovery steps each']);
    expect(next.finalists).toEqual({ indices: [3, 1], steps: 40 });
    const { finalists: _finalists, ...rest } = next;
    expect({ ...rest, events: [] }).toEqual({ ...s, events: [] });
  });

  test("rescored: the second score, or why it failed, joins that finalist's attempt alone", () => {
    let s = state({ status: 'converged' }, [-0.005, 0.002, 0.004]);
    s = searchReducer(s, { type: 'rescored', index: 2, score: second }, CONFIG);
    s = searchReducer(s, { type: 'rescored', index: 3, error: 'error: boom' }, CONFIG);
    expect(s.attempts.map((a) => [a.index, a.rescore, a.rescoreError])).toEqual([
      [1, undefined, undefined],
      [2, second, undefined],
      [3, undefined, 'error: boom'],
    ]);
    expect(s.status).toBe('converged');
  });
});
