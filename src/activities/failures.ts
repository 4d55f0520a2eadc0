import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { EngineCancelledError, EngineErrorTypes, EngineJobError, EngineProcessError } from '../engine/errors';
import { FailureTypes } from './failure-types';

const NON_RETRYABLE_ENGINE_TYPES: Record<string, string> = {
  [EngineErrorTypes.request]: FailureTypes.engineRequest,
  [EngineErrorTypes.forwardCheck]: FailureTypes.forwardCheck,
  [EngineErrorTypes.outOfMemory]: FailureTypes.outOfMemory,
  [EngineErrorTypes.checkpointMismatch]: FailureTypes.checkpointMismatch,
};

/**
 * Map an engine error to what Temporal should do: permanent ones become non-retryable
 * ApplicationFailures with a stable type; an engine process that died mid-job a retryable `EngineCrashed`
 * with a one-line reason (its stderr tail goes to the worker log, not into history); transient ones are
 * rethrown for retry.
 */
export function toActivityFailure(err: unknown): unknown {
  if (err instanceof EngineCancelledError) return err;
  if (err instanceof EngineProcessError) {
    try {
      Context.current().log.warn(err.message);
    } catch {
      // outside an activity: nothing to log to
    }
    return ApplicationFailure.create({
      message: err.message.split('\n')[0]!,
      type: FailureTypes.engineCrashed,
      nonRetryable: false,
    });
  }
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
