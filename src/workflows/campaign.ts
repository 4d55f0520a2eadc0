import {
  ApplicationFailure,
  executeChild,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type {
  DeploymentActivities,
  DeploymentCheckResult,
  EngineActivities,
  EvaluateResult,
  FineTuneResult,
  TrainingActivities,
} from '../activities';
import type { ArtifactRef } from '../core/artifact-ref';
import { FailureTypes } from '../activities/failure-types';
import { MODEL_LABEL } from '../storage/keys';
import {
  resolveTargets,
  SCORING_DEFAULTS,
  type CampaignConfig,
  type ResolvedTarget,
} from '../core/campaign-config';
import { campaignProgressQuery, searchWorkflowId } from './definitions';
import { macTargetSearch, type CandidateScoring, type MacTargetSearchResult } from './mac-target-search';
import { ActivityPresets } from './presets';
import { SA, type CampaignStage } from './search-attributes';

const { profileModel } = proxyActivities<EngineActivities>(ActivityPresets.profile);
const { evaluateModel } = proxyActivities<TrainingActivities>(ActivityPresets.evaluate);
const { deploymentCheck } = proxyActivities<DeploymentActivities>(ActivityPresets.evaluate);

/** Input of {@link campaign}: the validated config (the client validates with zod before starting). */
export interface CampaignInput {
  campaignId: string;
  config: CampaignConfig;
}

/** One target's line in the campaign result. */
export interface CampaignTargetResult extends MacTargetSearchResult {
  searchWorkflowId: string;
  /** Present when the campaign fine-tuned the chosen model. */
  finetune?: FineTuneResult;
  /** Accuracy of the pruned (fine-tuned when configured) model on the dataset's val split. */
  accuracy?: EvaluateResult;
  deployment?: DeploymentCheckResult;
  /** Why a post-search step did not run or failed (the search result still stands). */
  notes: string[];
}

/** The campaign's outcome: the dense model and each target's search result. */
export interface CampaignResult {
  campaignId: string;
  model: string;
  denseMacs: number;
  denseParams: number;
  profile: ArtifactRef;
  denseAccuracy?: EvaluateResult;
  targets: CampaignTargetResult[];
}

export type { CampaignProgress } from './definitions';

/**
 * A campaign: profile the dense model once, resolve the targets against it, run one macTargetSearch
 * child per target, and hand converged results on.
 */
export async function campaign(input: CampaignInput): Promise<CampaignResult> {
  const { config, campaignId } = input;
  let stage: CampaignStage = 'profile';
  let denseMacs: number | null = null;
  let resolved: ResolvedTarget[] = [];
  const results: CampaignTargetResult[] = [];
  const setStage = (next: CampaignStage) => {
    stage = next;
    upsertSearchAttributes([{ key: SA.stage, value: next }]);
  };
  setHandler(campaignProgressQuery, () => ({
    campaignId,
    stage,
    model: config.model.name,
    denseMacs,
    targets: resolved.map((t) => ({ ...t, searchWorkflowId: searchWorkflowId(campaignId, t.label) })),
    results,
  }));
  upsertSearchAttributes([
    { key: SA.campaignId, value: campaignId },
    { key: SA.model, value: config.model.name },
    { key: SA.stage, value: stage },
  ]);

  const profiled = await profileModel({
    campaignId,
    model: config.model,
    ...(config.inputShape ? { inputShape: config.inputShape } : {}),
  });
  denseMacs = profiled.macs;
  try {
    resolved = resolveTargets(config.targets, profiled.macs, profiled.summary.protectedMacs);
  } catch (err) {
    setStage('failed');
    throw ApplicationFailure.nonRetryable((err as Error).message, FailureTypes.config);
  }

  setStage('search');
  const search = config.search;
  const calibration = config.dataset
    ? {
        dataset: config.dataset.root,
        batches: config.dataset.calibrationBatches,
        batchSize: config.dataset.calibrationBatchSize,
      }
    : undefined;
  // With a dataset every in-band candidate is scored on a train/ slice (zero-shot unless configured).
  const scoring: CandidateScoring | undefined =
    config.dataset && calibration
      ? {
          mode: search.scoring ?? SCORING_DEFAULTS.scoring,
          dataset: { root: config.dataset.root },
          calibration: { batches: calibration.batches, batchSize: calibration.batchSize },
          ...(search.scoring === 'recovery'
            ? { recovery: search.recovery ?? { ...SCORING_DEFAULTS.recovery } }
            : {}),
          scoreImages: search.scoreImages ?? SCORING_DEFAULTS.scoreImages,
          seed: config.finetune?.seed ?? 0,
          ...(search.sensitivity ? { sensitivity: { ratios: search.sensitivity.ratios } } : {}),
        }
      : undefined;
  const searches = resolved.map((t) =>
    executeChild(macTargetSearch, {
      workflowId: searchWorkflowId(campaignId, t.label),
      taskQueue: workflowInfo().taskQueue,
      args: [
        {
          campaignId,
          targetLabel: t.label,
          model: config.model,
          ...(config.inputShape ? { inputShape: config.inputShape } : {}),
          profile: profiled.summary,
          targetMacs: t.targetMacs,
          band: t.band,
          agent: search.agent,
          fallbackAgent: search.fallbackAgent,
          maxIterations: search.maxIterations,
          gridStep: search.gridStep,
          stagnationWindow: search.stagnationWindow,
          extendedSearch: search.extendedSearch,
          attemptsPerRun: search.attemptsPerRun,
          baseStrategy: search.base,
          ...(calibration ? { calibration } : {}),
          ...(scoring ? { scoring } : {}),
          ...(search.candidates !== undefined ? { candidates: search.candidates } : {}),
        },
      ],
    }).then((r) => {
      const row: CampaignTargetResult = {
        ...r,
        searchWorkflowId: searchWorkflowId(campaignId, t.label),
        notes: [],
      };
      results.push(row);
      return row;
    }),
  );
  const targets = await Promise.all(searches);

  // After the search: fine-tune, evaluate and check deployment of each converged target's chosen model.
  const dataset = config.dataset;
  let denseAccuracy: EvaluateResult | undefined;
  if (dataset && targets.some((t) => t.status === 'converged')) {
    setStage('evaluate');
    denseAccuracy = await evaluateModel({
      campaignId,
      targetLabel: MODEL_LABEL,
      model: config.model,
      dataset: { root: dataset.root },
      batchSize: config.finetune?.batchSize ?? 64,
    });
  }
  for (const t of targets) {
    const chosen = t.chosen;
    if (t.status !== 'converged' || !chosen?.model) {
      t.notes.push('not converged: no fine-tune or deployment check');
      continue;
    }
    let model = chosen.model;
    if (config.finetune && dataset) {
      setStage('finetune');
      // The heartbeat timeout comes from the config: how fast a dead GPU worker's job moves on is a deployment choice.
      const { fineTune } = proxyActivities<TrainingActivities>({
        ...ActivityPresets.fineTune,
        ...(config.finetune.heartbeatTimeoutSec !== undefined
          ? { heartbeatTimeout: `${config.finetune.heartbeatTimeoutSec}s` }
          : {}),
      });
      t.finetune = await fineTune({
        campaignId,
        targetLabel: t.targetLabel,
        model,
        ...(config.finetune.kdAlpha > 0 ? { teacher: config.model } : {}),
        dataset: { root: dataset.root },
        recipe: config.finetune,
      });
      model = t.finetune.model;
    } else if (config.finetune) {
      t.notes.push('finetune configured without a dataset: skipped');
    }
    if (dataset) {
      setStage('evaluate');
      t.accuracy = await evaluateModel({
        campaignId,
        targetLabel: t.targetLabel,
        model,
        dataset: { root: dataset.root },
        batchSize: config.finetune?.batchSize ?? 64,
      });
    }
    if (config.deployment?.enabled) {
      setStage('deploy');
      t.deployment = await deploymentCheck({
        campaignId,
        targetLabel: t.targetLabel,
        dense: config.model,
        pruned: model,
        ...(dataset ? { dataset: { root: dataset.root } } : {}),
        batchSizes: config.deployment.batchSizes,
        latencyRuns: config.deployment.latencyRuns,
        agreementSamples: config.deployment.agreementSamples,
      });
    }
  }

  setStage('done');
  return {
    campaignId,
    model: config.model.name,
    denseMacs: profiled.macs,
    denseParams: profiled.params,
    profile: profiled.profile,
    ...(denseAccuracy ? { denseAccuracy } : {}),
    targets,
  };
}
