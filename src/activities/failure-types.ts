/**
 * The failure types activities fail with and workflows branch on (by `type`, never `instanceof`: classes
 * do not cross the sandbox). Deterministic and free of imports, so workflows and retry presets may
 * import it by value; `failures.ts` maps engine errors onto these.
 */
export const FailureTypes = {
  /** The engine rejected the request: a bad strategy, model name, dataset... Not retried. */
  engineRequest: 'EngineRequestError',
  /** The pruned model failed its forward check. Not retried. */
  forwardCheck: 'ForwardCheckFailed',
  /** Out of (GPU) memory: not retried with the same batch size. */
  outOfMemory: 'OutOfMemory',
  /** A checkpoint or weights file belongs to another architecture. */
  checkpointMismatch: 'CheckpointMismatch',
  /** A config problem found inside an activity or a workflow (e.g. a target the model cannot reach). */
  config: 'ConfigError',
  /** The engine process died mid-job (killed, crashed); the message is one line. Retried. */
  engineCrashed: 'EngineCrashed',
} as const;

/** One of the {@link FailureTypes}. */
export type FailureType = (typeof FailureTypes)[keyof typeof FailureTypes];
