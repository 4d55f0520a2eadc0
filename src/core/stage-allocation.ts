/**
 * Stage allocations from evidence: the per-stage sensitivity table (each stage pruned alone at a few
 * ratios, the scoring loss measured on a `train/` slice) turned into `Strategy.stageRatios` that spend the
 * MAC cut where the measured loss per MAC saved is lowest. Pure: the search's reducer builds its
 * candidate shapes from it, the Claude prompt shows the same table.
 */

/** One point of a stage's sensitivity: the whole model's MACs, top-1 and loss after pruning only that stage. */
export interface SensitivityPoint {
  ratio: number;
  macs: number;
  top1: number;
  loss: number;
}

/** How one stage (a profile stage name, usable as a `stageRatios` key) reacts to being pruned alone. */
export interface StageSensitivity {
  stage: string;
  /** The stage's dense MACs. */
  macs: number;
  points: SensitivityPoint[];
}

/**
 * What the search keeps of the `measureSensitivity` activity's result: small numbers, safe for history
 * (the full table is an artifact).
 *
 * @example
 * // democnn (dense 20.1 M MACs, baseline loss 0.41): block3 barely notices 60 % pruning, block1 does.
 * { baseline: { top1: 0.90, loss: 0.41 },
 *   stages: [
 *     { stage: 'block1', macs: 6.0e6, points: [{ ratio: 0.3, macs: 18.2e6, top1: 0.71, loss: 0.95 },
 *                                               { ratio: 0.6, macs: 16.3e6, top1: 0.32, loss: 2.10 }] },
 *     { stage: 'block3', macs: 9.0e6, points: [{ ratio: 0.3, macs: 15.5e6, top1: 0.88, loss: 0.45 },
 *                                               { ratio: 0.6, macs: 12.7e6, top1: 0.83, loss: 0.60 }] }] }
 */
export interface SensitivityTable {
  baseline: { top1: number; loss: number };
  stages: StageSensitivity[];
}

/** A stage allocation: the ratio per stage and what the table predicts it measures. */
export interface StageAllocation {
  /** Ratio per stage (4 decimals); stages the table did not measure are absent. */
  stageRatios: Record<string, number>;
  /**
   * The stage with the largest ratio: it follows the global ratio (the others are pinned); a scaling step
   * multiplies every ratio by one factor (the solver's scaled-shape family).
   */
  freeStage: string;
  /** `denseMacs` minus the MACs the table says each stage's ratio saves. */
  predictedMacs: number;
  /** The loss increase the table predicts, summed over stages. */
  predictedLossIncrease: number;
}

/**
 * Largest ratio {@link allocateStages} gives one stage by default: past the table's points the curves are
 * extrapolated, and a stage cut near 0.9 empties its narrow layers (a 64-channel downsample at roundTo 8) on
 * small models. The solver scaling an allocation goes past it only once (see `scaledShapeFamily`).
 */
export const DEFAULT_MAX_STAGE_RATIO = 0.75;

/** Options of {@link allocateStages}. */
export interface AllocationOptions {
  /** Dense MACs of the whole model. */
  denseMacs: number;
  /** MACs the allocation aims at (the band centre). */
  aimMacs: number;
  /**
   * Largest ratio given to one stage: past the table's points the curves are extrapolated, and a stage cut
   * near 0.9 empties its narrow layers (a 64-channel downsample at roundTo 8) on small models.
   * @default 0.75
   */
  maxRatio?: number;
  /** Ratio increment of the greedy fill. @default 0.01 */
  step?: number;
  /** Stages left alone (pinned by the base strategy, e.g. ignored). */
  skip?: readonly string[];
}

/** A stage's measured curves: MACs saved and loss added as functions of its ratio. */
interface Curve {
  stage: string;
  saved: (r: number) => number;
  lossUp: (r: number) => number;
}

/**
 * Piecewise-linear through (0, 0) and the points, extended past the last point along the last segment
 * (and clamped at 0 below): `ys` are made non-decreasing so measurement noise never makes more pruning look
 * free.
 */
function piecewise(xs: number[], ys: number[]): (x: number) => number {
  const mono: number[] = [];
  for (const y of ys) mono.push(Math.max(y, mono.at(-1) ?? 0));
  const px = [0, ...xs];
  const py = [0, ...mono];
  return (x) => {
    if (x <= 0) return 0;
    let i = 1;
    while (i < px.length - 1 && x > px[i]!) i++;
    const x0 = px[i - 1]!;
    const x1 = px[i]!;
    const y0 = py[i - 1]!;
    const y1 = py[i]!;
    const t = x1 > x0 ? (x - x0) / (x1 - x0) : 0;
    return Math.max(0, y0 + t * (y1 - y0));
  };
}

function curveOf(s: StageSensitivity, denseMacs: number, baselineLoss: number): Curve | undefined {
  const points = s.points
    .filter((p) => p.ratio > 0 && Number.isFinite(p.loss) && Number.isFinite(p.macs))
    .sort((a, b) => a.ratio - b.ratio);
  if (points.length === 0) return undefined;
  const xs = points.map((p) => p.ratio);
  const measuredSaved = piecewise(
    xs,
    points.map((p) => denseMacs - p.macs),
  );
  const last = xs.at(-1)!;
  // Past the last point the saving follows the MAC model's (1 - (1 - r)^2) rather than a straight line,
  // which would promise more MACs than the stage has.
  const q = (r: number) => 1 - (1 - r) * (1 - r);
  const saved = (r: number) => (r <= last ? measuredSaved(r) : (measuredSaved(last) * q(r)) / q(last));
  return {
    stage: s.stage,
    saved,
    lossUp: piecewise(
      xs,
      points.map((p) => p.loss - baselineLoss),
    ),
  };
}

/** Saved MACs below this count as none (a stage the table says saves nothing is never cut). */
const MIN_SAVED = 1e-9;

/**
 * Spend the MAC cut `denseMacs - aimMacs` where the table's loss per MAC saved is lowest: every stage
 * starts at ratio 0; each step raises by `step` the stage whose next increment adds the least loss per MAC
 * it saves (ties to the stage that saves more, then by name), until the predicted MACs reach `aimMacs`;
 * the last increment is then bisected so the prediction lands on it. MACs saved and loss added are read
 * off the table, linear between its points (and through ratio 0; past the last point the loss goes on along
 * the last segment and the MACs saved follow the MAC model's `1 - (1 - r)^2`), and added over stages (pruning one
 * stage is assumed not to change another's cost: the engine's table counts a group of channels that spans
 * stages, such as a residual stream, in one stage's row only, so the rows add up but for the layers whose
 * input and output two stages cut). `undefined` when the table has no usable stage or the
 * stages at `maxRatio` cannot reach `aimMacs`.
 *
 * @example
 * // The table of SensitivityTable's example, aim 15.1 M (5.0 M to cut): block3 adds 0.04 loss for the
 * // first 4.6 M it saves (0.009 per M), block1 0.54 for 1.9 M (0.28 per M): block3 takes the whole cut,
 * // the last 0.4 M of it on its second segment (2.8 M per 0.3): r = 0.3 + 0.3 x 0.4 / 2.8.
 * allocateStages(table, { denseMacs: 20.1e6, aimMacs: 15.1e6 });
 * // { stageRatios: { block1: 0, block3: 0.3429 }, freeStage: 'block3', predictedMacs: ~15.1e6, ... }
 */
export function allocateStages(
  table: SensitivityTable,
  options: AllocationOptions,
): StageAllocation | undefined {
  const maxRatio = options.maxRatio ?? DEFAULT_MAX_STAGE_RATIO;
  const step = options.step ?? 0.01;
  const skip = new Set(options.skip ?? []);
  const curves = table.stages
    .filter((s) => !skip.has(s.stage))
    .map((s) => curveOf(s, options.denseMacs, table.baseline.loss))
    .filter((c): c is Curve => c !== undefined)
    .sort((a, b) => (a.stage < b.stage ? -1 : a.stage > b.stage ? 1 : 0));
  if (curves.length === 0) return undefined;
  const needed = options.denseMacs - options.aimMacs;
  const ratios = new Map(curves.map((c) => [c.stage, 0]));
  const savedAt = () => curves.reduce((sum, c) => sum + c.saved(ratios.get(c.stage)!), 0);
  let saved = 0;
  let last: Curve | undefined;
  while (saved < needed) {
    let pick: { curve: Curve; cost: number; gain: number } | undefined;
    for (const c of curves) {
      const r = ratios.get(c.stage)!;
      if (r + step > maxRatio + 1e-12) continue;
      const gain = c.saved(r + step) - c.saved(r);
      if (gain <= MIN_SAVED) continue;
      const cost = (c.lossUp(r + step) - c.lossUp(r)) / gain;
      if (!pick || cost < pick.cost || (cost === pick.cost && gain > pick.gain))
        pick = { curve: c, cost, gain };
    }
    if (!pick) return undefined;
    ratios.set(pick.curve.stage, ratios.get(pick.curve.stage)! + step);
    last = pick.curve;
    saved = savedAt();
  }
  if (last) {
    // Bisect the last increment so the prediction lands on the aim rather than up to one step past it.
    const hi0 = ratios.get(last.stage)!;
    let lo = Math.max(0, hi0 - step);
    let hi = hi0;
    for (let i = 0; i < 40; i++) {
      const mid = (lo + hi) / 2;
      ratios.set(last.stage, mid);
      if (savedAt() >= needed) hi = mid;
      else lo = mid;
    }
    ratios.set(last.stage, hi);
  }
  const stageRatios: Record<string, number> = {};
  for (const c of curves) stageRatios[c.stage] = Math.round(ratios.get(c.stage)! * 1e4) / 1e4;
  const freeStage = curves.reduce((best, c) =>
    stageRatios[c.stage]! > stageRatios[best.stage]! ? c : best,
  ).stage;
  const predictedMacs = options.denseMacs - curves.reduce((s, c) => s + c.saved(stageRatios[c.stage]!), 0);
  const predictedLossIncrease = curves.reduce((s, c) => s + c.lossUp(stageRatios[c.stage]!), 0);
  return { stageRatios, freeStage, predictedMacs, predictedLossIncrease };
}
