import type { Client } from '@temporalio/client';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import type { EvaluateResult, ProfileModelResult } from '../activities';
import type { Attempt } from '../core/attempt';
import { resolveTargets, type CampaignConfig, type ResolvedTarget } from '../core/campaign-config';
import {
  extendedBudget,
  initialSearchState,
  searchConfigOf,
  searchReducer,
  type SearchState,
} from '../core/search-state';
import type { SensitivityTable } from '../core/stage-allocation';
import { inBand, type Band } from '../core/tolerance-band';
import { MODEL_LABEL } from '../storage/keys';
import type {
  CampaignInput,
  CampaignResult,
  CampaignRevision,
  CampaignTargetResult,
  SearchResume,
} from '../workflows/campaign';
import type { MacTargetSearchResult } from '../workflows/mac-target-search';
import { UsageError } from './errors';
import type { RebuiltLog } from './history-log';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

function decode<T>(payloads: Payload[] | null | undefined): T | undefined {
  const p = payloads?.[0];
  return p ? (defaultPayloadConverter.fromPayload(p) as T) : undefined;
}

/** What an earlier revision left that a new one may reuse, read from its history alone (no worker needed). */
export interface PreviousRevision {
  workflowId: string;
  status: string;
  input: CampaignInput;
  /** The dense model's profile, when it was profiled (or reused) in that revision. */
  profile?: ProfileModelResult;
  denseAccuracy?: EvaluateResult;
  /**
   * Each target's row that finished its search; `complete` when the steps after the search (fine-tune,
   * evaluation, deployment check) finished too, so the row may stand as a whole.
   */
  rows: Map<string, { row: CampaignTargetResult; complete: boolean }>;
}

/**
 * Read a campaign revision's input and what it finished from its history: the profile, the dense accuracy,
 * each finished search (a completed campaign's result rows are complete; a failed one's searches are not).
 */
export function previousRevision(
  workflowId: string,
  status: string,
  events: HistoryEvent[],
): PreviousRevision {
  const input = decode<CampaignInput>(events[0]?.workflowExecutionStartedEventAttributes?.input?.payloads);
  if (!input?.config) throw new UsageError(`${workflowId} is not a campaign workflow`);
  const rows: PreviousRevision['rows'] = new Map();
  for (const [label, kept] of Object.entries(input.revision?.reuse ?? {}))
    rows.set(label, { row: kept.row, complete: kept.steps === 'all' });
  let profile = input.revision?.profile;
  let denseAccuracy = input.revision?.denseAccuracy;
  const scheduled = new Map<string, { type: string; input: unknown }>();
  const children = new Map<string, string>();
  for (const ev of events) {
    const id = String(ev.eventId ?? '');
    const s = ev.activityTaskScheduledEventAttributes;
    if (s) scheduled.set(id, { type: s.activityType?.name ?? '', input: decode(s.input?.payloads) });
    const c = ev.activityTaskCompletedEventAttributes;
    const done = c ? scheduled.get(String(c.scheduledEventId ?? '')) : undefined;
    if (c && done?.type === 'profileModel') profile = decode<ProfileModelResult>(c.result?.payloads);
    if (
      c &&
      done?.type === 'evaluateModel' &&
      (done.input as { targetLabel?: string }).targetLabel === MODEL_LABEL
    )
      denseAccuracy = decode<EvaluateResult>(c.result?.payloads);
    const started = ev.startChildWorkflowExecutionInitiatedEventAttributes;
    if (started?.workflowId) children.set(id, started.workflowId);
    const child = ev.childWorkflowExecutionCompletedEventAttributes;
    const childId = child ? children.get(String(child.initiatedEventId ?? '')) : undefined;
    if (child && childId) {
      const r = decode<MacTargetSearchResult>(child.result?.payloads);
      if (r)
        rows.set(r.targetLabel, { row: { ...r, searchWorkflowId: childId, notes: [] }, complete: false });
    }
  }
  const completed = events.at(-1)?.workflowExecutionCompletedEventAttributes;
  const result = completed ? decode<CampaignResult>(completed.result?.payloads) : undefined;
  for (const row of result?.targets ?? []) rows.set(row.targetLabel, { row, complete: true });
  denseAccuracy = result?.denseAccuracy ?? denseAccuracy;
  return {
    workflowId,
    status,
    input,
    ...(profile ? { profile } : {}),
    ...(denseAccuracy ? { denseAccuracy } : {}),
    rows,
  };
}

/** JSON with keys sorted: two configs that mean the same compare equal whatever their key order. */
function stable(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)),
        )
      : v,
  );
}

/** What the dense model's profile depends on. */
const profileKey = (c: CampaignConfig) => stable({ model: c.model, inputShape: c.inputShape ?? null });
/** What one target's search depends on: the model, the resolved target and band, the search and calibration. */
const searchKey = (c: CampaignConfig, t: ResolvedTarget) =>
  stable({
    profile: profileKey(c),
    targetMacs: t.targetMacs,
    band: t.band,
    search: c.search,
    claude: c.claude ?? null,
    calibration: c.dataset
      ? [c.dataset.root, c.dataset.calibrationBatches, c.dataset.calibrationBatchSize]
      : null,
  });
/** What the steps after a search depend on. */
const postKey = (c: CampaignConfig) =>
  stable({ dataset: c.dataset ?? null, finetune: c.finetune ?? null, deployment: c.deployment ?? null });

/** The search state after `attempts`, as the search's reducer left it (the new run carries it on). */
export function stateAfter(
  attempts: readonly Attempt[],
  config: CampaignConfig,
  target: { targetMacs: number; band: Band },
  profile: ProfileModelResult,
  sensitivity?: SensitivityTable,
): SearchResume['state'] {
  const search = config.search;
  // The search's own config, as macTargetSearch builds it from its input for a new run.
  const searchConfig = searchConfigOf({
    targetMacs: target.targetMacs,
    fallbackAgent: search.fallbackAgent,
    maxIterations: search.maxIterations,
    stagnationWindow: search.stagnationWindow,
    extendedSearch: search.extendedSearch,
    baseStrategy: search.base,
    floorMacs: profile.summary.protectedMacs,
    ceilingMacs: profile.macs,
    scaleCandidates: true,
    ...(search.candidates !== undefined ? { candidates: search.candidates } : {}),
    perLayerShape: search.candidates !== undefined,
  });
  let state: SearchState = initialSearchState({
    attempts: [],
    band: target.band,
    agent: search.agent,
    extendedLeft: extendedBudget(searchConfig),
  });
  // As the search did at its start: the sensitivity table first, so the stage-allocation shape is where it was.
  if (sensitivity) state = searchReducer(state, { type: 'sensitivity', table: sensitivity }, searchConfig);
  for (const a of attempts) {
    const extended = state.converged;
    const attempt = a.error ? a : { ...a, inBand: inBand(a.deviation, target.band) };
    state = searchReducer(state, { type: 'round' }, searchConfig);
    state = searchReducer(
      state,
      { type: 'proposed', agent: a.agent, exhausted: false, extended },
      searchConfig,
    );
    state = searchReducer(state, { type: 'measured', attempt, extended }, searchConfig);
  }
  const { agent, band, converged, extendedLeft, events, proposals, shapeSteps, shapeIndex } = state;
  return {
    agent,
    band,
    converged,
    extendedLeft,
    events,
    proposals,
    ...(shapeSteps ? { shapeSteps } : {}),
    ...(shapeIndex ? { shapeIndex } : {}),
    ...(state.sensitivity ? { sensitivity: state.sensitivity } : {}),
  };
}

/** What `campaign reset` changes: one target's search, re-run from an attempt. */
export interface ResetRequest {
  targetLabel: string;
  fromAttempt: number;
  /** That target's strategy log in the previous revision (the attempts the re-run starts from). */
  log: RebuiltLog;
}

/**
 * Plan the next revision of a campaign: under `config` (the previous one for a reset, a changed one for a
 * retry), what is reused and what runs again. The profile stands while the model and input shape do; a
 * target's search stands while its resolved target, band, search and calibration settings do (and, whole,
 * when its fine-tune, evaluation and deployment check finished under unchanged settings); a reset target's
 * search runs again from its attempt. Returns the revision and one line per thing that runs again and why.
 */
export function planRevision(
  previous: PreviousRevision,
  config: CampaignConfig,
  number: number,
  reset?: ResetRequest,
): { revision: CampaignRevision; rerun: string[] } {
  const before = previous.input.config;
  const rootId = previous.input.revision?.campaignId ?? previous.workflowId;
  const reuse: CampaignRevision['reuse'] = {};
  const resume: CampaignRevision['resume'] = {};
  const rerun: string[] = [];
  const profile = profileKey(before) === profileKey(config) ? previous.profile : undefined;
  if (!profile) rerun.push(previous.profile ? 'profile: the model changed' : 'profile: not finished before');
  let resolvedNow: ResolvedTarget[] = [];
  let resolvedBefore: ResolvedTarget[] = [];
  if (profile) {
    const floor = profile.summary.protectedMacs;
    resolvedBefore = resolveTargets(before.targets, profile.macs, floor);
    try {
      resolvedNow = resolveTargets(config.targets, profile.macs, floor);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  }
  resolvedNow.forEach((t, i) => {
    const field = `targets.${i} (${t.label})`;
    const was = resolvedBefore.find((b) => b.label === t.label);
    const prev = previous.rows.get(t.label);
    if (reset?.targetLabel === t.label && prev && profile) {
      // The re-run picks and scores its own finalists when it ends: the replaced run's second scores (made
      // after its search, over attempts the re-run may not keep) do not carry over.
      const attempts = reset.log.attempts
        .filter((a) => a.index < reset.fromAttempt)
        .map(({ rescore: _rescore, rescoreError: _rescoreError, ...a }) => a);
      resume[t.label] = {
        fromAttempt: reset.fromAttempt,
        attempts,
        state: stateAfter(
          attempts,
          config,
          { targetMacs: t.targetMacs, band: reset.log.band },
          profile,
          reset.log.sensitivity,
        ),
        replaces: { searchWorkflowId: prev.row.searchWorkflowId, attempts: reset.log.attempts.length },
      };
      rerun.push(
        `${field}: search re-run from attempt ${reset.fromAttempt}, then fine-tune, evaluation, deployment`,
      );
    } else if (!prev || !was) {
      rerun.push(`${field}: ${was ? 'its search did not finish before' : 'a new target'}`);
    } else if (searchKey(before, was) !== searchKey(config, t)) {
      rerun.push(`${field}: ${whatChanged(before, config, was, t)} changed: search re-run`);
    } else if (prev.complete && postKey(before) === postKey(config)) {
      reuse[t.label] = { row: prev.row, steps: 'all' };
    } else {
      reuse[t.label] = { row: prev.row, steps: 'search' };
      rerun.push(
        `${field}: ${prev.complete ? 'dataset, finetune or deployment changed' : 'the steps after its search did not finish before'}: they run again on the same search`,
      );
    }
  });
  if (reset && !resume[reset.targetLabel])
    throw new UsageError(
      `--target: ${reset.targetLabel} has no finished search in ${previous.workflowId} to reset`,
    );
  const denseAccuracy =
    profile &&
    previous.denseAccuracy &&
    stable(before.dataset ?? null) === stable(config.dataset ?? null) &&
    before.finetune?.batchSize === config.finetune?.batchSize
      ? previous.denseAccuracy
      : undefined;
  const revision: CampaignRevision = {
    campaignId: rootId,
    number,
    previousId: previous.workflowId,
    reason: reset
      ? `reset ${reset.targetLabel} to attempt ${reset.fromAttempt}`
      : `retry: ${rerun.length > 0 ? rerun.join('; ') : 'nothing changed'}`,
    ...(profile ? { profile } : {}),
    ...(denseAccuracy ? { denseAccuracy } : {}),
    reuse,
    resume,
  };
  return { revision, rerun };
}

/** The first of the things a target's search depends on that differ, for the retry's reason line. */
function whatChanged(a: CampaignConfig, b: CampaignConfig, ta: ResolvedTarget, tb: ResolvedTarget): string {
  if (ta.targetMacs !== tb.targetMacs) return 'target MACs';
  if (stable(ta.band) !== stable(tb.band)) return 'band';
  if (stable(a.search) !== stable(b.search) || stable(a.claude ?? null) !== stable(b.claude ?? null))
    return 'search';
  return 'calibration dataset';
}

/**
 * `--set path=value` on a campaign config: the value is JSON when it parses (`128`, `true`, `[1,8]`,
 * `"-3%..+1%"`), else the string itself; `targets.1.band` reaches into the list. Returns a changed copy
 * (validate it with the schema after).
 *
 * @example applySet(config, 'finetune.batchSize=128')
 */
export function applySet(config: unknown, assignment: string): unknown {
  const at = assignment.indexOf('=');
  if (at <= 0) throw new UsageError(`--set: expected path=value, got "${assignment}"`);
  const keys = assignment.slice(0, at).split('.');
  const raw = assignment.slice(at + 1);
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    value = raw;
  }
  const copy = structuredClone(config) as Record<string, unknown>;
  let node: Record<string, unknown> = copy;
  keys.slice(0, -1).forEach((k, i) => {
    const next = node[k];
    if (next === undefined) node[k] = {};
    else if (typeof next !== 'object' || next === null)
      throw new UsageError(`--set: ${keys.slice(0, i + 1).join('.')} is not an object`);
    node = node[k] as Record<string, unknown>;
  });
  node[keys.at(-1)!] = value;
  return copy;
}

/** Whether a workflow id exists (any status). */
async function exists(client: Client, workflowId: string): Promise<boolean> {
  try {
    await client.workflow.getHandle(workflowId).describe();
    return true;
  } catch (err) {
    if (err instanceof Error && /not found/i.test(err.message)) return false;
    throw err;
  }
}

export { exists as workflowExists };
