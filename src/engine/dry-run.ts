import type { ModelSpec } from '../core/model-spec';
import {
  allAboveBand,
  heldKey,
  type Held,
  MAX_HELD,
  pickInBand,
  type Refusal,
  refusalOf,
  refusedText,
  refineLadder,
  SCREEN_ROUNDS,
  screenedStrategy,
  screenLadder,
  type ScreenScale,
} from '../core/screening';
import type { Band } from '../core/tolerance-band';
import type { Strategy } from '../core/strategy';
import type { EngineRunner } from './engine-process';
import { EngineProtocolError } from './errors';
import { DryRunResultSchema, parseEngineResult } from './protocol';
import type { DryRunResult, JobOptions } from './protocol';

/** The most strategies one `prune-dry-run` request may hold (engine/agentic_engine/dry_run.py `MAX_STRATEGIES`). */
export const MAX_DRY_RUN_STRATEGIES = 1000;

/** A request of the engine's `prune-dry-run` job. */
export interface DryRunRequest {
  model: ModelSpec;
  strategies: Strategy[];
  /** [N, C, H, W]; the model's default when absent. */
  inputShape?: number[];
  /** train/ images for Taylor importance; needed only when a strategy uses `taylor`. */
  calibration?: { dataset: string; batches: number; batchSize: number };
  /** Seeds `random` importance and the calibration sample, as `prune`'s seed does. @default 0 */
  seed?: number;
}

/**
 * The exact MACs and params `prune` would measure for each strategy, without pruning: the engine ranks
 * channels exactly as a prune trial does and counts the pruned shapes on a weightless copy of the model.
 * Hundreds of shapes per request; a strategy `prune` would refuse (it would empty a group) comes back as
 * `{ error: { field, message } }` in its place, with `field` under `strategies.<i>`. A bad request (no
 * strategies, more than {@link MAX_DRY_RUN_STRATEGIES}, an unknown layer) is an `EngineJobError` naming the
 * field, before any work.
 *
 * @example
 * const { results } = await dryRunStrategies(engine, { model: { name: 'resnet50' }, strategies });
 * const inBand = results.filter((r) => 'macs' in r && isInBand(r.macs, target, band));
 */
export async function dryRunStrategies(
  engine: EngineRunner,
  request: DryRunRequest,
  opts: JobOptions = {},
): Promise<DryRunResult> {
  const raw = await engine.run('prune-dry-run', request, opts);
  const result = parseEngineResult('prune-dry-run', DryRunResultSchema, raw);
  if (result.results.length !== request.strategies.length) {
    throw new EngineProtocolError(
      'prune-dry-run',
      `results: ${result.results.length} entries for ${request.strategies.length} strategies`,
    );
  }
  return result;
}

/** A request of {@link screenIntoBand}: a strategy whose shape is to be scaled into a band. */
export interface ScreenRequest extends Omit<DryRunRequest, 'strategies'> {
  /** The strategy as proposed: its shape, and the starting point of its variable. */
  strategy: Strategy;
  /** What the screen varies (core/screening `screenScaleOf`). */
  scale: ScreenScale;
  targetMacs: number;
  band: Band;
}

/** What {@link screenIntoBand} found: the in-band strategy and its exact MACs, or none; shapes screened. */
export interface ScreenOutcome {
  /**
   * The in-band strategy nearest the band centre, with what the dry run says `prune` will measure; `held`: the
   * ratios a factor screen held where the engine still accepted them while it scaled the rest on.
   */
  pick?: { strategy: Strategy; macs: number; params: number; held?: Record<string, number> };
  /**
   * No pick because every value the engine accepts measures above the band and it refuses the larger ones, at
   * every rounding screened: from which ratio and why, e.g. `refused from largest ratio 0.794:
   * stageRatios.features.13: the strategy would remove every channel of the group at ...`.
   */
  refused?: string;
  /** Strategies the dry run counted. */
  shapes: number;
  /** Engine time of the dry runs, milliseconds. */
  wallMs: number;
}

/**
 * Scale a strategy's shape into the band without pruning: dry-run a ladder of values of its variable
 * (core/screening), keep the in-band one nearest the band centre, else narrow to the bracketing pair and
 * dry-run again ({@link SCREEN_ROUNDS} ladders at most). MACs are a step function of the variable; when a
 * step of a coarse `roundTo` jumps over the whole band, the same shape at `roundTo` 1 is screened (the
 * solver's own remedy). A factor screen whose larger factors the engine refuses (a stage's cut would empty a
 * group) before the band holds that ratio where it was accepted and scales the others on, up to
 * {@link MAX_HELD} ratios. No pick when nothing lands: the band is narrower than the shape's finest step, or the
 * engine refuses every value that would reach it (then `refused` says from where and why).
 *
 * @example
 * const out = await screenIntoBand(engine, { model, strategy, scale: 'ratio', targetMacs: 1.77e9, band });
 * out.pick?.strategy.pruningRatio // e.g. 0.4187, which `prune` measures at out.pick.macs exactly
 */
export async function screenIntoBand(
  engine: EngineRunner,
  request: ScreenRequest,
  opts: JobOptions = {},
): Promise<ScreenOutcome> {
  const { strategy: proposed, scale, targetMacs, band, ...dry } = request;
  let shapes = 0;
  let wallMs = 0;
  type Found = { pick?: ScreenOutcome['pick']; refused?: string };
  /** One ladder, narrowed while it brackets the band: the pick, or the first ladder's refusal, or neither. */
  const ladder = async (
    strategy: Strategy,
    held: Held,
  ): Promise<{ pick?: ScreenOutcome['pick']; refusal?: Refusal; topsOut?: boolean }> => {
    let values = screenLadder(strategy, scale, held);
    for (let round = 0; round < SCREEN_ROUNDS; round++) {
      const strategies = values.map((v) => screenedStrategy(strategy, scale, v, held));
      const r = await dryRunStrategies(engine, { ...dry, strategies }, opts);
      shapes += strategies.length;
      wallMs += r.wallMs;
      const pick = pickInBand(values, r.results, targetMacs, band);
      if ('index' in pick) {
        const entry = r.results[pick.index] as { macs: number; params: number };
        const heldAt = Object.keys(held).length > 0 ? { held: { ...held } } : {};
        return {
          pick: { strategy: strategies[pick.index]!, macs: entry.macs, params: entry.params, ...heldAt },
        };
      } else if (pick.bracket) {
        values = refineLadder(pick.bracket);
        continue;
      }
      if (round > 0) return {};
      const refusal = refusalOf(values, r.results, targetMacs, band);
      if (refusal) return { refusal };
      // Every value accepted and above the band, up to the largest: the shape's ratios run out first.
      return allAboveBand(r.results, targetMacs, band) ? { topsOut: true } : {};
    }
    return {};
  };
  const screen = async (proposal: Strategy): Promise<Found> => {
    let strategy = proposal;
    const held: Record<string, number> = {};
    let last: { at: Strategy; reason: string } | undefined;
    for (;;) {
      const { pick, refusal, topsOut } = await ladder(strategy, held);
      if (pick) return { pick };
      // Holding the refused ratios, the rest ran out of room above the band: still refused.
      if (topsOut && last) return { refused: refusedText(last.at, scale, last.reason, held) };
      if (!refusal) return {};
      last = { at: screenedStrategy(strategy, scale, refusal.value, held), reason: refusal.reason };
      // A factor screen holds the refused ratio where the engine still accepted it and scales the rest on.
      const key = heldKey(refusal.field);
      if (
        scale !== 'factor' ||
        key === undefined ||
        key in held ||
        refusal.accepted === undefined ||
        Object.keys(held).length >= MAX_HELD
      )
        return { refused: refusedText(last.at, scale, last.reason) };
      strategy = screenedStrategy(strategy, scale, refusal.accepted, held);
      held[key] = key === 'pruningRatio' ? strategy.pruningRatio : strategy.stageRatios![key]!;
    }
  };
  const first = await screen(proposed);
  const found = first.pick || proposed.roundTo <= 1 ? first : await screen({ ...proposed, roundTo: 1 });
  // Refused at every rounding screened: the band lies past what the engine accepts of the shape.
  const refused = first.refused !== undefined ? found.refused : undefined;
  return {
    ...(found.pick ? { pick: found.pick } : {}),
    ...(refused !== undefined ? { refused } : {}),
    shapes,
    wallMs,
  };
}
