/**
 * What clients and workflows share: the queries, signals and updates of each workflow, and the
 * search workflow id. Definitions only — no workflow code — so the client imports this module by
 * value without loading a workflow (the workflows import it too and set the handlers).
 */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { AgentName, Attempt } from '../core/attempt';
import type { Finalists, RecoveryPlan } from '../core/attempt-selection';
import type { RankBy } from '../core/campaign-config';
import type { Strategy } from '../core/strategy';
import type { Band } from '../core/tolerance-band';
import type { CampaignTargetResult } from './campaign';
import type { CampaignStage } from './search-attributes';

/** Status of one MAC-target search. */
export type SearchStatus = 'running' | 'paused' | 'converged' | 'diverged' | 'infeasible';

/** What `strategyLogQuery` returns: the whole strategy log of one target and where the search stands. */
export interface StrategyLog {
  campaignId: string;
  targetLabel: string;
  model: string;
  targetMacs: number;
  band: Band;
  agent: AgentName;
  status: SearchStatus;
  reason: string | null;
  attempts: Attempt[];
  chosenIndex: number | null;
  /** Which figure of the score kept `chosenIndex`, when the config set one (`SearchConfig.rankBy`). */
  rankBy?: RankBy;
  /** Notes from the divergence monitor and agent switches, in order. */
  events: { afterAttempt: number; note: string }[];
  /** The finalists of a two-stage scoring (`search.recovery.rescore`), once the search chose them. */
  finalists?: Finalists;
  /** How the campaign planned the scoring's recovery before the search (its input's `scoring.recoveryPlan`). */
  recoveryPlan?: RecoveryPlan;
}

/** The strategy log of a macTargetSearch. */
export const strategyLogQuery = defineQuery<StrategyLog>('strategyLogQuery');
/** How a human override is used. */
export interface OverrideOptions {
  /**
   * Treat the strategy as a shape: after its own trial, the solver scales that shape (everything but the
   * ratio) into the band before it counts as a candidate. @default false
   */
  scaleToBand?: boolean;
}
/**
 * Try this strategy next (validated; a bad one is rejected and never enters history). Returns its queue
 * position.
 */
export const overrideStrategyUpdate = defineUpdate<number, [Strategy, OverrideOptions?]>(
  'overrideStrategyUpdate',
);
/** Change the tolerance band of a running search; returns the new band. */
export const setBandUpdate = defineUpdate<Band, [Band]>('setBandUpdate');
/** Pause before the next attempt. */
export const pauseSignal = defineSignal('pauseSignal');
/** Resume a paused search. */
export const resumeSignal = defineSignal('resumeSignal');

/** Where a campaign stands (for `campaign status` and `watch`). */
export interface CampaignProgress {
  campaignId: string;
  stage: CampaignStage;
  model: string;
  denseMacs: number | null;
  targets: {
    label: string;
    targetMacs: number;
    band: { lo: number; hi: number };
    searchWorkflowId: string;
  }[];
  results: CampaignTargetResult[];
}

/** Where a campaign stands: its stage, resolved targets and the results so far. */
export const campaignProgressQuery = defineQuery<CampaignProgress>('campaignProgressQuery');

/** What separates the campaign id from the target label in a search workflow id. */
export const SEARCH_ID_SEPARATOR = '--';

/**
 * Workflow id of the search child for one target: `<campaignId>--<targetLabel>`.
 *
 * @example searchWorkflowId('resnet50-20261128', 't1-1770.0M') // 'resnet50-20261128--t1-1770.0M'
 */
export function searchWorkflowId(campaignId: string, targetLabel: string): string {
  return `${campaignId}${SEARCH_ID_SEPARATOR}${targetLabel}`;
}

/**
 * Split a search workflow id into campaign id and target label; `undefined` when `workflowId` is not one
 * (a campaign id). With `campaignId` known, the label is whatever follows `<campaignId>--` (labels and ids
 * may themselves contain `--`); without it, the id splits at its first `--`.
 */
export function parseSearchWorkflowId(
  workflowId: string,
  campaignId?: string,
): { campaignId: string; targetLabel: string } | undefined {
  if (campaignId !== undefined) {
    const head = `${campaignId}${SEARCH_ID_SEPARATOR}`;
    return workflowId.startsWith(head) && workflowId.length > head.length
      ? { campaignId, targetLabel: workflowId.slice(head.length) }
      : undefined;
  }
  const at = workflowId.indexOf(SEARCH_ID_SEPARATOR);
  return at < 0
    ? undefined
    : {
        campaignId: workflowId.slice(0, at),
        targetLabel: workflowId.slice(at + SEARCH_ID_SEPARATOR.length),
      };
}
