/**
 * Activities: thin side-effecting adapters between workflows and the world — engine jobs, LLM calls,
 * artifact moves, ONNX latency. Built by {@link createActivities} from explicit deps (no module mocking).
 * Workflows import this module as types only.
 */
import type { ActivityDeps } from './deps';
import { createEngineActivities } from './engine-activities';
import { createDeploymentActivities } from './deployment-activities';
import { createLogActivities } from './log-activities';
import { createScoringActivities } from './scoring-activities';
import { createStrategyActivities } from './strategy-activities';
import { createTrainingActivities } from './training-activities';

export type { ActivityDeps } from './deps';
export * from './engine-activities';
export * from './failures';
export * from './failure-types';
export type { LogActivities } from './log-activities';
export type { StrategyActivities } from './strategy-activities';
export * from './training-activities';
export * from './checkpoint-ledger';
export * from './deployment-activities';
export * from './scoring-activities';
export type { ModelManifest } from './model-files';

/** Every activity, built from its deps. The worker registers the ones its task queue serves. */
export function createActivities(deps: ActivityDeps) {
  return {
    ...createEngineActivities(deps),
    ...createStrategyActivities(deps),
    ...createLogActivities(deps),
    ...createTrainingActivities(deps),
    ...createDeploymentActivities(deps),
    ...createScoringActivities(deps),
  };
}

export type Activities = ReturnType<typeof createActivities>;
