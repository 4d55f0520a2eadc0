import type { Readable } from 'node:stream';
import type { ArtifactRef } from '../core/artifact-ref';
import { ArtifactKeyError } from './errors';

export type { ArtifactRef };

/** What to upload: a local file, a stream, or bytes. */
export type ArtifactSource = { file: string } | { stream: Readable } | { bytes: Uint8Array };

/** A listed object. */
export interface ArtifactListing {
  key: string;
  sizeBytes: number;
}

/**
 * Where weights, checkpoints, ONNX files, transcripts and profiles live. Every object has a sha256
 * recorded at upload and verified on download; a reference is returned only once the object is
 * complete, so history never points at a half-written object.
 */
export interface ArtifactStore {
  /** Upload and return the complete object's reference. */
  put(key: string, source: ArtifactSource, opts?: { contentType?: string }): Promise<ArtifactRef>;
  /** Download to `destFile` (atomically), verifying the sha256 recorded at upload and in `ref` if given. */
  get(keyOrRef: string | ArtifactRef, destFile: string): Promise<ArtifactRef>;
  /** Download into memory, verified. For small objects. */
  getBytes(keyOrRef: string | ArtifactRef): Promise<Uint8Array>;
  exists(key: string): Promise<boolean>;
  /** Objects under a key prefix, sorted by key. */
  list(prefix: string): Promise<ArtifactListing[]>;
  delete(key: string): Promise<void>;
  /** The URI of a key in this store (`file://...` or `s3://bucket/key`). */
  uriFor(key: string): string;
  /** The key of a URI of this store; throws ArtifactKeyError for a URI of another store. */
  keyOf(uri: string): string;
}

const MAX_KEY_LENGTH = 900;

/** Validate an artifact key: relative, `/`-separated, no `..`, no empty segments, no backslashes. */
export function validateKey(key: string): string {
  if (typeof key !== 'string' || key.length === 0) throw new ArtifactKeyError(String(key), 'must be a non-empty string');
  if (key.length > MAX_KEY_LENGTH) throw new ArtifactKeyError(key, `longer than ${MAX_KEY_LENGTH} characters`);
  if (key.startsWith('/')) throw new ArtifactKeyError(key, 'must be relative (no leading /)');
  if (key.includes('\\')) throw new ArtifactKeyError(key, 'must not contain backslashes');
  if (/[\x00-\x1f]/.test(key)) throw new ArtifactKeyError(key, 'must not contain control characters');
  for (const seg of key.split('/')) {
    if (seg === '') throw new ArtifactKeyError(key, 'must not contain empty segments (// or a trailing /)');
    if (seg === '..' || seg === '.') throw new ArtifactKeyError(key, `must not contain "${seg}" segments`);
  }
  return key;
}

/** `campaigns/<campaignId>/<target>/<kind>/<name>`, each part validated. */
export function artifactKey(campaignId: string, target: string, kind: string, name: string): string {
  return validateKey(`campaigns/${campaignId}/${target}/${kind}/${name}`);
}

/** The key of `keyOrRef`. */
export function keyFrom(keyOrRef: string | ArtifactRef): string {
  return validateKey(typeof keyOrRef === 'string' ? keyOrRef : keyOrRef.key);
}
