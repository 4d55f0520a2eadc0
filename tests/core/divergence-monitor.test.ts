import type { AgentName, Attempt } from '../../src/core/attempt';
import type { AssessOptions } from '../../src/core/divergence-monitor';
import { bestAttempt, bracketOf } from '../../src/core/attempt-selection';
import { assessSearch } from '../../src/core/divergence-monitor';
import { baseStrategy } from '../../src/core/strategy';
import type { Band } from '../../src/core/tolerance-band';
import { inBand } from '../../src/core/tolerance-band';

const TARGET = 1e9;
const BAND: Band = { lo: -0.01, hi: 0.01 };

interface Spec {
  d?: number;
  r?: number;
  agent?: AgentName;
  error?: string;
}

/** Build a history from compact specs: deviation, ratio (default: distinct per attempt), agent, error. */
function history(specs: Spec[]): Attempt[] {
  return specs.map((s, i) => {
    const strategy = baseStrategy(s.r ?? 0.1 + i * 0.01);
    if (s.error !== undefined) {
      return {
        index: i + 1,
        agent: s.agent ?? 'solver',
        strategy,
        macs: 0,
        params: 0,
        deviation: -1,
        inBand: false,
        wallMs: 0,
        error: s.error,
      };
    }
    const d = s.d ?? 0;
    return {
      index: i + 1,
      agent: s.agent ?? 'solver',
      strategy,
      macs: TARGET * (1 + d),
      params: 0,
      deviation: d,
      inBand: inBand(d, BAND),
      wallMs: 0,
    };
  });
}

const devs = (...ds: number[]): Spec[] => ds.map((d) => ({ d }));
const opts = (over: Partial<AssessOptions> = {}): AssessOptions => ({
  band: BAND,
  targetMacs: TARGET,
  stagnationWindow: 3,
  maxIterations: 20,
  floorMacs: 0.05e9,
  ceilingMacs: 4e9,
  ...over,
});

describe('assessSearch decision table', () => {
  test.each<[string, Spec[], Partial<AssessOptions>, string, string | null]>([
    ['nothing tried yet', [], {}, 'continue', null],
    ['improving steadily', devs(0.3, 0.1, 0.04), {}, 'continue', null],
    ['converged: an attempt is in band', devs(0.3, -0.2, 0.005), {}, 'stop', 'converged'],
    ['converged wins over max iterations', devs(0.3, 0.005), { maxIterations: 2 }, 'stop', 'converged'],
    ['infeasible: band below the floor', [], { floorMacs: 1.2e9 }, 'stop', 'infeasible-target'],
    ['infeasible: band above the dense model', [], { ceilingMacs: 0.9e9 }, 'stop', 'infeasible-target'],
    ['infeasible: ratio 0.95 still above the band', [{ d: 0.4, r: 0.95 }], {}, 'stop', 'infeasible-target'],
    ['feasible when the floor is inside the band', devs(0.3), { floorMacs: 1.005e9 }, 'continue', null],
    ['max iterations', devs(0.3, 0.2, 0.1), { maxIterations: 3 }, 'stop', 'max-iterations'],
    [
      'max iterations counts failed attempts',
      [{ d: 0.3 }, { error: 'x' }, { error: 'x' }],
      { maxIterations: 3 },
      'stop',
      'max-iterations',
    ],
    [
      'invalid strategies: three failures in a row',
      [{ d: 0.3 }, { error: 'e' }, { error: 'e' }, { error: 'e' }],
      {},
      'switch-agent',
      'invalid-strategy',
    ],
    [
      'two failures in a row are tolerated',
      [{ d: 0.3 }, { error: 'e' }, { error: 'e' }],
      {},
      'continue',
      null,
    ],
    [
      'invalid strategies: six in a row stop',
      Array.from({ length: 6 }, () => ({ error: 'e' })),
      {},
      'stop',
      'invalid-strategy',
    ],
    [
      'repeated strategy',
      [
        { d: 0.3, r: 0.2 },
        { d: 0.1, r: 0.3 },
        { d: 0.3, r: 0.2 },
      ],
      {},
      'switch-agent',
      'repeated-strategy',
    ],
    [
      'oscillation: signs flip, |d| does not shrink',
      devs(0.04, -0.041, 0.042),
      {},
      'shrink-bracket',
      'oscillation',
    ],
    [
      'flipping but shrinking fast is convergence, not oscillation',
      devs(0.04, -0.015, 0.012),
      {},
      'continue',
      null,
    ],
    [
      'oscillation that outlasts 2K of one agent switches',
      devs(0.5, 0.3, 0.2, 0.04, -0.041, 0.042),
      {},
      'switch-agent',
      'oscillation',
    ],
    [
      'stagnation: no better |d| in K attempts',
      devs(0.1, 0.05, 0.06, 0.07, 0.08),
      {},
      'switch-agent',
      'stagnation',
    ],
    [
      'stagnation counts failed attempts',
      [{ d: 0.05 }, { error: 'e' }, { d: 0.06 }, { d: 0.07 }],
      {},
      'switch-agent',
      'stagnation',
    ],
    [
      'stagnation waits until the new agent had K attempts',
      [{ d: 0.05 }, { d: 0.06 }, { d: 0.07 }, { d: 0.08, agent: 'grid' }],
      {},
      'continue',
      null,
    ],
    [
      'stagnation for 3K attempts stops',
      [
        { d: 0.05 },
        ...Array.from(
          { length: 9 },
          (_, i): Spec => ({ d: 0.06 + i * 0.001, agent: i < 4 ? 'solver' : 'grid' }),
        ),
      ],
      {},
      'stop',
      'stagnation',
    ],
    ['stagnation window K = 5', devs(0.1, 0.05, 0.06, 0.07, 0.08), { stagnationWindow: 5 }, 'continue', null],
  ])('%s', (_label, specs, over, action, reason) => {
    const verdict = assessSearch(history(specs), opts(over));
    expect({ action: verdict.action, reason: verdict.reason }).toEqual({ action, reason });
    expect(verdict.detail.length).toBeGreaterThan(0);
  });

  test('oscillation returns the bracket to shrink to', () => {
    const h = history(devs(0.04, -0.041, 0.042));
    const verdict = assessSearch(h, opts());
    expect(verdict.bracket?.above?.index).toBe(1);
    expect(verdict.bracket?.below?.index).toBe(2);
    expect(verdict.best?.index).toBe(1);
    expect(verdict.detail).toMatch(/flip sign/);
  });

  test('never continues forever: every history of maxIterations attempts stops', () => {
    for (const specs of [
      devs(0.3, 0.3, 0.3, 0.3),
      [{ error: 'e' }, { error: 'e' }, { d: 0.2 }, { d: 0.1 }],
    ]) {
      expect(assessSearch(history(specs), opts({ maxIterations: 4 })).action).toBe('stop');
    }
  });

  test('is deterministic and does not mutate its input', () => {
    const h = history(devs(0.1, 0.05, 0.06, 0.07, 0.08));
    const copy = JSON.parse(JSON.stringify(h)) as Attempt[];
    expect(assessSearch(h, opts())).toEqual(assessSearch(h, opts()));
    expect(h).toEqual(copy);
  });
});

describe('bestAttempt', () => {
  test.each<[string, Spec[], number | undefined]>([
    ['empty', [], undefined],
    ['only failures', [{ error: 'e' }], undefined],
    ['in band: the one closest to target', devs(0.3, -0.009, 0.004), 3],
    ['out of band: smallest |d|', devs(0.3, -0.05, 0.04), 3],
    ['ties go to the earlier attempt', devs(0.05, -0.05), 1],
    ['failures are skipped', [{ d: 0.2 }, { error: 'e' }], 1],
  ])('%s', (_label, specs, index) => {
    expect(bestAttempt(history(specs), BAND)?.index).toBe(index);
  });

  test('with an asymmetric band, in band beats closer to target', () => {
    const band = { lo: -0.05, hi: 0.01 };
    const h = history(devs(0.02, -0.04));
    expect(bestAttempt(h, band)?.index).toBe(2);
  });
});

describe('bracketOf', () => {
  test.each<[string, Spec[], number | undefined, number | undefined]>([
    ['empty', [], undefined, undefined],
    ['one side', devs(0.3, 0.1), undefined, 2],
    ['both sides, nearest each', devs(0.3, -0.2, 0.1, -0.05), 4, 3],
    ['failures are skipped', [{ d: 0.3 }, { error: 'e' }, { d: -0.1 }], 3, 1],
  ])('%s', (_label, specs, below, above) => {
    const b = bracketOf(history(specs));
    expect(b.below?.index).toBe(below);
    expect(b.above?.index).toBe(above);
  });
});
