import {
  ApplicationFailure,
  executeChild,
  patched,
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
  LogActivities,
  PlanRecoveryInput,
  ProfileModelResult,
  ScoringActivities,
  TrainingActivities,
} from '../activities';
import type { Attempt } from '../core/attempt';
import type { ArtifactRef } from '../core/artifact-ref';
import type { RecoveryPlan } from '../core/attempt-selection';
import { FailureTypes } from '../activities/failure-types';
import { MODEL_LABEL } from '../storage/keys';
import {
  resolveTargets,
  SCORING_DEFAULTS,
  type CampaignConfig,
  type ResolvedTarget,
} from '../core/campaign-config';
import { campaignProgressQuery, searchWorkflowId } from './definitions';
import {
  macTargetSearch,
  measureSensitivityOnce,
  type CandidateScoring,
  type CarriedState,
  type MacTargetSearchResult,
  type MeasuredSensitivity,
} from './mac-target-search';
import { ActivityPresets, trainQueueFor } from './presets';
import { SA, type CampaignStage } from './search-attributes';

const { profileModel } = proxyActivities<EngineActivities>(ActivityPresets.profile);
const { evaluateModel } = proxyActivities<TrainingActivities>(ActivityPresets.evaluate);
const { deploymentCheck } = proxyActivities<DeploymentActivities>(ActivityPresets.deploy);
const { saveStrategyLog, discardIncompleteUploads } = proxyActivities<LogActivities>(ActivityPresets.storage);
const { planRecovery } = proxyActivities<ScoringActivities>(ActivityPresets.scoring);

/** Converged targets fine-tune in parallel (bounded by finetune.parallel); before it, one after another. */
const PARALLEL_FINETUNE_PATCH = 'parallel-finetune';
/** Marks runs that measure the per-stage sensitivity once for all targets; before it, each search did. */
const SENSITIVITY_ONCE_PATCH = 'sensitivity-once-per-campaign';
/** Marks runs that discard the incomplete uploads under their folder at the end (see discardIncompleteUploads). */
const DISCARD_UPLOADS_PATCH = 'discard-incomplete-uploads';

/**
 * Run `fn` on every item, at most `limit` at once, each started in item order as a lane frees up.
 * Deterministic (no timers, no clock): lanes take the next item when their last one settles.
 */
async function eachBounded<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) await fn(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, lane));
}

/** Input of {@link campaign}: the validated config (the client validates with zod before starting). */
export interface CampaignInput {
  /** The campaign's id, which keys its artifacts: for a revision, `revisionId(campaign, n)` (`c-42~r2`). */
  campaignId: string;
  config: CampaignConfig;
  /** Set when this run is a revision of an earlier one (a reset or a retry): what it carries over. */
  revision?: CampaignRevision;
}

/**
 * What a revision of a campaign (`campaign reset` or `campaign retry`) carries over from the revision
 * before it: references and small numbers only. What it names is reused, not redone; everything else
 * runs again under the revision's own id, so no earlier revision's artifact is overwritten.
 *
 * @example
 * // `campaign reset c-42 --to-attempt 2 --target t1` on a two-target campaign:
 * // { campaignId: 'c-42', number: 2, previousId: 'c-42', reason: 'reset t1 to attempt 2',
 * //   profile: {...}, reuse: { t2: { row: {...}, steps: 'all' } },
 * //   resume: { t1: { fromAttempt: 2, attempts: [attempt 1], state: {...}, replaces: {...} } } }
 */
export interface CampaignRevision {
  /** The campaign this is a revision of (revision 1's id). */
  campaignId: string;
  /** 2, 3, ...: this run's workflow id is `revisionId(campaignId, number)`. */
  number: number;
  /** Workflow id of the revision this one continues. */
  previousId: string;
  /** Why, in one line: `reset t1 to attempt 2`, `retry: targets.1.band changed`. */
  reason: string;
  /** The previous revision's profile of the dense model, when the model is unchanged: not profiled again. */
  profile?: ProfileModelResult;
  /** The dense model's accuracy, when model, dataset and batch size are unchanged. */
  denseAccuracy?: EvaluateResult;
  /**
   * Per target label, a result reused: `search`, the search stands and the steps after it run again
   * (a changed fine-tune recipe); `all`, the whole row stands.
   */
  reuse: Record<string, { row: CampaignTargetResult; steps: 'search' | 'all' }>;
  /**
   * Per target label, a search run again from attempt `fromAttempt`: it starts from the attempts before it
   * and the search state they left (stored as the search's first strategy-log part).
   */
  resume: Record<string, SearchResume>;
}

/** A search a revision re-runs from an attempt: see {@link CampaignRevision.resume}. */
export interface SearchResume {
  fromAttempt: number;
  /** Attempts 1..fromAttempt-1 of the search it replaces, as they were measured. */
  attempts: Attempt[];
  /** The search state after those attempts (the reducer replayed over them). */
  state: Omit<CarriedState, 'logRefs'>;
  /** The search whose later attempts this re-run replaces, and how many attempts it had. */
  replaces: { searchWorkflowId: string; attempts: number };
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
  const { config, campaignId, revision } = input;
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
    targets: resolved.map((t) => ({
      ...t,
      // A reused target's search is the earlier revision's.
      searchWorkflowId:
        revision?.reuse[t.label]?.row.searchWorkflowId ?? searchWorkflowId(campaignId, t.label),
    })),
    results,
  }));
  upsertSearchAttributes([
    { key: SA.campaignId, value: campaignId },
    { key: SA.model, value: config.model.name },
    { key: SA.stage, value: stage },
  ]);

  // Every branch on `revision` is new behaviour only for revisions: a history without it replays as before.
  const profiled =
    revision?.profile ??
    (await profileModel({
      campaignId,
      model: config.model,
      ...(config.inputShape ? { inputShape: config.inputShape } : {}),
    }));
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
  // A recovery length given as a share of the final fine-tune, or as epochs of train/, becomes steps per
  // candidate here, once, before any search starts. Only configs with `search.recovery.share` or `.epochs`
  // (no earlier history has one) schedule it.
  let recovery: { steps: number; batchSize: number; lr: number } | undefined;
  let recoveryPlanned: RecoveryPlan | undefined;
  // The finalists' second scores (search.recovery.rescore), as planned.
  let finalists: { top: number; steps: number } | undefined = search.recovery?.rescore;
  // The plan's activity; a refused plan (it names the field) fails the campaign before any search.
  const plan = async (req: PlanRecoveryInput): Promise<RecoveryPlan> => {
    try {
      return await planRecovery(req);
    } catch (err) {
      setStage('failed');
      throw err;
    }
  };
  if (search.scoring === 'recovery') {
    const given: {
      steps?: number | undefined;
      share?: number | undefined;
      epochs?: number | undefined;
      batchSize: number;
      lr: number;
    } = search.recovery ?? SCORING_DEFAULTS.recovery;
    const { steps, share, epochs, batchSize, lr } = given;
    const length =
      share !== undefined && config.finetune
        ? { recipe: config.finetune, share }
        : epochs !== undefined
          ? { epochs }
          : undefined;
    if (length && config.dataset)
      recoveryPlanned = await plan({
        dataset: { root: config.dataset.root },
        ...length,
        candidates: search.candidates ?? 1 + search.extendedSearch,
        ...(search.recovery?.rescore ? { rescore: search.recovery.rescore } : {}),
        batchSize,
      });
    recovery = {
      steps: recoveryPlanned?.steps ?? steps ?? SCORING_DEFAULTS.recovery.steps,
      batchSize,
      lr,
    };
  } else if (search.recovery?.rescore) {
    // A zero-shot first stage: the finalists' recovery alone, its length rescore.steps; with rescore.maxShare
    // (no earlier history has one) and a final fine-tune, within that share of its steps, or none.
    const { batchSize, lr, rescore } = search.recovery;
    if (rescore.maxShare !== undefined && config.finetune && config.dataset) {
      recoveryPlanned = await plan({
        dataset: { root: config.dataset.root },
        recipe: config.finetune,
        share: rescore.maxShare,
        candidates: search.candidates ?? 1 + search.extendedSearch,
        rescore: { top: rescore.top, steps: rescore.steps },
        batchSize,
        finalistsOnly: true,
      });
      finalists = recoveryPlanned.rescore;
    } else finalists = { top: rescore.top, steps: rescore.steps };
    if (finalists) recovery = { steps: finalists.steps, batchSize, lr };
  }
  // With a dataset every in-band candidate is scored on a train/ slice (zero-shot unless configured), and
  // with recovery.rescore the best of them again with a recovery (after zero-shot or recovery first scores).
  const scoring: CandidateScoring | undefined =
    config.dataset && calibration
      ? {
          mode: search.scoring ?? SCORING_DEFAULTS.scoring,
          dataset: { root: config.dataset.root },
          calibration: { batches: calibration.batches, batchSize: calibration.batchSize },
          ...(recovery ? { recovery } : {}),
          ...(recoveryPlanned ? { recoveryPlan: recoveryPlanned } : {}),
          ...(recovery && finalists ? { rescore: finalists } : {}),
          ...(search.scoreImages !== undefined ? { scoreImages: search.scoreImages } : {}),
          seed: config.finetune?.seed ?? 0,
          ...(search.sensitivity ? { sensitivity: { ratios: search.sensitivity.ratios } } : {}),
          ...(search.rankBy ? { rankBy: search.rankBy } : {}),
        }
      : undefined;
  // The sensitivity table depends on the dense model and the scoring slice, not on a target: measured once,
  // here, for every target whose search starts afresh (a reused search has its own; a re-run carries it).
  const fresh = resolved.filter((t) => !revision?.reuse[t.label] && !revision?.resume[t.label]);
  let measuredSensitivity: MeasuredSensitivity | undefined;
  if (scoring?.sensitivity && fresh.length > 0 && patched(SENSITIVITY_ONCE_PATCH)) {
    measuredSensitivity = await measureSensitivityOnce({
      campaignId,
      targetLabel: MODEL_LABEL,
      model: config.model,
      ...(config.inputShape ? { inputShape: config.inputShape } : {}),
      baseStrategy: search.base,
      scoring,
      ratios: scoring.sensitivity.ratios,
    });
  }
  const startSearch = (t: ResolvedTarget, carried?: CarriedState) =>
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
          ...(carried ? { carried } : {}),
          ...(scoring ? { scoring } : {}),
          ...(measuredSensitivity && !carried ? { measuredSensitivity } : {}),
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
    });
  const searches = resolved.map((t) => {
    const kept = revision?.reuse[t.label];
    if (kept) {
      // The search (and, with `all`, what followed it) of an earlier revision stands as it was.
      const { finetune: _finetune, accuracy: _accuracy, deployment: _deployment, ...searched } = kept.row;
      const row: CampaignTargetResult =
        kept.steps === 'all' ? { ...kept.row, notes: [...kept.row.notes] } : { ...searched, notes: [] };
      results.push(row);
      return Promise.resolve(row);
    }
    const resume = revision?.resume[t.label];
    if (!resume) return startSearch(t);
    // The attempts before the reset point become the re-run's first strategy-log part, under this revision's id.
    return saveStrategyLog({ campaignId, targetLabel: t.label, attempts: resume.attempts, part: 0 }).then(
      (ref) => startSearch(t, { ...resume.state, logRefs: [ref] }),
    );
  });
  const targets = await Promise.all(searches);

  // After the search: fine-tune, evaluate and check deployment of each converged target's chosen model.
  const dataset = config.dataset;
  let denseAccuracy: EvaluateResult | undefined;
  if (revision?.denseAccuracy) denseAccuracy = revision.denseAccuracy;
  else if (dataset && targets.some((t) => t.status === 'converged')) {
    setStage('evaluate');
    denseAccuracy = await evaluateModel({
      campaignId,
      targetLabel: MODEL_LABEL,
      model: config.model,
      dataset: { root: dataset.root },
      batchSize: config.finetune?.batchSize ?? 64,
    });
  }
  // Each converged target's chosen model, fine-tuned, evaluated and checked; one target's steps in order.
  const afterSearch = async (t: CampaignTargetResult): Promise<void> => {
    if (revision?.reuse[t.targetLabel]?.steps === 'all') return;
    const chosen = t.chosen;
    if (t.status !== 'converged' || !chosen?.model) {
      t.notes.push('not converged: no fine-tune or deployment check');
      return;
    }
    let model = chosen.model;
    if (config.finetune && dataset) {
      setStage('finetune');
      // The heartbeat timeout comes from the config: how fast a dead GPU worker's job moves on is a deployment choice.
      const { fineTune } = proxyActivities<TrainingActivities>({
        ...ActivityPresets.fineTune,
        // A multi-GPU fine-tune waits for a worker whose slots hold finetune.gpus devices (a queue name is not
        // part of what replay checks, so histories from before parallel-finetune replay as they ran).
        taskQueue: trainQueueFor(config.finetune.gpus),
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
  };
  if (patched(PARALLEL_FINETUNE_PATCH)) {
    // Targets fine-tune at once, up to finetune.parallel of them, each on a free train slot; each target's
    // evaluation and deployment check follow its own fine-tune as soon as it ends.
    await eachBounded(targets, config.finetune?.parallel ?? targets.length, afterSearch);
  } else {
    // Histories recorded before the patch fine-tuned one target after the other.
    for (const t of targets) await afterSearch(t);
  }

  // Uploads that killed workers left half done hold space no reference names: nothing is in flight now.
  // A sweep that fails leaves them (space, not correctness) and the campaign's result stands.
  if (patched(DISCARD_UPLOADS_PATCH)) await discardIncompleteUploads({ campaignId }).catch(() => undefined);

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
