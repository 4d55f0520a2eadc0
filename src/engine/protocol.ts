import { z } from 'zod';
import { StageMacsSchema } from '../core/attempt';
import { formatZodIssues } from '../core/errors';
import { EngineProtocolError } from './errors';

/**
 * The engine's JSON-lines events (see engine/agentic_engine/protocol.py). One JSON object per stdout line.
 */
export type EngineEvent =
  | { event: 'ready'; protocol: number; id?: string }
  | { event: 'progress'; stage: string; fraction: number | null; id?: string; [k: string]: unknown }
  | {
      event: 'artifact';
      kind: string;
      path: string;
      sha256: string;
      sizeBytes: number;
      id?: string;
      [k: string]: unknown;
    }
  | { event: 'result'; data: Record<string, unknown>; id?: string }
  | { event: 'error'; type: string; message: string; field: string | null; retryable?: boolean; id?: string };

/** The protocol version this TS side speaks; the warm engine announces its own in `ready`. */
export const ENGINE_PROTOCOL_VERSION = 1;

/** Parse one stdout line into an event, or `undefined` if it is not a protocol event. */
export function parseEventLine(line: string): EngineEvent | undefined {
  const trimmed = line.trim();
  if (!trimmed.startsWith('{')) return undefined;
  try {
    const value = JSON.parse(trimmed) as unknown;
    if (
      value !== null &&
      typeof value === 'object' &&
      typeof (value as { event?: unknown }).event === 'string'
    ) {
      return value as EngineEvent;
    }
  } catch {
    // not a protocol line: the engine only writes events to stdout, but a library may print
  }
  return undefined;
}

/** Callbacks a caller gets while a job runs. */
export interface JobListener {
  onProgress?: (event: Extract<EngineEvent, { event: 'progress' }>) => void;
  onArtifact?: (event: Extract<EngineEvent, { event: 'artifact' }>) => void | Promise<void>;
}

/** Options of one job run. */
export interface JobOptions extends JobListener {
  /** Kills the engine process when aborted. */
  signal?: AbortSignal;
  /** Fails the job if it runs longer. @default no limit */
  timeoutMs?: number;
}

/** What the engine's `prune` job returns (engine/agentic_engine/prune.py); extra fields pass through. */
export const PruneResultSchema = z.looseObject({
  denseMacs: z.number(),
  macs: z.number(),
  params: z.number(),
  stages: z.array(StageMacsSchema),
  /** Where the pruned model's files were written (uploaded, then removed, by the activity). */
  saved: z.looseObject({ dir: z.string() }),
  /** Top-1/top-5 on the calibration slice, when a calibration dataset was given. */
  accuracyProxy: z.looseObject({ top1: z.number(), top5: z.number(), count: z.number() }).nullish(),
  wallMs: z.number(),
  /** Whether the job ran on an already warm engine. */
  warm: z.boolean().optional(),
});
/** A parsed `prune` result. */
export type PruneResult = z.infer<typeof PruneResultSchema>;

/** What the engine's `finetune` job returns (engine/agentic_engine/finetune.py); extra fields pass through. */
export const FinetuneResultSchema = z.looseObject({
  steps: z.number(),
  lossCurve: z.array(z.looseObject({ step: z.number(), loss: z.number() })).nullish(),
  /** `null` when no image was trained on (nothing to time). */
  imagesPerSec: z.number().nullable(),
  wallMs: z.number(),
});
/** A parsed `finetune` result. */
export type FinetuneResult = z.infer<typeof FinetuneResultSchema>;

/**
 * What the engine's `finetune-plan` job returns (engine/agentic_engine/finetune.py `plan`): the optimizer
 * steps a `finetune` of the recipe on `dataset.root/train` would take, without training.
 */
export const FinetunePlanResultSchema = z.looseObject({
  images: z.number(),
  stepsPerEpoch: z.number(),
  totalSteps: z.number().int().min(1),
  warmupSteps: z.number(),
});
/** A parsed `finetune-plan` result. */
export type FinetunePlanResult = z.infer<typeof FinetunePlanResultSchema>;

/** One strategy's answer in a `prune-dry-run` result: what `prune` would measure, or why it would refuse. */
export const DryRunEntrySchema = z.union([
  z.looseObject({
    macs: z.number(),
    params: z.number(),
    stages: z.array(StageMacsSchema),
    /** Output channels kept per profile group, in the profile's group order (`groups[i].id`). */
    keptChannels: z.array(z.number()),
    /** `plan`: counted on a shape-only copy; `surgery`: pruned for real (iterativeSteps > 1). */
    method: z.enum(['plan', 'surgery']),
  }),
  z.looseObject({ error: z.looseObject({ field: z.string(), message: z.string() }) }),
]);
/** A parsed `prune-dry-run` entry. */
export type DryRunEntry = z.infer<typeof DryRunEntrySchema>;

/**
 * What the engine's `prune-dry-run` job returns (engine/agentic_engine/dry_run.py): per strategy, in request
 * order, the exact MACs and params a `prune` of it would measure, found without pruning the model.
 */
export const DryRunResultSchema = z.looseObject({
  denseMacs: z.number(),
  denseParams: z.number(),
  results: z.array(DryRunEntrySchema),
  wallMs: z.number(),
  warm: z.boolean().optional(),
});
/** A parsed `prune-dry-run` result. */
export type DryRunResult = z.infer<typeof DryRunResultSchema>;

/**
 * Parse a job's `result` data with its schema. Throws an {@link EngineProtocolError} naming the job and
 * each bad field (`engine prune: result does not match the protocol: saved.dir: ...`).
 */
export function parseEngineResult<S extends z.ZodType>(job: string, schema: S, data: unknown): z.infer<S> {
  const parsed = schema.safeParse(data);
  if (!parsed.success) throw new EngineProtocolError(job, formatZodIssues(parsed.error.issues));
  return parsed.data;
}

/** What the engine's `score` job returns (engine/agentic_engine/score.py); extra fields pass through. */
export const ScoreResultSchema = z.looseObject({
  mode: z.enum(['zero-shot', 'recovery']),
  /** Fraction 0..1 on the held-out train/ slice. */
  top1: z.number().min(0).max(1),
  /** Mean cross-entropy on that slice. */
  loss: z.number().min(0),
  /** Images scored. */
  count: z.number().int().min(1),
  /** Recovery fine-tune steps run (0 zero-shot). */
  steps: z.number().int().min(0),
  wallMs: z.number(),
});
/** A parsed `score` result. */
export type ScoreResult = z.infer<typeof ScoreResultSchema>;

const SensitivityPointSchema = z.looseObject({
  ratio: z.number(),
  macs: z.number(),
  top1: z.number().min(0).max(1),
  loss: z.number().min(0),
});

/** What the engine's `sensitivity` job returns (engine/agentic_engine/sensitivity.py); extra fields pass through. */
export const SensitivityResultSchema = z.looseObject({
  denseMacs: z.number(),
  /** The dense model on the same held-out slice, recalibrated as the points are. */
  baseline: z.looseObject({ top1: z.number().min(0).max(1), loss: z.number().min(0) }),
  stages: z.array(
    z.looseObject({ stage: z.string().min(1), macs: z.number(), points: z.array(SensitivityPointSchema) }),
  ),
  wallMs: z.number(),
});
/** A parsed `sensitivity` result. */
export type SensitivityEngineResult = z.infer<typeof SensitivityResultSchema>;
