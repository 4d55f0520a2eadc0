import { ExitCode, PrunerError, type ExitCodeValue } from '../core/errors';

/**
 * Root of the client's errors: a problem the user can fix (a bad flag, a campaign file, an unknown id, a
 * server that is not running). Printed without a stack trace; exit 2 unless a subclass says otherwise.
 */
export abstract class ClientError extends PrunerError {
  override get exitCode(): ExitCodeValue {
    return ExitCode.usage;
  }
  override get messageOnly(): boolean {
    return true;
  }
}

/** Thrown by commands for a user error (bad flag value, unknown id): printed without a stack trace, exit 2. */
export class UsageError extends ClientError {
  override readonly name = 'UsageError';
}
