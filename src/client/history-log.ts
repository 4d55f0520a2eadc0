import type { Client } from '@temporalio/client';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import type { Proposal } from '../agents/agent';
import type {
  PruneTrialInput,
  PruneTrialResult,
  ScoreCandidateInput,
  SensitivityResult,
} from '../activities';
import type { SensitivityTable } from '../core/stage-allocation';
import type { Attempt, CandidateScore } from '../core/attempt';
import {
  finalistsNote,
  recoveryPlanNote,
  type Finalists,
  type RecoveryPlan,
} from '../core/attempt-selection';
import { deviation, formatBand, inBand, type Band } from '../core/tolerance-band';
import type { MacTargetSearchInput, MacTargetSearchResult } from '../workflows/mac-target-search';
import { closeReason } from './failure-reason';

type HistoryEvent = temporal.api.history.v1.IHistoryEvent;

/** The strategy log of one target, rebuilt from workflow history alone (no worker needed). */
export interface RebuiltLog {
  workflowId: string;
  targetLabel: string;
  model: string;
  targetMacs: number;
  band: Band;
  status: string;
  attempts: Attempt[];
  /** The search's result, when its last run completed (status converged/diverged and why). */
  result?: MacTargetSearchResult;
  /** Why the last run ended without a result (failed, cancelled, terminated), in one line. */
  reason?: string;
  /** The attempt kept for fine-tuning (the result's chosen attempt), `null` while none is. */
  chosenIndex: number | null;
  /** Human changes, in order: band changes and strategy overrides, each after the attempt it followed. */
  changes: { afterAttempt: number; note: string }[];
  /** The per-stage sensitivity the search measured, when it did (a reset from an attempt replays with it). */
  sensitivity?: SensitivityTable;
  /** The finalists of a two-stage scoring, once the search chose them (its second `scoreCandidate`s). */
  finalists?: Finalists;
  /**
   * How the campaign planned the scoring's recovery before the search (a share or epochs as steps, or a zero-shot
   * first stage's finalists within `rescore.maxShare`): its note is the log's first change.
   */
  recoveryPlan?: RecoveryPlan;
  /**
   * Runs a reset replaced (a later run of the same id was reset from them): kept as history, their attempts
   * not in `attempts` — the run that counts replays the attempts before the reset point itself.
   */
  supersededRuns: { runId: string; attempts: number }[];
  /** Set by `CampaignClient.log` on a campaign revision's log: where this target's search comes from. */
  revision?: {
    /** The campaign revision the log is shown for. */
    number: number;
    /** `reused`: an earlier revision's search, standing as it was; `rerun`: a search this revision ran. */
    search: 'reused' | 'rerun';
    /** For a re-run from an attempt: the search whose attempts from `fromAttempt` on it replaced. */
    reset?: { fromAttempt: number; replacedSearchId: string; replacedAttempts: number };
  };
}

function decode<T>(payloads: Payload[] | null | undefined, index = 0): T | undefined {
  const p = payloads?.[index];
  return p ? (defaultPayloadConverter.fromPayload(p) as T) : undefined;
}

/**
 * Rebuild the attempts of one macTargetSearch run from its history events: each pruneTrial's input
 * (the strategy) and result (the measurement), with the agent from the proposal that preceded it and the
 * candidate's score from the scoreCandidate that followed it (or, when that failed, `scoreError`).
 * Accepted band changes and overrides (updates) are listed as `changes`; the caller re-judges in-band
 * flags against the latest band.
 */
export function attemptsFromHistory(events: HistoryEvent[]): {
  input: MacTargetSearchInput | undefined;
  attempts: Attempt[];
  /** The band after the run's last accepted band change; `undefined` when none was made. */
  band?: Band;
  changes: { afterAttempt: number; note: string }[];
  /** The per-stage sensitivity the search measured (or carried in from the run before), when it has one. */
  sensitivity?: SensitivityTable;
  /** The finalists of a two-stage scoring, when the run scored any again. */
  finalists?: Finalists;
} {
  let input: MacTargetSearchInput | undefined;
  const scheduled = new Map<string, { type: string; input: unknown }>();
  const attempts: Attempt[] = [];
  const changes: { afterAttempt: number; note: string }[] = [];
  let band: Band | undefined;
  let lastProposal: Proposal | undefined;
  let sensitivity: SensitivityTable | undefined;
  // The finalists of a two-stage scoring, in the order they were scored again.
  const finalists: number[] = [];
  let finalistSteps = 0;
  for (const ev of events) {
    const id = String(ev.eventId ?? '');
    const update = ev.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input;
    if (update) {
      // Only accepted updates are in history: a rejected override or band never is.
      const arg = decode<unknown>(update.args?.payloads);
      const afterAttempt = attempts.at(-1)?.index ?? 0;
      if (update.name === 'setBandUpdate') {
        const from = band ?? input?.band;
        band = arg as Band;
        changes.push({
          afterAttempt,
          note: `band changed${from ? ` from ${formatBand(from)}` : ''} to ${formatBand(band)}`,
        });
      } else if (update.name === 'overrideStrategyUpdate') {
        const s = arg as { pruningRatio?: number; importance?: string };
        const scaled = decode<{ scaleToBand?: boolean }>(update.args?.payloads, 1)?.scaleToBand === true;
        changes.push({
          afterAttempt,
          note:
            `override queued: ratio ${s.pruningRatio ?? '?'} ${s.importance ?? ''}`.trimEnd() +
            (scaled ? ', its shape scaled into the band' : ''),
        });
      }
    } else if (ev.workflowExecutionStartedEventAttributes) {
      input = decode<MacTargetSearchInput>(ev.workflowExecutionStartedEventAttributes.input?.payloads);
      // Measured by the campaign for all targets, or carried in from the run before.
      const measured = input?.measuredSensitivity;
      sensitivity =
        input?.carried?.sensitivity ?? (measured && 'table' in measured ? measured.table : undefined);
      // How the campaign turned search.recovery.share or .epochs into steps (a continued run carries it in its input too).
      const plan = input?.scoring?.recoveryPlan;
      if (plan && !input?.carried) changes.push({ afterAttempt: 0, note: recoveryPlanNote(plan) });
    } else if (ev.activityTaskScheduledEventAttributes) {
      const a = ev.activityTaskScheduledEventAttributes;
      const activity = { type: a.activityType?.name ?? '', input: decode(a.input?.payloads as Payload[]) };
      scheduled.set(id, activity);
      if (activity.type === 'scoreCandidate' && (activity.input as ScoreCandidateInput).rescore) {
        const scoring = activity.input as ScoreCandidateInput;
        finalists.push(scoring.attemptIndex);
        finalistSteps = scoring.recovery?.steps ?? 0;
      }
    } else if (ev.activityTaskCompletedEventAttributes) {
      const a = ev.activityTaskCompletedEventAttributes;
      const s = scheduled.get(String(a.scheduledEventId ?? ''));
      if (!s) continue;
      const result = decode<unknown>(a.result?.payloads);
      if (s.type === 'proposeStrategy') lastProposal = result as Proposal;
      if (s.type === 'measureSensitivity') {
        const { baseline, stages } = result as SensitivityResult;
        sensitivity = { baseline, stages };
      }
      // A run that starts from a stored log (continue-as-new, or a revision's re-run from an attempt) loads
      // the attempts before its own: they are part of its log.
      if (s.type === 'loadStrategyLog') attempts.push(...(result as Attempt[]));
      if (s.type === 'scoreCandidate') {
        // The score belongs to the candidate its trial measured (the attempt pushed just before); a
        // finalist's second score, after the search, to that finalist.
        const scoring = s.input as ScoreCandidateInput;
        const scored = attempts.find((x) => x.index === scoring.attemptIndex);
        if (scored && scoring.rescore) scored.rescore = result as CandidateScore;
        else if (scored) scored.score = result as CandidateScore;
      }
      if (s.type === 'pruneTrial' && input) {
        const trial = s.input as PruneTrialInput;
        const r = result as PruneTrialResult;
        const d = deviation(r.macs, input.targetMacs);
        attempts.push({
          index: trial.attemptIndex,
          agent: agentFor(trial, lastProposal),
          // A screened trial pruned the strategy its screen found, not the proposal as given.
          strategy: r.strategy ?? trial.strategy,
          macs: r.macs,
          params: r.params,
          deviation: d,
          inBand: inBand(d, input.band),
          wallMs: r.wallMs,
          stages: r.stages,
          model: r.model,
          ...(r.accuracyProxy ? { accuracyProxy: r.accuracyProxy } : {}),
          ...(lastProposal?.fallbackReason ? { fallbackReason: lastProposal.fallbackReason } : {}),
          ...(lastProposal?.llm ? { llm: lastProposal.llm } : {}),
          ...(r.screen ? { screen: r.screen } : {}),
        });
      }
    } else if (ev.activityTaskFailedEventAttributes) {
      const a = ev.activityTaskFailedEventAttributes;
      const s = scheduled.get(String(a.scheduledEventId ?? ''));
      if (s?.type === 'scoreCandidate') {
        // As the search records it: the candidate stays, unscored (or without its second score), with why.
        const scoring = s.input as ScoreCandidateInput;
        const scored = attempts.find((x) => x.index === scoring.attemptIndex);
        const type = a.failure?.applicationFailureInfo?.type || 'error';
        const why = `${type}: ${a.failure?.message ?? 'failed'}`;
        if (scored && scoring.rescore) scored.rescoreError = why;
        else if (scored) scored.scoreError = why;
      }
      if (s?.type === 'pruneTrial') {
        const trial = s.input as PruneTrialInput;
        attempts.push({
          index: trial.attemptIndex,
          agent: agentFor(trial, lastProposal),
          strategy: trial.strategy,
          macs: 0,
          params: 0,
          deviation: -1,
          inBand: false,
          wallMs: 0,
          error: a.failure?.message ?? 'failed',
        });
      }
    }
  }
  const chosen = finalists.length > 0 ? { indices: finalists, steps: finalistSteps } : undefined;
  if (chosen) changes.push({ afterAttempt: attempts.length, note: finalistsNote(chosen) });
  return {
    input,
    attempts,
    ...(band ? { band } : {}),
    changes,
    ...(sensitivity ? { sensitivity } : {}),
    ...(chosen ? { finalists: chosen } : {}),
  };
}

function agentFor(trial: PruneTrialInput, proposal: Proposal | undefined): Attempt['agent'] {
  // An override strategy never went through proposeStrategy: it is the human's.
  if (proposal && JSON.stringify(proposal.strategy) === JSON.stringify(trial.strategy)) return proposal.agent;
  return 'human';
}

/** Every run (continue-as-new chain) of a workflow id, oldest first, each with its history events. */
async function runsOf(
  client: Client,
  workflowId: string,
): Promise<{ runId: string; status: string; events: HistoryEvent[] }[]> {
  const runs: { runId: string; status: string; start: number }[] = [];
  for await (const wf of client.workflow.list({
    query: `WorkflowId = '${workflowId.replace(/'/g, "\\'")}'`,
  })) {
    runs.push({ runId: wf.runId, status: wf.status.name, start: wf.startTime.getTime() });
  }
  // Visibility may lag a just-started run (a new workflow, a reset): the current run always counts.
  const desc = await client.workflow.getHandle(workflowId).describe();
  if (!runs.some((r) => r.runId === desc.runId))
    runs.push({ runId: desc.runId, status: desc.status.name, start: desc.startTime.getTime() });
  runs.sort((a, b) => a.start - b.start);
  const out: { runId: string; status: string; events: HistoryEvent[] }[] = [];
  for (const r of runs) {
    const history = await client.workflow.getHandle(workflowId, r.runId).fetchHistory();
    out.push({ runId: r.runId, status: r.status, events: history.events ?? [] });
  }
  return out;
}

/** Rebuild the strategy log of one search workflow (all of its runs) from history. */
export async function rebuildSearchLog(client: Client, workflowId: string): Promise<RebuiltLog> {
  const runs = await runsOf(client, workflowId);
  let input: MacTargetSearchInput | undefined;
  let band: Band | undefined;
  // The newest run that counts wins an attempt index (a reset run re-measures from its reset point on).
  const byIndex = new Map<number, Attempt>();
  const changes: RebuiltLog['changes'] = [];
  let sensitivity: SensitivityTable | undefined;
  let finalists: Finalists | undefined;
  const supersededRuns: RebuiltLog['supersededRuns'] = [];
  // A reset run names the run it was reset from (`baseRunId` on its reset workflow-task failure).
  const resetFrom = new Set(
    runs.flatMap((run) =>
      run.events.flatMap((ev) => {
        const base = ev.workflowTaskFailedEventAttributes?.baseRunId;
        return base ? [base] : [];
      }),
    ),
  );
  for (const run of runs) {
    const r = attemptsFromHistory(run.events);
    input = input ?? r.input;
    if (resetFrom.has(run.runId)) {
      supersededRuns.push({ runId: run.runId, attempts: r.attempts.length });
      continue;
    }
    // A later run starts from the band its predecessor carried over; a change in it moves it again.
    band = r.band ?? r.input?.band ?? band;
    for (const a of r.attempts) byIndex.set(a.index, a);
    changes.push(...r.changes);
    sensitivity = r.sensitivity ?? sensitivity;
    finalists = r.finalists ?? finalists;
  }
  if (!input)
    throw new Error(`workflow ${workflowId} is not a macTargetSearch (no input found in its history)`);
  const start: MacTargetSearchInput = input;
  const unique = [...byIndex.values()];
  const lastEvents = runs[runs.length - 1]?.events ?? [];
  const completed = lastEvents.at(-1)?.workflowExecutionCompletedEventAttributes;
  const result = completed ? decode<MacTargetSearchResult>(completed.result?.payloads) : undefined;
  const reason = closeReason(lastEvents);
  return {
    workflowId,
    targetLabel: start.targetLabel,
    model: start.model.name,
    targetMacs: start.targetMacs,
    band: band ?? start.band,
    status: runs[runs.length - 1]?.status ?? 'UNKNOWN',
    // As the search does after a band change: every in-band flag is judged against the band now.
    attempts: unique
      .sort((a, b) => a.index - b.index)
      .map((a) => (a.error ? a : { ...a, inBand: inBand(a.deviation, band ?? start.band) })),
    ...(result ? { result } : {}),
    ...(reason ? { reason } : {}),
    chosenIndex: result?.chosen?.index ?? null,
    changes,
    supersededRuns,
    ...(sensitivity ? { sensitivity } : {}),
    ...(finalists ? { finalists } : {}),
    ...(start.scoring?.recoveryPlan ? { recoveryPlan: start.scoring.recoveryPlan } : {}),
  };
}
