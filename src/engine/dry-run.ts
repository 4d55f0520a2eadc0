import type { ModelSpec } from '../core/model-spec';
import {
  pickInBand,
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
  /** The in-band strategy nearest the band centre, with what the dry run says `prune` will measure. */
  pick?: { strategy: Strategy; macs: number; params: number };
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
 * solver's own remedy). No pick when nothing lands: the band is narrower than the shape's finest step, or
 * the engine refuses every value.
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
  const screen = async (strategy: Strategy): Promise<ScreenOutcome['pick']> => {
    let values = screenLadder(strategy, scale);
    for (let round = 0; round < SCREEN_ROUNDS; round++) {
      const strategies = values.map((v) => screenedStrategy(strategy, scale, v));
      const r = await dryRunStrategies(engine, { ...dry, strategies }, opts);
      shapes += strategies.length;
      wallMs += r.wallMs;
      const pick = pickInBand(values, r.results, targetMacs, band);
      if ('index' in pick) {
        const entry = r.results[pick.index] as { macs: number; params: number };
        return { strategy: strategies[pick.index]!, macs: entry.macs, params: entry.params };
      } else if (pick.bracket) {
        values = refineLadder(pick.bracket);
        continue;
      }
      return undefined;
    }
    return undefined;
  };
  const pick =
    (await screen(proposed)) ??
    (proposed.roundTo > 1 ? await screen({ ...proposed, roundTo: 1 }) : undefined);
  return { ...(pick ? { pick } : {}), shapes, wallMs };
}
