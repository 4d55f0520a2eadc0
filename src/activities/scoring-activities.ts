import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { ArtifactRef } from '../core/artifact-ref';
import type { CandidateScore } from '../core/attempt';
import {
  finalistsPlan,
  recoveryPlan,
  recoveryPlanByEpochs,
  type RecoveryPlan,
} from '../core/attempt-selection';
import {
  FinetuneConfigSchema,
  SCORING_DEFAULTS,
  type FinetuneConfig,
  type ScoringMode,
} from '../core/campaign-config';
import type { ModelSpec } from '../core/model-spec';
import type { SensitivityTable } from '../core/stage-allocation';
import type { Strategy } from '../core/strategy';
import {
  FinetunePlanResultSchema,
  parseEngineResult,
  ScoreResultSchema,
  SensitivityResultSchema,
} from '../engine/protocol';
import { scoringCheckpointFolder, scoringCheckpointKey, sensitivityKey } from '../storage/keys';
import { CheckpointLedger, type CheckpointRef } from './checkpoint-ledger';
import type { ActivityDeps } from './deps';
import { FailureTypes } from './failure-types';
import { toActivityFailure } from './failures';
import { keepHeartbeating } from './heartbeat';
import { downloadModelDir, localizeModelSpec } from './model-files';
import { engineRecipe } from './training-activities';

// The score and mode an activity returns are the attempt's own (core), under the names callers import here.
export type { CandidateScore, ScoringMode };

/** Input of {@link ScoringActivities.scoreCandidate}. */
export interface ScoreCandidateInput {
  campaignId: string;
  targetLabel: string;
  attemptIndex: number;
  /** The pruned candidate's manifest, from its prune trial (attempt.model). */
  model: ArtifactRef;
  /** Dense model, the KD teacher of a recovery fine-tune. */
  teacher?: ModelSpec;
  dataset: { root: string; imageSize?: number };
  mode: ScoringMode;
  /** train/ batches for batch-norm recalibration before scoring (both modes); `batches: 0` skips it. */
  calibration: { batches: number; batchSize: number };
  /** The short KD fine-tune of mode 'recovery'. */
  recovery?: { steps: number; batchSize: number; lr: number };
  /**
   * Size of the held-out slice of train/ that is scored (seeded, disjoint from calibration and recovery images).
   * Absent: the engine's default, 10 images per class (256 to 1,000) but at most a quarter of what the
   * calibration sample leaves.
   */
  scoreImages?: number;
  seed: number;
  /**
   * A finalist's second score in a two-stage scoring (`search.recovery.rescore`): its recovery checkpoints
   * are stored apart from its first score's.
   */
  rescore?: boolean;
}

/** Input of {@link ScoringActivities.measureSensitivity}. */
export interface SensitivityInput {
  campaignId: string;
  targetLabel: string;
  /** The dense model. */
  model: ModelSpec;
  inputShape?: number[];
  dataset: { root: string; imageSize?: number };
  calibration: { batches: number; batchSize: number };
  /** Ratios each stage is pruned at alone, e.g. `[0.3, 0.6]`. */
  ratios: number[];
  /** Importance, isomorphic, roundTo... of every point; `pruningRatio` and `stageRatios` are set per point. */
  baseStrategy: Partial<Strategy>;
  /** As in {@link ScoreCandidateInput.scoreImages}. */
  scoreImages?: number;
  seed: number;
}

/**
 * Input of {@link ScoringActivities.planRecovery}: a recovery length to plan, `share` of the final fine-tune
 * (`recipe`), or `epochs` of `train/` per candidate.
 */
export interface PlanRecoveryInput {
  dataset: { root: string; imageSize?: number };
  /** The campaign's final fine-tune (its `finetune` section): what the share is of. */
  recipe?: FinetuneConfig;
  /** `search.recovery.share`. */
  share?: number;
  /** `search.recovery.epochs`: each candidate's recovery as epochs of `train/` at `batchSize`. */
  epochs?: number;
  /** Candidates the budget is split over. */
  candidates: number;
  /** `search.recovery.rescore`: the finalists' second scores, paid from the budget first. */
  rescore?: { top: number; steps: number };
  /** `search.recovery.batchSize`: the plan says how many of its steps make an epoch of `train/` (needed with `epochs`). */
  batchSize?: number;
  /**
   * A zero-shot first stage: `share` (`rescore.maxShare`) caps the finalists' `rescore` alone
   * (core/attempt-selection `finalistsPlan`); the candidates take no recovery.
   */
  finalistsOnly?: boolean;
}

/** The sensitivity table: small enough for history; the full engine answer is stored as `table`. */
export interface SensitivityResult extends SensitivityTable {
  /** The full table stored as a JSON artifact ({@link sensitivityKey}). */
  table: ArtifactRef;
}

/**
 * Heartbeat details of {@link ScoringActivities.scoreCandidate}: live progress and stored checkpoints, and
 * which job it is (`status` and `watch` print them as they are: `runningLine`). The job's fields are absent
 * from the details of a worker older than them.
 */
export interface ScoreHeartbeat {
  stage: string;
  fraction: number | null;
  /** Recovery steps done. */
  step: number;
  /** Stored recovery checkpoints (newest last): only for fine-tunes longer than one checkpoint interval. */
  checkpoints: CheckpointRef[];
  targetLabel?: string;
  attemptIndex?: number;
  mode?: ScoringMode;
  /** A finalist's second score. */
  rescore?: boolean;
  /** The recovery's steps in all (mode 'recovery'). */
  steps?: number;
}

/** Heartbeat details of {@link ScoringActivities.measureSensitivity}: the engine's progress through the table. */
export interface SensitivityHeartbeat {
  targetLabel: string;
  stage: string;
  fraction: number | null;
  /** The row being measured (1-based) of `rows` (stages x ratios), its stage (`layer`) and `ratio`. */
  row?: number;
  rows?: number;
  layer?: string;
  ratio?: number;
}

/**
 * Recovery fine-tunes checkpoint every this many steps. Shorter ones (the usual tens of steps) only write the
 * engine's final checkpoint, which is not stored: a crash reruns a few seconds of training.
 */
export const RECOVERY_CHECKPOINT_EVERY_STEPS = 250;

/** Options of {@link createScoringActivities}. */
export interface ScoringOptions {
  /** Checkpoint interval of recovery fine-tunes. @default RECOVERY_CHECKPOINT_EVERY_STEPS */
  recoveryCheckpointEverySteps?: number;
}

/** Engine jobs that rank candidates before the real fine-tune: scoring and per-stage sensitivity. */
export function createScoringActivities(deps: ActivityDeps, options: ScoringOptions = {}) {
  const checkpointEvery = options.recoveryCheckpointEverySteps ?? RECOVERY_CHECKPOINT_EVERY_STEPS;

  async function scoreIn(input: ScoreCandidateInput, ctx: Context, runDir: string): Promise<CandidateScore> {
    const prior = ctx.info.heartbeatDetails as ScoreHeartbeat | undefined;
    // Downloads heartbeat too (a large model from S3 outlasts the heartbeat timeout), naming the prior
    // attempt's checkpoints so a retry after this one still finds them.
    const job = {
      targetLabel: input.targetLabel,
      attemptIndex: input.attemptIndex,
      mode: input.mode,
      ...(input.rescore ? { rescore: true } : {}),
      ...(input.mode === 'recovery' && input.recovery ? { steps: input.recovery.steps } : {}),
    };
    const fetching: ScoreHeartbeat = {
      stage: 'downloading',
      fraction: null,
      step: prior?.step ?? 0,
      checkpoints: prior?.checkpoints ?? [],
      ...job,
    };
    const { model, teacher } = await keepHeartbeating(
      async () => ({
        model: await downloadModelDir(deps.store, input.model, path.join(runDir, 'model')),
        teacher: input.teacher ? await localizeModelSpec(deps.store, input.teacher, deps.workDir) : undefined,
      }),
      () => fetching,
    );
    const recovery = input.mode === 'recovery' ? input.recovery : undefined;
    if (input.mode === 'recovery' && recovery === undefined) {
      throw ApplicationFailure.nonRetryable(
        'scoreCandidate: mode recovery needs recovery: { steps, batchSize, lr }',
        FailureTypes.config,
      );
    }
    const ledger =
      recovery !== undefined && recovery.steps > checkpointEvery
        ? new CheckpointLedger(
            {
              store: deps.store,
              keyOf: (step) =>
                scoringCheckpointKey(
                  input.campaignId,
                  input.targetLabel,
                  input.attemptIndex,
                  step,
                  input.rescore,
                ),
              prefix: scoringCheckpointFolder(
                input.campaignId,
                input.targetLabel,
                input.attemptIndex,
                input.rescore,
              ),
              keep: 1,
              retireGraceMs: ctx.info.heartbeatTimeoutMs ?? 0,
              warn: (message) => {
                ctx.log.warn(message);
              },
              onRetry: () => ctx.heartbeat(prior),
            },
            prior?.checkpoints,
          )
        : undefined;
    const resume = ledger
      ? await keepHeartbeating(
          () => ledger.resume(path.join(runDir, 'resume')),
          () => fetching,
        )
      : undefined;
    const live: ScoreHeartbeat = {
      stage: 'starting',
      fraction: null,
      step: resume?.step ?? 0,
      checkpoints: ledger?.checkpoints ?? [],
      ...job,
    };
    let raw: Record<string, unknown>;
    try {
      raw = await keepHeartbeating(
        () =>
          deps.engine.run(
            'score',
            {
              model,
              ...(teacher ? { teacher } : {}),
              dataset: input.dataset,
              mode: input.mode,
              calibration: input.calibration,
              ...(recovery ? { recovery } : {}),
              ...(input.scoreImages !== undefined ? { scoreImages: input.scoreImages } : {}),
              seed: input.seed,
              ...(recovery
                ? {
                    workDir: path.join(runDir, 'recovery'),
                    checkpointEverySteps: checkpointEvery,
                    keepCheckpoints: 1,
                  }
                : {}),
              ...(resume ? { resumeFrom: resume.file } : {}),
            },
            {
              signal: ctx.cancellationSignal,
              onProgress: (ev) => {
                live.stage = ev.stage;
                live.fraction = ev.fraction;
                if (ev.stage === 'train' && typeof ev.step === 'number') live.step = ev.step;
                ctx.heartbeat({ ...live });
              },
              onArtifact: async (ev) => {
                if (ev.kind !== 'checkpoint') return;
                const step = Number(ev.step);
                // The last step's checkpoint is never resumed from: the score follows within seconds.
                if (ledger && recovery && step < recovery.steps) {
                  await ledger.record(step, ev.path, ev.sha256);
                  live.checkpoints = ledger.checkpoints;
                  ctx.heartbeat({ ...live });
                  await ledger.retire();
                }
                await fs.rm(ev.path, { force: true });
              },
            },
          ),
        () => ({ ...live }),
      );
    } catch (err) {
      throw toActivityFailure(err);
    }
    const out = parseEngineResult('score', ScoreResultSchema, raw);
    if (ledger) {
      // Scored: no retry will resume this fine-tune.
      for (const c of ledger.checkpoints) await deps.store.delete(c.ref.key).catch(() => undefined);
      await ledger.flush();
    }
    return {
      mode: out.mode,
      top1: out.top1,
      loss: out.loss,
      count: out.count,
      steps: out.steps,
      wallMs: out.wallMs,
    };
  }

  return {
    /**
     * Score one in-band candidate on the warm engine: BN recalibration on the calibration sample, in mode
     * `recovery` a short KD fine-tune on train/ without the held-out slice, then top-1 and loss on that
     * slice. Heartbeats its progress; a fine-tune longer than one checkpoint interval
     * ({@link RECOVERY_CHECKPOINT_EVERY_STEPS}) stores its checkpoints and a retried attempt resumes from the last one heartbeated.
     */
    async scoreCandidate(input: ScoreCandidateInput): Promise<CandidateScore> {
      const ctx = Context.current();
      const runDir = path.join(
        deps.workDir,
        input.campaignId,
        input.targetLabel,
        `score-${input.attemptIndex}-${ctx.info.attempt}`,
      );
      await fs.rm(runDir, { recursive: true, force: true });
      await fs.mkdir(runDir, { recursive: true });
      try {
        return await scoreIn(input, ctx, runDir);
      } finally {
        await fs.rm(runDir, { recursive: true, force: true });
      }
    },

    /**
     * `search.recovery.share` as steps per candidate: the final fine-tune's steps as the engine plans them
     * on `train/` (`finetune-plan`, the count its `finetune` takes), times the share, over the candidates.
     * Less than one step each is a config failure naming the field, before any candidate is pruned. Or
     * `search.recovery.epochs`: that many epochs of the `train/` images (the engine's count) at the recovery's
     * batch size, each; a batch larger than the split, or more steps than a recovery may take, fails so too.
     * Or, `finalistsOnly`, a zero-shot first stage's finalists within `rescore.maxShare` of the final fine-tune.
     */
    async planRecovery(input: PlanRecoveryInput): Promise<RecoveryPlan> {
      const ctx = Context.current();
      const byEpochs = input.epochs !== undefined;
      if (!byEpochs && (input.recipe === undefined || input.share === undefined))
        throw ApplicationFailure.nonRetryable(
          'planRecovery: expected share with the final fine-tune (recipe), or epochs',
          FailureTypes.config,
        );
      // With epochs only the image count matters: one image a step, so no batch can exceed the split here
      // and the batch's own check below names the campaign's field.
      const { recipe, gpus } = engineRecipe(
        byEpochs ? FinetuneConfigSchema.parse({ batchSize: 1 }) : input.recipe!,
      );
      let raw: Record<string, unknown>;
      try {
        // Indexing a large train/ split takes a while: heartbeat through it.
        raw = await keepHeartbeating(
          () =>
            deps.engine.run(
              'finetune-plan',
              { dataset: input.dataset, recipe, ...(gpus > 1 ? { gpus } : {}) },
              { signal: ctx.cancellationSignal },
            ),
          () => ({ stage: 'planning' }),
        );
      } catch (err) {
        throw toActivityFailure(err);
      }
      const out = parseEngineResult('finetune-plan', FinetunePlanResultSchema, raw);
      const train =
        input.batchSize !== undefined ? { images: out.images, batchSize: input.batchSize } : undefined;
      try {
        if (input.finalistsOnly && input.rescore)
          return finalistsPlan(input.share!, out.totalSteps, input.candidates, input.rescore, train);
        if (byEpochs)
          return recoveryPlanByEpochs(
            input.epochs!,
            input.candidates,
            { images: out.images, batchSize: input.batchSize ?? SCORING_DEFAULTS.recovery.batchSize },
            input.rescore,
          );
        return recoveryPlan(input.share!, out.totalSteps, input.candidates, input.rescore, train);
      } catch (err) {
        throw ApplicationFailure.nonRetryable((err as Error).message, FailureTypes.config);
      }
    },

    /**
     * Per stage of the dense model, prune that stage alone at each ratio and score it (engine
     * `sensitivity`); the table goes to the store, its numbers to history.
     */
    async measureSensitivity(input: SensitivityInput): Promise<SensitivityResult> {
      let live: SensitivityHeartbeat = { targetLabel: input.targetLabel, stage: 'starting', fraction: null };
      return keepHeartbeating(
        async () => {
          const ctx = Context.current();
          const model = await localizeModelSpec(deps.store, input.model, deps.workDir);
          let raw: Record<string, unknown>;
          try {
            raw = await deps.engine.run(
              'sensitivity',
              {
                model,
                ...(input.inputShape ? { inputShape: input.inputShape } : {}),
                dataset: input.dataset,
                calibration: input.calibration,
                ratios: input.ratios,
                baseStrategy: input.baseStrategy,
                ...(input.scoreImages !== undefined ? { scoreImages: input.scoreImages } : {}),
                seed: input.seed,
              },
              {
                signal: ctx.cancellationSignal,
                onProgress: (ev) => {
                  live = {
                    targetLabel: input.targetLabel,
                    stage: ev.stage,
                    fraction: ev.fraction,
                    ...(typeof ev.row === 'number' && typeof ev.rows === 'number'
                      ? { row: ev.row, rows: ev.rows }
                      : {}),
                    ...(typeof ev.layer === 'string' ? { layer: ev.layer } : {}),
                    ...(typeof ev.ratio === 'number' ? { ratio: ev.ratio } : {}),
                  };
                  ctx.heartbeat(live);
                },
              },
            );
          } catch (err) {
            throw toActivityFailure(err);
          }
          const out = parseEngineResult('sensitivity', SensitivityResultSchema, raw);
          const table = await deps.store.put(
            sensitivityKey(input.campaignId, input.targetLabel),
            { bytes: Buffer.from(JSON.stringify(raw, null, 2)) },
            { contentType: 'application/json' },
          );
          return {
            table,
            baseline: { top1: out.baseline.top1, loss: out.baseline.loss },
            stages: out.stages.map((s) => ({
              stage: s.stage,
              macs: s.macs,
              points: s.points.map((p) => ({ ratio: p.ratio, macs: p.macs, top1: p.top1, loss: p.loss })),
            })),
          };
        },
        () => live,
      );
    },
  };
}

export type ScoringActivities = ReturnType<typeof createScoringActivities>;
