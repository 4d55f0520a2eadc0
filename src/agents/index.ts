/**
 * Strategy agents behind one interface: `solver` (numeric, default, no key), `grid` (the paper's
 * baseline), `claude` (the Analysis Agent) and `hybrid` (Claude's shape, the solver's scale).
 * Belongs here: prompt building, reply parsing, search logic. Not here: Temporal, the engine.
 */
import type { AgentName } from '../core/attempt';
import type { StrategyAgent } from './agent';
import { createClaudeAgent, type ClaudeConfig, type TranscriptSink } from './claude';
import { GridAgent } from './grid';
import { createHybridAgent } from './hybrid';
import { SolverAgent } from './solver';

export type { ProposeInput, Proposal, StrategyAgent } from './agent';
export { ClaudeConfigError, ClaudeConfigSchema, requireClaudeKey, DEFAULT_CLAUDE_MODEL } from './claude';
export { SolverAgent } from './solver';
export { GridAgent } from './grid';

/** What {@link createAgents} needs: where transcripts go, and Claude's key when there is one. */
export interface AgentDeps {
  store: TranscriptSink;
  anthropicApiKey?: string;
  anthropicBaseUrl?: string;
  claude?: Partial<ClaudeConfig>;
}

/**
 * The agents a worker offers. Without an API key there is no `claude` or `hybrid`: asking for them fails
 * the proposal with a ConfigError naming the missing key, and the workflow switches to its fallback agent.
 */
export function createAgents(deps: AgentDeps): Partial<Record<AgentName, StrategyAgent>> {
  const solver = new SolverAgent();
  const agents: Partial<Record<AgentName, StrategyAgent>> = { solver, grid: new GridAgent() };
  if (deps.anthropicApiKey) {
    const claude = createClaudeAgent({
      ...(deps.claude ?? {}),
      apiKey: deps.anthropicApiKey,
      ...(deps.anthropicBaseUrl ? { baseURL: deps.anthropicBaseUrl } : {}),
      transcripts: deps.store,
      fallback: solver,
    });
    agents.claude = claude;
    agents.hybrid = createHybridAgent({ claude, solver });
  }
  return agents;
}
