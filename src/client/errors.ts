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

/**
 * Thrown when a campaign (or the operation waited on) ended without a result: failed, cancelled, terminated
 * or timed out. The message is the one-line reason from the workflow's history. Exit 1, no stack.
 */
export class CampaignFailedError extends ClientError {
  override readonly name = 'CampaignFailedError';
  override get exitCode(): ExitCodeValue {
    return ExitCode.failed;
  }
  constructor(
    readonly campaignId: string,
    readonly status: string,
    readonly reason: string,
  ) {
    super(`campaign ${campaignId} ${closedAs(status, reason)}`);
  }
}

/**
 * How a campaign closed, said once: `failed: <reason>`, or the reason alone when it already names the status
 * (`terminated: test over`, `cancelled`) rather than `terminated: terminated: test over`.
 *
 * @example closedAs('TERMINATED', 'terminated: test over') // 'terminated: test over'
 */
export function closedAs(status: string, reason: string): string {
  const word = status.toLowerCase().replace(/_/g, ' ');
  const words = word === 'canceled' ? [word, 'cancelled'] : [word];
  return words.some((w) => reason === w || reason.startsWith(`${w}: `)) ? reason : `${word}: ${reason}`;
}

/** Thrown when the Temporal server refuses a request for a reason the user can fix (a bad list query). Exit 2. */
export class ServerRejectedError extends ClientError {
  override readonly name = 'ServerRejectedError';
  constructor(
    readonly what: string,
    readonly reason: string,
  ) {
    super(`${what}: ${reason}`);
  }
}
