import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { AgentName, Attempt } from '../core/attempt';
import type { Strategy } from '../core/strategy';
import type { Band } from '../core/tolerance-band';

/** Status of one MAC-target search. */
export type SearchStatus = 'running' | 'paused' | 'converged' | 'diverged';

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
  /** Notes from the divergence monitor and agent switches, in order. */
  events: { afterAttempt: number; note: string }[];
}

/** The strategy log of a macTargetSearch. */
export const strategyLogQuery = defineQuery<StrategyLog>('strategyLogQuery');
/** Try this strategy next (validated; a bad one is rejected and never enters history). Returns its queue position. */
export const overrideStrategyUpdate = defineUpdate<number, [Strategy]>('overrideStrategyUpdate');
/** Change the tolerance band of a running search; returns the new band. */
export const setBandUpdate = defineUpdate<Band, [Band]>('setBandUpdate');
/** Pause before the next attempt. */
export const pauseSignal = defineSignal('pauseSignal');
/** Resume a paused search. */
export const resumeSignal = defineSignal('resumeSignal');
