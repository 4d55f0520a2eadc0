import { z } from 'zod';

/** Importance criteria the engine knows. `taylor` needs calibration data. */
export const ImportanceSchema = z.enum(['l1', 'l2', 'taylor', 'bn_scale', 'lamp', 'random']);
export type Importance = z.infer<typeof ImportanceSchema>;

/** The largest ratio a strategy may set, inclusive (engine/agentic_engine/strategy.py `MAX_RATIO`). */
export const MAX_RATIO = 0.95;

const ratio = z.number().min(0).max(MAX_RATIO);

/**
 * A pruning strategy: the one contract every agent (solver, grid, Claude, a human override) produces
 * and the engine consumes. The engine validates the same JSON on its side.
 *
 * @example
 * // ResNet-50 toward 1.77 GMACs: prune 35 % of channels globally, ranked by L2 magnitude within
 * // isomorphic groups, rounded to multiples of 8, with layer4 pruned harder than the rest.
 * const s: Strategy = {
 *   pruningRatio: 0.35, importance: 'l2', globalPruning: true, isomorphic: true, roundTo: 8,
 *   stageRatios: { layer4: 0.45 }, rationale: 'layer4 holds 27 % of MACs and most parameters',
 * };
 */
export const StrategySchema = z
  .object({
    /** Global channel ratio the pruner aims for (0 = keep all). */
    pruningRatio: ratio,
    importance: ImportanceSchema,
    globalPruning: z.boolean(),
    isomorphic: z.boolean(),
    /** Channel multiple kept per layer. @default 8 */
    roundTo: z.number().int().min(1).max(256),
    maxLayerRatio: z.number().gt(0).max(1).optional(),
    /** Ratio per module prefix (a stage name from the profile, e.g. `layer4`, `blocks.3`). */
    stageRatios: z.record(z.string().min(1), ratio).optional(),
    layerRatios: z.record(z.string().min(1), ratio).optional(),
    ignoredLayers: z.array(z.string().min(1)).optional(),
    iterativeSteps: z.number().int().min(1).max(100).optional(),
    vit: z
      .object({
        pruneHeads: z.boolean(),
        pruneHeadDims: z.boolean(),
        headRatio: ratio.optional(),
      })
      .strict()
      .optional(),
    /** Why this strategy: kept in the strategy log. */
    rationale: z.string().max(4000).optional(),
  })
  .strict();
export type Strategy = z.infer<typeof StrategySchema>;

/** A strategy with every defaulted field filled: what agents start from. */
export function baseStrategy(pruningRatio: number, overrides: Partial<Strategy> = {}): Strategy {
  return {
    pruningRatio,
    importance: 'l2',
    globalPruning: true,
    isomorphic: true,
    roundTo: 8,
    ...overrides,
  };
}

/**
 * A canonical string for a strategy without its rationale: two strategies with the same key prune
 * the same way. Used to detect repeated proposals (the solver's and grid's tried sets, Claude's duplicate
 * check, the divergence monitor's repeated-strategy rule) and to join a campaign's attempt to the engine's
 * `strategy.json` of it.
 *
 * A field stated at the engine's default prunes as the field left out (engine/agentic_engine/strategy.py and
 * prune.py), so both key alike: `iterativeSteps: 1`, `maxLayerRatio: 1`, an empty `stageRatios`,
 * `layerRatios` or `ignoredLayers`. `ignoredLayers` is a set: its order does not count.
 *
 * @example
 * strategyKey(baseStrategy(0.3)) === strategyKey(baseStrategy(0.3, { iterativeSteps: 1, stageRatios: {} })) // true
 */
export function strategyKey(strategy: Strategy): string {
  const { rationale: _rationale, ...rest } = strategy;
  const key: Record<string, unknown> = { ...rest };
  if (rest.iterativeSteps === 1) delete key.iterativeSteps;
  if (rest.maxLayerRatio === 1) delete key.maxLayerRatio;
  for (const field of ['stageRatios', 'layerRatios'] as const)
    if (rest[field] !== undefined && Object.keys(rest[field]).length === 0) delete key[field];
  if (rest.ignoredLayers !== undefined)
    key.ignoredLayers = rest.ignoredLayers.length ? [...new Set(rest.ignoredLayers)].sort() : undefined;
  return canonicalJson(key);
}

/**
 * What a strategy changes of global isomorphic pruning, each in a few words, in a fixed order: `local`
 * (per-layer ratios, no global ranking), `non-isomorphic`, stage and layer ratios, `maxLayer`, ignored
 * layers, `steps`, the ViT options. Empty for global isomorphic pruning with nothing else set. The words the
 * Claude prompt's `overrides` column, the strategy log's `shape` column, the report's strategy cell and the
 * export's `shape` column all show, so two candidates that differ only in shape never look alike.
 *
 * Layer ratios and ignored layers name 3 layers, then a count (the log's and the prompt's cells); with
 * `whole`, every one (the report and the export, where nothing may be left out).
 *
 * @example
 * shapeParts(baseStrategy(0.3)) // []
 * shapeParts(baseStrategy(0.3, { importance: 'l1', globalPruning: false, isomorphic: false })) // ['local', 'non-isomorphic']
 * shapeParts(baseStrategy(0.3, { stageRatios: { stage1: 0, stage3: 0.54 } })) // ['stage1=0.000', 'stage3=0.540']
 */
export function shapeParts(s: Strategy, { whole = false }: { whole?: boolean } = {}): string[] {
  const named = whole ? Infinity : 3;
  const parts: string[] = [];
  if (!s.globalPruning) parts.push('local');
  if (!s.isomorphic) parts.push('non-isomorphic');
  if (s.stageRatios) parts.push(...Object.entries(s.stageRatios).map(([k, v]) => `${k}=${v.toFixed(3)}`));
  if (s.layerRatios) {
    const entries = Object.entries(s.layerRatios);
    parts.push(...entries.slice(0, named).map(([k, v]) => `${k}=${v.toFixed(3)}`));
    if (entries.length > named) parts.push(`+${entries.length - named} layer ratios`);
  }
  if (s.maxLayerRatio !== undefined) parts.push(`maxLayer=${s.maxLayerRatio}`);
  if (s.ignoredLayers?.length) {
    const more = s.ignoredLayers.length - named;
    parts.push(`ignore ${s.ignoredLayers.slice(0, named).join(',')}${more > 0 ? ` +${more}` : ''}`);
  }
  if (s.iterativeSteps !== undefined) parts.push(`steps=${s.iterativeSteps}`);
  if (s.vit) {
    parts.push(
      `vit heads=${s.vit.pruneHeads ? 'y' : 'n'} dims=${s.vit.pruneHeadDims ? 'y' : 'n'}${s.vit.headRatio !== undefined ? ` headRatio=${s.vit.headRatio}` : ''}`,
    );
  }
  return parts;
}

/**
 * {@link shapeParts} as one cell: joined by `; `, `-` for none.
 *
 * @example
 * shapeText(baseStrategy(0.3, { isomorphic: false })) // 'non-isomorphic'
 */
export function shapeText(s: Strategy, options: { whole?: boolean } = {}): string {
  return shapeParts(s, options).join('; ') || '-';
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return typeof value === 'number' ? String(Number(value.toFixed(6))) : JSON.stringify(value);
}
