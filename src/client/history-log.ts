import type { Client } from '@temporalio/client';
import { defaultPayloadConverter, type Payload } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import type { Proposal } from '../agents/agent';
import type { PruneTrialInput, PruneTrialResult } from '../activities';
import type { Attempt } from '../core/attempt';
import { deviation, inBand, type Band } from '../core/tolerance-band';
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
}

function decode<T>(payloads: Payload[] | null | undefined, index = 0): T | undefined {
  const p = payloads?.[index];
  return p ? (defaultPayloadConverter.fromPayload(p) as T) : undefined;
}

/**
 * Rebuild the attempts of one macTargetSearch run from its history events: each pruneTrial's input
 * (the strategy) and result (the measurement), with the agent from the proposal that preceded it.
 * Band changes sent by update are not replayed: deviations are judged against the starting band.
 */
export function attemptsFromHistory(events: HistoryEvent[]): {
  input: MacTargetSearchInput | undefined;
  attempts: Attempt[];
} {
  let input: MacTargetSearchInput | undefined;
  const scheduled = new Map<string, { type: string; input: unknown }>();
  const attempts: Attempt[] = [];
  let lastProposal: Proposal | undefined;
  for (const ev of events) {
    const id = String(ev.eventId ?? '');
    if (ev.workflowExecutionStartedEventAttributes) {
      input = decode<MacTargetSearchInput>(ev.workflowExecutionStartedEventAttributes.input?.payloads);
    } else if (ev.activityTaskScheduledEventAttributes) {
      const a = ev.activityTaskScheduledEventAttributes;
      scheduled.set(id, { type: a.activityType?.name ?? '', input: decode(a.input?.payloads as Payload[]) });
    } else if (ev.activityTaskCompletedEventAttributes) {
      const a = ev.activityTaskCompletedEventAttributes;
      const s = scheduled.get(String(a.scheduledEventId ?? ''));
      if (!s) continue;
      const result = decode<unknown>(a.result?.payloads);
      if (s.type === 'proposeStrategy') lastProposal = result as Proposal;
      if (s.type === 'pruneTrial' && input) {
        const trial = s.input as PruneTrialInput;
        const r = result as PruneTrialResult;
        const d = deviation(r.macs, input.targetMacs);
        attempts.push({
          index: trial.attemptIndex,
          agent: agentFor(trial, lastProposal),
          strategy: trial.strategy,
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
        });
      }
    } else if (ev.activityTaskFailedEventAttributes) {
      const a = ev.activityTaskFailedEventAttributes;
      const s = scheduled.get(String(a.scheduledEventId ?? ''));
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
  return { input, attempts };
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
  if (runs.length === 0) {
    // Visibility may lag a just-started workflow: fall back to the latest run.
    const desc = await client.workflow.getHandle(workflowId).describe();
    runs.push({ runId: desc.runId, status: desc.status.name, start: desc.startTime.getTime() });
  }
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
  const attempts: Attempt[] = [];
  for (const run of runs) {
    const r = attemptsFromHistory(run.events);
    input = input ?? r.input;
    attempts.push(...r.attempts);
  }
  if (!input)
    throw new Error(`workflow ${workflowId} is not a macTargetSearch (no input found in its history)`);
  const seen = new Set<number>();
  const unique = attempts.filter((a) => (seen.has(a.index) ? false : (seen.add(a.index), true)));
  const lastEvents = runs[runs.length - 1]?.events ?? [];
  const completed = lastEvents.at(-1)?.workflowExecutionCompletedEventAttributes;
  const result = completed ? decode<MacTargetSearchResult>(completed.result?.payloads) : undefined;
  const reason = closeReason(lastEvents);
  return {
    workflowId,
    targetLabel: input.targetLabel,
    model: input.model.name,
    targetMacs: input.targetMacs,
    band: input.band,
    status: runs[runs.length - 1]?.status ?? 'UNKNOWN',
    attempts: unique.sort((a, b) => a.index - b.index),
    ...(result ? { result } : {}),
    ...(reason ? { reason } : {}),
    chosenIndex: result?.chosen?.index ?? null,
  };
}

/** The search child workflow ids a campaign started, read from the campaign's history. */
export async function searchChildrenOf(client: Client, campaignId: string): Promise<string[]> {
  const history = await client.workflow.getHandle(campaignId).fetchHistory();
  const ids: string[] = [];
  for (const ev of history.events ?? []) {
    const a = ev.startChildWorkflowExecutionInitiatedEventAttributes;
    if (a?.workflowId && a.workflowType?.name === 'macTargetSearch') ids.push(a.workflowId);
  }
  return ids;
}
