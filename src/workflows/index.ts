/**
 * Workflows: deterministic orchestration only. No I/O, no clock, no randomness, no process.env:
 * every side effect is an activity (imported as types only). This file is the workflow bundle's entry.
 */
export { profileModelWorkflow } from './profile-model';
export { macTargetSearch } from './mac-target-search';
export { campaign } from './campaign';
