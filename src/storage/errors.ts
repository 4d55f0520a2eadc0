/** Thrown when an artifact key is unsafe or malformed (`..`, absolute, backslashes, empty segments, too long). */
export class ArtifactKeyError extends Error {
  override readonly name = 'ArtifactKeyError';
  constructor(
    readonly key: string,
    readonly reason: string,
  ) {
    super(`artifact key ${JSON.stringify(key)}: ${reason}`);
  }
}

/** Thrown when a downloaded object's sha256 differs from the one recorded at upload or in the reference. */
export class ArtifactIntegrityError extends Error {
  override readonly name = 'ArtifactIntegrityError';
  constructor(
    readonly key: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`artifact ${key}: sha256 mismatch (expected ${expected}, got ${actual}): the object is corrupt or was replaced`);
  }
}

/**
 * Thrown when the store fails an operation. The message names the bucket/root, the key and the server's
 * message — never credentials. `retryable` marks transient failures (5xx, connection refused, timeouts).
 */
export class ArtifactStoreError extends Error {
  override readonly name = 'ArtifactStoreError';
  constructor(
    readonly op: string,
    readonly location: string,
    readonly key: string,
    readonly serverMessage: string,
    readonly retryable: boolean,
  ) {
    super(`artifact store ${op} ${location}/${key} failed: ${serverMessage}`);
  }
}

/** Thrown by `get` when the object does not exist. */
export class ArtifactNotFoundError extends Error {
  override readonly name = 'ArtifactNotFoundError';
  constructor(
    readonly location: string,
    readonly key: string,
  ) {
    super(`artifact ${location}/${key} does not exist`);
  }
}
