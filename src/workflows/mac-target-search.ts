import {
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  condition,
  continueAsNew,
  patched,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import { z } from 'zod';
import type {
  EngineActivities,
  LogActivities,
  PruneTrialInput,
  ScoringActivities,
  StrategyActivities,
} from '../activities';
import type { Proposal } from '../agents/agent';
import type { ArtifactRef } from '../core/artifact-ref';
import type { AgentName, Attempt, CandidateScore } from '../core/attempt';
import {
  bestAttempt,
  chooseCandidate,
  failedAttempt,
  finalists,
  firstInBand,
  type RecoveryPlan,
} from '../core/attempt-selection';
import { formatZodIssues } from '../core/errors';
import type { RankBy, ScoringMode } from '../core/campaign-config';
import type { ModelSpec } from '../core/model-spec';
import type { ProfileSummary } from '../core/profile';
import { screenScaleOf } from '../core/screening';
import {
  extendedBudget,
  initialSearchState,
  nextRequest,
  searchConfigOf,
  searchReducer,
  type SearchAgent,
  type SearchEvent,
  type SearchOutcome,
  type SearchState,
} from '../core/search-state';
import type { SensitivityTable } from '../core/stage-allocation';
import { StrategySchema, type Strategy } from '../core/strategy';
import { BandSchema, deviation, inBand, type Band } from '../core/tolerance-band';
import {
  overrideStrategyUpdate,
  pauseSignal,
  type OverrideOptions,
  resumeSignal,
  setBandUpdate,
  strategyLogQuery,
  type StrategyLog,
} from './definitions';
import { ActivityPresets } from './presets';
import { SA } from './search-attributes';

const { pruneTrial } = proxyActivities<EngineActivities>(ActivityPresets.pruneTrial);
const { proposeStrategy } = proxyActivities<StrategyActivities>(ActivityPresets.llmCall);
const { saveStrategyLog, loadStrategyLog } = proxyActivities<LogActivities>(ActivityPresets.storage);
const { scoreCandidate, measureSensitivity } = proxyActivities<ScoringActivities>(ActivityPresets.scoring);

/** The options of {@link overrideStrategyUpdate}, checked by its validator. */
const OverrideOptionsSchema = z.object({ scaleToBand: z.boolean().optional() }).strict().optional();

/** Marks runs whose extended search scales each shape into the band (see `SearchConfig.scaleCandidates`). */
const SCALE_CANDIDATES_PATCH = 'scale-candidates-into-band';
/** Marks runs that judge the band against the reachable floor and ceiling before the first trial. */
const FEASIBILITY_PATCH = 'infeasible-at-start';
/**
 * Marks runs that score in-band candidates, measure sensitivity and take the shapes of `candidates` (see
 * {@link MacTargetSearchInput.scoring}); asked only of runs whose input has scoring or candidates.
 */
const SCORE_PATCH = 'score-candidates';
/** Marks runs whose scaling rounds screen the proposal into the band by the engine's dry run first. */
const SCREEN_PATCH = 'screen-shapes-by-dry-run';
/** Marks runs whose candidate shapes include per-layer uniform L1 (see `SearchConfig.perLayerShape`). */
const PER_LAYER_SHAPE_PATCH = 'per-layer-candidate-shape';
/** Marks runs that score their finalists again (see {@link CandidateScoring.rescore}); asked only of those. */
const RESCORE_PATCH = 'rescore-finalists';

/**
 * How a search scores its in-band candidates (the campaign sets it when the config has a dataset): the
 * `scoreCandidate` activity on a held-out, seeded slice of `dataset.root/train`, `zero-shot` after
 * batch-norm recalibration or `recovery` after a short KD fine-tune from the dense model.
 */
export interface CandidateScoring {
  mode: ScoringMode;
  dataset: { root: string; imageSize?: number };
  /** train/ batches for batch-norm recalibration before scoring. */
  calibration: { batches: number; batchSize: number };
  /**
   * The KD fine-tune of mode `recovery`; with mode `zero-shot` and `rescore`, the finalists' alone (its steps
   * those of `rescore`): the first scores are zero-shot.
   */
  recovery?: { steps: number; batchSize: number; lr: number };
  /** How `recovery.steps` came from `search.recovery.share` or `.epochs` (the campaign planned it); absent: steps given. */
  recoveryPlan?: RecoveryPlan;
  /**
   * Two-stage scoring (`search.recovery.rescore`): after the search, the `top` best-scored in-band candidates
   * (scored zero-shot or with a short recovery, as `mode` says) are scored again with a recovery of `steps`,
   * and the best second score is kept.
   */
  rescore?: { top: number; steps: number };
  /** The held-out slice; absent: the engine's default (10 per class, 256 to 1,000, at most a quarter of what calibration leaves). */
  scoreImages?: number;
  seed: number;
  /** Measure the per-stage sensitivity once at the start, at these ratios; absent: not measured. */
  sensitivity?: { ratios: number[] };
  /** Which figure of the score keeps a candidate (`SearchConfig.rankBy`); absent: `top1`. */
  rankBy?: RankBy;
}

/** Input of {@link macTargetSearch}: one target of one campaign. Plain data, typed from the config schemas. */
export interface MacTargetSearchInput {
  campaignId: string;
  targetLabel: string;
  model: ModelSpec;
  inputShape?: number[];
  profile: ProfileSummary;
  targetMacs: number;
  band: Band;
  agent: SearchAgent;
  fallbackAgent: SearchAgent;
  maxIterations: number;
  gridStep: number;
  stagnationWindow: number;
  extendedSearch: number;
  attemptsPerRun: number;
  baseStrategy: Partial<Strategy>;
  calibration?: { dataset: string; batches: number; batchSize: number };
  /** Score each in-band candidate and keep the best score; absent: nothing is scored (no dataset). */
  scoring?: CandidateScoring;
  /**
   * In-band candidates to collect, the first included; replaces `extendedSearch` (see
   * `SearchConfig.candidates` in core/search-state).
   */
  candidates?: number;
  /**
   * The per-stage sensitivity the campaign measured once for all its targets (it is a property of the
   * dense model and the scoring slice, not of a target); absent: the search measures it itself, as runs
   * recorded before the campaign did so still do.
   */
  measuredSensitivity?: MeasuredSensitivity;
  /** Set by continue-as-new: where the previous runs left off. */
  carried?: CarriedState;
}

/** A sensitivity measurement: its table, or why it could not be measured. */
export type MeasuredSensitivity = { table: SensitivityTable } | { error: string };

/** State carried across continue-as-new: the log by reference, small numbers inline. */
export interface CarriedState {
  logRefs: ArtifactRef[];
  agent: SearchAgent;
  band: Band;
  converged: boolean;
  extendedLeft: number;
  events: { afterAttempt: number; note: string }[];
  proposals: number;
  /** Scaling steps spent on the current extended-search shape. */
  shapeSteps?: number;
  /** Candidate shapes done, with `candidates`. */
  shapeIndex?: number;
  /** The sensitivity measured by the first run. */
  sensitivity?: SensitivityTable;
}

/** The outcome of one target's search. */
export interface MacTargetSearchResult {
  targetLabel: string;
  targetMacs: number;
  band: Band;
  status: SearchOutcome;
  reason: string;
  /**
   * The attempt handed on to fine-tuning: the best-scored in-band candidate, else the best quick accuracy
   * among in-band attempts, else the closest to target (core's `chooseCandidate`).
   */
  chosen: Attempt | null;
  /** Which figure of the score kept `chosen`, when the config set one (`SearchConfig.rankBy`). */
  rankBy?: RankBy;
  attemptCount: number;
  /** Attempts until the first in-band one (null if none). */
  attemptsToConverge: number | null;
  agentsUsed: AgentName[];
}

function failureType(err: unknown): string | undefined {
  if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure)
    return err.cause.type ?? undefined;
  if (err instanceof ApplicationFailure) return err.type ?? undefined;
  return undefined;
}

function failureMessage(err: unknown): string {
  if (err instanceof ActivityFailure && err.cause) return err.cause.message;
  return err instanceof Error ? err.message : String(err);
}

/**
 * The Master Agent: propose -> prune -> measure -> band check -> divergence monitor -> next, until the
 * measured MACs land in the band (then a short extended search for a more accurate in-band strategy),
 * or the monitor stops it. Deterministic: every side effect is an activity; history carries numbers and
 * references. What each outcome does to the search is core's {@link searchReducer}; this function only
 * performs the side effects, in order.
 */
export async function macTargetSearch(input: MacTargetSearchInput): Promise<MacTargetSearchResult> {
  const carried = input.carried;
  let loaded: Attempt[] = [];
  const logRefs: ArtifactRef[] = carried ? [...carried.logRefs] : [];
  for (const ref of logRefs) loaded = loaded.concat(await loadStrategyLog(ref));
  // Runs recorded before candidates were scored replay without scoring, sensitivity or candidate shapes.
  const scored = (input.scoring !== undefined || input.candidates !== undefined) && patched(SCORE_PATCH);
  const scoring = scored ? input.scoring : undefined;
  const candidates = scored ? input.candidates : undefined;
  const config = searchConfigOf({
    targetMacs: input.targetMacs,
    fallbackAgent: input.fallbackAgent,
    maxIterations: input.maxIterations,
    stagnationWindow: input.stagnationWindow,
    extendedSearch: input.extendedSearch,
    baseStrategy: input.baseStrategy,
    floorMacs: input.profile.protectedMacs,
    ceilingMacs: input.profile.macs,
    // Runs recorded before candidates were scaled into the band replay with the old extended search.
    scaleCandidates: patched(SCALE_CANDIDATES_PATCH),
    ...(candidates !== undefined ? { candidates } : {}),
    // Runs recorded before the per-layer shape replay with the shapes they had.
    perLayerShape: candidates !== undefined && patched(PER_LAYER_SHAPE_PATCH),
  });
  // Runs recorded before shapes were screened by the dry run replay with the solver's scaling steps alone.
  const screening = patched(SCREEN_PATCH);
  let state = initialSearchState({
    attempts: loaded,
    band: carried?.band ?? input.band,
    agent: carried?.agent ?? input.agent,
    converged: carried?.converged ?? false,
    extendedLeft: carried?.extendedLeft ?? extendedBudget(config),
    events: carried?.events ?? [],
    proposals: carried?.proposals ?? 0,
    shapeSteps: carried?.shapeSteps ?? 0,
    shapeIndex: carried?.shapeIndex ?? 0,
    ...(carried?.sensitivity ? { sensitivity: carried.sensitivity } : {}),
  });
  const apply = (event: SearchEvent): void => void (state = searchReducer(state, event, config));
  let paused = false;
  const overrides: { strategy: Strategy; scaleToBand: boolean }[] = [];
  const attemptsAtRunStart = state.attempts.length;

  setHandler(strategyLogQuery, () => strategyLog(input, state, paused));
  setHandler(pauseSignal, () => void (paused = true));
  setHandler(resumeSignal, () => void (paused = false));
  setHandler(
    overrideStrategyUpdate,
    (strategy, options?: OverrideOptions) => {
      overrides.push({ strategy, scaleToBand: options?.scaleToBand === true });
      return overrides.length;
    },
    {
      validator: (strategy, options?: OverrideOptions) => {
        const r = StrategySchema.safeParse(strategy);
        if (!r.success) throw new Error(`invalid strategy: ${formatZodIssues(r.error.issues)}`);
        const o = OverrideOptionsSchema.safeParse(options);
        if (!o.success) throw new Error(`invalid override options: ${formatZodIssues(o.error.issues)}`);
        if (state.status !== 'running') throw new Error(`the search has finished (${state.status})`);
      },
    },
  );
  setHandler(
    setBandUpdate,
    (band) => {
      // A band change can turn a finished in-band state into a miss or vice versa: re-derive it.
      apply({ type: 'band-changed', band });
      return state.band;
    },
    {
      validator: (band) => {
        const r = BandSchema.safeParse(band);
        if (!r.success) throw new Error(`invalid band: ${formatZodIssues(r.error.issues)}`);
      },
    },
  );

  const upsert = () => upsertSearchAttributes(searchAttributes(input, state));
  upsert();
  // Runs recorded before the up-front feasibility check replay without it (it can end a search early).
  if (patched(FEASIBILITY_PATCH)) apply({ type: 'started', protectedLayers: input.profile.protected });
  if (scoring?.sensitivity && !carried && state.status === 'running') {
    const measured =
      input.measuredSensitivity ??
      (await measureSensitivityOnce({ ...input, scoring, ratios: scoring.sensitivity.ratios }));
    apply({ type: 'sensitivity', ...measured });
  }
  // A note, no command: histories without a plan (all earlier ones) replay the same.
  if (scoring?.recoveryPlan && !carried) apply({ type: 'recovery-planned', plan: scoring.recoveryPlan });

  for (apply({ type: 'round' }); state.status === 'running'; apply({ type: 'round' })) {
    await condition(() => !paused);

    if (
      state.attempts.length - attemptsAtRunStart >= input.attemptsPerRun ||
      workflowInfo().continueAsNewSuggested
    ) {
      const ref = await saveStrategyLog({
        campaignId: input.campaignId,
        targetLabel: input.targetLabel,
        attempts: state.attempts.slice(attemptsAtRunStart),
        part: logRefs.length,
      });
      await condition(allHandlersFinished);
      const { agent, band, converged, extendedLeft, events, proposals, shapeSteps, shapeIndex, sensitivity } =
        state;
      return continueAsNew<typeof macTargetSearch>({
        ...input,
        carried: {
          logRefs: [...logRefs, ref],
          ...{ agent, band, converged, extendedLeft, events, proposals },
          ...(shapeSteps ? { shapeSteps } : {}),
          ...(shapeIndex ? { shapeIndex } : {}),
          ...(sensitivity ? { sensitivity } : {}),
        },
      });
    }

    const index = state.attempts.length + 1;
    const request = nextRequest(state, config);
    const override = overrides.shift();
    let proposal: Proposal;
    if (override) {
      if (override.scaleToBand) apply({ type: 'human-shape', strategy: override.strategy });
      proposal = { strategy: override.strategy, agent: 'human' };
    } else {
      try {
        proposal = await proposeStrategy({
          agent: request.agent,
          profile: input.profile,
          targetMacs: input.targetMacs,
          band: state.band,
          history: state.attempts,
          baseStrategy: request.baseStrategy,
          gridStep: input.gridStep,
          ...(request.note !== undefined ? { note: request.note } : {}),
          ...(state.sensitivity ? { sensitivity: state.sensitivity } : {}),
          ...rankedBy(input),
          context: { campaignId: input.campaignId, targetLabel: input.targetLabel },
        });
      } catch (err) {
        apply({ type: 'agent-failed', agent: request.agent, message: failureMessage(err) });
        continue;
      }
    }
    apply({
      type: 'proposed',
      agent: proposal.agent,
      exhausted: proposal.exhausted === true,
      extended: request.extended,
    });
    if (proposal.exhausted) continue;

    // A round that scales a shape into the band screens the proposal by dry run first, so the shape's one
    // trial lands in band; after a screen found nothing in band the solver's own steps go on unscreened.
    const last = state.attempts.at(-1);
    const scaling = override ? override.scaleToBand : request.scaling === true;
    const screen =
      screening && scaling && !(last?.screen && !last.screen.landed && last.screen.error === undefined)
        ? {
            targetMacs: input.targetMacs,
            band: state.band,
            scale: override ? ('ratio' as const) : screenScaleOf(request.baseStrategy),
          }
        : undefined;
    const trial = await runTrial(input, index, proposal, state.band, screen);
    // Every in-band candidate is scored (scaling steps and failures are not); a scoring failure leaves it
    // unscored, recorded, and the search goes on.
    const attempt = scoring && trial.inBand && !trial.error ? await withScore(input, scoring, trial) : trial;
    apply({ type: 'measured', attempt, extended: request.extended });
    upsert();
  }

  // Asked only of runs with finalists to score: every earlier history replays as it was recorded.
  if (scoring?.rescore && scoring.recovery && patched(RESCORE_PATCH)) {
    const { top, steps } = scoring.rescore;
    const chosen = finalists(state.attempts, state.band, top, scoring.rankBy);
    // One finalist would be kept whatever its second score: only two or more are worth scoring again.
    if (chosen.length >= 2) {
      apply({ type: 'finalists', indices: chosen.map((a) => a.index), steps });
      for (const finalist of chosen) {
        await condition(() => !paused);
        const recovery = { ...scoring.recovery, steps };
        const second = await scoreOnce(input, scoring, finalist, { mode: 'recovery', recovery }, true);
        apply({ type: 'rescored', index: finalist.index, ...second });
        upsert();
      }
    }
  }

  upsert();
  const firstHit = firstInBand(state.attempts, state.band);
  return {
    targetLabel: input.targetLabel,
    targetMacs: input.targetMacs,
    band: state.band,
    status: state.status,
    reason: state.reason ?? state.status,
    chosen: chooseCandidate(state.attempts, state.band, input.scoring?.rankBy),
    ...rankedBy(input),
    attemptCount: state.attempts.length,
    attemptsToConverge: firstHit ? firstHit.index : null,
    agentsUsed: [...new Set(state.attempts.map((a) => a.agent))],
  };
}

/** `{ rankBy }` when the config set how candidates are ranked, else nothing (the default, top-1). */
function rankedBy(input: MacTargetSearchInput): { rankBy?: RankBy } {
  return input.scoring?.rankBy ? { rankBy: input.scoring.rankBy } : {};
}

/** The strategy log as {@link strategyLogQuery} shows it. */
function strategyLog(input: MacTargetSearchInput, state: SearchState, paused: boolean): StrategyLog {
  return {
    campaignId: input.campaignId,
    targetLabel: input.targetLabel,
    model: input.model.name,
    targetMacs: input.targetMacs,
    band: state.band,
    agent: state.agent,
    status: paused && state.status === 'running' ? 'paused' : state.status,
    reason: state.reason,
    attempts: state.attempts,
    chosenIndex: chooseCandidate(state.attempts, state.band, input.scoring?.rankBy)?.index ?? null,
    ...rankedBy(input),
    events: state.events,
    ...(state.finalists ? { finalists: state.finalists } : {}),
    ...(input.scoring?.recoveryPlan ? { recoveryPlan: input.scoring.recoveryPlan } : {}),
  };
}

/** The search attributes of a search, upserted after every attempt. */
function searchAttributes(input: MacTargetSearchInput, state: SearchState) {
  const best = bestAttempt(state.attempts, state.band);
  return [
    { key: SA.campaignId, value: input.campaignId },
    { key: SA.model, value: input.model.name },
    { key: SA.targetMacs, value: input.targetMacs },
    { key: SA.stage, value: 'search' },
    { key: SA.iteration, value: state.attempts.length },
    { key: SA.agent, value: state.agent },
    { key: SA.converged, value: state.converged },
    ...(best ? [{ key: SA.bestDeviation, value: best.deviation }] : []),
  ];
}

async function runTrial(
  input: MacTargetSearchInput,
  index: number,
  proposal: Proposal,
  band: Band,
  screen?: PruneTrialInput['screen'],
): Promise<Attempt> {
  const base = {
    index,
    agent: proposal.agent,
    strategy: proposal.strategy,
    ...(proposal.fallbackReason ? { fallbackReason: proposal.fallbackReason } : {}),
    ...(proposal.llm ? { llm: proposal.llm } : {}),
  };
  try {
    const r = await pruneTrial({
      campaignId: input.campaignId,
      targetLabel: input.targetLabel,
      attemptIndex: index,
      model: input.model,
      strategy: proposal.strategy,
      ...(input.inputShape ? { inputShape: input.inputShape } : {}),
      ...(input.calibration ? { calibration: input.calibration } : {}),
      ...(screen ? { screen } : {}),
    });
    const d = deviation(r.macs, input.targetMacs);
    return {
      ...base,
      ...(r.strategy ? { strategy: r.strategy } : {}),
      ...(r.screen ? { screen: r.screen } : {}),
      macs: r.macs,
      params: r.params,
      deviation: d,
      inBand: inBand(d, band),
      wallMs: r.wallMs,
      stages: r.stages,
      model: r.model,
      ...(r.accuracyProxy ? { accuracyProxy: r.accuracyProxy } : {}),
    };
  } catch (err) {
    // A strategy the engine rejects is a measured failure of that strategy, not of the search.
    return failedAttempt(base, `${failureType(err) ?? 'error'}: ${failureMessage(err)}`);
  }
}

/**
 * The per-stage sensitivity of the dense model on the scoring slice, or why it failed: measured by the
 * campaign once for all its targets (`targetLabel` the model's), or by a search recorded before that.
 */
export async function measureSensitivityOnce(args: {
  campaignId: string;
  targetLabel: string;
  model: ModelSpec;
  inputShape?: number[];
  baseStrategy: Partial<Strategy>;
  scoring: CandidateScoring;
  ratios: number[];
}): Promise<MeasuredSensitivity> {
  const { scoring } = args;
  try {
    const r = await measureSensitivity({
      campaignId: args.campaignId,
      targetLabel: args.targetLabel,
      model: args.model,
      ...(args.inputShape ? { inputShape: args.inputShape } : {}),
      dataset: scoring.dataset,
      calibration: scoring.calibration,
      ratios: args.ratios,
      baseStrategy: args.baseStrategy,
      ...(scoring.scoreImages !== undefined ? { scoreImages: scoring.scoreImages } : {}),
      seed: scoring.seed,
    });
    return { table: { baseline: r.baseline, stages: r.stages } };
  } catch (err) {
    return { error: `${failureType(err) ?? 'error'}: ${failureMessage(err)}` };
  }
}

/** `attempt` with its score, or with `scoreError` when scoring it failed. */
async function withScore(
  input: MacTargetSearchInput,
  scoring: CandidateScoring,
  attempt: Attempt,
): Promise<Attempt> {
  const stage = {
    mode: scoring.mode,
    ...(scoring.mode === 'recovery' && scoring.recovery ? { recovery: scoring.recovery } : {}),
  };
  const r = await scoreOnce(input, scoring, attempt, stage, false);
  return 'score' in r ? { ...attempt, score: r.score } : { ...attempt, scoreError: r.error };
}

/**
 * One `scoreCandidate` of `attempt` in `stage` (zero-shot, or a recovery of its steps): its score, or why it
 * failed. `rescore`: a finalist's second score (its recovery checkpoints are kept apart from the first's).
 */
async function scoreOnce(
  input: MacTargetSearchInput,
  scoring: CandidateScoring,
  attempt: Attempt,
  stage: { mode: ScoringMode; recovery?: CandidateScoring['recovery'] },
  rescore: boolean,
): Promise<{ score: CandidateScore } | { error: string }> {
  const { mode, recovery } = stage;
  if (!attempt.model) return { error: 'no pruned model to score' };
  try {
    const score = await scoreCandidate({
      campaignId: input.campaignId,
      targetLabel: input.targetLabel,
      attemptIndex: attempt.index,
      model: attempt.model,
      ...(mode === 'recovery' ? { teacher: input.model } : {}),
      dataset: scoring.dataset,
      mode,
      calibration: scoring.calibration,
      ...(mode === 'recovery' && recovery ? { recovery } : {}),
      ...(scoring.scoreImages !== undefined ? { scoreImages: scoring.scoreImages } : {}),
      seed: scoring.seed,
      ...(rescore ? { rescore: true } : {}),
    });
    return { score };
  } catch (err) {
    return { error: `${failureType(err) ?? 'error'}: ${failureMessage(err)}` };
  }
}
