/** Thrown by commands for a user error (bad flag value, unknown id): printed without a stack trace, exit 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
