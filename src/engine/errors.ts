/**
 * The engine's stable error type names (engine/agentic_engine/protocol.py): the `type` of an
 * {@link EngineJobError}. Activities map the permanent ones onto their failure types.
 */
export const EngineErrorTypes = {
  /** The request was invalid (bad strategy, model name, dataset); `field` names the culprit. */
  request: 'RequestError',
  /** The pruned model failed its forward check. */
  forwardCheck: 'ForwardCheckFailed',
  /** Out of (GPU) memory. */
  outOfMemory: 'OutOfMemory',
  /** A checkpoint or weights file belongs to another architecture. */
  checkpointMismatch: 'CheckpointMismatch',
} as const;

/**
 * Thrown when the engine answers a job with an `error` event. `type` is the engine's stable name
 * (`RequestError`, `ForwardCheckFailed`, `OutOfMemory`, `CheckpointMismatch`...), `field` names the bad
 * request field when the request was at fault.
 */
export class EngineJobError extends Error {
  override readonly name = 'EngineJobError';
  constructor(
    readonly job: string,
    readonly type: string,
    message: string,
    readonly field: string | null,
    readonly retryable: boolean,
  ) {
    super(`engine ${job}: ${message}`);
  }
}

/** Thrown when the engine process dies, cannot start, or breaks the protocol. Retrying may help. */
export class EngineProcessError extends Error {
  override readonly name = 'EngineProcessError';
  constructor(
    readonly job: string,
    message: string,
    readonly stderrTail: string,
  ) {
    super(`engine ${job}: ${message}${stderrTail ? `\n--- engine stderr (tail) ---\n${stderrTail}` : ''}`);
  }
}

/** Thrown when a job is cancelled through its AbortSignal (the engine process is killed). */
export class EngineCancelledError extends Error {
  override readonly name = 'EngineCancelledError';
  constructor(readonly job: string) {
    super(`engine ${job}: cancelled`);
  }
}
