/**
 * Screening a strategy's shape into the MAC band by the engine's exact dry run (`prune-dry-run`): the pure
 * half. A shape is one strategy with one free variable — its global `pruningRatio`, or (for a shape that
 * carries its own stage ratios, such as a stage allocation) one factor on every ratio it has — and MACs
 * fall as that variable grows. A screen asks the dry run for the MACs of a ladder of values, keeps the
 * in-band value nearest the band centre, or narrows to the pair of values that brackets the band and asks
 * again. The loop that calls the engine is `screenIntoBand` (src/engine/dry-run.ts).
 */
import type { Strategy } from './strategy';
import { MAX_RATIO } from './strategy';
import { bandCenter, deviation, type Band } from './tolerance-band';

/**
 * What a screen varies: `ratio`, the global `pruningRatio` (stage and layer ratios stay as they are);
 * `factor`, one factor on the shape's `pruningRatio` and every `stageRatios` entry, so the shape's
 * proportions stay (as the solver scales a shape that carries its own ratios).
 */
export type ScreenScale = 'ratio' | 'factor';

/** Values of a screen's first ladder. */
export const SCREEN_LADDER = 96;
/** Values of each narrowing ladder between a bracketing pair. */
export const SCREEN_REFINE = 24;
/** Ladders per rounding: the first and up to this many narrowing ones, in all. */
export const SCREEN_ROUNDS = 3;
/** Ratios a factor screen may hold (each costs a new ladder) before it gives the shape up as refused. */
export const MAX_HELD = 4;

/**
 * How a base strategy is scaled, by a screen and by the solver alike: `factor` when it carries its own
 * `pruningRatio` (above 0) and stage ratios (a stage allocation), else `ratio`.
 *
 * @example
 * screenScaleOf({ pruningRatio: 0.5, stageRatios: { layer1: 0 } }) // 'factor'
 * screenScaleOf({ importance: 'lamp' })                               // 'ratio'
 */
export function screenScaleOf(base: Partial<Strategy>): ScreenScale {
  return (base.pruningRatio ?? 0) > 0 && Object.keys(base.stageRatios ?? {}).length > 0 ? 'factor' : 'ratio';
}

/**
 * Ratios a factor screen no longer scales, each held at a value where the engine still accepted the shape: a
 * `stageRatios` key, or `pruningRatio` (the stages the shape does not name). See {@link heldKey}.
 */
export type Held = Readonly<Record<string, number>>;

/** The largest ratio a strategy sets under `scale`: `pruningRatio`, and under `factor` its ratios not held. */
function largestRatio(strategy: Strategy, scale: ScreenScale, held: Held = {}): number {
  if (scale === 'ratio') return strategy.pruningRatio;
  const free = Object.entries(strategy.stageRatios ?? {}).filter(([k]) => !(k in held));
  return Math.max('pruningRatio' in held ? 0 : strategy.pruningRatio, ...free.map(([, r]) => r));
}

/** The largest value of the screen's variable: ratio {@link MAX_RATIO}, or the factor that brings the largest ratio there. */
function largestValue(strategy: Strategy, scale: ScreenScale, held: Held = {}): number {
  const top = largestRatio(strategy, scale, held);
  return scale === 'ratio' || top <= 0 ? MAX_RATIO : MAX_RATIO / top;
}

/**
 * `strategy` at value `v` of its screen variable: `pruningRatio` `v`, or every ratio of the shape times `v`
 * (capped at {@link MAX_RATIO}, and a ratio of `held` at its held value), rounded to 5 decimals so the
 * strategy is what the log shows.
 *
 * @example
 * screenedStrategy({ ...s, pruningRatio: 0.4, stageRatios: { b3: 0.6, b1: 0 } }, 'factor', 0.5)
 * // pruningRatio 0.2, stageRatios { b3: 0.3, b1: 0 }
 * screenedStrategy({ ...s, pruningRatio: 0.4, stageRatios: { b3: 0.6, b1: 0.2 } }, 'factor', 1.5, { b3: 0.6 })
 * // pruningRatio 0.6, stageRatios { b3: 0.6, b1: 0.3 }
 */
export function screenedStrategy(
  strategy: Strategy,
  scale: ScreenScale,
  v: number,
  held: Held = {},
): Strategy {
  const at = (r: number, key: string) =>
    Math.min(MAX_RATIO, held[key] ?? Infinity, Math.round(r * 1e5) / 1e5);
  if (scale === 'ratio') return { ...strategy, pruningRatio: at(v, 'pruningRatio') };
  const stages = strategy.stageRatios;
  return {
    ...strategy,
    pruningRatio: at(strategy.pruningRatio * v, 'pruningRatio'),
    ...(stages
      ? { stageRatios: Object.fromEntries(Object.entries(stages).map(([k, r]) => [k, at(r * v, k)])) }
      : {}),
  };
}

/**
 * The ratio a refusal's field names, as a {@link Held} key: `stageRatios.<stage>` -> the stage,
 * `pruningRatio` -> `pruningRatio`; `undefined` for any other field (a layer ratio, the whole strategy).
 *
 * @example
 * heldKey('stageRatios.features.13') // 'features.13'
 */
export function heldKey(field: string): string | undefined {
  if (field === 'pruningRatio') return field;
  return field.startsWith('stageRatios.') ? field.slice('stageRatios.'.length) : undefined;
}

/** The first ladder: {@link SCREEN_LADDER} values evenly from 0 to the largest the strategy allows. */
export function screenLadder(strategy: Strategy, scale: ScreenScale, held: Held = {}): number[] {
  const top = largestValue(strategy, scale, held);
  return Array.from({ length: SCREEN_LADDER }, (_, i) => round5((top * i) / (SCREEN_LADDER - 1)));
}

/** A narrowing ladder: {@link SCREEN_REFINE} values strictly between the bracketing pair `[a, b]`. */
export function refineLadder([a, b]: readonly [number, number]): number[] {
  return Array.from({ length: SCREEN_REFINE }, (_, i) =>
    round5(a + ((b - a) * (i + 1)) / (SCREEN_REFINE + 1)),
  );
}

/**
 * The in-band entry of a ladder nearest the band centre, else the pair of values that brackets the band
 * (the largest value whose MACs are still above it, the smallest already below) for a narrower ladder, or
 * `null` when the ladder does not straddle the band. `values[i]` is the variable of `entries[i]`; entries
 * without `macs` (strategies the engine would refuse) are skipped.
 *
 * @example
 * // target 100 MACs, band -5 %..+1 %: 0.3 -> 98 MACs is in band.
 * pickInBand([0.1, 0.2, 0.3], [{ macs: 130 }, { macs: 110 }, { macs: 98 }], 100, band) // { index: 2 }
 */
export function pickInBand(
  values: readonly number[],
  entries: readonly ({ macs: number } | object)[],
  targetMacs: number,
  band: Band,
): { index: number } | { bracket: [number, number] | null } {
  const centre = bandCenter(band);
  let best: { index: number; off: number } | null = null;
  let above: number | null = null;
  let below: number | null = null;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    if (!('macs' in e)) continue;
    const d = (e.macs - targetMacs) / targetMacs;
    const v = values[i]!;
    if (d >= band.lo && d <= band.hi) {
      const off = Math.abs(d - centre);
      if (best === null || off < best.off) best = { index: i, off };
    } else if (d > band.hi) above = above === null ? v : Math.max(above, v);
    else below = below === null ? v : Math.min(below, v);
  }
  if (best !== null) return { index: best.index };
  return { bracket: above !== null && below !== null && above < below ? [above, below] : null };
}

/**
 * Whether every entry the engine accepted measures above the band (refused entries skipped): a ladder up to
 * the largest value that ends there means the shape runs out of ratios before the band.
 */
export function allAboveBand(
  entries: readonly ({ macs: number } | object)[],
  targetMacs: number,
  band: Band,
): boolean {
  return entries.every((e) => !('macs' in e) || deviation(e.macs, targetMacs) > band.hi);
}

/** A ladder's refusal ({@link refusalOf}). */
export interface Refusal {
  /** The smallest refused value above every accepted one. */
  value: number;
  /** The engine's field and message, e.g. `stageRatios.features.13: the strategy would remove ...`. */
  reason: string;
  /** The field alone, without the dry run's `strategies.<i>.` (empty when the engine named none). */
  field: string;
  /** The largest accepted value, when one was. */
  accepted?: number;
}

/**
 * Why a ladder that did not land never can: every value the engine accepts measures above the band, and the
 * engine refuses a larger one (it would empty a group) — the band lies past what `prune` accepts of this
 * shape, so no step of its variable will land. The smallest refused value above the accepted ones, with the
 * engine's reason (its field without the dry run's `strategies.<i>.` prefix). `undefined` when some accepted
 * value measures in or below the band (a step that jumps over the band, which a finer rounding may fix), or
 * when nothing was refused.
 *
 * @example
 * // target 100, band -5 %..+1 %: 0.6 measures 120, 0.8 is refused.
 * refusalOf([0.4, 0.6, 0.8], [{ macs: 140 }, { macs: 120 }, { error: { field: 'strategies.2.pruningRatio',
 *   message: "would remove every channel of the group at 'fc1'" } }], 100, band)
 * // { value: 0.8, reason: "pruningRatio: would remove every channel of the group at 'fc1'",
 * //   field: 'pruningRatio', accepted: 0.6 }
 */
export function refusalOf(
  values: readonly number[],
  entries: readonly ({ macs: number } | { error: { field: string; message: string } } | object)[],
  targetMacs: number,
  band: Band,
): Refusal | undefined {
  if (!allAboveBand(entries, targetMacs, band)) return undefined;
  const accepted = Math.max(...values.filter((_, i) => 'macs' in entries[i]!));
  let refused: Refusal | undefined;
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i]!;
    if (!('error' in e) || values[i]! <= accepted || (refused && refused.value <= values[i]!)) continue;
    const field = e.error.field.replace(/^strategies\.\d+\.?/, '');
    const reason = field ? `${field}: ${e.error.message}` : e.error.message;
    refused = { value: values[i]!, reason, field, ...(accepted > -Infinity ? { accepted } : {}) };
  }
  return refused;
}

/**
 * The held ratios in words, for the log and the refusal: `features.13 at 0.750, features.10 at 0.713`.
 */
export function heldText(held: Held): string {
  return Object.entries(held)
    .map(([k, r]) => `${k} at ${r.toFixed(3)}`)
    .join(', ');
}

/**
 * A screen's refusal in words: from which ratio (the largest the refused strategy `at` sets, as
 * {@link largestRatio} reads it) and the engine's reason; with `held`, which ratios were held and that the
 * rest ran out of room above the band.
 *
 * @example
 * refusedText(at, 'factor', "stageRatios.features.16: the strategy would remove ...", { 'features.13': 0.83 })
 * // "refused from largest ratio 0.930: stageRatios.features.16: the strategy would remove ... (held
 * //  features.13 at 0.830: the rest reaches 0.95 above the band)"
 */
export function refusedText(at: Strategy, scale: ScreenScale, reason: string, held: Held = {}): string {
  const from = `${scale === 'ratio' ? 'ratio' : 'largest ratio'} ${largestRatio(at, scale).toFixed(3)}`;
  const holding =
    Object.keys(held).length > 0
      ? ` (held ${heldText(held)}: the rest reaches ${MAX_RATIO} above the band)`
      : '';
  return `refused from ${from}: ${reason}${holding}`;
}

function round5(v: number): number {
  return Math.round(v * 1e5) / 1e5;
}
