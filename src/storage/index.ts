/**
 * The artifact store: weights, checkpoints, ONNX files, transcripts, profiles — local filesystem by
 * default, S3-compatible for multi-host runs. Every object carries a sha256 verified on download.
 * Belongs here: object I/O and integrity. Not here: what the objects mean (activities decide that).
 */
export * from './artifact-store';
export * from './errors';
export * from './config';
export { LocalArtifactStore } from './local-artifact-store';
export { S3ArtifactStore, type S3StoreOptions } from './s3-artifact-store';
