import { z } from 'zod';
import { ArtifactRefSchema } from './artifact-ref';
import { heldText } from './screening';
import { StrategySchema, type Strategy } from './strategy';

/** Agents that can propose strategies. `human` marks an override sent by a user through an update. */
export const AgentNameSchema = z.enum(['solver', 'grid', 'claude', 'hybrid', 'human']);
export type AgentName = z.infer<typeof AgentNameSchema>;

/** Token use and estimated cost of one LLM proposal. */
export const LlmUsageSchema = z
  .object({
    model: z.string(),
    inputTokens: z.number().int().min(0),
    outputTokens: z.number().int().min(0),
    cacheReadTokens: z.number().int().min(0),
    cacheWriteTokens: z.number().int().min(0),
    costUsd: z.number().min(0),
    repairs: z.number().int().min(0),
    transcript: ArtifactRefSchema.optional(),
  })
  .strict();
export type LlmUsage = z.infer<typeof LlmUsageSchema>;

/** MACs and params of one named stage (a module-path prefix), as measured. */
export const StageMacsSchema = z
  .object({ name: z.string(), macs: z.number().min(0), params: z.number().min(0), share: z.number().min(0) })
  .strict();
export type StageMacs = z.infer<typeof StageMacsSchema>;

/**
 * The score of one in-band candidate, as the `scoreCandidate` activity measures it on a held-out, seeded
 * slice of the dataset's `train/` split (never `val/`): `zero-shot` after batch-norm recalibration, or
 * `recovery` after a short KD fine-tune of `steps` steps. The search keeps the candidate with the best
 * score (see `chooseCandidate`).
 *
 * @example
 * // democnn at 50 % of dense MACs, scored zero-shot on 256 train/ images: 61.3 % top-1.
 * { mode: 'zero-shot', top1: 0.6133, loss: 1.12, count: 256, steps: 0, wallMs: 410 }
 */
export const CandidateScoreSchema = z
  .object({
    mode: z.enum(['zero-shot', 'recovery']),
    /** Fraction 0..1 of the slice classified right. */
    top1: z.number().min(0).max(1),
    /** Mean cross-entropy on the slice. */
    loss: z.number(),
    /** Images scored. */
    count: z.number().int().min(0),
    /** Recovery fine-tune steps run (0 for zero-shot). */
    steps: z.number().int().min(0),
    wallMs: z.number().min(0),
  })
  .strict();
export type CandidateScore = z.infer<typeof CandidateScoreSchema>;

/**
 * How a candidate was scored, in words: `zero-shot`, or `recovery 50 steps`.
 *
 * @example
 * scoreModeText({ mode: 'recovery', steps: 50 }) // 'recovery 50 steps'
 */
export function scoreModeText(score: Pick<CandidateScore, 'mode' | 'steps'>): string {
  return score.mode === 'recovery' ? `recovery ${score.steps} steps` : 'zero-shot';
}

/**
 * How a dry-run screen scaled an attempt's strategy into the band before it was pruned (the search screens
 * every shape it scales: extended-search candidates and human overrides with `scaleToBand`). `landed`: an
 * in-band value was found, and the attempt's strategy is it, predicted at `predictedMacs` (which `prune`
 * measures exactly); otherwise the proposal was pruned as given, and `error` says why when the dry run
 * failed. `proposedRoundTo` is the proposal's rounding: where no ratio landed at it, the screen tries
 * `roundTo: 1`, and the attempt's strategy says which one landed (absent in records made before it was kept).
 *
 * @example
 * // the solver proposed ratio 0.31 for `lamp importance`; 120 dry-run shapes later, ratio 0.2937 is in band:
 * { shapes: 120, proposedRatio: 0.31, proposedRoundTo: 8, landed: true, predictedMacs: 13_716_480, wallMs: 2410 }
 */
export const ScreenRecordSchema = z
  .object({
    shapes: z.number().int().min(0),
    proposedRatio: z.number(),
    proposedRoundTo: z.number().int().min(1).optional(),
    landed: z.boolean(),
    predictedMacs: z.number().min(0).optional(),
    wallMs: z.number().min(0),
    error: z.string().optional(),
    /**
     * Nothing landed because the engine refuses every value of the shape that would reach the band (it would
     * empty a group), at every rounding screened: from which ratio and why (`screenIntoBand`'s `refused`).
     * The solver gives the shape up on it.
     */
    refused: z.string().optional(),
    /**
     * Ratios the screen held where the engine still accepted them while it scaled the rest of the shape into
     * the band (a larger one would empty a group): `stageRatios` keys, or `pruningRatio`.
     */
    held: z.record(z.string(), z.number()).optional(),
  })
  .strict();
export type ScreenRecord = z.infer<typeof ScreenRecordSchema>;

/**
 * What a screen did, in words, for the log and the report: where it scaled the proposal to, or why the
 * proposal was pruned as given.
 *
 * @example
 * screenText({ shapes: 120, proposedRatio: 0.31, landed: true, predictedMacs: 1.37e7, wallMs: 2410 }, { pruningRatio: 0.2937, roundTo: 8 })
 * // 'screened 120 shapes by dry run: ratio 0.310 -> 0.294'
 * // no ratio landed at roundTo 8, one did at 1:
 * screenText({ shapes: 216, proposedRatio: 0.2206, proposedRoundTo: 8, landed: true, wallMs: 1909 }, { pruningRatio: 0.32, roundTo: 1 })
 * // 'screened 216 shapes by dry run: ratio 0.221 -> 0.320, roundTo 8 -> 1'
 * screenText({ shapes: 288, proposedRatio: 0.31, landed: false, wallMs: 5100 }, { pruningRatio: 0.31, roundTo: 8 })
 * // 'screened 288 shapes by dry run: none in band; pruned as proposed'
 * // a factor screen that held a stage where a larger ratio would empty a group, and scaled the rest:
 * screenText({ shapes: 192, proposedRatio: 0.75, landed: true, wallMs: 9120, held: { 'features.13': 0.7543 } },
 *   { pruningRatio: 0.8126, roundTo: 8 })
 * // 'screened 192 shapes by dry run: ratio 0.750 -> 0.813; held features.13 at 0.754 (a larger ratio would
 * //  empty a group)'
 * // the engine refuses every value past the last one above the band (at roundTo 8 and 1):
 * screenText({ shapes: 192, proposedRatio: 0.75, landed: false, wallMs: 11511,
 *   refused: "refused from largest ratio 0.794: stageRatios.features.13: the strategy would remove ..." }, ...)
 * // 'screened 192 shapes by dry run: none in band, every value that reaches it refused from largest ratio
 * //  0.794: stageRatios.features.13: the strategy would remove ...; pruned as proposed'
 */
export function screenText(screen: ScreenRecord, pruned: Pick<Strategy, 'pruningRatio' | 'roundTo'>): string {
  if (screen.error !== undefined) return `dry-run screen failed (${screen.error}); pruned as proposed`;
  const head = `screened ${screen.shapes} shapes by dry run`;
  if (!screen.landed && screen.refused !== undefined)
    return `${head}: none in band, every value that reaches it ${screen.refused}; pruned as proposed`;
  if (!screen.landed) return `${head}: none in band; pruned as proposed`;
  const rounding =
    screen.proposedRoundTo !== undefined && screen.proposedRoundTo !== pruned.roundTo
      ? `, roundTo ${screen.proposedRoundTo} -> ${pruned.roundTo}`
      : '';
  const held = heldText(screen.held ?? {});
  const holding = held ? `; held ${held} (a larger ratio would empty a group)` : '';
  return `${head}: ratio ${screen.proposedRatio.toFixed(3)} -> ${pruned.pruningRatio.toFixed(3)}${rounding}${holding}`;
}

/**
 * One attempt of the MAC-target search: the strategy an agent proposed and what the engine measured.
 * The list of attempts is the strategy log. An attempt with `error` measured nothing and carries
 * sentinel numbers: read attempts through `isMeasured` / `failedAttempt` and the selections of
 * `core/attempt-selection` (best, bracket, chosen candidate), never through the numbers alone.
 *
 * @example
 * // Attempt 2 on ResNet-50 -> 1.77 G, band -5%..+1%: the solver interpolated between attempt 1
 * // (ratio 0.30 -> 2.31 G, +30.5 %) and the dense model, measured 1.762 G: deviation -0.45 %, in band.
 * { index: 2, agent: 'solver', strategy: { pruningRatio: 0.41, ... }, macs: 1.762e9, params: 13.1e6,
 *   deviation: -0.0045, inBand: true, wallMs: 640 }
 */
export const AttemptSchema = z
  .object({
    index: z.number().int().min(1),
    agent: AgentNameSchema,
    strategy: StrategySchema,
    macs: z.number().min(0),
    params: z.number().min(0),
    deviation: z.number(),
    inBand: z.boolean(),
    wallMs: z.number().min(0),
    stages: z.array(StageMacsSchema).optional(),
    accuracyProxy: z
      .object({ top1: z.number(), top5: z.number(), count: z.number().int() })
      .strict()
      .optional(),
    model: ArtifactRefSchema.optional(),
    /** Why the agent that was asked did not produce this attempt (e.g. Claude's reply failed validation). */
    fallbackReason: z.string().optional(),
    /** Set when the engine rejected or failed the strategy: the attempt measured nothing. */
    error: z.string().optional(),
    llm: LlmUsageSchema.optional(),
    /** The candidate's score, when the search scored it (in band, with a dataset). */
    score: CandidateScoreSchema.optional(),
    /** Why scoring this in-band candidate failed: it stays in the log, unscored, and is not kept over a scored one. */
    scoreError: z.string().optional(),
    /**
     * The candidate's second score, when it was a finalist of a two-stage scoring (`search.recovery.rescore`):
     * a longer recovery, run after the search; the best second score is kept.
     */
    rescore: CandidateScoreSchema.optional(),
    /** Why this finalist's second score failed: it is not kept over a finalist scored again. */
    rescoreError: z.string().optional(),
    /** How a dry-run screen scaled this attempt's strategy into the band, when it was screened. */
    screen: ScreenRecordSchema.optional(),
  })
  .strict();
export type Attempt = z.infer<typeof AttemptSchema>;
