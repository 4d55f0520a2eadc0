import { Context } from '@temporalio/activity';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { ArtifactRef } from '../core/artifact-ref';
import type { StageMacs } from '../core/attempt';
import { parseWith } from '../core/errors';
import type { ModelSpec } from '../core/model-spec';
import { ProfileSchema, summarizeProfile, type ProfileSummary } from '../core/profile';
import type { Strategy } from '../core/strategy';
import { parseEngineResult, PruneResultSchema } from '../engine/protocol';
import { candidateModelFolder, denseOnnxKey, profileKey } from '../storage/keys';
import type { ActivityDeps } from './deps';
import { toActivityFailure } from './failures';
import { keepHeartbeating } from './heartbeat';
import { localizeModelSpec, uploadModelDir } from './model-files';

/** Input of {@link EngineActivities.profileModel}. */
export interface ProfileModelInput {
  campaignId: string;
  model: ModelSpec;
  inputShape?: number[];
  /** Also export and store the dense model's ONNX file. @default false */
  exportOnnx?: boolean;
}

/** What profiling returns to the workflow: small numbers and references. */
export interface ProfileModelResult {
  macs: number;
  params: number;
  summary: ProfileSummary;
  profile: ArtifactRef;
  onnx?: ArtifactRef;
}

/** Input of {@link EngineActivities.pruneTrial}. */
export interface PruneTrialInput {
  campaignId: string;
  targetLabel: string;
  attemptIndex: number;
  model: ModelSpec;
  strategy: Strategy;
  inputShape?: number[];
  calibration?: { dataset: string; batches: number; batchSize: number };
}

/** What one prune trial measured, with the pruned model's manifest in the artifact store. */
export interface PruneTrialResult {
  macs: number;
  params: number;
  denseMacs: number;
  stages: StageMacs[];
  model: ArtifactRef;
  accuracyProxy?: { top1: number; top5: number; count: number };
  wallMs: number;
  warm: boolean;
}

interface Progress {
  stage: string;
  fraction: number | null;
}

/**
 * Run an engine job heartbeating every few seconds (see {@link keepHeartbeating}) with its latest progress,
 * and at once on each progress event.
 */
function withProgressHeartbeat<T>(run: (onProgress: (ev: Progress) => void) => Promise<T>): Promise<T> {
  let last: Progress = { stage: 'starting', fraction: null };
  const onProgress = (ev: Progress) => {
    last = { stage: ev.stage, fraction: ev.fraction };
    try {
      Context.current().heartbeat(last);
    } catch {
      // outside an activity (direct calls from the CLI): nothing to heartbeat
    }
  };
  return keepHeartbeating(
    () => run(onProgress),
    () => last,
  );
}

function cancellationSignal(): AbortSignal | undefined {
  try {
    return Context.current().cancellationSignal;
  } catch {
    return undefined;
  }
}

/** Engine-backed activities of the trials queue (short jobs): profiling and prune trials. */
export function createEngineActivities(deps: ActivityDeps) {
  async function pruneTrialNow(
    input: PruneTrialInput,
    onProgress: (ev: Progress) => void,
  ): Promise<PruneTrialResult> {
    const model = await localizeModelSpec(deps.store, input.model, deps.workDir);
    const outDir = path.join(
      deps.workDir,
      input.campaignId,
      input.targetLabel,
      `attempt-${input.attemptIndex}`,
    );
    await fs.rm(outDir, { recursive: true, force: true });
    let raw: Record<string, unknown>;
    try {
      raw = await deps.engine.run(
        'prune',
        {
          model,
          strategy: input.strategy,
          outDir,
          ...(input.inputShape ? { inputShape: input.inputShape } : {}),
          ...(input.calibration ? { calibration: input.calibration } : {}),
        },
        { onProgress, ...optSignal() },
      );
    } catch (err) {
      throw toActivityFailure(err);
    }
    const res = parseEngineResult('prune', PruneResultSchema, raw);
    const modelRef = await uploadModelDir(
      deps.store,
      res.saved.dir,
      candidateModelFolder(input.campaignId, input.targetLabel, input.attemptIndex),
      { kind: 'pruned-model', spec: input.model },
    );
    await fs.rm(outDir, { recursive: true, force: true });
    return {
      macs: res.macs,
      params: res.params,
      denseMacs: res.denseMacs,
      stages: res.stages,
      model: modelRef,
      ...(res.accuracyProxy ? { accuracyProxy: res.accuracyProxy } : {}),
      wallMs: res.wallMs,
      warm: res.warm ?? false,
    };
  }

  return {
    /** Profiling Agent: the engine profiles the model; the full profile goes to the store, a summary to history. */
    async profileModel(input: ProfileModelInput): Promise<ProfileModelResult> {
      return withProgressHeartbeat(async (onProgress) => {
        const model = await localizeModelSpec(deps.store, input.model, deps.workDir);
        const dir = path.join(deps.workDir, input.campaignId, 'profile');
        await fs.mkdir(dir, { recursive: true });
        const onnxPath = path.join(dir, 'dense.onnx');
        let raw: Record<string, unknown>;
        try {
          raw = await deps.engine.run(
            'profile',
            {
              model,
              ...(input.inputShape ? { inputShape: input.inputShape } : {}),
              ...(input.exportOnnx ? { exportOnnx: onnxPath } : {}),
            },
            { onProgress, ...optSignal() },
          );
        } catch (err) {
          throw toActivityFailure(err);
        }
        const profile = parseWith(ProfileSchema, raw, `engine profile of ${input.model.name}`);
        const profileRef = await deps.store.put(profileKey(input.campaignId), {
          bytes: Buffer.from(JSON.stringify(raw)),
        });
        const onnx = input.exportOnnx
          ? await deps.store.put(denseOnnxKey(input.campaignId), { file: onnxPath })
          : undefined;
        return {
          macs: profile.macs,
          params: profile.params,
          summary: summarizeProfile(profile),
          profile: profileRef,
          ...(onnx ? { onnx } : {}),
        };
      });
    },

    /** One prune trial on the warm engine: prune, measure, store the pruned model, return the numbers. */
    async pruneTrial(input: PruneTrialInput): Promise<PruneTrialResult> {
      return withProgressHeartbeat((onProgress) => pruneTrialNow(input, onProgress));
    },
  };
}

function optSignal(): { signal?: AbortSignal } {
  const signal = cancellationSignal();
  return signal ? { signal } : {};
}

export type EngineActivities = ReturnType<typeof createEngineActivities>;
