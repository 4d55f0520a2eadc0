import { ExitCode, PrunerError, type ExitCodeValue } from '../core/errors';

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
 * Root of the engine layer's errors: a job failed, the process broke, or the job was cancelled.
 * The CLI exits 1 with the stack, except for a rejected request (see {@link EngineJobError}).
 */
export abstract class EngineError extends PrunerError {}

/**
 * Thrown when the engine answers a job with an `error` event. `type` is the engine's stable name
 * (`RequestError`, `ForwardCheckFailed`, `OutOfMemory`, `CheckpointMismatch`...), `field` names the bad
 * request field when the request was at fault.
 */
export class EngineJobError extends EngineError {
  override readonly name = 'EngineJobError';
  /** A rejected request is the user's to fix: exit 2, no stack. */
  override get exitCode(): ExitCodeValue {
    return this.type === EngineErrorTypes.request ? ExitCode.usage : ExitCode.failed;
  }
  override get messageOnly(): boolean {
    return this.type === EngineErrorTypes.request;
  }
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
export class EngineProcessError extends EngineError {
  override readonly name = 'EngineProcessError';
  constructor(
    readonly job: string,
    message: string,
    readonly stderrTail: string,
  ) {
    super(`engine ${job}: ${message}${stderrTail ? `\n--- engine stderr (tail) ---\n${stderrTail}` : ''}`);
  }
}

/**
 * Thrown when a job's result does not match its schema (the TS and Python sides disagree on the
 * protocol): the message names the job and each bad field. A bug, not a user error.
 */
export class EngineProtocolError extends EngineError {
  override readonly name = 'EngineProtocolError';
  constructor(
    readonly job: string,
    readonly issues: string,
  ) {
    super(`engine ${job}: result does not match the protocol:\n${issues}`);
  }
}

/** Thrown when a job is cancelled through its AbortSignal (the engine process is killed). */
export class EngineCancelledError extends EngineError {
  override readonly name = 'EngineCancelledError';
  constructor(readonly job: string) {
    super(`engine ${job}: cancelled`);
  }
}
