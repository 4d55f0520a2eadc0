/**
 * TS side of the engine protocol: spawn a one-shot engine process per job or keep a warm one,
 * read its JSON-lines events, relay progress and artifacts, kill it on cancellation.
 * Belongs here: process management and the protocol. Not here: Temporal, storage, job semantics.
 */
export * from './errors';
export * from './protocol';
export * from './engine-paths';
export * from './engine-process';
export * from './dry-run';
