import { ApplicationFailure } from '@temporalio/common';
import { EngineCancelledError, EngineJobError } from '../engine/errors';

/**
 * Failure types workflows branch on (by `type`, never `instanceof`: classes do not cross the sandbox).
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
  /** A config problem found inside an activity. */
  config: 'ConfigError',
} as const;

const NON_RETRYABLE_ENGINE_TYPES: Record<string, string> = {
  RequestError: FailureTypes.engineRequest,
  ForwardCheckFailed: FailureTypes.forwardCheck,
  OutOfMemory: FailureTypes.outOfMemory,
  CheckpointMismatch: FailureTypes.checkpointMismatch,
};

/**
 * Map an engine error to what Temporal should do: permanent ones become non-retryable
 * ApplicationFailures with a stable type; process crashes and transient ones are rethrown for retry.
 */
export function toActivityFailure(err: unknown): unknown {
  if (err instanceof EngineCancelledError) return err;
  if (err instanceof EngineJobError) {
    const type = NON_RETRYABLE_ENGINE_TYPES[err.type];
    if (type !== undefined || !err.retryable) {
      return ApplicationFailure.create({
        message: err.message,
        type: type ?? `Engine${err.type}`,
        nonRetryable: true,
        details: [{ field: err.field, engineType: err.type }],
      });
    }
  }
  return err;
}
