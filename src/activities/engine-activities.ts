import { Context } from '@temporalio/activity';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { ArtifactRef } from '../core/artifact-ref';
import type { ScreenRecord, StageMacs } from '../core/attempt';
import { parseWith } from '../core/errors';
import type { ModelSpec } from '../core/model-spec';
import { ProfileSchema, summarizeProfile, type ProfileSummary } from '../core/profile';
import type { ScreenScale } from '../core/screening';
import type { Strategy } from '../core/strategy';
import type { Band } from '../core/tolerance-band';
import { screenIntoBand } from '../engine/dry-run';
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
  /**
   * Scale `strategy`'s shape into this band by a dry-run screen before pruning (src/engine/dry-run.ts
   * `screenIntoBand`); the trial prunes the pick, or `strategy` as given when nothing lands.
   */
  screen?: { targetMacs: number; band: Band; scale: ScreenScale };
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
  /** The strategy pruned, when a screen replaced the input's (absent: the input's was pruned). */
  strategy?: Strategy;
  /** What the screen did, when the input asked for one. */
  screen?: ScreenRecord;
}

interface Progress {
  stage: string;
  fraction: number | null;
}

/**
 * Heartbeat details of {@link EngineActivities.pruneTrial}, which `campaign status` and `watch` print as a
 * running line: the attempt, its strategy as proposed, and the stage of its engine job (`screening` while the
 * dry-run screen scales the shape into the band, `pruning` from the prune job's dispatch, then the prune's
 * own stages: `checking`, `saving`...).
 */
export interface TrialHeartbeat extends Progress {
  targetLabel: string;
  attemptIndex: number;
  importance: Strategy['importance'];
  /** The strategy's global ratio as proposed (a screen may scale it before the prune). */
  ratio: number;
}

/**
 * Heartbeat details of {@link EngineActivities.profileModel}: the model and the engine's stage (`building`,
 * `counting`, `grouping`, `exporting`), printed as a running line.
 */
export interface ProfileHeartbeat extends Progress {
  model: string;
}

/**
 * Run an engine job heartbeating every few seconds (see {@link keepHeartbeating}) with its latest progress
 * (after `about`, what the job is), and at once on each progress event.
 */
function withProgressHeartbeat<T>(
  run: (onProgress: (ev: Progress) => void) => Promise<T>,
  about: object = {},
): Promise<T> {
  let last: Progress = { stage: 'starting', fraction: null };
  const details = () => ({ ...about, ...last });
  const onProgress = (ev: Progress) => {
    last = { stage: ev.stage, fraction: ev.fraction };
    try {
      Context.current().heartbeat(details());
    } catch {
      // outside an activity (direct calls from the CLI): nothing to heartbeat
    }
  };
  return keepHeartbeating(() => run(onProgress), details);
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
  async function profileNow(
    input: ProfileModelInput,
    onProgress: (ev: Progress) => void,
  ): Promise<ProfileModelResult> {
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
  }

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
    const screened = input.screen ? await screen(model, input, input.screen, onProgress) : undefined;
    const strategy = screened?.strategy ?? input.strategy;
    // From here the job is the prune (it may wait for the engine, or a failpoint hold it, before its first event).
    onProgress({ stage: 'pruning', fraction: null });
    let raw: Record<string, unknown>;
    try {
      raw = await deps.engine.run(
        'prune',
        {
          model,
          strategy,
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
      ...(screened?.strategy ? { strategy: screened.strategy } : {}),
      ...(screened ? { screen: screened.record } : {}),
    };
  }

  /**
   * The dry-run screen of a trial: the in-band strategy it found (absent when none landed), and the record
   * the attempt keeps. A dry run that fails is recorded, not thrown: the trial prunes the proposal as given.
   */
  async function screen(
    model: ModelSpec,
    input: PruneTrialInput,
    target: NonNullable<PruneTrialInput['screen']>,
    onProgress: (ev: Progress) => void,
  ): Promise<{ strategy?: Strategy; record: ScreenRecord }> {
    const proposedRatio = input.strategy.pruningRatio;
    const proposedRoundTo = input.strategy.roundTo;
    try {
      const out = await screenIntoBand(
        deps.engine,
        {
          model,
          strategy: input.strategy,
          ...target,
          ...(input.inputShape ? { inputShape: input.inputShape } : {}),
          ...(input.calibration && input.strategy.importance === 'taylor'
            ? { calibration: input.calibration }
            : {}),
        },
        { onProgress, ...optSignal() },
      );
      const record = { shapes: out.shapes, proposedRatio, proposedRoundTo, wallMs: out.wallMs };
      return out.pick
        ? {
            strategy: out.pick.strategy,
            record: {
              ...record,
              landed: true,
              predictedMacs: out.pick.macs,
              ...(out.pick.held ? { held: out.pick.held } : {}),
            },
          }
        : {
            record: {
              ...record,
              landed: false,
              ...(out.refused !== undefined ? { refused: out.refused } : {}),
            },
          };
    } catch (err) {
      // A cancelled activity stops here; any other failure of the screen leaves the proposal to be pruned.
      if (cancellationSignal()?.aborted) throw toActivityFailure(err);
      const message = err instanceof Error ? err.message : String(err);
      return {
        record: {
          shapes: 0,
          proposedRatio,
          proposedRoundTo,
          landed: false,
          wallMs: 0,
          error: message.split('\n')[0]!,
        },
      };
    }
  }

  return {
    /** Profiling Agent: the engine profiles the model; the full profile goes to the store, a summary to history. */
    async profileModel(input: ProfileModelInput): Promise<ProfileModelResult> {
      const about: Omit<ProfileHeartbeat, keyof Progress> = { model: input.model.name };
      return withProgressHeartbeat((onProgress) => profileNow(input, onProgress), about);
    },

    /** One prune trial on the warm engine: prune, measure, store the pruned model, return the numbers. */
    async pruneTrial(input: PruneTrialInput): Promise<PruneTrialResult> {
      const about: Omit<TrialHeartbeat, keyof Progress> = {
        targetLabel: input.targetLabel,
        attemptIndex: input.attemptIndex,
        importance: input.strategy.importance,
        ratio: input.strategy.pruningRatio,
      };
      return withProgressHeartbeat((onProgress) => pruneTrialNow(input, onProgress), about);
    },
  };
}

function optSignal(): { signal?: AbortSignal } {
  const signal = cancellationSignal();
  return signal ? { signal } : {};
}

export type EngineActivities = ReturnType<typeof createEngineActivities>;
