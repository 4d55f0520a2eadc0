import type { StrategyAgent } from '../agents/agent';
import type { AgentName } from '../core/attempt';
import type { EngineRunner } from '../engine/engine-process';
import type { ArtifactStore } from '../storage';

/** What activities need from the outside world; the worker passes real ones, tests small real ones. */
export interface ActivityDeps {
  store: ArtifactStore;
  /** Warm engine for short, repeated jobs (profile, prune trials). */
  engine: EngineRunner;
  /** One process per job, for long jobs (fine-tune, evaluate, export). */
  oneShotEngine: EngineRunner;
  /** Strategy agents by name. Missing ones (e.g. claude without a key) make proposeStrategy fail clearly. */
  agents: Partial<Record<AgentName, StrategyAgent>>;
  /** Local scratch space for engine outputs before upload. */
  workDir: string;
}
