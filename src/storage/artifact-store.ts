import type { Readable } from 'node:stream';
import type { ArtifactRef } from '../core/artifact-ref';
import { ArtifactKeyError } from './errors';

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

/**
 * Where weights, checkpoints, ONNX files, transcripts and profiles live. Every object has a sha256
 * recorded at upload and verified on download; a reference is returned only once the object is
 * complete, so history never points at a half-written object.
 *
 * @example
 * ```ts
 * const ref = await store.put(artifactKey(campaignId, '1.77G', 'checkpoints', 'step-400.pt'), { file: ckpt });
 * // ... later, on another host:
 * await store.get(ref, '/tmp/step-400.pt'); // throws ArtifactIntegrityError if the bytes changed
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
  /** The URI of a key in this store (`file:///...` or `s3://bucket/key`). */
  uriFor(key: string): string;
  /** The key of a URI of this store; throws ArtifactKeyError for a URI of another store. */
  keyOf(uri: string): string;
}

/** Longest key accepted, in UTF-8 bytes (S3 allows 1024; room is left for a store prefix). */
export const MAX_KEY_BYTES = 900;
/** Longest key segment, in UTF-8 bytes (a file name on common filesystems). */
export const MAX_SEGMENT_BYTES = 255;

/**
 * Validate an artifact key and return it: relative, `/`-separated, no `.`/`..` or empty segments, no
 * backslashes or control characters, at most {@link MAX_KEY_BYTES} bytes. The one check every store
 * runs before touching a key. Throws {@link ArtifactKeyError}.
 */
export function validateKey(key: string): string {
  if (typeof key !== 'string' || key.length === 0)
    throw new ArtifactKeyError(String(key), 'must be a non-empty string');
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES)
    throw new ArtifactKeyError(key, `longer than ${MAX_KEY_BYTES} bytes`);
  if (key.startsWith('/')) throw new ArtifactKeyError(key, 'must be relative (no leading /)');
  if (key.includes('\\')) throw new ArtifactKeyError(key, 'must not contain backslashes');
  if (/[\x00-\x1f\x7f]/.test(key)) throw new ArtifactKeyError(key, 'must not contain control characters');
  for (const seg of key.split('/')) {
    if (seg === '') throw new ArtifactKeyError(key, 'must not contain empty segments (// or a trailing /)');
    if (seg === '..' || seg === '.') throw new ArtifactKeyError(key, `must not contain "${seg}" segments`);
    if (Buffer.byteLength(seg, 'utf8') > MAX_SEGMENT_BYTES)
      throw new ArtifactKeyError(key, `has a segment longer than ${MAX_SEGMENT_BYTES} bytes`);
  }
  return key;
}

/**
 * `campaigns/<campaignId>/<target>/<kind>/<name>`. Each part must be one valid segment (no `/`), so a
 * campaign id can never reach into another campaign's folder.
 *
 * @example artifactKey('c-42', '1.77G', 'checkpoints', 'step-400.pt') // 'campaigns/c-42/1.77G/checkpoints/step-400.pt'
 */
export function artifactKey(campaignId: string, target: string, kind: string, name: string): string {
  const parts = { campaignId, target, kind, name };
  for (const [part, value] of Object.entries(parts)) {
    if (value.includes('/')) throw new ArtifactKeyError(value, `${part} must be a single key segment (no /)`);
  }
  return validateKey(`campaigns/${campaignId}/${target}/${kind}/${name}`);
}

/**
 * Validate a list prefix and return it: `''` (everything), or a key prefix that may end in `/` and
 * may end mid-segment (`campaigns/c-42/`, `campaigns/c-4`). Throws {@link ArtifactKeyError}.
 */
export function validatePrefix(prefix: string): string {
  if (prefix === '') return prefix;
  validateKey(prefix.endsWith('/') ? prefix.slice(0, -1) : prefix);
  return prefix;
}

/** The validated key of `keyOrRef`. */
export function keyFrom(keyOrRef: string | ArtifactRef): string {
  return validateKey(typeof keyOrRef === 'string' ? keyOrRef : keyOrRef.key);
}
