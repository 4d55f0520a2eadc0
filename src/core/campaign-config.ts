import { z } from 'zod';
import { AgentNameSchema } from './attempt';
import { ModelSpecSchema } from './model-spec';
import { ImportanceSchema } from './strategy';
import { parseBand } from './tolerance-band';
import { parseMacs } from './units';

/** A target: absolute MACs (`"1.77G"` or a number) or a fraction of the dense model's MACs, with its band. */
export const TargetSpecSchema = z
  .object({
    macs: z.union([z.string(), z.number().positive()]).optional(),
    fraction: z.number().gt(0).lt(1).optional(),
    band: z.string().default('-5%..+1%'),
    label: z
      .string()
      .regex(/^[A-Za-z0-9._-]+$/)
      .optional(),
  })
  .strict()
  .superRefine((t, ctx) => {
    if ((t.macs === undefined) === (t.fraction === undefined)) {
      ctx.addIssue({
        code: 'custom',
        message: 'give exactly one of macs (e.g. "1.77G") or fraction (e.g. 0.43)',
      });
    }
    if (t.macs !== undefined) {
      try {
        parseMacs(t.macs);
      } catch (e) {
        ctx.addIssue({ code: 'custom', path: ['macs'], message: (e as Error).message });
      }
    }
    try {
      parseBand(t.band);
    } catch (e) {
      ctx.addIssue({ code: 'custom', path: ['band'], message: (e as Error).message });
    }
  });
export type TargetSpec = z.infer<typeof TargetSpecSchema>;

/** The strategy fields every agent starts from (criterion, rounding, layers left alone...). */
export const BaseStrategySchema = z
  .object({
    importance: ImportanceSchema.default('l2'),
    globalPruning: z.boolean().default(true),
    isomorphic: z.boolean().default(true),
    roundTo: z.number().int().min(1).max(256).default(8),
    ignoredLayers: z.array(z.string().min(1)).optional(),
    maxLayerRatio: z.number().gt(0).max(1).optional(),
    vit: z
      .object({
        pruneHeads: z.boolean(),
        pruneHeadDims: z.boolean(),
        headRatio: z.number().min(0).max(0.95).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

/** How candidates are scored (see {@link SearchConfigSchema} `scoring`). */
export const ScoringModeSchema = z.enum(['zero-shot', 'recovery']);
export type ScoringMode = z.infer<typeof ScoringModeSchema>;

/**
 * Which figure of a candidate's score keeps it (see {@link SearchConfigSchema} `rankBy`): `top1` (the
 * highest held-out top-1, ties to the lower loss) or `loss` (the lowest held-out loss, ties to the higher
 * top-1).
 */
export const RankBySchema = z.enum(['top1', 'loss']);
export type RankBy = z.infer<typeof RankBySchema>;

/** Defaults of the scoring fields, applied where a dataset makes scoring happen. */
export const SCORING_DEFAULTS = {
  scoring: 'zero-shot',
  recovery: { steps: 50, batchSize: 32, lr: 1e-3 },
} as const;

/** The most fine-tune steps one candidate's recovery may take (the engine's `score.MAX_RECOVERY_STEPS`). */
export const MAX_RECOVERY_STEPS = 10_000;

/**
 * The second stage of a two-stage recovery scoring (`search.recovery.rescore`): the `top` best-scored
 * candidates are scored again with a recovery of `steps` steps, and the best second score is kept.
 *
 * @example
 * // Every candidate with 10 recovery steps, the best 3 again with 40:
 * { steps: 10, rescore: { top: 3, steps: 40 } }
 */
export const RescoreConfigSchema = z
  .object({
    /** Finalists scored again: the best of the first scores, at least 2 (one finalist changes nothing). */
    top: z.number().int().min(2).max(50),
    /** Recovery steps of each finalist's second score. */
    steps: z.number().int().min(1).max(MAX_RECOVERY_STEPS),
    /**
     * A zero-shot first stage's cap: the finalists' recoveries together take at most this share of the final
     * fine-tune's steps (`finetune`, counted on `dataset.root/train` when the campaign starts). Where `top x
     * steps` is more, fewer steps each (not under 10, or `steps` if lower), then fewer finalists, and none
     * where not even 2 fit: the zero-shot scores decide (core/attempt-selection `finalistsPlan`). Without `finetune` there is no
     * final fine-tune to cap against and the finalists get `steps`. With `scoring: 'recovery'` the budget is
     * `recovery.share`. @default 0.1 in {@link DATASET_SEARCH_DEFAULTS}, else no cap
     */
    maxShare: z.number().gt(0).max(1).optional(),
  })
  .strict();
export type RescoreConfig = z.infer<typeof RescoreConfigSchema>;

export const SearchConfigSchema = z
  .object({
    /** @default 'solver' */
    agent: AgentNameSchema.exclude(['human']).default('solver'),
    /** Agent to switch to when the divergence monitor says so. @default 'solver' */
    fallbackAgent: AgentNameSchema.exclude(['human']).default('solver'),
    /** @default 10 */
    maxIterations: z.number().int().min(1).max(500).default(10),
    /** Grid step of the `grid` agent. @default 0.05 */
    gridStep: z.number().gt(0).max(0.5).default(0.05),
    /** Attempts without a better deviation before the search counts as stagnating. @default 3 */
    stagnationWindow: z.number().int().min(2).max(50).default(3),
    /**
     * More in-band strategies to try after the first lands, to pick the most accurate: the older knob. Setting
     * it keeps the older defaults (no `candidates`, `sensitivity` or finalists' recovery filled in with a
     * dataset, {@link withDatasetSearchDefaults}). @default 3
     */
    extendedSearch: z.number().int().min(0).max(20).default(3),
    /**
     * How each in-band candidate is scored on a held-out slice of the dataset's `train/` split, to keep the
     * most accurate: `zero-shot` (the pruned model after batch-norm recalibration) or `recovery` (after a
     * short KD fine-tune, {@link RecoveryConfigSchema}). Needs `dataset`; with a dataset and no `scoring`,
     * candidates are scored `zero-shot` (and, with no `recovery` and no `extendedSearch` either, the best 3
     * again after a 40-step recovery, {@link DATASET_SEARCH_DEFAULTS}); without a dataset nothing is scored.
     * @default 'zero-shot' (with a dataset)
     */
    scoring: ScoringModeSchema.optional(),
    /**
     * Which figure of the score keeps a candidate: `top1` or `loss` (the held-out cross-entropy, lower is
     * better). After a recovery of about an epoch, top-1 on a few hundred images is too coarse to order
     * candidates half a point apart and the loss is not (bench/RESULTS.md, "Ranking by the held-out loss").
     * Needs `dataset`. @default 'top1'
     */
    rankBy: RankBySchema.optional(),
    /**
     * The short KD fine-tune of `scoring: recovery`, its length as `steps` per candidate or as `share`: the
     * whole scoring's budget as a share of the final fine-tune's steps, split evenly over the candidates
     * (`search.candidates`, else 1 + `extendedSearch`), e.g. `share: 0.1` with a 10,000-step fine-tune and 6
     * candidates is 166 steps each. A share needs `finetune` (its steps are counted on `dataset.root/train`
     * when the campaign starts). Longer recoveries rank candidates better as long as they stay a small part
     * of the final fine-tune (bench/RESULTS.md, "How long must the recovery be?"): a share spends all of its
     * budget. `rescore: { top, steps }` scores in two stages: every candidate with the short recovery, then
     * the `top` best of them again with a recovery of `steps`, and the best second score is kept; with a
     * share, the finalists' `top x steps` come out of the budget first and the rest is split over the
     * candidates (bench/RESULTS.md, "Two-stage scoring"). With `scoring: 'zero-shot'` the first stage costs
     * no training: every candidate is scored zero-shot, then the `top` best again with a recovery of
     * `rescore.steps` (`recovery: { rescore: { top: 3, steps: 40 } }`, no `steps` or `share`); on six 100-class
     * cases it kept what a 10-step first stage keeps, for two thirds of the steps (bench/RESULTS.md, "A
     * zero-shot first stage in the campaign"). Or `epochs`: each candidate's recovery as epochs of `train/` at
     * `batchSize` (counted on `dataset.root/train` when the campaign starts, as the fine-tune's loop counts an
     * epoch): on the benches the score ranked candidates after a quarter to half an epoch, and shorter recoveries
     * often ranked them backwards (bench/RESULTS.md, "resnet18 after longer recoveries").
     * @default { steps: 50, batchSize: 32, lr: 1e-3 }
     */
    recovery: z
      .object({
        steps: z.number().int().min(1).max(MAX_RECOVERY_STEPS).optional(),
        share: z.number().gt(0).max(1).optional(),
        epochs: z.number().gt(0).max(100).optional(),
        batchSize: z.number().int().min(1).max(4096).default(32),
        lr: z.number().gt(0).max(10).default(1e-3),
        rescore: RescoreConfigSchema.optional(),
      })
      .strict()
      .superRefine((r, ctx) => {
        const given = (['steps', 'share', 'epochs'] as const).filter((f) => r[f] !== undefined);
        if (given.length > 1)
          ctx.addIssue({
            code: 'custom',
            path: [given[1]!],
            message: `set the recovery length one way: steps (per candidate), share (of the final fine-tune) or epochs (of train/ per candidate), not ${given.join(' and ')}`,
          });
      })
      .refine((r) => !r.rescore || r.steps === undefined || r.rescore.steps > r.steps, {
        path: ['rescore', 'steps'],
        message: 'the finalists are scored again with a longer recovery: set rescore.steps above steps',
      })
      .optional(),
    /**
     * In-band candidates the search collects in all, the first in-band attempt included; when given it
     * replaces `extendedSearch`: extended shapes (criteria, isomorphic on/off, stage allocations from the
     * sensitivity table), each scaled into the band, are tried until this many are in band (a shape given
     * up out of band does not count) or the shapes or `maxIterations` run out. With a dataset each one is
     * scored and the best score is kept. Without it, `extendedSearch` keeps its meaning (extended attempts).
     * @default 6 with a dataset and no `extendedSearch` ({@link DATASET_SEARCH_DEFAULTS})
     */
    candidates: z.number().int().min(1).max(50).optional(),
    /**
     * Per-stage sensitivity, measured once at the search's start (each stage pruned alone at these
     * ratios, the scoring loss measured): the evidence for stage allocations. Needs `dataset`.
     * @default { ratios: [0.5] } with a dataset, 2 or more candidates and no `extendedSearch`, else false
     */
    sensitivity: z
      .union([
        z.literal(false),
        z.object({ ratios: z.array(z.number().gt(0).max(0.95)).min(1).max(8) }).strict(),
      ])
      .optional(),
    /**
     * Images of the held-out `train/` slice each candidate is scored on. @default 10 per class of `train/`,
     * at least 256 and at most 1,000, but at most a quarter of what the calibration sample leaves of `train/`
     * (the engine's `default_score_count`)
     */
    scoreImages: z.number().int().min(1).max(1_000_000).optional(),
    /** Attempts per workflow run before continue-as-new. @default 50 */
    attemptsPerRun: z.number().int().min(2).max(1000).default(50),
    base: BaseStrategySchema.default({ importance: 'l2', globalPruning: true, isomorphic: true, roundTo: 8 }),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.sensitivity && s.candidates === undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['sensitivity'],
        message:
          'the sensitivity table feeds the stage-allocation shapes of search.candidates: set search.candidates too',
      });
    // Finalists among every candidate: as many or more rescore them all and the first stage is waste.
    const candidates = s.candidates ?? 1 + s.extendedSearch;
    if (s.recovery?.rescore && s.recovery.rescore.top >= candidates)
      ctx.addIssue({
        code: 'custom',
        path: ['recovery', 'rescore', 'top'],
        message: `${s.recovery.rescore.top} finalists of ${candidates} candidates (search.candidates, else 1 + extendedSearch) rescores every one: set top below ${candidates}, or more candidates`,
      });
    // A zero-shot first stage: said so, or a recovery that is only the finalists' (zero-shot is the default).
    const onlyRescore =
      s.recovery?.rescore !== undefined &&
      s.recovery.steps === undefined &&
      s.recovery.share === undefined &&
      s.recovery.epochs === undefined;
    if (s.recovery && (s.scoring === 'zero-shot' || (s.scoring === undefined && onlyRescore))) {
      // A zero-shot first stage: the recovery is the finalists' alone, its length rescore.steps.
      if (!s.recovery.rescore)
        ctx.addIssue({
          code: 'custom',
          path: ['recovery', 'rescore'],
          message:
            "with scoring: 'zero-shot' the recovery is the finalists' second score: set recovery.rescore: { top, steps }, or scoring: 'recovery'",
        });
      for (const field of ['steps', 'share', 'epochs'] as const)
        if (s.recovery[field] !== undefined)
          ctx.addIssue({
            code: 'custom',
            path: ['recovery', field],
            message: `with scoring: 'zero-shot' the first scores have no recovery: remove recovery.${field} (the finalists' length is recovery.rescore.steps), or set scoring: 'recovery'`,
          });
    } else if (s.recovery?.rescore?.maxShare !== undefined && s.scoring === 'recovery')
      ctx.addIssue({
        code: 'custom',
        path: ['recovery', 'rescore', 'maxShare'],
        message:
          "caps the finalists of a zero-shot first stage: with scoring: 'recovery' set the whole scoring's budget as recovery.share instead",
      });
    else if (s.recovery && s.scoring !== 'recovery')
      ctx.addIssue({
        code: 'custom',
        path: ['recovery'],
        message:
          "the recovery fine-tune is used with scoring: 'recovery', or with scoring: 'zero-shot' for the finalists of recovery.rescore; set search.scoring or remove it",
      });
  })
  // A recovery-scored search without a share or epochs recovers each candidate for steps, 50 unless given; a
  // share or epochs becomes steps when the campaign starts; a zero-shot first stage has none.
  .transform((s) =>
    s.recovery &&
    s.scoring === 'recovery' &&
    s.recovery.share === undefined &&
    s.recovery.epochs === undefined
      ? { ...s, recovery: { ...s.recovery, steps: s.recovery.steps ?? SCORING_DEFAULTS.recovery.steps } }
      : s,
  );
export type SearchConfig = z.infer<typeof SearchConfigSchema>;

export const DatasetConfigSchema = z
  .object({
    /** ImageFolder root with train/ and val/. */
    root: z.string().min(1),
    /** Batches used for Taylor importance and the quick accuracy proxy. @default 4 */
    calibrationBatches: z.number().int().min(1).max(1000).default(4),
    calibrationBatchSize: z.number().int().min(1).max(4096).default(32),
  })
  .strict();

export const FinetuneConfigSchema = z
  .object({
    epochs: z.number().gt(0).max(1000).default(1),
    batchSize: z.number().int().min(1).max(8192).default(64),
    lr: z.number().gt(0).max(10).default(0.01),
    optimizer: z.enum(['sgd', 'adamw']).default('sgd'),
    momentum: z.number().min(0).max(1).default(0.9),
    weightDecay: z.number().min(0).max(1).default(5e-5),
    warmupEpochs: z.number().min(0).max(100).default(0),
    schedule: z.enum(['cosine', 'constant']).default('cosine'),
    labelSmoothing: z.number().min(0).lt(1).default(0.1),
    kdAlpha: z.number().min(0).max(1).default(0),
    kdTemperature: z.number().gt(0).max(100).default(4),
    gradAccumSteps: z.number().int().min(1).max(1024).default(1),
    bf16: z.boolean().default(true),
    channelsLast: z.boolean().default(true),
    maxSteps: z.number().int().min(1).optional(),
    checkpointEverySteps: z.number().int().min(1).default(500),
    /** Verified checkpoints kept while the fine-tune runs (a resume skips a corrupt newest); once it completes, only the final one (its result's `finalCheckpoint`) stays. */
    keepCheckpoints: z.number().int().min(1).max(100).default(3),
    /**
     * The fine-tune activity's heartbeat timeout: how soon a dead GPU worker is noticed and the job retried
     * from its last checkpoint elsewhere. Heartbeats reach the server up to 0.8x this late (the SDK throttles).
     * @default 300
     */
    heartbeatTimeoutSec: z.number().int().min(1).max(86400).default(300),
    gpus: z.number().int().min(1).max(64).default(1),
    /**
     * How many targets of the campaign fine-tune at once, each on its own train slot (`finetune.gpus`
     * devices). Unset: all of them.
     */
    parallel: z.number().int().min(1).max(1024).optional(),
    workers: z.number().int().min(0).max(64).default(4),
    seed: z.number().int().min(0).default(0),
  })
  .strict();
export type FinetuneConfig = z.infer<typeof FinetuneConfigSchema>;

export const ClaudeSectionSchema = z
  .object({
    model: z.string().min(1).optional(),
    maxTokens: z.number().int().min(256).max(64000).optional(),
    temperature: z.number().min(0).max(1).optional(),
    timeoutMs: z.number().int().min(1000).optional(),
    maxRetries: z.number().int().min(0).max(10).optional(),
    maxRepairs: z.number().int().min(0).max(5).optional(),
    historyWindow: z.number().int().min(1).max(200).optional(),
  })
  .strict();

/** The campaign file's fields and their checks; {@link CampaignConfigSchema} fills defaults first. */
const CampaignConfigObjectSchema = z
  .object({
    name: z
      .string()
      .regex(/^[A-Za-z0-9._-]+$/)
      .optional(),
    model: ModelSpecSchema,
    inputShape: z.array(z.number().int().positive()).length(4).optional(),
    targets: z.array(TargetSpecSchema).min(1).max(32),
    search: SearchConfigSchema.default(SearchConfigSchema.parse({})),
    claude: ClaudeSectionSchema.optional(),
    dataset: DatasetConfigSchema.optional(),
    finetune: FinetuneConfigSchema.optional(),
    deployment: z
      .object({
        enabled: z.boolean().default(true),
        latencyRuns: z.number().int().min(1).max(10000).default(20),
        batchSizes: z.array(z.number().int().min(1)).min(1).default([1, 8]),
        agreementSamples: z.number().int().min(1).default(64),
      })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((c, ctx) => {
    // Fine-tuning reads dataset.root/train: without a dataset it was silently skipped.
    if (c.finetune && !c.dataset)
      ctx.addIssue({
        code: 'custom',
        path: ['finetune'],
        message: 'fine-tuning needs a dataset: add dataset.root (an ImageFolder with train/ and val/)',
      });
    // A share of the final fine-tune's steps is a share of nothing without one.
    if (c.search.recovery?.share !== undefined && !c.finetune)
      ctx.addIssue({
        code: 'custom',
        path: ['search', 'recovery', 'share'],
        message:
          "a share of the final fine-tune's steps needs a finetune section; without one, set search.recovery.steps",
      });
    // Scoring and sensitivity read dataset.root/train: without a dataset they cannot run.
    if (!c.dataset) {
      for (const field of ['scoring', 'rankBy', 'sensitivity', 'scoreImages'] as const) {
        const v = c.search[field];
        if (v === undefined || v === false) continue;
        ctx.addIssue({
          code: 'custom',
          path: ['search', field],
          message: `scoring candidates needs a dataset: add dataset.root (an ImageFolder with train/ and val/) or remove search.${field}`,
        });
      }
    }
  });

/**
 * The search a campaign with a `dataset` gets where its `search` leaves the choice open: the configuration
 * that kept the most accurate model on the accuracy benches (bench/RESULTS.md, "The search's defaults with a
 * dataset"): six in-band candidates, a stage allocation among them from a sensitivity table measured at 0.5,
 * each candidate scored zero-shot and the best three again after a 40-step recovery at the benches' lr 0.002
 * (the recovery's own default, 0.001, is for a recovery a user sets). The finalists' steps stay within 10 % of
 * the final fine-tune's (the issue's cost goal; 120 of the benches' 2,442): a short fine-tune gets fewer, or
 * none and the zero-shot scores decide (`rescore.maxShare`).
 */
export const DATASET_SEARCH_DEFAULTS = {
  candidates: 6,
  sensitivity: { ratios: [0.5] },
  recovery: { lr: 0.002, rescore: { top: 3, steps: 40, maxShare: 0.1 } },
} as const;

/**
 * `raw` with {@link DATASET_SEARCH_DEFAULTS} filled in where they apply, before validation: only with a
 * `dataset`, and only into a `search` without `extendedSearch` (the older knob: a config that sets it, and
 * every config parsed before these defaults, which carries it filled, keeps the older defaults, so a stored
 * config parses to itself again). `candidates` where not given; `sensitivity` where not given (`false` turns
 * it off) and there are 2 or more candidates; a zero-shot first stage (`recovery` with `rescore`, `top` at
 * most candidates - 1) where neither `scoring` nor `recovery` is given and there are 3 or more candidates.
 * Anything else is left to the schema.
 *
 * @example
 * withDatasetSearchDefaults({ model, targets, dataset: { root: 'd' } }).search
 * // { candidates: 6, sensitivity: { ratios: [0.5] },
 * //   recovery: { lr: 0.002, rescore: { top: 3, steps: 40, maxShare: 0.1 } } }
 * // (scoring stays unset: zero-shot, the default, is the first stage)
 */
export function withDatasetSearchDefaults(raw: unknown): unknown {
  if (!isPlainObject(raw) || raw.dataset === undefined) return raw;
  const search = raw.search ?? {};
  if (!isPlainObject(search) || search.extendedSearch !== undefined) return raw;
  const filled: Record<string, unknown> = { ...search };
  filled.candidates ??= DATASET_SEARCH_DEFAULTS.candidates;
  const candidates = filled.candidates;
  // The stage allocation is the second shape tried: one candidate never reaches it.
  if (typeof candidates === 'number' && candidates >= 2)
    filled.sensitivity ??= { ratios: [...DATASET_SEARCH_DEFAULTS.sensitivity.ratios] };
  if (
    filled.scoring === undefined &&
    filled.recovery === undefined &&
    typeof candidates === 'number' &&
    candidates >= 3
  ) {
    const { lr, rescore } = DATASET_SEARCH_DEFAULTS.recovery;
    filled.recovery = {
      lr,
      rescore: {
        top: Math.min(rescore.top, candidates - 1),
        steps: rescore.steps,
        maxShare: rescore.maxShare,
      },
    };
  }
  return { ...raw, search: filled };
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * A campaign file: one model, one or more MAC targets with bands, and how to search, fine-tune and
 * deploy. Unknown keys are errors that name the key. With a `dataset`, a `search` that leaves the choice open
 * gets {@link DATASET_SEARCH_DEFAULTS} ({@link withDatasetSearchDefaults}).
 *
 * @example
 * // campaign.yaml
 * // model: { name: resnet50, weights: /data/resnet50-imagenet.pth }
 * // targets: [{ macs: 1.77G, band: "-5%..+1%" }]
 * // search: { agent: solver, maxIterations: 10 }
 * // dataset: { root: /data/imagenet }
 * // finetune: { epochs: 90, batchSize: 256, lr: 0.1 }
 */
export const CampaignConfigSchema = z.preprocess(withDatasetSearchDefaults, CampaignConfigObjectSchema);
export type CampaignConfigInput = z.input<typeof CampaignConfigObjectSchema>;
export type CampaignConfig = z.output<typeof CampaignConfigObjectSchema>;

/**
 * What a campaign id may be: it names the campaign's workflow and the folder of its artifacts
 * (`campaigns/<id>/...`), so it is one safe path segment: a letter or digit first, then letters, digits,
 * `.`, `_`, `-`; at most 100 characters; no `..` and no `--` (the separator of search workflow ids).
 */
export const CAMPAIGN_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

/**
 * Why `id` cannot be a campaign id, or `undefined` when it can.
 *
 * @example campaignIdProblem('../../evil') // 'must start with a letter or digit ...'
 */
export function campaignIdProblem(id: string): string | undefined {
  if (!CAMPAIGN_ID_PATTERN.test(id))
    return 'must start with a letter or digit and hold only letters, digits, ".", "_" and "-" (at most 100 characters)';
  if (id.includes('..')) return 'must not contain ".."';
  if (id.includes('--'))
    return 'must not contain "--" (it separates the campaign id from the target in search ids)';
  return undefined;
}

/** A target resolved against the dense model: absolute MACs, parsed band, a label for keys and logs. */
export interface ResolvedTarget {
  label: string;
  targetMacs: number;
  band: { lo: number; hi: number };
}

/**
 * Resolve targets against the dense model's MACs. Throws a message naming `targets.N` when a target is
 * not below the dense model (nothing to prune) or below `floorMacs` (what protected layers alone cost).
 */
export function resolveTargets(targets: TargetSpec[], denseMacs: number, floorMacs = 0): ResolvedTarget[] {
  return targets.map((t, i) => {
    const targetMacs = t.macs !== undefined ? parseMacs(t.macs) : Math.round(denseMacs * (t.fraction ?? 1));
    if (targetMacs >= denseMacs) {
      throw new Error(`targets.${i}.macs: ${targetMacs} is not below the dense model's ${denseMacs} MACs`);
    }
    const band = parseBand(t.band);
    if (targetMacs * (1 + band.hi) < floorMacs) {
      throw new Error(
        `targets.${i}.macs: ${targetMacs} is below the smallest reachable ${floorMacs} MACs (protected layers alone)`,
      );
    }
    const label = t.label ?? `t${i + 1}-${(targetMacs / 1e6).toFixed(1)}M`;
    return { label, targetMacs, band };
  });
}
