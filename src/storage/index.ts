/**
 * The artifact store: weights, checkpoints, ONNX files, transcripts, profiles — local filesystem by
 * default, S3-compatible for multi-host runs. Every object carries a sha256 verified on download, and a
 * reference is returned only for a complete object.
 * Belongs here: object I/O, key rules and the campaign key layout (keys.ts), integrity, store config,
 * incomplete uploads (what a put killed mid-way leaves) and the test-only failpoints that make one.
 * Not here: what the objects mean (activities decide that). Nothing here is imported by workflows or
 * src/core (it does I/O), except keys.ts, which is deterministic (its reserved labels name workflow inputs).
 */
export * from './artifact-store';
export * from './keys';
export * from './errors';
export * from './config';
export { LocalArtifactStore, type LocalStoreOptions } from './local-artifact-store';
export { STORE_FAILPOINTS_ENV, parseStoreFailpoints, type StoreFailpoint } from './failpoints';
export { S3ArtifactStore, SHA256_METADATA, type S3StoreOptions } from './s3-artifact-store';
