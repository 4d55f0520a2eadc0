import { Context } from '@temporalio/activity';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { ArtifactRef } from '../core/artifact-ref';
import type { FinetuneConfig } from '../core/campaign-config';
import type { ModelSpec } from '../core/model-spec';
import { FinetuneResultSchema, parseEngineResult } from '../engine/protocol';
import { checkpointFolder, checkpointKey, finetunedModelFolder } from '../storage/keys';
import type { ActivityDeps } from './deps';
import { CheckpointLedger, type CheckpointRef } from './checkpoint-ledger';
import { toActivityFailure } from './failures';
import { keepHeartbeating } from './heartbeat';
import { downloadModelDir, localizeModelSpec, uploadModelDir } from './model-files';

/** Heartbeat details of a fine-tune: the last K verified checkpoints (newest last) and live progress. */
export interface FineTuneHeartbeat {
  checkpoints: CheckpointRef[];
  step: number;
  totalSteps: number | null;
  loss: number | null;
  etaSec: number | null;
}

/** Input of {@link TrainingActivities.fineTune}. */
export interface FineTuneInput {
  campaignId: string;
  targetLabel: string;
  /** The pruned model's manifest (from a prune trial), or a dense spec. */
  model: ArtifactRef | ModelSpec;
  /** Dense model for knowledge distillation (when recipe.kdAlpha > 0). */
  teacher?: ModelSpec;
  dataset: { root: string; imageSize?: number };
  recipe: FinetuneConfig;
}

/** What a fine-tune returns: the fine-tuned model's manifest and the training numbers. */
export interface FineTuneResult {
  model: ArtifactRef;
  finalCheckpoint: ArtifactRef;
  steps: number;
  lossCurve: { step: number; loss: number }[];
  /** `null` when no image was trained on. */
  imagesPerSec: number | null;
  wallMs: number;
  resumedFromStep: number | null;
  /** Steps that had to be recomputed after a crash (from the last checkpoint to where it stopped). */
  attempt: number;
}

/** Input of {@link TrainingActivities.evaluateModel}. */
export interface EvaluateInput {
  campaignId: string;
  targetLabel: string;
  model: ArtifactRef | ModelSpec;
  dataset: { root: string; imageSize?: number };
  batchSize: number;
  maxImages?: number;
}

export interface EvaluateResult {
  top1: number;
  top5: number;
  loss: number;
  count: number;
}

/**
 * The engine's `recipe` and `gpus` of a `finetune` section: the fields that say how to train, without those
 * that say how the activity runs it (checkpoint interval and count, heartbeat, parallel targets). The
 * fine-tune and its step plan (`finetune-plan`, for `search.recovery.share`) send the same recipe.
 */
export function engineRecipe(config: FinetuneConfig): {
  recipe: Omit<
    FinetuneConfig,
    'checkpointEverySteps' | 'keepCheckpoints' | 'heartbeatTimeoutSec' | 'gpus' | 'parallel'
  >;
  gpus: number;
} {
  const {
    checkpointEverySteps: _every,
    keepCheckpoints: _keep,
    heartbeatTimeoutSec: _hb,
    gpus,
    parallel: _parallel,
    ...recipe
  } = config;
  return { recipe, gpus };
}

function isRef(m: ArtifactRef | ModelSpec): m is ArtifactRef {
  return typeof (m as ArtifactRef).uri === 'string' && typeof (m as ArtifactRef).sha256 === 'string';
}

/** Engine jobs of the train queue (long, one per device slot): fine-tune (resumable from checkpoints) and evaluation. */
export function createTrainingActivities(deps: ActivityDeps) {
  async function localModel(m: ArtifactRef | ModelSpec, dir: string): Promise<ModelSpec> {
    return isRef(m) ? downloadModelDir(deps.store, m, dir) : localizeModelSpec(deps.store, m, deps.workDir);
  }

  async function evaluateIn(input: EvaluateInput, dir: string): Promise<EvaluateResult> {
    const model = await localModel(input.model, dir);
    try {
      return await deps.oneShotEngine.run<EvaluateResult>(
        'evaluate',
        {
          model,
          dataset: {
            root: input.dataset.root,
            ...(input.dataset.imageSize ? { imageSize: input.dataset.imageSize } : {}),
          },
          batchSize: input.batchSize,
          ...(input.maxImages ? { maxImages: input.maxImages } : {}),
        },
        { signal: Context.current().cancellationSignal, onProgress: () => Context.current().heartbeat() },
      );
    } catch (err) {
      throw toActivityFailure(err);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  }

  return {
    /**
     * Fine-tune a pruned model. Every checkpoint the engine writes is uploaded and only then heartbeated
     * as a reference; a retried attempt reads the last heartbeat, downloads and verifies the newest
     * checkpoint (falling back to an older one if it is corrupt) and resumes from it.
     */
    async fineTune(input: FineTuneInput): Promise<FineTuneResult> {
      const ctx = Context.current();
      const prior = ctx.info.heartbeatDetails as FineTuneHeartbeat | undefined;
      const runDir = path.join(
        deps.workDir,
        input.campaignId,
        input.targetLabel,
        `finetune-${ctx.info.attempt}`,
      );
      await fs.rm(runDir, { recursive: true, force: true });
      await fs.mkdir(runDir, { recursive: true });
      const model = await localModel(input.model, path.join(runDir, 'model'));
      const teacher = input.teacher
        ? await localizeModelSpec(deps.store, input.teacher, deps.workDir)
        : undefined;

      // The SDK sends a heartbeat up to 0.8 x heartbeatTimeout late: the ledger deletes a retired checkpoint
      // only once a heartbeat without it has surely reached the server.
      const ledger = new CheckpointLedger(
        {
          store: deps.store,
          keyOf: (step) => checkpointKey(input.campaignId, input.targetLabel, step),
          prefix: checkpointFolder(input.campaignId, input.targetLabel),
          keep: input.recipe.keepCheckpoints,
          retireGraceMs: ctx.info.heartbeatTimeoutMs ?? 0,
          warn: (message) => {
            ctx.log.warn(message);
          },
          // Waiting out a store outage must not look like a dead worker; the details stay the prior ones.
          onRetry: () => ctx.heartbeat(prior),
        },
        prior?.checkpoints,
      );
      const resume = await ledger.resume(path.join(runDir, 'resume'));
      const resumedFromStep = resume?.step ?? null;
      // An interrupted fine-tune says in the worker's log where it picks up (and so how much work was lost).
      if (ctx.info.attempt > 1)
        ctx.log.warn(
          `fine-tune ${input.targetLabel}: attempt ${ctx.info.attempt} ${resume ? `resumes from checkpoint step ${resume.step}` : 'starts from step 0 (no usable checkpoint)'}`,
        );

      const live: FineTuneHeartbeat = {
        checkpoints: ledger.checkpoints,
        step: resumedFromStep ?? 0,
        totalSteps: null,
        loss: null,
        etaSec: null,
      };
      const { checkpointEverySteps } = input.recipe;
      const { recipe, gpus } = engineRecipe(input.recipe);
      // The engine says nothing while it imports torch, builds the model and indexes the dataset: keep the
      // heartbeat alive until its first event, so a short heartbeatTimeout does not fail a healthy start.
      ctx.heartbeat({ ...live });
      let keepAlive: NodeJS.Timeout | undefined = setInterval(
        () => ctx.heartbeat({ ...live }),
        Math.max(1000, (ctx.info.heartbeatTimeoutMs ?? 30_000) / 3),
      );
      const stopKeepAlive = () => {
        if (keepAlive) clearInterval(keepAlive);
        keepAlive = undefined;
      };
      let raw: Record<string, unknown>;
      try {
        raw = await deps.oneShotEngine.run(
          'finetune',
          {
            model,
            ...(teacher ? { teacher } : {}),
            dataset: input.dataset,
            recipe,
            ...(gpus > 1 ? { gpus } : {}),
            checkpointDir: path.join(runDir, 'checkpoints'),
            checkpointEverySteps,
            ...(resume ? { resumeFrom: resume.file } : {}),
            outDir: path.join(runDir, 'out'),
          },
          {
            signal: ctx.cancellationSignal,
            onProgress: (ev) => {
              stopKeepAlive();
              live.step = Number(ev.step ?? live.step);
              live.totalSteps = ev.totalSteps === undefined ? live.totalSteps : Number(ev.totalSteps);
              live.loss = ev.loss === undefined ? live.loss : Number(ev.loss);
              live.etaSec = ev.etaSec === undefined ? live.etaSec : Number(ev.etaSec);
              ctx.heartbeat({ ...live });
            },
            onArtifact: async (ev) => {
              stopKeepAlive();
              if (ev.kind !== 'checkpoint') return;
              // The engine's events wait for this: heartbeat through a slow upload (the list, not yet with it).
              await keepHeartbeating(
                () => ledger.record(Number(ev.step), ev.path, ev.sha256),
                () => ({ ...live }),
              );
              live.checkpoints = ledger.checkpoints;
              ctx.heartbeat({ ...live });
              // Older checkpoints go only after a newer one is stored, verified and heartbeated.
              await ledger.retire();
              await fs.rm(ev.path, { force: true });
            },
          },
        );
      } catch (err) {
        throw toActivityFailure(err);
      } finally {
        stopKeepAlive();
      }
      const out = parseEngineResult('finetune', FinetuneResultSchema, raw);
      const final = ledger.latest();
      if (!final) throw new Error('fine-tune finished without writing a checkpoint');
      const modelRef = await keepHeartbeating(
        () =>
          uploadModelDir(
            deps.store,
            path.join(runDir, 'out'),
            finetunedModelFolder(input.campaignId, input.targetLabel),
            {
              kind: 'finetuned-model',
              spec: isRef(input.model) ? { name: model.name } : input.model,
            },
          ),
        () => ({ ...live }),
      );
      await ledger.finish();
      await fs.rm(runDir, { recursive: true, force: true });
      return {
        model: modelRef,
        finalCheckpoint: final.ref,
        steps: out.steps,
        lossCurve: out.lossCurve ?? [],
        imagesPerSec: out.imagesPerSec,
        wallMs: out.wallMs,
        resumedFromStep,
        attempt: ctx.info.attempt,
      };
    },

    /** Top-1/top-5 and loss of a model (dense spec or stored manifest) on a validation folder. */
    async evaluateModel(input: EvaluateInput): Promise<EvaluateResult> {
      const dir = path.join(deps.workDir, input.campaignId, input.targetLabel, `evaluate-${Date.now()}`);
      return keepHeartbeating(() => evaluateIn(input, dir));
    },
  };
}

export type TrainingActivities = ReturnType<typeof createTrainingActivities>;
