import type { Readable } from 'node:stream';
import type { ArtifactRef } from '../core/artifact-ref';

export type { ArtifactRef };

/** What to upload: a local file, a stream (read once), or bytes. */
export type ArtifactSource = { file: string } | { stream: Readable } | { bytes: Uint8Array };

/** Options of {@link ArtifactStore.put}. */
export interface PutOptions {
  /** MIME type stored with the object (S3 `Content-Type`; ignored by the local store). @default none */
  contentType?: string;
}

/** A listed object. */
export interface ArtifactListing {
  key: string;
  sizeBytes: number;
}

/** Ascending by key, in code-unit order (as S3 lists): the order every listing of a store is in. */
export function byKey(a: { key: string }, b: { key: string }): number {
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

/**
 * An upload that began and never completed: what a `put` killed mid-way (a SIGKILLed worker, a lost host)
 * leaves behind. No reference names it and {@link ArtifactStore.list} does not show it, but it holds space:
 * an S3 multipart upload neither completed nor aborted (its stored parts), or a local temp file.
 */
export interface IncompleteUpload {
  /** The key the object would have had. */
  key: string;
  /** When the upload began (S3: the multipart upload's `Initiated`; local: the temp file's mtime). */
  startedMs: number;
}

/**
 * Where weights, checkpoints, ONNX files, transcripts and profiles live. Every object has a sha256
 * recorded at upload and verified on download; a reference is returned only once the object is
 * complete, so history never points at a half-written object.
 *
 * @example
 * ```ts
 * const ref = await store.put(checkpointKey(campaignId, '1.77G', 400), { file: ckpt });
 * // ... later, on another host:
 * await store.get(ref, '/tmp/ckpt-400.pt'); // throws ArtifactIntegrityError if the bytes changed
 * ```
 */
export interface ArtifactStore {
  /** Upload and return the complete object's reference (its sha256 and size are of the bytes stored). */
  put(key: string, source: ArtifactSource, opts?: PutOptions): Promise<ArtifactRef>;
  /**
   * Download to `destFile` (written to a temp file beside it, then renamed), verifying the sha256 recorded
   * at upload and, when a ref is given, `ref.sha256`. Returns the ref of the bytes delivered.
   */
  get(keyOrRef: string | ArtifactRef, destFile: string): Promise<ArtifactRef>;
  /** Download into memory, verified like {@link ArtifactStore.get}. For small objects. */
  getBytes(keyOrRef: string | ArtifactRef): Promise<Uint8Array>;
  /** Whether a complete object exists at `key`. */
  exists(key: string): Promise<boolean>;
  /** Objects whose key starts with `prefix` (a plain string prefix, `''` for all), sorted by key. */
  list(prefix: string): Promise<ArtifactListing[]>;
  /** Remove the object; removing a missing object is not an error. */
  delete(key: string): Promise<void>;
  /**
   * Uploads whose key starts with `prefix` that began and never completed, sorted by key. A `put` in
   * flight shows here too, until it completes.
   */
  listIncompleteUploads(prefix: string): Promise<IncompleteUpload[]>;
  /**
   * Discard the incomplete uploads under `prefix` (abort the S3 multipart uploads, remove the local temp
   * files) and return them. A process killed mid-`put` cannot clean up after itself, so someone alive does
   * it later: call this only where no `put` under `prefix` that should succeed can be in flight — e.g. a
   * retried activity, at its start, over the prefix only it writes (CheckpointLedger does so on resume). A
   * `put` it cuts short fails and returns no reference. Discarding what is already gone is not an error.
   */
  discardIncompleteUploads(prefix: string): Promise<IncompleteUpload[]>;
  /** The URI of a key in this store (`file:///...` or `s3://bucket/key`). */
  uriFor(key: string): string;
  /** The key of a URI of this store; throws ArtifactKeyError for a URI of another store. */
  keyOf(uri: string): string;
}
