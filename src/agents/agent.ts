import type { AgentName, Attempt, LlmUsage } from '../core/attempt';
import type { RankBy } from '../core/campaign-config';
import type { ProfileSummary } from '../core/profile';
import type { SensitivityTable } from '../core/stage-allocation';
import type { Strategy } from '../core/strategy';
import type { Band } from '../core/tolerance-band';

/**
 * What every strategy agent is asked: the model's profile summary, the target and band, and every
 * attempt so far (the strategy log). Plain data: it travels through workflow history.
 */
export interface ProposeInput {
  /** Which agent to ask. */
  agent: AgentName;
  profile: ProfileSummary;
  targetMacs: number;
  band: Band;
  /** Every attempt so far, oldest first. */
  history: Attempt[];
  /** Fields every proposal keeps unless the agent has reason to change them (importance, roundTo, ignored layers...). */
  baseStrategy: Partial<Strategy>;
  /** Grid step for the `grid` agent. @default 0.05 */
  gridStep?: number;
  /** A hint from the workflow, e.g. the divergence monitor's reason for switching to this agent. */
  note?: string;
  /** The per-stage sensitivity the search measured at its start, when it did (the Claude prompt shows it). */
  sensitivity?: SensitivityTable;
  /** Which figure of a candidate's score keeps it (`SearchConfig.rankBy`); absent: `top1`. */
  rankBy?: RankBy;
  /** Identifies the search, for naming transcripts in the artifact store. */
  context?: { campaignId: string; targetLabel: string };
}

/** An agent's answer: the strategy to try next, or `exhausted` when it has nothing left to try. */
export interface Proposal {
  strategy: Strategy;
  /** The agent that actually produced the strategy (differs from the one asked after a fallback). */
  agent: AgentName;
  /** Why the asked agent's answer was not used. */
  fallbackReason?: string;
  /** The agent's own MAC prediction, if it has one (predictions choose attempts; measurements decide). */
  predictedMacs?: number;
  /** True when the agent has no new strategy to offer (e.g. grid visited every point). */
  exhausted?: boolean;
  llm?: LlmUsage;
}

/** One strategy agent. Agents never execute model output: LLM replies are data, parsed and range-checked. */
export interface StrategyAgent {
  readonly name: AgentName;
  propose(input: ProposeInput): Promise<Proposal>;
}
