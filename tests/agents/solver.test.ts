import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ProposeInput } from '../../src/agents/agent';
import { GridAgent } from '../../src/agents/grid';
import { SolverAgent, solve } from '../../src/agents/solver';
import type { Attempt } from '../../src/core/attempt';
import { predictMacs, ratioForTarget } from '../../src/core/mac-model';
import { baseStrategy, strategyKey } from '../../src/core/strategy';
import type { Band } from '../../src/core/tolerance-band';
import { deviation, inBand } from '../../src/core/tolerance-band';
import type { Curve, CurveStats } from './sim';
import {
  allCurves,
  BANDS,
  resnetCurve,
  resnetProfile,
  runMonitoredSearch,
  runSearch,
  sweep,
  TARGET_FRACTIONS,
  vitCurve,
} from './sim';

const BAND_5_1: Band = { lo: -0.05, hi: 0.01 };

function input(over: Partial<ProposeInput> = {}): ProposeInput {
  return {
    agent: 'solver',
    profile: resnetProfile(),
    targetMacs: 1.77e9,
    band: BAND_5_1,
    history: [],
    baseStrategy: { importance: 'l2', roundTo: 8 },
    ...over,
  };
}

function attempt(
  index: number,
  strategy: Attempt['strategy'],
  macs: number,
  target = 1.77e9,
  band = BAND_5_1,
): Attempt {
  const d = deviation(macs, target);
  return {
    index,
    agent: 'solver',
    strategy,
    macs,
    params: 0,
    deviation: d,
    inBand: inBand(d, band),
    wallMs: 0,
  };
}

function failed(index: number, strategy: Attempt['strategy']): Attempt {
  return {
    index,
    agent: 'solver',
    strategy,
    macs: 0,
    params: 0,
    deviation: -1,
    inBand: false,
    wallMs: 0,
    error: 'PruningError: x',
  };
}

describe('SolverAgent on the simulated engines', () => {
  const stats = new Map<string, CurveStats>();

  beforeAll(async () => {
    for (const curve of allCurves()) stats.set(curve.name, await sweep(() => new SolverAgent(), curve));
    const rows = [...stats.values()].map(
      (s) =>
        `${s.curve.padEnd(10)} success ${(100 * s.successRate).toFixed(1)}% (${s.successes}/${s.cases})  median ${s.medianAttempts}  p90 ${s.p90Attempts}`,
    );
    console.log(
      `solver, ${TARGET_FRACTIONS.length} targets x ${BANDS.length} bands, <= 10 attempts:\n${rows.join('\n')}`,
    );
  });

  test('succeeds in >= 99 % of all cases within 10 attempts', () => {
    const all = [...stats.values()];
    const successes = all.reduce((s, x) => s + x.successes, 0);
    const cases = all.reduce((s, x) => s + x.cases, 0);
    expect(successes / cases).toBeGreaterThanOrEqual(0.99);
    for (const s of all)
      expect({ curve: s.curve, failures: s.failures }).toEqual({ curve: s.curve, failures: [] });
  });

  test.each([['smooth'], ['staircase']])('%s: median attempts <= 3', (name) => {
    expect(stats.get(name)?.medianAttempts).toBeLessThanOrEqual(3);
  });

  test('never repeats a strategy', () => {
    for (const s of stats.values())
      expect({ curve: s.curve, repeats: s.repeats }).toEqual({ curve: s.curve, repeats: 0 });
  });
});

describe('SolverAgent with the divergence monitor in the loop (fallback: grid, 12 attempts, K = 3)', () => {
  test('still converges in >= 95 % of cases: the monitor rarely interrupts fine control', async () => {
    const rows: string[] = [];
    let ok = 0;
    let cases = 0;
    for (const curve of allCurves()) {
      let curveOk = 0;
      for (const fraction of TARGET_FRACTIONS) {
        for (const band of BANDS) {
          const r = await runMonitoredSearch(
            new SolverAgent(),
            new GridAgent(),
            curve,
            fraction * curve.profile.macs,
            band,
          );
          if (r.success) curveOk++;
          cases++;
        }
      }
      ok += curveOk;
      rows.push(`${curve.name.padEnd(10)} ${curveOk}/${TARGET_FRACTIONS.length * BANDS.length}`);
    }
    console.log(`solver + monitor + grid fallback:\n${rows.join('\n')}`);
    expect(ok / cases).toBeGreaterThanOrEqual(0.95);
  });
});

describe('SolverAgent steps', () => {
  test('first guess: the MAC model aimed at the band centre', async () => {
    const p = await new SolverAgent().propose(input());
    const aim = 1.77e9 * (1 - 0.02);
    expect(p.agent).toBe('solver');
    expect(p.strategy.pruningRatio).toBeCloseTo(ratioForTarget(resnetProfile(), aim, baseStrategy(0)), 4);
    expect(p.predictedMacs).toBeDefined();
    expect(Math.abs((p.predictedMacs ?? 0) / aim - 1)).toBeLessThan(0.001);
    expect(p.strategy.rationale).toMatch(/first guess/);
  });

  test('interpolates inside a bracket and says so', async () => {
    const history = [attempt(1, baseStrategy(0.3), 2.31e9), attempt(2, baseStrategy(0.45), 1.5e9)];
    const p = await new SolverAgent().propose(input({ history }));
    expect(p.strategy.pruningRatio).toBeGreaterThan(0.3);
    expect(p.strategy.pruningRatio).toBeLessThan(0.45);
    expect(p.strategy.rationale).toMatch(
      /secant .* between r=0\.450 \(-15\.3%\) and r=0\.300 \(\+30\.5%\) -> r=0\.\d+, predicted [+-]\d/,
    );
  });

  test('extrapolates when every measurement is on one side', async () => {
    const history = [attempt(1, baseStrategy(0.2), 2.6e9)];
    const p = await new SolverAgent().propose(input({ history }));
    expect(p.strategy.pruningRatio).toBeGreaterThan(0.2);
    expect(p.strategy.rationale).toMatch(/interpolation from the unpruned model|extrapolated/);
  });

  test('keeps the base strategy fields', async () => {
    const baseStrategyFields = {
      importance: 'taylor' as const,
      roundTo: 4,
      ignoredLayers: ['layer4.2.conv3'],
      iterativeSteps: 5,
      globalPruning: true,
      isomorphic: false,
      vit: { pruneHeads: true, pruneHeadDims: false },
      rationale: 'from the campaign file',
      pruningRatio: 0.77,
    };
    const p = await new SolverAgent().propose(input({ baseStrategy: baseStrategyFields }));
    expect(p.strategy).toMatchObject({
      importance: 'taylor',
      roundTo: 4,
      ignoredLayers: ['layer4.2.conv3'],
      iterativeSteps: 5,
      isomorphic: false,
      vit: { pruneHeads: true, pruneHeadDims: false },
    });
    expect(p.strategy.pruningRatio).not.toBe(0.77);
    expect(p.strategy.rationale).not.toBe('from the campaign file');
  });

  test('keeps base fields through a whole ViT search, fine control included', async () => {
    const curve = vitCurve();
    const result = await runSearch(new SolverAgent(), curve, 0.43 * curve.profile.macs, {
      lo: -0.01,
      hi: 0.01,
    });
    expect(result.success).toBe(true);
    for (const a of result.history)
      expect(a.strategy.vit).toEqual({ pruneHeads: true, pruneHeadDims: false });
  });

  test('does not repeat a failed strategy and does not fit it', async () => {
    const first = await new SolverAgent().propose(input());
    const history = [failed(1, first.strategy)];
    const second = await new SolverAgent().propose(input({ history }));
    expect(strategyKey(second.strategy)).not.toBe(strategyKey(first.strategy));
    // One step back from the failed guess (failures come with extreme ratios).
    expect(second.strategy.pruningRatio).toBeCloseTo(first.strategy.pruningRatio - 0.01, 6);
  });

  test('an engine failing above some ratio caps extrapolation; the search ends without repeats', async () => {
    // Target needs r ~ 0.5, the engine fails above 0.42: no strategy can reach the band.
    const curve: Curve = {
      ...resnetCurve('smooth'),
      measure(s) {
        return s.pruningRatio > 0.42 ? { error: 'PruningError: too much' } : resnetCurve('smooth').measure(s);
      },
    };
    const seen = new Set<string>();
    const history: Attempt[] = [];
    let exhausted = false;
    for (let i = 1; i <= 40 && !exhausted; i++) {
      const p = await new SolverAgent().propose(
        input({
          profile: curve.profile,
          targetMacs: 0.3 * curve.profile.macs,
          history,
          band: { lo: -0.01, hi: 0.01 },
        }),
      );
      if (p.exhausted) {
        exhausted = true;
        break;
      }
      const key = strategyKey(p.strategy);
      expect(seen.has(key)).toBe(false);
      seen.add(key);
      const m = curve.measure(p.strategy);
      history.push(
        'error' in m ? failed(i, p.strategy) : attempt(i, p.strategy, m.macs, 0.3 * curve.profile.macs),
      );
    }
    expect(exhausted).toBe(true);
    expect(history.length).toBeLessThan(40);
  });

  test('a target above the dense model tries r = 0 once, then is exhausted', async () => {
    const profile = resnetProfile();
    const target = profile.macs * 1.02;
    const p1 = await new SolverAgent().propose(input({ targetMacs: target, band: { lo: -0.05, hi: 0.05 } }));
    expect(p1.strategy.pruningRatio).toBe(0);
    const history = [attempt(1, p1.strategy, profile.macs, target)];
    const p2 = await new SolverAgent().propose(
      input({ targetMacs: target, band: { lo: -0.01, hi: 0.01 }, history }),
    );
    expect(p2.exhausted).toBe(true);
  });

  test('an unreachable target (below the floor) ends exhausted, not in a loop', async () => {
    const curve = resnetCurve('smooth');
    const r = await runSearch(
      new SolverAgent(),
      curve,
      0.02 * curve.profile.macs,
      { lo: -0.01, hi: 0.01 },
      { maxIterations: 40 },
    );
    expect(r.success).toBe(false);
    expect(r.exhausted).toBe(true);
    expect(r.repeated).toBe(false);
  });

  test('extended search: a new base (importance l1) borrows the l2 measurements', async () => {
    const curve = resnetCurve('smooth');
    const target = 0.43 * curve.profile.macs;
    const band = { lo: -0.05, hi: 0.01 };
    const l2 = await runSearch(new SolverAgent(), curve, target, band);
    expect(l2.success).toBe(true);
    const inBandRatio = l2.history[l2.history.length - 1]?.strategy.pruningRatio ?? NaN;
    const p = await new SolverAgent().propose({
      agent: 'solver',
      profile: curve.profile,
      targetMacs: target,
      band,
      history: l2.history,
      baseStrategy: { ...curve.baseStrategy, importance: 'l1' },
    });
    expect(p.strategy.importance).toBe('l1');
    expect(Math.abs(p.strategy.pruningRatio - inBandRatio)).toBeLessThan(0.03);
  });

  test('fine control: lowers roundTo on the staircase, moves stage ratios on the ViT', async () => {
    const tight = { lo: -0.01, hi: 0.01 };
    const roundTos = new Set<number>();
    let stageMoves = 0;
    for (const fraction of TARGET_FRACTIONS) {
      const stair = resnetCurve('staircase');
      for (const a of (await runSearch(new SolverAgent(), stair, fraction * stair.profile.macs, tight))
        .history)
        roundTos.add(a.strategy.roundTo);
      const vit = vitCurve();
      for (const a of (await runSearch(new SolverAgent(), vit, fraction * vit.profile.macs, tight)).history) {
        if (a.strategy.stageRatios) stageMoves++;
      }
    }
    expect([...roundTos].some((r) => r < 8)).toBe(true);
    expect(stageMoves).toBeGreaterThan(0);
  });

  test('deterministic: same input, same proposal', () => {
    const history = [
      attempt(1, baseStrategy(0.3), 2.31e9),
      attempt(2, baseStrategy(0.45), 1.5e9),
      failed(3, baseStrategy(0.4)),
    ];
    expect(solve(input({ history }))).toEqual(
      solve(input({ history: JSON.parse(JSON.stringify(history)) as Attempt[] })),
    );
  });
});

describe('a new extended shape next to two measured families (recorded on democnn)', () => {
  // The proposal input of attempt 14 of a real scored search on democnn at half its MACs (-5%..+1%): the
  // base family (l2, isomorphic) landed at r=0.302 (-1.3 %), the isomorphic-off shape was given up after 4
  // steps (its r=0.3023 measured -19.7 %); the next shape asks for taylor importance.
  const input = JSON.parse(
    fs.readFileSync(path.join(__dirname, 'fixtures', 'democnn-new-shape-after-two-families.json'), 'utf8'),
  ) as ProposeInput;

  test('keeps the shape asked for: no bracket made of two families, no fine control on another family', () => {
    expect(input.baseStrategy.importance).toBe('taylor');
    const p = solve(input);
    expect(p.exhausted).toBeUndefined();
    expect(p.strategy).toMatchObject({ importance: 'taylor', isomorphic: true });
    expect(p.strategy.stageRatios).toBeUndefined();
    expect(p.strategy.rationale).not.toMatch(/no untried r left between 0\.302 and 0\.3023/);
  });
});

describe('a stage allocation scaled into the band (recorded on democnn)', () => {
  // The proposal input of attempt 10 of a real scored search on democnn at half its MACs (-5%..+1%): the
  // base family landed at attempt 9; the next shape is the stage allocation from the sensitivity table
  // (stage2 free at 0.6337, stage1 pinned at 0.3, stage3 at 0). Before the fix the solver ignored the
  // allocation's own ratio and guessed r=0.9 from the MAC model: the engine refused 0.9, 0.89 and 0.88 (every
  // channel of a 64-channel stage2 group gone) and r=0.87 measured -9.4 %: the shape was given up.
  const recorded = JSON.parse(
    fs.readFileSync(path.join(__dirname, 'fixtures', 'democnn-stage-allocation.json'), 'utf8'),
  ) as { input: ProposeInput; measured: Attempt };
  const { input: base } = recorded;
  const shape = { r: base.baseStrategy.pruningRatio!, stage1: base.baseStrategy.stageRatios!.stage1! };
  const dense = base.profile.macs;
  const target = base.targetMacs;

  /** The common factor of a proposal's ratios over the shape's (asserting they share one). */
  function scaleOf(s: Attempt['strategy']): number {
    expect(Object.keys(s.stageRatios ?? {}).sort()).toEqual(['stage1', 'stage3']);
    const k = s.pruningRatio / shape.r;
    expect(s.stageRatios!.stage1).toBeCloseTo(k * shape.stage1, 3);
    expect(s.stageRatios!.stage3).toBe(0);
    return k;
  }
  function largestRatio(s: Attempt['strategy']): number {
    return Math.max(s.pruningRatio, ...Object.values(s.stageRatios ?? {}));
  }
  function scaled(k: number): Pick<Attempt['strategy'], 'pruningRatio' | 'stageRatios'> {
    return {
      pruningRatio: Math.round(k * shape.r * 1e4) / 1e4,
      stageRatios: { stage1: Math.round(k * shape.stage1 * 1e4) / 1e4, stage3: 0 },
    };
  }
  function isAt075(a: Attempt): boolean {
    return a.error === undefined && Math.abs(largestRatio(a.strategy) - 0.75) < 1e-3;
  }
  function measuredAt(index: number, strategy: Attempt['strategy'], macs: number): Attempt {
    return attempt(index, strategy, macs, target, base.band);
  }

  test("the first try is the allocation's own ratios, which the real engine measured in band", () => {
    const p = solve(base);
    expect(p.exhausted).toBeUndefined();
    expect(p.strategy).toMatchObject({ pruningRatio: 0.6337, stageRatios: { stage1: 0.3, stage3: 0 } });
    expect(p.strategy.rationale).toMatch(/s=1/);
    // What the engine measured for exactly that strategy (the e2e run the fixture comes from).
    expect(strategyKey(recorded.measured.strategy)).toBe(strategyKey(p.strategy));
    expect(recorded.measured.inBand).toBe(true);
  });

  // Engines that measure the shape's first try off the aim: the MAC model's removed MACs times `k`, bent by
  // `bend` (k and bend fixed so that s=1 measures `dev`), refusing any ratio past 0.85 (an emptied group).
  const cases = [-0.2, -0.1, 0.1, 0.3].flatMap((dev) => [
    { dev, bend: 1 },
    { dev, bend: 1.3 },
  ]);
  test.each(cases)(
    'a first try measured $dev off the target (bend $bend): in band in 1-3 steps when the ratios allow, never refused twice',
    ({ dev, bend }) => {
      const first = solve(base);
      const removedAt1 = dense - predictMacs(base.profile, first.strategy);
      const wanted = dense - target * (1 + dev);
      const engine = (s: Attempt['strategy']): Attempt['strategy'] | number => {
        if (largestRatio(s) > 0.85) return s;
        const removed = dense - predictMacs(base.profile, s);
        return dense - wanted * (removed / removedAt1) ** bend;
      };
      const at = (i: number, s: Attempt['strategy']) => {
        const m = engine(s);
        return typeof m === 'number' ? measuredAt(i, s, m) : failed(i, s);
      };
      let history = [...base.history, at(10, first.strategy)];
      const factors: number[] = [];
      let exhausted = false;
      for (let i = 11; i <= 13 && !history.at(-1)!.inBand; i++) {
        const p = solve({ ...base, history });
        if (p.exhausted) {
          exhausted = true;
          break;
        }
        const k = scaleOf(p.strategy);
        expect(factors).not.toContain(k);
        factors.push(k);
        // Past 0.75 only from a probe at 0.75 that measured above the aim; never past 0.95.
        if (largestRatio(p.strategy) > 0.75 + 1e-9)
          expect(history.some((a) => isAt075(a) && a.macs > target)).toBe(true);
        expect(largestRatio(p.strategy)).toBeLessThanOrEqual(0.95);
        history = [...history, at(i, p.strategy)];
      }
      expect(history.filter((a) => a.error !== undefined).length).toBeLessThanOrEqual(1);
      // More pruning when the first try kept too many MACs, less when it removed too many. Every case's first
      // try is out of band, so the solver takes at least one step.
      expect(factors.length).toBeGreaterThan(0);
      expect(Math.sign(factors[0]! - 1)).toBe(Math.sign(dev));
      // Reachable within the 0.75 stage ceiling: in band by the 3rd step. Every case up to +10 % is (at +30 %
      // the ceiling's MACs stay above the band), so the branch must be taken there.
      const reachable = engine({ ...first.strategy, ...scaled(0.75 / shape.r) });
      const reachableInBand = typeof reachable === 'number' && reachable <= target * (1 + base.band.hi);
      if (dev <= 0.1) expect(reachableInBand).toBe(true);
      if (reachableInBand) {
        expect(exhausted).toBe(false);
        expect(history.at(-1)!.inBand).toBe(true);
      }
    },
  );

  test('a refused factor caps the next step; maxLayerRatio and the 0.95 bound are never exceeded', () => {
    const capped = { ...base, baseStrategy: { ...base.baseStrategy, maxLayerRatio: 0.7 } };
    const first = solve(capped);
    // Far too many MACs kept: the solver pushes the factor up, to the ceiling at most.
    let history = [...base.history, measuredAt(10, first.strategy, target * 1.6)];
    const seen: number[] = [];
    for (let i = 11; i <= 15; i++) {
      const p = solve({ ...capped, history });
      if (p.exhausted) break;
      const s = p.strategy;
      expect(history.map((a) => strategyKey(a.strategy))).not.toContain(strategyKey(s));
      expect(largestRatio(s)).toBeLessThanOrEqual(0.7);
      expect(s.maxLayerRatio).toBe(0.7);
      seen.push(scaleOf(s));
      history = [...history, measuredAt(i, s, target * 1.5 - i)];
    }
    expect(seen.length).toBeGreaterThan(0);
    expect(Math.max(...seen) * shape.r).toBeLessThanOrEqual(0.7 + 1e-9);

    // An engine refusal at a factor: the next proposal stays below it, halfway from the last measurement.
    const own = solve(base).strategy;
    const refused = { ...own, pruningRatio: 0.7, stageRatios: { stage1: 0.3314, stage3: 0 } };
    expect(scaleOf(refused)).toBeCloseTo(0.7 / shape.r, 6);
    const afterRefusal = solve({
      ...base,
      history: [...base.history, measuredAt(10, own, target * 1.3), failed(11, refused)],
    });
    const k = scaleOf(afterRefusal.strategy);
    expect(k).toBeGreaterThan(1);
    expect(k).toBeLessThan(0.7 / shape.r);
  });

  test('a first try whose screen found every factor that reaches the band refused: the shape is given up at once', () => {
    // As mobilenet_v2's allocation before the sensitivity fix: pruned as proposed at +19.8 %, the dry run
    // having refused every factor past the ones above the band (at roundTo 8 and 1).
    const own = solve(base).strategy;
    const refused =
      "refused from largest ratio 0.794: stageRatios.stage1: the strategy would remove every channel of the group at 'stage1.conv2' (64 channels; roundTo=1); lower the ratio or roundTo";
    const screen = {
      shapes: 192,
      proposedRatio: own.pruningRatio,
      proposedRoundTo: 8,
      landed: false,
      wallMs: 11511,
    };
    const tried = measuredAt(10, own, target * 1.198);
    const p = solve({ ...base, history: [...base.history, { ...tried, screen: { ...screen, refused } }] });
    expect(p.exhausted).toBe(true);
    expect(p.strategy.rationale).toBe(
      `exhausted: the shape's ratios (r 0.6337, stage1 0.300, stage3 0.000) scaled by s: ` +
        `the dry run found no factor in the band: every one that reaches it ${refused}`,
    );
    // The same first try whose screen found nothing for another reason (a step over the band): steps go on.
    const stepped = solve({ ...base, history: [...base.history, { ...tried, screen }] });
    expect(stepped.exhausted).toBeUndefined();
    expect(scaleOf(stepped.strategy)).toBeGreaterThan(1);
  });
});
