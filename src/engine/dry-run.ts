import type { ModelSpec } from '../core/model-spec';
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
