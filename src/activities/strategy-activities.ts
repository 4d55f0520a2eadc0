import { ApplicationFailure } from '@temporalio/common';
import type { Proposal, ProposeInput } from '../agents/agent';
import type { ActivityDeps } from './deps';
import { FailureTypes } from './failure-types';

/** The Analysis Agent's activity: ask the named agent for the next strategy. Runs on the control queue. */
export function createStrategyActivities(deps: ActivityDeps) {
  return {
    async proposeStrategy(input: ProposeInput): Promise<Proposal> {
      const agent = deps.agents[input.agent];
      if (!agent) {
        throw ApplicationFailure.nonRetryable(
          `agent "${input.agent}" is not available on this worker (known: ${Object.keys(deps.agents).join(', ')})`,
          FailureTypes.config,
        );
      }
      return agent.propose(input);
    },
  };
}

export type StrategyActivities = ReturnType<typeof createStrategyActivities>;
