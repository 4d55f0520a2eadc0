/**
 * The artifact store: weights, checkpoints, ONNX files, transcripts, profiles — local filesystem by
 * default, S3-compatible for multi-host runs. Every object carries a sha256 verified on download, and a
 * reference is returned only for a complete object.
 * Belongs here: object I/O, key rules, integrity, store config. Not here: what the objects mean
 * (activities decide that), and nothing here is imported by workflows or src/core (it does I/O).
 */
export * from './artifact-store';
export * from './errors';
export * from './config';
export { LocalArtifactStore } from './local-artifact-store';
export { S3ArtifactStore, SHA256_METADATA, type S3StoreOptions } from './s3-artifact-store';
