/**
 * Errors of the artifact store. Every one extends {@link ArtifactError}, carries readonly context,
 * and never carries credentials: messages name the store (`s3://bucket` or the local root), the key
 * and, for server failures, the server's own message.
 */

import { PrunerError } from '../core/errors';

/** Root of every artifact-store error; catch this to catch them all. The CLI exits 1 with the stack. */
export abstract class ArtifactError extends PrunerError {}

/** Thrown when an artifact key is unsafe or malformed (`..`, absolute, backslashes, empty segments, too long). */
export class ArtifactKeyError extends ArtifactError {
  override readonly name = 'ArtifactKeyError';
  constructor(
    readonly key: string,
    readonly reason: string,
  ) {
    super(`artifact key ${JSON.stringify(key)}: ${reason}`);
  }
}

/**
 * Thrown by `get`/`getBytes` when the downloaded bytes' sha256 differs from the one recorded at upload
 * or from the reference's `sha256`. Nothing is left at the destination when it is thrown.
 */
export class ArtifactIntegrityError extends ArtifactError {
  override readonly name = 'ArtifactIntegrityError';
  constructor(
    readonly key: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(
      `artifact ${key}: sha256 mismatch (expected ${expected}, got ${actual}): the object is corrupt or was replaced`,
    );
  }
}

/** Thrown by `get`/`getBytes` when the object does not exist (the bucket or root does). */
export class ArtifactNotFoundError extends ArtifactError {
  override readonly name = 'ArtifactNotFoundError';
  constructor(
    /** `s3://bucket` or the local root. */
    readonly location: string,
    readonly key: string,
  ) {
    super(`artifact ${location}/${key} does not exist`);
  }
}

/**
 * Thrown when the store itself fails an operation (server error, missing bucket, bad credentials,
 * unreadable source file, full disk). The message names the bucket (or local root), the key and the
 * server's message. `retryable` marks transient failures (HTTP 5xx/429, connection refused or reset,
 * timeouts): activities rethrow those for Temporal's retry policy and turn the rest into
 * non-retryable failures.
 */
export class ArtifactStoreError extends ArtifactError {
  override readonly name = 'ArtifactStoreError';
  constructor(
    /** The store operation: `put`, `get`, `head`, `list`, `delete`, `list-uploads`, `abort-upload`. */
    readonly op: string,
    /** `s3://bucket` or the local root. */
    readonly location: string,
    /** The full object key (with the store's prefix, if any). */
    readonly key: string,
    /** What the server (or the filesystem) said, credentials redacted. */
    readonly serverMessage: string,
    readonly retryable: boolean,
  ) {
    super(
      `artifact store: ${op} ${location}/${key} failed${retryable ? ' (transient)' : ''}: ${serverMessage}`,
    );
  }
}
