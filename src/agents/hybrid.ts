/**
 * The hybrid agent: Claude chooses the shape of the strategy (importance, ignored layers, stage
 * emphasis, rounding, ViT options) and the solver scales the global ratio so the MACs land in the band.
 * Claude is good at the first (it reads the profile and the accuracy proxies), the solver at the second
 * (it fits the measured MAC curve).
 */
import { StrategySchema, type Strategy } from '../core/strategy';
import { truncate } from '../core/units';
import type { Proposal, ProposeInput, StrategyAgent } from './agent';
import type { ClaudeOutcome } from './claude';
import type { PromptMode } from './claude-prompt';

/** What the hybrid agent needs from Claude: one conversation in `shape` mode (ClaudeAgent has it). */
export interface ShapeProposer {
  ask(input: ProposeInput, options: { mode?: PromptMode }): Promise<ClaudeOutcome>;
}

/** The strategy fields that make its shape: everything but the global ratio and the rationale. */
export type StrategyShape = Omit<Strategy, 'pruningRatio' | 'rationale'>;

/** Split a strategy into its shape (for the solver's `baseStrategy`). */
export function shapeOf(strategy: Strategy): StrategyShape {
  const { pruningRatio: _ratio, rationale: _rationale, ...shape } = strategy;
  return shape;
}

/**
 * Proposal flow: ask Claude for a shape; ask the solver with `baseStrategy` = the input's base plus that
 * shape; merge (the solver's strategy wins field by field: its MAC prediction was made for exactly what
 * it returned). When Claude gives no shape, the solver's own proposal with `fallbackReason`.
 */
export class HybridAgent implements StrategyAgent {
  readonly name = 'hybrid' as const;

  constructor(
    private readonly claude: ShapeProposer,
    private readonly solver: StrategyAgent,
  ) {}

  async propose(input: ProposeInput): Promise<Proposal> {
    const outcome = await this.claude.ask(input, { mode: 'shape' });
    if (!outcome.ok) {
      const fallback = await this.solver.propose({ ...input, agent: this.solver.name });
      const llm = outcome.llm ?? fallback.llm;
      return {
        ...fallback,
        fallbackReason: outcome.reason,
        ...(llm !== undefined ? { llm } : {}),
      };
    }

    const shape = shapeOf(outcome.strategy);
    const scaled = await this.solver.propose({
      ...input,
      agent: this.solver.name,
      baseStrategy: { ...input.baseStrategy, ...shape },
    });
    const merged: Strategy = StrategySchema.parse({
      ...shape,
      ...scaled.strategy,
      rationale: combineRationale(outcome.strategy.rationale, scaled.strategy.rationale),
    });
    return {
      strategy: merged,
      agent: 'hybrid',
      ...(scaled.predictedMacs !== undefined ? { predictedMacs: scaled.predictedMacs } : {}),
      ...(scaled.exhausted !== undefined ? { exhausted: scaled.exhausted } : {}),
      ...(scaled.fallbackReason !== undefined ? { fallbackReason: `solver: ${scaled.fallbackReason}` } : {}),
      llm: outcome.llm,
    };
  }
}

/** Both halves of the reasoning, within the Strategy's 4000-character rationale limit. */
function combineRationale(shape: string | undefined, ratio: string | undefined): string {
  const text = `shape (claude): ${shape ?? 'no rationale'} | ratio (solver): ${ratio ?? 'no rationale'}`;
  return truncate(text, 4000);
}

/** Build the hybrid agent from the Claude agent (or any {@link ShapeProposer}) and the solver. */
export function createHybridAgent(deps: { claude: ShapeProposer; solver: StrategyAgent }): HybridAgent {
  return new HybridAgent(deps.claude, deps.solver);
}
