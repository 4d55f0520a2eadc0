import type { ProfileSummary } from './profile';
import type { Strategy } from './strategy';
import { baseStrategy } from './strategy';
import type { Band } from './tolerance-band';
import { bandCenter } from './tolerance-band';

/**
 * The MAC model: what an agent believes a strategy will measure, used to CHOOSE attempts. It is
 * never the truth — the engine measures every attempt and measurements decide convergence.
 *
 * Structured channel pruning at ratio `r` keeps about `(1 - r)` of both the input and the output
 * channels of a prunable layer, so its MACs scale about `(1 - r)^2`. Protected layers keep their
 * channels: the stem's MACs stay fixed, while the classifier, whose input channels are the last
 * stage's pruned outputs, scales about `(1 - r)`. The model splits the dense MACs `D` into
 *
 * - `fixedMacs` `F`: protected layers that do not shrink (stem, patch embedding);
 * - `linearMacs` `L`: protected layers whose inputs are pruned (the classifier);
 * - one quadratic term `Q_s` per unprotected stage, scaled by that stage's own ratio `r_s`
 *   (`strategy.stageRatios[s]`, else the global `pruningRatio`).
 *
 * `macs(r) = F + L (1 - r) + sum_s Q_s (1 - r_s)^2`
 *
 * The first layer after the stem also only loses output channels (its input is the protected stem's
 * output) and scales `(1 - r)`; the summary has no per-layer rows, so it is counted as quadratic and
 * the error is left to calibration ({@link fitPowerLaw}) against measured attempts.
 *
 * @example
 * // ResNet-50 at 224x224 (MACs rounded): D = 4.089 G; protected: conv1 (stem, 118.0 M, fixed) and
 * // fc (classifier, 2.05 M, linear); the four stages share the remaining 3.969 G by their MACs:
 * // layer1 0.680 G, layer2 1.030 G, layer3 1.470 G, layer4 0.789 G.
 * // Global ratio 0.35, no stage ratios:
 * //   118.0 M + 2.05 M x 0.65 + 3.969 G x 0.65^2 = 118.0 M + 1.33 M + 1.677 G = 1.796 G
 * // Same, with stageRatios { layer4: 0.5 }: layer4 is 0.789 G x 0.5^2 = 0.197 G instead of 0.333 G:
 * //   1.796 G - 0.333 G + 0.197 G = 1.660 G
 * // ratioForTarget(summary, 1.77e9) solves 118.0 M + 2.05 M x + 3.969 G x^2 = 1.77 G for x = 1 - r:
 * //   x = 0.6450, r = 0.355.
 * predictMacs(resnet50Summary, baseStrategy(0.35)); // ~1.796e9
 */
export interface MacModelTerms {
  /** Dense MACs of the unpruned model. */
  denseMacs: number;
  /** Protected MACs that no ratio changes (stem). */
  fixedMacs: number;
  /** Protected MACs that scale `(1 - r)` with the global ratio (classifier). */
  linearMacs: number;
  /** Prunable MACs per unprotected stage, scaling `(1 - r_s)^2`; they sum to `D - F - L`. */
  stages: { name: string; macs: number }[];
}

const CLASSIFIER_REASON = /classif|head|fc|logits/i;

function isUnder(name: string, prefix: string): boolean {
  return name === prefix || name.startsWith(`${prefix}.`);
}

/**
 * Split a profile summary into the model's terms. A stage is protected when a protected layer is
 * that stage or lies inside it; a protected stage whose protected layers are all classifiers is the
 * linear term (capped by `protectedMacs`). Prunable MACs `D - protectedMacs` are shared among the
 * unprotected stages in proportion to their MACs (one pseudo stage `*` when the summary has none).
 */
export function macModelTerms(summary: ProfileSummary): MacModelTerms {
  const denseMacs = summary.macs;
  const protectedMacs = Math.min(Math.max(summary.protectedMacs, 0), denseMacs);
  let linearMacs = 0;
  const unprotected: { name: string; macs: number }[] = [];
  for (const stage of summary.stages) {
    const inside = summary.protected.filter((p) => isUnder(p.layer, stage.name));
    if (inside.length === 0) {
      if (stage.macs > 0) unprotected.push({ name: stage.name, macs: stage.macs });
    } else if (inside.every((p) => CLASSIFIER_REASON.test(p.reason))) {
      linearMacs += stage.macs;
    }
  }
  linearMacs = Math.min(linearMacs, protectedMacs);
  const prunable = denseMacs - protectedMacs;
  const stageSum = unprotected.reduce((s, x) => s + x.macs, 0);
  const stages =
    stageSum > 0
      ? unprotected.map((s) => ({ name: s.name, macs: (prunable * s.macs) / stageSum }))
      : [{ name: '*', macs: prunable }];
  return { denseMacs, fixedMacs: protectedMacs - linearMacs, linearMacs, stages };
}

/**
 * The ratio a stage is pinned at regardless of the global ratio: the longest `stageRatios` key that is
 * the stage or one of its parents, or 0 for a stage listed (or inside one listed) in `ignoredLayers`;
 * `undefined` when the stage follows the global ratio. Keys deeper than a stage (`layer4.2`) are not
 * modelled.
 */
export function pinnedStageRatio(stageName: string, strategy: Strategy): number | undefined {
  if (strategy.ignoredLayers?.some((l) => isUnder(stageName, l))) return 0;
  let ratio: number | undefined;
  let matched = -1;
  for (const [key, value] of Object.entries(strategy.stageRatios ?? {})) {
    if (isUnder(stageName, key) && key.length > matched) {
      matched = key.length;
      ratio = value;
    }
  }
  return ratio;
}

/** The ratio a stage is pruned at under `strategy`: pinned or global, capped by `maxLayerRatio`. */
export function stageRatioOf(stageName: string, strategy: Strategy): number {
  const ratio = pinnedStageRatio(stageName, strategy) ?? strategy.pruningRatio;
  return strategy.maxLayerRatio !== undefined ? Math.min(ratio, strategy.maxLayerRatio) : ratio;
}

/** Predicted MACs of `strategy` on the model `summary` describes (see {@link MacModelTerms}). */
export function predictMacs(summary: ProfileSummary, strategy: Strategy): number {
  const terms = macModelTerms(summary);
  const keep = 1 - clampRatio(strategy.pruningRatio);
  let macs = terms.fixedMacs + terms.linearMacs * keep;
  for (const stage of terms.stages) {
    const k = 1 - clampRatio(stageRatioOf(stage.name, strategy));
    macs += stage.macs * k * k;
  }
  return macs;
}

/**
 * The global ratio the model predicts lands on `targetMacs`, in closed form: with stages that
 * `strategy.stageRatios` or `ignoredLayers` pin held at their own ratio, solve `c + L x + Q x^2 = target` for
 * `x = 1 - r`. Clamped to `[0, maxRatio]`: 0 when the target is at or above what r = 0 gives,
 * `maxRatio` when it is below what the model can reach. `maxLayerRatio` is not modelled here.
 *
 * @param strategy fields beyond the global ratio (stage ratios, ignored layers). @default baseStrategy
 * @param maxRatio @default 0.95
 */
export function ratioForTarget(
  summary: ProfileSummary,
  targetMacs: number,
  strategy?: Strategy,
  maxRatio = 0.95,
): number {
  const terms = macModelTerms(summary);
  let constant = terms.fixedMacs;
  let quadratic = 0;
  for (const stage of terms.stages) {
    const pinned = strategy === undefined ? undefined : pinnedStageRatio(stage.name, strategy);
    if (pinned === undefined) {
      quadratic += stage.macs;
    } else {
      const k = 1 - clampRatio(pinned);
      constant += stage.macs * k * k;
    }
  }
  const linear = terms.linearMacs;
  const rhs = targetMacs - constant;
  const atZero = linear + quadratic;
  if (rhs >= atZero) return 0;
  if (rhs <= 0) return maxRatio;
  let x: number;
  if (quadratic > 0) x = (-linear + Math.sqrt(linear * linear + 4 * quadratic * rhs)) / (2 * quadratic);
  else x = linear > 0 ? rhs / linear : 1;
  return Math.min(Math.max(1 - x, 0), maxRatio);
}

/** What {@link firstGuess} returns: the ratio to try first and what the model expects it to measure. */
export interface FirstGuess {
  /** {@link ratioForTarget} for `aimMacs`, rounded to 4 decimals (the precision strategies are tried at). */
  pruningRatio: number;
  /** The band centre in MACs: `target x (1 + (lo + hi) / 2)`. */
  aimMacs: number;
  /** {@link predictMacs} of the strategy at `pruningRatio`. */
  predictedMacs: number;
  /** False when the band centre is at or below `protectedMacs` (or nothing is prunable): no ratio gets there. */
  reachable: boolean;
}

/**
 * The search's first guess, before anything is measured: the MAC model aimed at the band centre (an edge
 * aim often lands just outside, the curve being stepwise). The solver proposes it; the Claude prompt
 * shows it.
 *
 * @example
 * // ResNet-50 (the summary above), target 1.77 G, band -1%..+1%: aim 1.77 G, r = 0.355 (x = 0.6450),
 * // predicted ~1.77 G, reachable.
 * firstGuess(resnet50Summary, 1.77e9, { lo: -0.01, hi: 0.01 });
 *
 * @param strategy fields beyond the global ratio, as for {@link ratioForTarget}. @default baseStrategy
 * @param maxRatio @default 0.95
 */
export function firstGuess(
  summary: ProfileSummary,
  targetMacs: number,
  band: Band,
  strategy?: Strategy,
  maxRatio = 0.95,
): FirstGuess {
  const aimMacs = targetMacs * (1 + bandCenter(band));
  const pruningRatio = Math.round(ratioForTarget(summary, aimMacs, strategy, maxRatio) * 1e4) / 1e4;
  const predictedMacs = predictMacs(summary, { ...(strategy ?? baseStrategy(0)), pruningRatio });
  const reachable = summary.macs > summary.protectedMacs && aimMacs > summary.protectedMacs;
  return { pruningRatio, aimMacs, predictedMacs, reachable };
}

/**
 * A power law fitted to measured attempts: `macs(r) = floor + (anchor - floor) * scale * (1 - r)^exponent`.
 * In the transformed space `x = ln(1 - r)`, `y = ln((macs - floor) / (anchor - floor))` it is the line
 * `y = ln(scale) + exponent * x`, which is where the solver interpolates.
 *
 * @example
 * // Dense 4.0 G, floor 0.12 G, one measurement: r = 0.30 -> 2.10 G.
 * // x = ln 0.7 = -0.3567, y = ln(1.98 / 3.88) = -0.6728; anchored at the dense point (0, 0):
 * // exponent = y / x = 1.886, scale = 1. For a target of 1.5 G: (1.38 / 3.88)^(1 / 1.886) = 0.578, r = 0.422.
 */
export interface PowerLawFit {
  floorMacs: number;
  anchorMacs: number;
  exponent: number;
  scale: number;
  /** Measured points the fit used (the anchor not counted). */
  points: number;
}

/** One measured point: a global ratio and the MACs it measured. */
export interface RatioMacs {
  ratio: number;
  macs: number;
}

/**
 * Fit a {@link PowerLawFit} by least squares in the transformed space. With one point, or when
 * `fitScale` is false, the line goes through the anchor (r = 0 measures `anchorMacs`, scale 1) and only
 * the exponent is fitted; with two or more points and `fitScale`, the anchor is one more point.
 * Points at or below the floor, or at r = 0, carry no slope information and are skipped.
 *
 * @param opts.fitScale @default false
 * @param opts.defaultExponent exponent when no point is usable @default 2
 */
export function fitPowerLaw(
  points: readonly RatioMacs[],
  opts: { floorMacs: number; anchorMacs: number; fitScale?: boolean; defaultExponent?: number },
): PowerLawFit {
  const { floorMacs, anchorMacs } = opts;
  const span = anchorMacs - floorMacs;
  const usable = points
    .filter((p) => p.ratio > 1e-6 && p.ratio < 1 && p.macs > floorMacs && span > 0)
    .map((p) => ({ x: Math.log(1 - p.ratio), y: Math.log((p.macs - floorMacs) / span) }));
  const fallback = opts.defaultExponent ?? 2;
  if (usable.length === 0) return { floorMacs, anchorMacs, exponent: fallback, scale: 1, points: 0 };
  if (usable.length === 1 || opts.fitScale !== true) {
    const sxy = usable.reduce((s, p) => s + p.x * p.y, 0);
    const sxx = usable.reduce((s, p) => s + p.x * p.x, 0);
    const exponent = sxx > 0 && sxy / sxx > 0 ? sxy / sxx : fallback;
    return { floorMacs, anchorMacs, exponent, scale: 1, points: usable.length };
  }
  const all = [{ x: 0, y: 0 }, ...usable];
  const n = all.length;
  const mx = all.reduce((s, p) => s + p.x, 0) / n;
  const my = all.reduce((s, p) => s + p.y, 0) / n;
  const sxy = all.reduce((s, p) => s + (p.x - mx) * (p.y - my), 0);
  const sxx = all.reduce((s, p) => s + (p.x - mx) * (p.x - mx), 0);
  const exponent = sxx > 0 && sxy / sxx > 0 ? sxy / sxx : fallback;
  return { floorMacs, anchorMacs, exponent, scale: Math.exp(my - exponent * mx), points: usable.length };
}

/** MACs a {@link PowerLawFit} predicts at global ratio `ratio`. */
export function powerLawMacs(fit: PowerLawFit, ratio: number): number {
  const keep = Math.max(1 - ratio, 0);
  return fit.floorMacs + (fit.anchorMacs - fit.floorMacs) * fit.scale * Math.pow(keep, fit.exponent);
}

/**
 * The ratio at which a {@link PowerLawFit} predicts `macs`, unclamped except to `[0, 1)`:
 * 0 at or above what r = 0 gives, just under 1 at or below the floor.
 */
export function powerLawRatio(fit: PowerLawFit, macs: number): number {
  const span = (fit.anchorMacs - fit.floorMacs) * fit.scale;
  if (span <= 0) return 0;
  const rel = (macs - fit.floorMacs) / span;
  if (rel >= 1) return 0;
  if (rel <= 0) return 1 - 1e-9;
  return Math.min(Math.max(1 - Math.pow(rel, 1 / fit.exponent), 0), 1 - 1e-9);
}

function clampRatio(r: number): number {
  return Math.min(Math.max(r, 0), 1);
}
