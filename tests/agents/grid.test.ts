import { GridAgent, gridOrder, gridRatios } from '../../src/agents/grid';
import { SolverAgent } from '../../src/agents/solver';
import type { Attempt } from '../../src/core/attempt';
import { baseStrategy, strategyKey } from '../../src/core/strategy';
import type { CurveStats } from './sim';
import { allCurves, BANDS, resnetProfile, sweep, TARGET_FRACTIONS } from './sim';

describe('grid points', () => {
  test.each<[number, number, number, number]>([
    [0.05, 18, 0.05, 0.9],
    [0.1, 9, 0.1, 0.9],
    [0.15, 6, 0.15, 0.9],
    [0.2, 4, 0.2, 0.8],
  ])('step %d: %d points from %d to %d', (step, n, first, last) => {
    const points = gridRatios(step);
    expect(points).toHaveLength(n);
    expect(points[0]).toBe(first);
    expect(points[points.length - 1]).toBe(last);
  });

  test.each([[0], [-0.1], [1], [Number.NaN]])('step %d is rejected', (step) => {
    expect(() => gridRatios(step)).toThrow(/grid step/);
  });

  test.each<[number, number[]]>([
    [0.26, [0.3, 0.4, 0.2, 0.1]],
    [0.25, [0.2, 0.3, 0.1, 0.4]],
    [0.0, [0.1, 0.2, 0.3, 0.4]],
    [0.9, [0.4, 0.3, 0.2, 0.1]],
    [0.19, [0.2, 0.3, 0.1, 0.4]],
  ])('outward from %d', (guess, order) => {
    expect(gridOrder([0.1, 0.2, 0.3, 0.4], guess)).toEqual(order);
  });
});

describe('GridAgent', () => {
  const input = (history: Attempt[] = []) => ({
    agent: 'grid' as const,
    profile: resnetProfile(),
    targetMacs: 1.77e9,
    band: { lo: -0.05, hi: 0.01 },
    history,
    baseStrategy: { importance: 'lamp' as const, roundTo: 8 },
  });
  const measured = (i: number, r: number): Attempt => ({
    index: i,
    agent: 'grid',
    strategy: baseStrategy(r, { importance: 'lamp' }),
    macs: 1e9,
    params: 0,
    deviation: -0.4,
    inBand: false,
    wallMs: 0,
  });

  test('starts at the grid point nearest the model guess and keeps base fields', async () => {
    const p = await new GridAgent().propose(input());
    expect(p.agent).toBe('grid');
    expect(p.strategy.importance).toBe('lamp');
    // The model puts 1.77 G x 0.98 at r ~ 0.36: nearest point 0.35.
    expect(p.strategy.pruningRatio).toBe(0.35);
  });

  test('visits outward and skips visited points, learning nothing else', async () => {
    const agent = new GridAgent();
    const history: Attempt[] = [];
    const visited: number[] = [];
    for (let i = 1; i <= 5; i++) {
      const p = await agent.propose(input(history));
      visited.push(p.strategy.pruningRatio);
      history.push(measured(i, p.strategy.pruningRatio));
    }
    expect(visited).toEqual([0.35, 0.4, 0.3, 0.45, 0.25]);
  });

  test('is exhausted once every point was tried', async () => {
    const history = gridRatios(0.05).map((r, i) => measured(i + 1, r));
    const p = await new GridAgent().propose(input(history));
    expect(p.exhausted).toBe(true);
    expect(new Set(history.map((a) => strategyKey(a.strategy))).has(strategyKey(p.strategy))).toBe(true);
  });

  test('honours gridStep', async () => {
    const p = await new GridAgent().propose({ ...input(), gridStep: 0.1 });
    expect(p.strategy.pruningRatio).toBe(0.4);
  });
});

describe('grid vs solver on the simulated engines (the paper baseline)', () => {
  test('the solver does at least as well as the grid on every curve', async () => {
    const rows: string[] = [];
    for (const curve of allCurves()) {
      const grid: CurveStats = await sweep(() => new GridAgent(), curve);
      const solver: CurveStats = await sweep(() => new SolverAgent(), curve);
      rows.push(
        `${curve.name.padEnd(10)} grid ${(100 * grid.successRate).toFixed(1)}% median ${grid.medianAttempts} p90 ${grid.p90Attempts}` +
          ` | solver ${(100 * solver.successRate).toFixed(1)}% median ${solver.medianAttempts} p90 ${solver.p90Attempts}`,
      );
      expect(solver.successRate).toBeGreaterThanOrEqual(grid.successRate);
      expect(solver.medianAttempts).toBeLessThanOrEqual(grid.medianAttempts);
    }
    console.log(
      `${TARGET_FRACTIONS.length} targets x ${BANDS.length} bands, <= 10 attempts (failures count as 11):\n${rows.join('\n')}`,
    );
  });
});
