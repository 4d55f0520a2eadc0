import { ratioForTarget } from '../core/mac-model';
import { baseStrategy, strategyKey } from '../core/strategy';
import { bandCenter } from '../core/tolerance-band';
import type { Proposal, ProposeInput, StrategyAgent } from './agent';

/** The grid's points: `step, 2 step, ...` up to 0.9, rounded to 4 decimals. */
export function gridRatios(step: number, maxRatio = 0.9): number[] {
  if (!(step > 0) || step > maxRatio) throw new Error(`grid step ${step}: expected 0 < step <= ${maxRatio}`);
  const out: number[] = [];
  for (let i = 1; i * step <= maxRatio + 1e-9; i++) out.push(Math.round(i * step * 1e4) / 1e4);
  return out;
}

/**
 * The order the grid visits its points: the point nearest `firstGuess` (the lower one on a tie), then
 * its neighbours alternately outward: +step, -step, +2 step, -2 step, ... (skipping ends that run out).
 * @example gridOrder([0.1, 0.2, 0.3, 0.4], 0.26) // [0.3, 0.4, 0.2, 0.1]
 */
export function gridOrder(points: readonly number[], firstGuess: number): number[] {
  if (points.length === 0) return [];
  let start = 0;
  points.forEach((p, i) => {
    if (Math.abs(p - firstGuess) < Math.abs((points[start] as number) - firstGuess) - 1e-12) start = i;
  });
  const order = [points[start] as number];
  for (let k = 1; order.length < points.length; k++) {
    const up = points[start + k];
    const down = points[start - k];
    if (up !== undefined) order.push(up);
    if (down !== undefined) order.push(down);
  }
  return order;
}

/**
 * The paper's baseline: a fixed grid of global ratios (`input.gridStep`, default 0.05: 0.05 .. 0.9),
 * visited outward from the point nearest the MAC model's first guess for the band centre. It learns
 * nothing from measured MACs beyond skipping points already tried; `exhausted` once none is left.
 */
export class GridAgent implements StrategyAgent {
  readonly name = 'grid' as const;

  propose(input: ProposeInput): Promise<Proposal> {
    const { rationale: _r, pruningRatio: _p, ...rest } = input.baseStrategy;
    const template = baseStrategy(0, rest);
    const step = input.gridStep ?? 0.05;
    const aim = input.targetMacs * (1 + bandCenter(input.band));
    const guess = ratioForTarget(input.profile, aim, template);
    const tried = new Set(input.history.map((a) => strategyKey(a.strategy)));
    const order = gridOrder(gridRatios(step), guess);
    const next = order.find((r) => !tried.has(strategyKey({ ...template, pruningRatio: r })));
    const nearest = order[0] ?? step;
    if (next === undefined) {
      return Promise.resolve({
        strategy: {
          ...template,
          pruningRatio: nearest,
          rationale: `grid step ${step}: all ${order.length} points tried`,
        },
        agent: 'grid',
        exhausted: true,
      });
    }
    const position = order.indexOf(next);
    return Promise.resolve({
      strategy: {
        ...template,
        pruningRatio: next,
        rationale: `grid step ${step}: point ${position + 1} of ${order.length} outward from r=${nearest.toFixed(2)} (model guess r=${guess.toFixed(3)}) -> r=${next.toFixed(2)}`,
      },
      agent: 'grid',
    });
  }
}
