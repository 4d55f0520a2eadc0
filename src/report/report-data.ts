import type { Attempt, StageMacs } from '../core/attempt';
import type { RankBy } from '../core/campaign-config';

/**
 * Latency of one exported model at one batch size, as measured by onnxruntime (milliseconds per batch).
 */
export interface LatencyPoint {
  readonly batch: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
}

/** Latency per execution provider; a provider that was not measured is absent (or an empty list). */
export interface LatencyByDevice {
  readonly cpu?: readonly LatencyPoint[];
  readonly cuda?: readonly LatencyPoint[];
}

/** ImageNet-style accuracy as fractions in [0, 1] (0.761 = 76.1 %). */
export interface AccuracyReport {
  readonly top1: number;
  readonly top5: number;
}

/** The unpruned model as profiled (and, when it ran, evaluated and benchmarked). */
export interface DenseReport {
  /** Total MACs (1 MAC = 1 multiply-add). */
  readonly macs: number;
  readonly params: number;
  /** MACs per stage (module-path prefix); `share` is the stage's fraction of `macs`. */
  readonly stages: readonly StageMacs[];
  readonly accuracy?: AccuracyReport;
  readonly latency?: LatencyByDevice;
}

/** The pruned model kept for one target, after fine-tuning, evaluation and the deployment check. */
export interface PrunedReport {
  readonly macs: number;
  readonly params: number;
  readonly stages: readonly StageMacs[];
  readonly accuracy?: AccuracyReport;
  readonly latency?: LatencyByDevice;
  /** Measured speedup over the dense model (dense latency / pruned latency), per provider. */
  readonly speedup?: { readonly cpu?: number; readonly cuda?: number };
  /** Dense MACs / pruned MACs: the speedup MACs alone would promise (2.3 = 2.3x fewer MACs). */
  readonly macRatio: number;
}

/** Fine-tuning of the pruned model. */
export interface FinetuneReport {
  readonly lossCurve: readonly { readonly step: number; readonly loss: number }[];
  readonly steps: number;
  readonly imagesPerSec: number;
  /** Step of the checkpoint the run resumed from after a crash; `null` when it ran in one go. */
  readonly resumedFromStep: number | null;
}

/**
 * How the MAC-target search for one target ended: `converged`/`diverged`/`infeasible` for a search that
 * finished (infeasible: the band lies where no strategy reaches), `failed`/`cancelled`/`running` for one
 * whose campaign ended (or was reported) before it did.
 */
export type TargetStatus = 'converged' | 'diverged' | 'infeasible' | 'failed' | 'cancelled' | 'running';

/** Why a campaign has no complete result: its workflow status and the one-line reason. */
export interface CampaignOutcome {
  /** FAILED, CANCELLED, TERMINATED, TIMED_OUT or RUNNING. */
  readonly status: string;
  readonly reason: string;
}

/** One MAC target of the campaign: its search (the strategy log) and, when it converged, the pruned model. */
export interface TargetReport {
  /** Display name of the target, e.g. `1.77G`. */
  readonly label: string;
  readonly targetMacs: number;
  /** Tolerance band as fractions: `{ lo: -0.05, hi: 0.01 }` accepts 5 % under and 1 % over. */
  readonly band: { readonly lo: number; readonly hi: number };
  readonly status: TargetStatus;
  /** Why the search stopped, in words (from the divergence monitor or the loop). */
  readonly reason: string;
  /** The strategy log, in order. */
  readonly attempts: readonly Attempt[];
  /** The `index` field (1-based) of the attempt that was kept; `null` when none was. */
  readonly chosenIndex: number | null;
  /** Which figure of the score kept `chosenIndex`, when the config set one (`search.rankBy`); absent: top-1. */
  readonly rankBy?: RankBy;
  /**
   * How the scoring's recovery was planned before the search, in the log's words (core/attempt-selection
   * `recoveryPlanNote`): e.g. `zero-shot scoring decides: 10% of the final fine-tune's 37 steps is 3 steps, under 2
   * finalists x 10 recovery steps`. Absent where nothing was planned (fixed steps, or no scoring).
   */
  readonly scoringPlan?: string;
  readonly pruned?: PrunedReport;
  readonly finetune?: FinetuneReport;
}

/** LLM use summed over the campaign. */
export interface LlmTotals {
  readonly inputTokens: number;
  readonly outputTokens: number;
  readonly costUsd: number;
}

/**
 * Everything the campaign report shows: plain JSON, so a workflow result or a stored report JSON
 * can be rendered again later. Rendering reads no clock: `createdAt` is passed in.
 *
 * @example
 * // ResNet-50 (4.11 GMACs) pruned to 1.77 G within -5%..+1%: the solver landed in band on attempt 2.
 * const data: ReportData = {
 *   campaignId: 'c-20240611-r50', model: 'resnet50', createdAt: '2024-06-11T09:30:00Z',
 *   dense: { macs: 4.11e9, params: 25.6e6, stages: [{ name: 'layer3', macs: 1.47e9, params: 7.1e6, share: 0.357 }] },
 *   targets: [{
 *     label: '1.77G', targetMacs: 1.77e9, band: { lo: -0.05, hi: 0.01 }, status: 'converged',
 *     reason: 'in band after 2 attempts', attempts: [...], chosenIndex: 2,
 *     pruned: { macs: 1.762e9, params: 13.1e6, stages: [...], macRatio: 2.33 },
 *   }],
 * };
 */
export interface ReportData {
  readonly campaignId: string;
  /** Model name as configured, e.g. `resnet50`. */
  readonly model: string;
  /** ISO-8601 timestamp, shown as is. */
  readonly createdAt: string;
  readonly dense: DenseReport;
  readonly targets: readonly TargetReport[];
  readonly llmTotals?: LlmTotals;
  /** Present when the campaign did not complete: the report shows what exists and says why. */
  readonly outcome?: CampaignOutcome;
}
