import type { Attempt } from '../core/attempt';
import { bestAttempt, isMeasured, type MeasuredAttempt } from '../core/attempt-selection';
import {
  firstGuess,
  fitPowerLaw,
  macModelTerms,
  pinnedStageRatio,
  predictMacs,
  stageRatioOf,
} from '../core/mac-model';
import type { ProfileSummary } from '../core/profile';
import { screenScaleOf } from '../core/screening';
import { DEFAULT_MAX_STAGE_RATIO } from '../core/stage-allocation';
import type { Strategy } from '../core/strategy';
import { baseStrategy, MAX_RATIO, strategyKey } from '../core/strategy';
import { bandCenter, deviation, inBand } from '../core/tolerance-band';
import { formatPercent } from '../core/units';
import type { Proposal, ProposeInput, StrategyAgent } from './agent';

/** Tuning of the {@link SolverAgent}. Defaults suit ResNet/ViT-sized models and bands of 1 % or wider. */
export interface SolverOptions {
  /** Largest global ratio the solver proposes while extrapolating; it goes beyond only once, to `hardMaxRatio`. @default 0.9 */
  maxRatio?: number;
  /** @default 0.95 (the Strategy schema's maximum) */
  hardMaxRatio?: number;
  /** Two bracket ends closer than this (in ratio) are "adjacent": switch to fine control. @default 0.002 */
  minRatioGap?: number;
  /** A bracket whose measured slope exceeds the calibrated slope by this factor holds a jump. @default 3 */
  jumpFactor?: number;
  /** Probes (errors included) spent on the base global-ratio family before fine control. @default 6 */
  coarseBudget?: number;
  /** Probes spent on each fine family (one roundTo, or one stage ratio). @default 4 */
  fineBudget?: number;
}

const DEFAULTS: Required<SolverOptions> = {
  maxRatio: 0.9,
  hardMaxRatio: 0.95,
  minRatioGap: 0.002,
  jumpFactor: 3,
  coarseBudget: 6,
  fineBudget: 4,
};

// ---------------------------------------------------------------------------------------------
// Constants of the method (the tunable ones are SolverOptions above)

/** Float slack when comparing ratios (a probe "at" vMax, a failure "at" a cap). */
const RATIO_EPS = 1e-9;
/** Floor of a slope's denominator: two points at the same x must not divide by zero. */
const SLOPE_EPS = 1e-12;
/** Largest change of the variable in one extrapolation step: far guesses from one point are unreliable. */
const MAX_EXTRAPOLATION_STEP = 0.3;
/**
 * Smallest offset between candidate values when looking for an untried one: 5x the 4-decimal grid
 * strategies are tried at (see {@link round4}), so neighbouring candidates differ after rounding.
 */
const MIN_PROBE_OFFSET = 0.0005;
/** Untried candidates inside a bracket are spaced 1/12 of it: a dozen tries before the bracket is full. */
const BRACKET_PROBE_DIVISIONS = 12;
/** Untried candidates of an extrapolation step are spaced 1/8 of the step. */
const EXTRAPOLATION_PROBE_DIVISIONS = 8;
/** How far an untried search walks from its first candidate (12 each way). */
const MAX_UNTRIED_CANDIDATES = 24;
/** Candidates this close to a failed value count as that value (half the 4-decimal grid). */
const SAME_RATIO_AS_FAILURE = 5e-5;
/** A failed first guess steps back (less pruning) in steps of this, failures coming with extreme ratios. */
const FIRST_GUESS_BACKOFF = 0.01;
/** The secant's root must lie this fraction of the bracket away from both ends, else regula falsi. */
const SECANT_MARGIN = 0.01;
/** Illinois: the end kept twice in a row has its function value halved (and again each further time). */
const ILLINOIS_FACTOR = 0.5;
/** Probes of a finer roundTo that measure exactly the coarser family's levels before roundTo is given up. */
const ECHOES_TO_GIVE_UP = 2;
/**
 * Smallest calibrated exponent of `(1 - r)^k`: pruning at least scales MACs like `(1 - r)^0.25`, so an
 * early noisy fit cannot make extrapolation steps huge.
 */
const MIN_FITTED_EXPONENT = 0.25;
/** A local secant slope is trusted only within this factor of the fitted one (either way). */
const LOCAL_SLOPE_TRUST = 3;
/** The log-space floor sits at most at this fraction of the aim and of the smallest measurement. */
const FLOOR_SHARE = 0.5;
/** Smallest argument of a logarithm, relative to the dense MACs (and absolute for `1 - r`). */
const LOG_EPS = 1e-9;
/**
 * A stage's ratio is moved only when it can cover 1.5x the MACs still missing (the model being
 * approximate): a stage that can barely reach the aim would end at its own limit.
 */
const STAGE_CAPACITY_MARGIN = 1.5;
/** Bounds of the stage model's calibration factor (measured / modelled prunable MACs). */
const CALIBRATION_RANGE: [number, number] = [0.25, 4];
/** A finer roundTo is halved again while its expected step would exceed 60 % of the band's width. */
const ROUND_TO_STEP_SHARE = 0.6;
/** Plateau tolerance: MACs closer than 1/20 of the band's width (at most 0.1 % of the target) are one level. */
const PLATEAU_BAND_SHARE = 0.05;
const PLATEAU_MAX_SHARE = 1e-3;
/** Longest rationale kept (the strategy log and the prompt show it). */
const MAX_RATIONALE_CHARS = 4000;
/** Ratios of a scaled shape closer than this to the shape's ratios times one factor are that factor (4-decimal grid). */
const SHAPE_SCALE_TOLERANCE = 1.5e-4;
/** A scaled shape refused by the engine before anything of it measured restarts at 3/4 of the refused factor. */
const FAILED_SHAPE_BACKOFF = 0.75;
/** The Strategy schema's largest ratio. */
const SCHEMA_MAX_RATIO = MAX_RATIO;

/** Borrowing preference of a point (lower is closer to the family). */
const RANK = {
  /** Measured in this family. */
  own: 0,
  /** Differs only in roundTo. */
  roundTo: 1,
  /** Other importance or flags. */
  shape: 2,
  /** The model's virtual anchor (r = 0, dense MACs). */
  anchor: 3,
} as const;

/** One point of a family in its variable `v` and the transformed space (x, y), where y rises with x. */
interface Point {
  v: number;
  x: number;
  y: number;
  macs: number;
  /** History position (attempt index); -1 for the model's virtual anchor. */
  order: number;
  /** Measured in this family (not borrowed from a related one, not virtual). */
  own: boolean;
  /** Preference when borrowing: one of {@link RANK}. */
  rank: number;
  attempt?: Attempt;
}

/**
 * A one-dimensional search family: strategies that differ only in one variable `v` — the global
 * ratio at a fixed roundTo, or one stage's ratio on top of a measured attempt.
 */
interface Family {
  label: string;
  varName: string;
  make(v: number): Strategy;
  toX(v: number): number;
  fromX(x: number): number;
  toY(macs: number): number;
  fromY(y: number): number;
  vMin: number;
  vMax: number;
  vHardMax: number;
  /** Calibrated dy/dx (> 0). */
  slope: number;
  own: Point[];
  others: Point[];
  /** Variable values whose attempts failed in the engine. */
  errors: number[];
  budget: number;
  /** A finer-roundTo family: stuck as soon as it measures the coarser family's levels again. */
  echoCheck?: boolean;
  /** MACs closer than this count as the same level (a plateau). */
  plateauMacs: number;
  /** Model-based first guess when the family knows no measured point at all. */
  firstGuess?: () => { v: number; predictedMacs: number; why: string };
  /** Largest value `untried` may return (a ratio family: the schema's 0.95). @default 0.95 */
  maxValue?: number;
}

type Step =
  | { kind: 'propose'; v: number; predictedMacs: number; why: string }
  | { kind: 'stuck'; why: string; ends: Point[]; echo?: boolean };

interface Context {
  input: ProposeInput;
  opts: Required<SolverOptions>;
  aimMacs: number;
  tried: Set<string>;
  valid: MeasuredAttempt[];
}

/**
 * The default strategy agent: a bracketing root finder on measured MACs, needing no API key.
 *
 * 1. First guess: the MAC model's {@link ratioForTarget} aimed at the band centre.
 * 2. Global ratio at the base roundTo: bracket the centre between measured attempts (the dense model
 *    is a virtual upper end) and interpolate in the transformed space `x = ln(1 - r)`,
 *    `y = ln(macs - floor)`, where `(1 - r)^k` is a line: secant on the two latest measurements while
 *    it stays inside the bracket, else regula falsi with the Illinois modification; without a
 *    bracket, extrapolate along the power law fitted to the measurements ({@link fitPowerLaw}).
 * 3. Fine control, when the global ratio moves MACs in steps too coarse for the band (bracket ends
 *    closer than 0.002, a jump steeper than the calibrated slope, a plateau at a bracket end, or the
 *    probe budget spent): halve roundTo (or more, sized by the step against the band) down to 1,
 *    seeding each finer family with the coarser measurements; then hold the best bracket end and
 *    move one stage's ratio (`stageRatios`), smallest MAC share first (the finest step).
 *
 * A base strategy that carries its own `pruningRatio` and `stageRatios` (a stage allocation; a human
 * override's shape carries no `pruningRatio` and goes through the families above) is instead scaled as a whole: one factor on all its ratios, the shape itself first
 * (`scaledShapeFamily`); when that family has nothing left, the solver is exhausted for the shape.
 *
 * Attempts with `error` measured nothing: they are not fitted, never repeated, and cap extrapolation.
 * No strategy already in the history (by {@link strategyKey}) is proposed again. Deterministic: the
 * proposal depends only on the input.
 */
export class SolverAgent implements StrategyAgent {
  readonly name = 'solver' as const;
  private readonly opts: Required<SolverOptions>;

  constructor(opts: SolverOptions = {}) {
    this.opts = { ...DEFAULTS, ...stripUndefined(opts) };
  }

  propose(input: ProposeInput): Promise<Proposal> {
    return Promise.resolve(solve(input, this.opts));
  }
}

/** The solver's decision as a pure function (what {@link SolverAgent.propose} resolves to). */
export function solve(input: ProposeInput, options: SolverOptions = {}): Proposal {
  const opts: Required<SolverOptions> = { ...DEFAULTS, ...stripUndefined(options) };
  const template = templateOf(input.baseStrategy);
  const aimMacs = input.targetMacs * (1 + bandCenter(input.band));
  const ctx: Context = {
    input,
    opts,
    aimMacs,
    tried: new Set(input.history.map((a) => strategyKey(a.strategy))),
    valid: input.history.filter(isMeasured),
  };
  const summary = input.profile;

  // Target at or above what no pruning gives: the only candidate is r = 0.
  const denseMacs = predictMacs(summary, { ...template, pruningRatio: 0 });
  if (aimMacs >= denseMacs && ctx.valid.every((a) => a.macs < aimMacs)) {
    const s = template;
    if (!ctx.tried.has(strategyKey(s))) {
      return proposal(
        s,
        denseMacs,
        `the band centre ${fmtMacs(aimMacs)} is at or above the unpruned model (${fmtMacs(denseMacs)}): try r=0`,
      );
    }
  }

  // A shape that carries its own ratios (a stage allocation): scale them together.
  const shaped = scaledShapeFamily(ctx, input.baseStrategy);
  if (shaped) {
    const s = refusedByScreen(shaped) ?? runFamily(shaped, ctx);
    if (s.kind === 'propose') return proposal(shaped.make(s.v), s.predictedMacs, `${shaped.label}: ${s.why}`);
    // Out of bounds or probes for this shape: the global ratio alone would undo its emphasis (and guessed
    // r=0.9 on democnn, which the engine refused), so the solver has nothing left for the shape.
    return {
      strategy: {
        ...shaped.make(1),
        rationale: `exhausted: ${shaped.label}: ${s.why}`.slice(0, MAX_RATIONALE_CHARS),
      },
      agent: 'solver',
      exhausted: true,
    };
  }

  let roundTo = template.roundTo;
  let family = globalFamily(ctx, template, roundTo, true);
  let step = runFamily(family, ctx);
  const trail: string[] = [];
  while (step.kind === 'stuck' && roundTo > 1) {
    trail.push(`${family.label}: ${step.why}`);
    const next = step.echo === true ? 1 : finerRoundTo(roundTo, step.ends, ctx);
    roundTo = next;
    family = globalFamily(ctx, { ...template, roundTo }, roundTo, false);
    step = runFamily(family, ctx);
  }
  if (step.kind === 'stuck') {
    trail.push(`${family.label}: ${step.why}`);
    const ends = step.ends.filter((p) => p.attempt !== undefined);
    const fine = stageControl(ctx, ends.length > 0 ? ends : nearestMeasuredOf(family, ctx), trail);
    if (fine) return fine;
    // Like every agent, the solver aims at the band centre.
    const best = bestAttempt(input.history, input.band, bandCenter(input.band));
    return {
      strategy: { ...(best?.strategy ?? template), rationale: `exhausted: ${trail.join('; ')}` },
      agent: 'solver',
      exhausted: true,
    };
  }
  const prefix = trail.length > 0 ? `fine control (${trail.join('; ')}); ` : '';
  return proposal(family.make(step.v), step.predictedMacs, `${prefix}${family.label}: ${step.why}`);

  function proposal(strategy: Strategy, predictedMacs: number, why: string): Proposal {
    return {
      strategy: { ...strategy, rationale: why.slice(0, MAX_RATIONALE_CHARS) },
      agent: 'solver',
      predictedMacs: Math.round(predictedMacs),
    };
  }
}

// ---------------------------------------------------------------------------------------------
// Families

function templateOf(base: Partial<Strategy>): Strategy {
  const { rationale: _r, pruningRatio: _p, ...rest } = base;
  return baseStrategy(0, stripUndefined(rest));
}

/** Key of a strategy with some fields blanked: members of one family share it. */
function keyWithout(
  s: Strategy,
  blank: { ratio?: boolean; roundTo?: boolean; stage?: string; flags?: boolean },
): string {
  const copy: Record<string, unknown> = { ...s, rationale: undefined };
  if (blank.ratio) copy.pruningRatio = -1;
  if (blank.roundTo) copy.roundTo = -1;
  if (blank.stage !== undefined) copy.stageRatios = { ...(s.stageRatios ?? {}), [blank.stage]: -1 };
  if (blank.flags) {
    for (const k of ['importance', 'globalPruning', 'isomorphic', 'iterativeSteps', 'vit'])
      copy[k] = undefined;
  }
  return strategyKey(copy as Strategy);
}

function globalFamily(ctx: Context, template: Strategy, roundTo: number, coarse: boolean): Family {
  const { input, opts } = ctx;
  const summary = input.profile;
  const anchorMacs = predictMacs(summary, { ...template, pruningRatio: 0 });
  const minMeasured = ctx.valid.reduce((m, a) => Math.min(m, a.macs), Infinity);
  const floor = Math.max(
    0,
    Math.min(summary.protectedMacs, FLOOR_SHARE * ctx.aimMacs, FLOOR_SHARE * minMeasured),
  );
  const toY = (m: number) => Math.log(Math.max(m - floor, LOG_EPS * Math.max(anchorMacs, 1)));
  const toX = (v: number) => Math.log(Math.max(1 - v, LOG_EPS));
  const ownKey = keyWithout(template, { ratio: true });
  const rank1Key = keyWithout(template, { ratio: true, roundTo: true });
  const rank2Key = keyWithout(template, { ratio: true, roundTo: true, flags: true });

  const own: Point[] = [];
  const others: Point[] = [];
  const errors: number[] = [];
  for (const a of input.history) {
    const k = keyWithout(a.strategy, { ratio: true });
    if (!isMeasured(a)) {
      if (k === ownKey) errors.push(a.strategy.pruningRatio);
      continue;
    }
    const v = a.strategy.pruningRatio;
    const pt = { v, x: toX(v), y: toY(a.macs), macs: a.macs, order: a.index, attempt: a };
    if (k === ownKey) own.push({ ...pt, own: true, rank: RANK.own });
    else if (keyWithout(a.strategy, { ratio: true, roundTo: true }) === rank1Key)
      others.push({ ...pt, own: false, rank: RANK.roundTo });
    else if (keyWithout(a.strategy, { ratio: true, roundTo: true, flags: true }) === rank2Key)
      others.push({ ...pt, own: false, rank: RANK.shape });
  }
  others.push({ v: 0, x: 0, y: toY(anchorMacs), macs: anchorMacs, order: -1, own: false, rank: RANK.anchor });

  // Calibrated exponent of (1 - r)^k through the anchor, from this family and its roundTo relatives.
  const fit = fitPowerLaw(
    [...own, ...others.filter((p) => p.rank === RANK.roundTo)].map((p) => ({ ratio: p.v, macs: p.macs })),
    { floorMacs: floor, anchorMacs },
  );
  const family: Family = {
    label: `global r (roundTo ${roundTo})`,
    varName: 'r',
    make: (v) => ({ ...template, pruningRatio: v, roundTo }),
    toX,
    fromX: (x) => 1 - Math.exp(x),
    toY,
    fromY: (y) => Math.exp(y) + floor,
    vMin: 0,
    vMax: opts.maxRatio,
    vHardMax: opts.hardMaxRatio,
    slope: Math.max(fit.exponent, MIN_FITTED_EXPONENT),
    own,
    others,
    errors,
    budget: coarse ? opts.coarseBudget : opts.fineBudget,
    plateauMacs: plateauTolerance(ctx),
    echoCheck: !coarse && roundTo > 1,
  };
  if (own.length === 0 && others.every((p) => p.rank === RANK.anchor)) {
    family.firstGuess = () => {
      const g = firstGuess(summary, input.targetMacs, input.band, template, opts.maxRatio);
      return {
        v: g.pruningRatio,
        predictedMacs: g.predictedMacs,
        why: `MAC model first guess for the band centre ${fmtMacs(g.aimMacs)} -> r=${fmtR(g.pruningRatio)}, predicted ${fmtDev(g.predictedMacs, input.targetMacs)}`,
      };
    };
  }
  return family;
}

/**
 * A family's own points: each attempt of `history` whose variable `valueOf` reads (undefined: another
 * family), measured ones as points on `toX`, refused ones as the values that failed.
 */
function ownPoints(
  history: readonly Attempt[],
  valueOf: (a: Attempt) => number | undefined,
  toX: (v: number) => number,
): { own: Point[]; errors: number[] } {
  const own: Point[] = [];
  const errors: number[] = [];
  for (const a of history) {
    const v = valueOf(a);
    if (v === undefined) continue;
    if (!isMeasured(a)) errors.push(v);
    else
      own.push({
        v,
        x: toX(v),
        y: a.macs,
        macs: a.macs,
        order: a.index,
        own: true,
        rank: RANK.own,
        attempt: a,
      });
  }
  return { own, errors };
}

/**
 * A shape that carries its own ratios — `pruningRatio` and `stageRatios` both set in the base strategy, as a
 * stage allocation from the sensitivity table (`candidateShapes`) is —
 * scaled by one common factor `s`: every ratio of the shape is `s` times its own, so the shape's relative
 * emphasis between stages is kept and `s = 1` is the shape as given (its first try). The family's space is
 * `x` = the MAC model's prediction for `s`, `y` = the measured MACs, a line through the dense model (`s = 0`)
 * whose slope the shape's own measurements calibrate (the model is off on small models, the allocation's
 * table-summed prediction too; one measurement and the dense anchor bracket the aim).
 *
 * Bounds, so that the engine is not asked to empty a group: no ratio above `maxLayerRatio`, the schema's 0.95
 * or the solver's `hardMaxRatio`; the largest ratio goes past {@link DEFAULT_MAX_STAGE_RATIO} (where a stage cut empties its
 * narrow layers on small models) only once, from a probe already there; a failed factor caps the steps past
 * it (halfway there). `undefined` for a base strategy without both.
 */
function scaledShapeFamily(ctx: Context, base: Partial<Strategy>): Family | undefined {
  if (screenScaleOf(base) !== 'factor') return undefined;
  const r0 = base.pruningRatio!;
  const own0 = base.stageRatios!;
  const largest = Math.max(r0, ...Object.values(own0));
  const template = templateOf(base);
  const summary = ctx.input.profile;
  const layerCap = Math.min(SCHEMA_MAX_RATIO, ctx.opts.hardMaxRatio, base.maxLayerRatio ?? 1);
  const softCap = Math.min(DEFAULT_MAX_STAGE_RATIO, ctx.opts.maxRatio, layerCap);
  const vHardMax = layerCap / largest;
  const vMax = Math.min(Math.max(softCap / largest, 1), vHardMax);
  const ratioAt = (s: number, r: number) => Math.min(round4(s * r), Math.floor(layerCap * 1e4) / 1e4);
  const exact = (s: number): Strategy => ({
    ...template,
    pruningRatio: Math.min(s * r0, layerCap),
    stageRatios: Object.fromEntries(Object.entries(own0).map(([k, r]) => [k, Math.min(s * r, layerCap)])),
  });
  const make = (s: number): Strategy => ({
    ...template,
    pruningRatio: ratioAt(s, r0),
    stageRatios: Object.fromEntries(Object.entries(own0).map(([k, r]) => [k, ratioAt(s, r)])),
  });
  const toX = (s: number) => predictMacs(summary, exact(s));
  const anchorMacs = toX(0);
  // The model's MACs fall as `s` rises: invert by bisection over [0, vHardMax].
  const fromX = (x: number) => {
    let lo = 0;
    let hi = vHardMax;
    for (let i = 0; i < 50; i++) {
      const mid = (lo + hi) / 2;
      if (toX(mid) > x) lo = mid;
      else hi = mid;
    }
    return (lo + hi) / 2;
  };
  // An attempt of this shape: the same fields but its ratios, and those the shape's ratios times one factor.
  const shapeKey = keyWithout({ ...template, stageRatios: undefined }, { ratio: true });
  const scaleOf = (st: Strategy): number | undefined => {
    if (keyWithout({ ...st, stageRatios: undefined }, { ratio: true }) !== shapeKey) return undefined;
    const keys = Object.keys(st.stageRatios ?? {}).sort();
    if (keys.join('\0') !== Object.keys(own0).sort().join('\0')) return undefined;
    const v = st.pruningRatio / r0;
    const m = make(v);
    const close = (a: number, b: number) => Math.abs(a - b) <= SHAPE_SCALE_TOLERANCE;
    const fits =
      close(m.pruningRatio, st.pruningRatio) &&
      keys.every((k) => close(m.stageRatios![k]!, st.stageRatios![k]!));
    return fits ? v : undefined;
  };
  const { own, errors } = ownPoints(ctx.input.history, (a) => scaleOf(a.strategy), toX);
  const anchor: Point = {
    v: 0,
    x: anchorMacs,
    y: anchorMacs,
    macs: anchorMacs,
    order: -1,
    own: false,
    rank: RANK.anchor,
  };
  // Measured / modelled MACs removed, through the dense model: 1 until the shape is measured.
  const removed = own.reduce((sum, p) => sum + (anchorMacs - p.x), 0);
  const measuredRemoved = own.reduce((sum, p) => sum + (anchorMacs - p.y), 0);
  const slope = removed > 0 ? clamp(measuredRemoved / removed, ...CALIBRATION_RANGE) : 1;
  const shown = [`r ${fmtR(r0)}`, ...Object.entries(own0).map(([k, r]) => `${k} ${fmtR(r)}`)].join(', ');
  return {
    label: `the shape's ratios (${shown}) scaled by s`,
    varName: 's',
    make,
    toX,
    fromX,
    toY: (m) => m,
    fromY: (y) => y,
    vMin: 0,
    vMax,
    vHardMax,
    slope,
    own,
    others: [anchor],
    errors,
    budget: ctx.opts.coarseBudget,
    plateauMacs: plateauTolerance(ctx),
    maxValue: vHardMax,
    // Nothing measured: the shape as given, or a quarter below the smallest factor the engine refused.
    ...(own.length === 0
      ? {
          firstGuess: () => {
            const v = errors.length > 0 ? FAILED_SHAPE_BACKOFF * Math.min(...errors) : 1;
            return {
              v,
              predictedMacs: toX(v),
              why:
                errors.length > 0
                  ? `s=${fmtR(v)}, ${fmtR(1 - FAILED_SHAPE_BACKOFF)} below the smallest refused factor, MAC model ${fmtDev(toX(v), ctx.input.targetMacs)}`
                  : `the shape's own ratios first (s=1), MAC model ${fmtDev(toX(v), ctx.input.targetMacs)}`,
            };
          },
        }
      : {}),
  };
}

/**
 * The shape's own trial was screened by dry run and nothing landed because the engine refuses every factor that
 * would reach the band (at every rounding screened): no step of `s` can land, so the family stops before
 * spending trials on refused or out-of-band factors. `undefined` when no own attempt carries such a screen.
 */
function refusedByScreen(f: Family): Step | undefined {
  const refused = f.own
    .map((p) => p.attempt?.screen)
    .find((sc) => sc && !sc.landed && sc.refused !== undefined);
  if (!refused) return undefined;
  return {
    kind: 'stuck',
    why: `the dry run found no factor in the band: every one that reaches it ${refused.refused}`,
    ends: [],
  };
}

/**
 * Fine control by one stage's ratio on top of the measured attempt `end`: the stage's MACs move as
 * `c * Q_s * (1 - r_s)^2` (the model's stage term, scaled by how the measured attempt compares with
 * the model), so the family's space is `x = (1 - r_s)^2`, `y = macs` — a line.
 */
function stageFamily(
  ctx: Context,
  end: Point,
  stage: { name: string; macs: number },
  calibration: number,
): Family {
  const { rationale: _r, ...s0 } = end.attempt?.strategy ?? templateOf(ctx.input.baseStrategy);
  const ownKey = keyWithout(s0, { stage: stage.name });
  const ratioOf = (a: Attempt) =>
    a.strategy.stageRatios?.[stage.name] ?? effectiveStageRatio(a, stage.name, ctx.input.profile);
  const current = end.attempt ? ratioOf(end.attempt) : stageRatioOf(stage.name, s0);
  const toX = (v: number) => (1 - v) * (1 - v);
  const slope = Math.max(calibration * stage.macs, 1);
  const { own, errors } = ownPoints(
    ctx.input.history,
    (a) => (keyWithout(a.strategy, { stage: stage.name }) === ownKey ? ratioOf(a) : undefined),
    toX,
  );
  const anchorY = end.macs + slope * (1 - toX(current));
  return {
    label: `stage ${stage.name} ratio on attempt ${end.order} (r=${fmtR(end.v)})`,
    varName: `stageRatios.${stage.name}`,
    make: (v) => stripUndefined({ ...s0, stageRatios: { ...(s0.stageRatios ?? {}), [stage.name]: v } }),
    toX,
    fromX: (x) => 1 - Math.sqrt(Math.max(x, 0)),
    toY: (m) => m,
    fromY: (y) => y,
    vMin: 0,
    vMax: ctx.opts.maxRatio,
    vHardMax: ctx.opts.maxRatio,
    slope,
    own,
    others: [{ v: 0, x: 1, y: anchorY, macs: anchorY, order: -1, own: false, rank: RANK.anchor }],
    errors,
    budget: ctx.opts.fineBudget,
    plateauMacs: plateauTolerance(ctx),
  };
}

/** The next roundTo: halve at least, more when the measured step is wide against the band. */
function finerRoundTo(roundTo: number, ends: Point[], ctx: Context): number {
  const measured = ends.filter((p) => p.attempt !== undefined);
  const width = ctx.input.band.hi - ctx.input.band.lo;
  const [p, q] = measured;
  const jump = p && q ? Math.abs(p.macs - q.macs) / ctx.input.targetMacs : Infinity;
  let next = Math.max(1, Math.floor(roundTo / 2));
  while (next > 1 && (jump * next) / roundTo > ROUND_TO_STEP_SHARE * width)
    next = Math.max(1, Math.floor(next / 2));
  return next;
}

function stageControl(ctx: Context, ends: Point[], trail: string[]): Proposal | undefined {
  const summary = ctx.input.profile;
  const terms = macModelTerms(summary);
  const template = templateOf(ctx.input.baseStrategy);
  const sortedEnds = [...ends].sort(
    (a, b) =>
      Math.abs(Math.log(a.macs / ctx.aimMacs)) - Math.abs(Math.log(b.macs / ctx.aimMacs)) ||
      a.order - b.order,
  );
  const stages = terms.stages
    .filter((s) => s.name !== '*' && s.macs > 0 && pinnedStageRatio(s.name, template) === undefined)
    .sort((a, b) => a.macs - b.macs || (a.name < b.name ? -1 : 1));
  const floor = terms.fixedMacs;
  // Fine control tunes one stage of the shape asked for: an end measured with another criterion or grouping
  // (a neighbouring family's bracket) would hand back that family's shape instead.
  const shapeOf = (st: Strategy) =>
    keyWithout({ ...st, stageRatios: undefined }, { ratio: true, roundTo: true });
  const wanted = shapeOf(template);
  for (const end of sortedEnds) {
    const strategy = end.attempt?.strategy;
    if (!strategy || shapeOf(strategy) !== wanted) continue;
    const modelled = predictMacs(summary, strategy);
    const calibration = clamp((end.macs - floor) / Math.max(modelled - floor, 1), ...CALIBRATION_RANGE);
    const needed = ctx.aimMacs - end.macs;
    for (const stage of stages) {
      const current = end.attempt
        ? effectiveStageRatio(end.attempt, stage.name, summary)
        : stageRatioOf(stage.name, strategy);
      const keep = (1 - current) ** 2;
      const capacity =
        needed < 0
          ? calibration * stage.macs * (keep - (1 - ctx.opts.maxRatio) ** 2)
          : calibration * stage.macs * (1 - keep);
      if (capacity < STAGE_CAPACITY_MARGIN * Math.abs(needed)) continue;
      const family = stageFamily(ctx, end, stage, calibration);
      const step = runFamily(family, ctx);
      if (step.kind === 'propose') {
        const prefix = `fine control (${trail.join('; ')}); `;
        return {
          strategy: {
            ...family.make(step.v),
            rationale: `${prefix}${family.label}: ${step.why}`.slice(0, MAX_RATIONALE_CHARS),
          },
          agent: 'solver',
          predictedMacs: Math.round(step.predictedMacs),
        };
      }
      trail.push(`${family.label}: ${step.why}`);
    }
  }
  return undefined;
}

/**
 * The ratio a stage was actually pruned at in a measured attempt: with global ranking it differs from
 * the global ratio. Read from the attempt's measured stage MACs when it has them
 * (`keep = sqrt(measured / dense)`), else the strategy's own ratio for the stage.
 */
function effectiveStageRatio(a: Attempt, stageName: string, profile: ProfileSummary): number {
  const measured = a.stages?.find((s) => s.name === stageName);
  const dense = profile.stages.find((s) => s.name === stageName);
  if (measured && dense && dense.macs > 0 && a.strategy.stageRatios?.[stageName] === undefined) {
    const keep = Math.sqrt(Math.min(Math.max(measured.macs / dense.macs, 0), 1));
    return round4(clamp(1 - keep, 0, SCHEMA_MAX_RATIO));
  }
  return stageRatioOf(stageName, a.strategy);
}

// ---------------------------------------------------------------------------------------------
// One step of bracketing root finding in a family

/**
 * One step of bracketing root finding in a family: stop when its probe budget is spent or it only
 * echoes a coarser family; else the model's first guess while nothing is measured; else interpolate
 * inside a bracket of the aim, or extrapolate towards it when no bracket exists.
 */
function runFamily(f: Family, ctx: Context): Step {
  const early = spentOrEcho(f, ctx) ?? firstGuessStep(f, ctx);
  if (early) return early;
  const yAim = f.toY(ctx.aimMacs);
  const bracket = findBracket(f, yAim, ctx.opts.minRatioGap);
  if (!bracket) return extrapolate(f, ctx, yAim);
  return stuckInBracket(f, ctx, bracket) ?? interpolate(f, ctx, bracket, yAim);
}

/** The family is done: its probes are spent, or (a finer roundTo) it measures the coarser family's levels. */
function spentOrEcho(f: Family, ctx: Context): Step | undefined {
  const probes = f.own.length + f.errors.length;
  if (probes >= f.budget)
    return { kind: 'stuck', why: `${probes} probes spent`, ends: nearestMeasuredOf(f, ctx) };
  if (!f.echoCheck) return undefined;
  // Two probes that measure exactly a coarser roundTo's levels: roundTo is not what makes the
  // steps (whole heads, say), so halving it further is no use.
  const echoes = f.own.filter((o) =>
    f.others.some((b) => b.rank === RANK.roundTo && sameMacs(o.macs, b.macs)),
  );
  if (echoes.length < ECHOES_TO_GIVE_UP) return undefined;
  return {
    kind: 'stuck',
    why: `measures the same MACs as the coarser roundTo (${echoes.map((e) => describe(f, e, ctx.input.targetMacs)).join(', ')})`,
    ends: nearestMeasuredOf(f, ctx),
    echo: true,
  };
}

/** The model's first guess, when the family knows no measured point; stepping back from failed guesses. */
function firstGuessStep(f: Family, ctx: Context): Step | undefined {
  if (!f.firstGuess) return undefined;
  const g = f.firstGuess();
  // If the first guess failed in the engine, step back first: failures come with extreme ratios.
  const v = untried(f, ctx, g.v, f.vMin - RATIO_EPS, f.vMax + RATIO_EPS, -FIRST_GUESS_BACKOFF);
  return v !== undefined ? { kind: 'propose', v, predictedMacs: g.predictedMacs, why: g.why } : undefined;
}

/**
 * A bracket of two own probes, neither in band, that finer steps of this family cannot split: the ends
 * are adjacent (closer than `minRatioGap`), a MAC jump lies between them (a measured slope steeper than
 * `jumpFactor` x the fitted one), or one end sits on a plateau.
 */
function stuckInBracket(f: Family, ctx: Context, [p, q]: [Point, Point]): Step | undefined {
  const { input, opts } = ctx;
  const target = input.targetMacs;
  const outOfBand = (e: Point) => !inBand(deviation(e.macs, target), input.band);
  if (!outOfBand(p) || !outOfBand(q) || !p.own || !q.own) return undefined;
  const pair = `${describe(f, p, target)} and ${describe(f, q, target)}`;
  const gap = Math.abs(p.v - q.v);
  if (gap < opts.minRatioGap)
    return { kind: 'stuck', why: `${pair} are ${gap.toFixed(4)} apart, neither in band`, ends: [p, q] };
  const measuredSlope = Math.abs(q.y - p.y) / Math.max(Math.abs(q.x - p.x), SLOPE_EPS);
  if (measuredSlope > opts.jumpFactor * f.slope) {
    return {
      kind: 'stuck',
      why: `a MAC jump between ${pair} (slope ${(measuredSlope / f.slope).toFixed(1)}x the fitted one)`,
      ends: [p, q],
    };
  }
  const twin = [p, q].find((e) =>
    f.own.some((o) => o !== e && o.v !== e.v && Math.abs(o.macs - e.macs) <= f.plateauMacs),
  );
  if (twin)
    return {
      kind: 'stuck',
      why: `plateau at ${describe(f, twin, target)}: the steps are coarser than the band`,
      ends: [p, q],
    };
  return undefined;
}

/**
 * Inside a bracket `[p, q]`: the secant on the two latest own probes while it falls inside the bracket
 * (away from its ends), else regula falsi, with the Illinois modification once the same end has been
 * kept twice in a row (its weight halves each further time), so the bracket shrinks from both sides.
 */
function interpolate(f: Family, ctx: Context, [p, q]: [Point, Point], yAim: number): Step {
  const target = ctx.input.targetMacs;
  const recent = [...f.own].sort((a, b) => b.order - a.order);
  const { x, method } = secantInside(f, recent, p, q, yAim) ?? regulaFalsi(recent, p, q, yAim);
  const vLo = Math.min(p.v, q.v);
  const vHi = Math.max(p.v, q.v);
  const v = untried(
    f,
    ctx,
    f.fromX(x),
    vLo,
    vHi,
    Math.max(MIN_PROBE_OFFSET, (vHi - vLo) / BRACKET_PROBE_DIVISIONS),
  );
  if (v === undefined)
    return {
      kind: 'stuck',
      why: `no untried ${f.varName} left between ${fmtR(vLo)} and ${fmtR(vHi)}`,
      ends: [p, q],
    };
  const xv = f.toX(v);
  const yPred = p.y + ((q.y - p.y) * (xv - p.x)) / (q.x - p.x || SLOPE_EPS);
  const predicted = f.fromY(yPred);
  return {
    kind: 'propose',
    v,
    predictedMacs: predicted,
    why: `${method} between ${describe(f, p, target)} and ${describe(f, q, target)} -> ${f.varName}=${fmtR(v)}, predicted ${fmtDev(predicted, target)}`,
  };
}

/** The secant through the two latest own probes, when its root lies inside the bracket's inner part. */
function secantInside(
  f: Family,
  recent: Point[],
  p: Point,
  q: Point,
  yAim: number,
): { x: number; method: string } | undefined {
  const [n1, n2] = recent;
  if (!n1 || !n2 || n1.y === n2.y) return undefined;
  const lo = Math.min(p.x, q.x);
  const hi = Math.max(p.x, q.x);
  const xs = n1.x + ((yAim - n1.y) * (n1.x - n2.x)) / (n1.y - n2.y);
  const margin = SECANT_MARGIN * (hi - lo);
  if (!(xs > lo + margin && xs < hi - margin)) return undefined;
  return { x: xs, method: `secant on ${f.varName}=${fmtR(n2.v)} and ${fmtR(n1.v)} inside the bracket` };
}

/** Regula falsi on the bracket `[p, q]`; Illinois: the end kept `streak - 1` extra times is weighted 1/2 each. */
function regulaFalsi(recent: Point[], p: Point, q: Point, yAim: number): { x: number; method: string } {
  let fp = p.y - yAim;
  let fq = q.y - yAim;
  const newest = p.order >= q.order ? p : q;
  let streak = 0;
  if (newest.own) {
    const side = Math.sign(newest.y - yAim);
    for (const r of recent) {
      if (Math.sign(r.y - yAim) !== side) break;
      streak++;
    }
  }
  let method: string;
  if (streak >= 2) {
    const factor = ILLINOIS_FACTOR ** (streak - 1);
    if (newest === p) fq *= factor;
    else fp *= factor;
    method = `regula falsi (Illinois, the retained end weighted ${factor})`;
  } else {
    method =
      p.rank === RANK.anchor || q.rank === RANK.anchor
        ? 'interpolation from the unpruned model'
        : 'regula falsi';
  }
  return { x: p.x - (fp * (q.x - p.x)) / (fq - fp), method };
}

/**
 * No bracket: extrapolate from the measured point nearest the aim (own points first, then borrowed
 * ones, the model's anchor last) along the local slope, or the fitted one. Toward more pruning when the
 * point measured above the aim, toward less when below — one rule, mirrored by `dir` (+1 raises the
 * variable, -1 lowers it). The step is at least `minRatioGap` (and twice any plateau met), at most
 * {@link MAX_EXTRAPOLATION_STEP}, and stops halfway to a value that failed in the engine.
 */
function extrapolate(f: Family, ctx: Context, yAim: number): Step {
  const target = ctx.input.targetMacs;
  const borrowed = f.others.filter((o) => o.rank < RANK.anchor);
  const pool = f.own.length > 0 ? f.own : borrowed.length > 0 ? borrowed : f.others;
  const nearest = [...pool].sort(
    (a, b) => Math.abs(a.y - yAim) - Math.abs(b.y - yAim) || b.order - a.order,
  )[0];
  if (!nearest) return { kind: 'stuck', why: 'nothing measured to extrapolate from', ends: [] };
  const dir = nearest.y > yAim ? 1 : -1;
  // On a plateau, start from its far edge and step at least its width.
  const twins = f.own.filter((o) => Math.abs(o.macs - nearest.macs) <= f.plateauMacs);
  const from = twins.reduce((best, o) => (dir * (o.v - best.v) > 0 ? o : best), nearest);
  // A plateau met while extrapolating: step at least twice its width, so repeated hits grow the step.
  const plateau =
    2 * (Math.max(nearest.v, ...twins.map((o) => o.v)) - Math.min(nearest.v, ...twins.map((o) => o.v)));
  const slope = localSlope(f, yAim) ?? f.slope;
  // Raising the variable may go past vMax once, to vHardMax, from a probe already at vMax.
  const limit = dir > 0 ? (from.v >= f.vMax - RATIO_EPS ? f.vHardMax : f.vMax) : f.vMin;
  if (dir * (limit - from.v) <= RATIO_EPS)
    return {
      kind: 'stuck',
      why: `${describe(f, from, target)} is at the ${dir > 0 ? 'largest' : 'smallest'} ${f.varName} and still ${dir > 0 ? 'above' : 'below'}`,
      ends: [from],
    };
  const near = from.v + dir * Math.max(ctx.opts.minRatioGap, plateau);
  const far =
    dir > 0
      ? Math.min(from.v + MAX_EXTRAPOLATION_STEP, limit)
      : Math.max(from.v - MAX_EXTRAPOLATION_STEP, limit);
  const toward = f.fromX(from.x + (yAim - from.y) / slope);
  // clamp takes its bounds low first; should they cross (a minimum step past the limit), it returns the
  // upper one: the limit when raising, the minimum step when lowering.
  let v = dir > 0 ? clamp(toward, near, far) : clamp(toward, far, near);
  // The nearest failed value between the start and the step caps it: go halfway there.
  const cap = f.errors
    .filter((e) => dir * (e - from.v) > 0 && dir * (e - v) <= RATIO_EPS)
    .sort((a, b) => dir * (a - b))[0];
  if (cap !== undefined) v = (from.v + cap) / 2;
  const edge = limit + dir * RATIO_EPS;
  const [lo, hi] = dir > 0 ? [from.v, edge] : [edge, from.v];
  const chosen = untried(
    f,
    ctx,
    v,
    lo,
    hi,
    Math.max(MIN_PROBE_OFFSET, (dir * (v - from.v)) / EXTRAPOLATION_PROBE_DIVISIONS),
  );
  if (chosen === undefined)
    return {
      kind: 'stuck',
      why: `no untried ${f.varName} ${dir > 0 ? 'above' : 'below'} ${fmtR(from.v)}`,
      ends: [from],
    };
  const predicted = f.fromY(from.y + slope * (f.toX(chosen) - from.x));
  const source = from.own ? describe(f, from, target) : `${describe(f, from, target)} (borrowed)`;
  return {
    kind: 'propose',
    v: chosen,
    predictedMacs: predicted,
    why: `extrapolated from ${source} with ${slope === f.slope ? 'the fitted' : 'the local'} slope -> ${f.varName}=${fmtR(chosen)}, predicted ${fmtDev(predicted, target)}`,
  };
}

/**
 * Slope of the secant through the two own points nearest the aim on the same side, when it is
 * sane (within 1/3..3x the fitted slope): more local than the fit for an extrapolation step.
 */
function localSlope(f: Family, yAim: number): number | undefined {
  const near = [...f.own].sort((a, b) => Math.abs(a.y - yAim) - Math.abs(b.y - yAim) || b.order - a.order);
  const [a, b] = near;
  if (!a || !b || Math.abs(a.x - b.x) < RATIO_EPS || Math.abs(a.macs - b.macs) <= f.plateauMacs)
    return undefined;
  const s = (a.y - b.y) / (a.x - b.x);
  return s > f.slope / LOCAL_SLOPE_TRUST && s < f.slope * LOCAL_SLOPE_TRUST ? s : undefined;
}

/** Crossing pair `[p, q]` (p.x < q.x) around the aim: own points first, then borrowed ends, then the model's anchor. */
function findBracket(f: Family, yAim: number, minGap: number): [Point, Point] | undefined {
  const above = (p: Point) => p.y >= yAim;
  const crossing = (list: Point[]): [Point, Point] | undefined => {
    const sorted = [...list].sort((a, b) => a.x - b.x || a.order - b.order);
    const pairs: [Point, Point][] = [];
    for (let i = 0; i + 1 < sorted.length; i++) {
      const a = sorted[i] as Point;
      const b = sorted[i + 1] as Point;
      if (above(a) !== above(b) && a.v !== b.v) pairs.push([a, b]);
    }
    if (pairs.length === 0) return undefined;
    const closeness = (pr: [Point, Point]) => Math.min(Math.abs(pr[0].y - yAim), Math.abs(pr[1].y - yAim));
    return pairs.sort(
      (a, b) => closeness(a) - closeness(b) || Math.abs(a[1].x - a[0].x) - Math.abs(b[1].x - b[0].x),
    )[0];
  };
  const own = crossing(f.own);
  if (own) return own;
  if (f.own.length > 0) {
    const ownAbove = f.own.filter(above);
    const ownBelow = f.own.filter((p) => !above(p));
    // A borrowed end (measured in a related family, or the model's anchor) only pairs with the first
    // own probe on a side: after two, the related family's MACs at the same nominal ratio are no guide
    // (a coarser roundTo keeps more channels than its ratio says) and extrapolating from own points
    // (plateau-aware) beats interpolating toward a far anchor. Nor does a borrowed end closer than
    // `minGap`: the own point's neighbourhood is what is left to explore.
    const ranks = (side: Point[]) => (side.length <= 1 ? [RANK.roundTo, RANK.shape, RANK.anchor] : []);
    if (ownAbove.length > 0 && ownBelow.length === 0) {
      const p = [...ownAbove].sort((a, b) => a.y - b.y || b.order - a.order)[0] as Point;
      for (const rank of ranks(ownAbove)) {
        const partner = f.others
          .filter((o) => o.rank === rank && !above(o) && o.x < p.x && Math.abs(o.v - p.v) >= minGap)
          .sort((a, b) => b.x - a.x)[0];
        if (partner) return [plateauEdge(f, partner, 'low'), p];
      }
    } else if (ownBelow.length > 0 && ownAbove.length === 0) {
      const p = [...ownBelow].sort((a, b) => b.y - a.y || b.order - a.order)[0] as Point;
      for (const rank of ranks(ownBelow)) {
        const partner = f.others
          .filter((o) => o.rank === rank && above(o) && o.x > p.x && Math.abs(o.v - p.v) >= minGap)
          .sort((a, b) => a.x - b.x)[0];
        if (partner) return [p, plateauEdge(f, partner, 'high')];
      }
    }
    return undefined;
  }
  // Nothing own yet (a new shape): a seed bracket comes from one related family, never from ends of two
  // families — their MACs at the same nominal ratio differ, so such a pair brackets nothing (and may be too
  // narrow to split, which would leave the shape for another family's fine control).
  const families = new Map<string, Point[]>();
  for (const o of f.others) {
    if (!o.attempt) continue;
    const key = keyWithout(o.attempt.strategy, { ratio: true });
    families.set(key, [...(families.get(key) ?? []), o]);
  }
  const anchor = f.others.filter((o) => o.rank === RANK.anchor);
  const closeness = (pr: [Point, Point]) => Math.min(Math.abs(pr[0].y - yAim), Math.abs(pr[1].y - yAim));
  const seeds = [...families.values()]
    .map((list) => crossing(list))
    .filter((pr): pr is [Point, Point] => pr !== undefined)
    .sort((a, b) => closeness(a) - closeness(b));
  const seed =
    seeds[0] ??
    [...families.values()]
      .map((list) => crossing([...list, ...anchor]))
      .filter((pr): pr is [Point, Point] => pr !== undefined)
      .sort((a, b) => closeness(a) - closeness(b))[0] ??
    (families.size === 0 ? crossing(f.others) : undefined);
  return seed ? [plateauEdge(f, seed[0], 'low'), plateauEdge(f, seed[1], 'high')] : undefined;
}

/**
 * A borrowed point's plateau twin farthest out (lowest x for 'low', highest for 'high'): a level of a
 * coarser family spans a range of nominal ratios, and its far edge bounds the finer family's root
 * more safely than the near one.
 */
function plateauEdge(f: Family, p: Point, side: 'low' | 'high'): Point {
  if (p.own || p.rank === RANK.anchor) return p;
  return f.others
    .filter((o) => o.rank === p.rank && Math.abs(o.macs - p.macs) <= f.plateauMacs)
    .reduce((best, o) => ((side === 'low' ? o.x < best.x : o.x > best.x) ? o : best), p);
}

function nearestMeasuredOf(f: Family, ctx: Context): Point[] {
  const yAim = f.toY(ctx.aimMacs);
  const pts = [...f.own, ...f.others].filter((p) => p.attempt !== undefined);
  const above = pts.filter((p) => p.y >= yAim).sort((a, b) => a.y - b.y || a.order - b.order)[0];
  const below = pts.filter((p) => p.y < yAim).sort((a, b) => b.y - a.y || a.order - b.order)[0];
  return [above, below].filter((p): p is Point => p !== undefined);
}

/**
 * `v` rounded to 4 decimals, or the nearest untried value within the open interval `(lo, hi)`:
 * `v + delta`, `v - delta`, `v + 2 delta`, ... (a negative `delta` tries below first).
 */
function untried(
  f: Family,
  ctx: Context,
  v: number,
  lo: number,
  hi: number,
  delta: number,
): number | undefined {
  for (let j = 0; j <= MAX_UNTRIED_CANDIDATES; j++) {
    const offset = j === 0 ? 0 : (j % 2 === 1 ? 1 : -1) * Math.ceil(j / 2) * delta;
    const c = round4(v + offset);
    if (!(c > lo && c < hi) || c < 0 || c > (f.maxValue ?? SCHEMA_MAX_RATIO)) continue;
    if (f.errors.some((e) => Math.abs(e - c) < SAME_RATIO_AS_FAILURE)) continue;
    if (ctx.tried.has(strategyKey(f.make(c)))) continue;
    return c;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Small helpers

/** Exactly the same MACs (the same pruned architecture), up to float noise (1e-9 relative). */
function sameMacs(a: number, b: number): boolean {
  return Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b), 1);
}

/**
 * Two measurements closer than this are one level of a staircase: exactly equal MACs (same pruned
 * architecture) or a difference too small to matter for the band (1/20 of its width, at most 0.1 %).
 */
function plateauTolerance(ctx: Context): number {
  const width = ctx.input.band.hi - ctx.input.band.lo;
  return ctx.input.targetMacs * Math.min(PLATEAU_MAX_SHARE, PLATEAU_BAND_SHARE * width);
}

function describe(f: Family, p: Point, target: number): string {
  if (p.order < 0) return `${f.varName}=${fmtR(p.v)} (model, ${fmtDev(p.macs, target)})`;
  return `${f.varName}=${fmtR(p.v)} (${fmtDev(p.macs, target)})`;
}

/** A ratio with 3 decimals, or 4 when the 4th is not zero (up to float noise). */
function fmtR(v: number): string {
  return v.toFixed(Math.abs(v * 1000 - Math.round(v * 1000)) < 1e-6 ? 3 : 4);
}

function fmtDev(macs: number, target: number): string {
  return formatPercent(deviation(macs, target), 1);
}

function fmtMacs(macs: number): string {
  return `${(macs / 1e9).toPrecision(4)} G`;
}

function round4(v: number): number {
  return Math.round(v * 1e4) / 1e4;
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(Math.max(v, lo), hi);
}

function stripUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
