import { z } from 'zod';
import { parseWith } from '../core/errors';

const emptyToUndefined = (v: unknown) => (v === '' ? undefined : v);
const optionalString = z.preprocess(emptyToUndefined, z.string().min(1).optional());

/**
 * The environment a worker or client reads, once, at its entry point (empty strings count as unset).
 * Secrets (ANTHROPIC_API_KEY, S3 keys) stay in this object and are never logged.
 */
export const WorkerEnvSchema = z.object({
  /** @default '127.0.0.1:7233' */
  TEMPORAL_ADDRESS: z.preprocess(emptyToUndefined, z.string().default('127.0.0.1:7233')),
  /** @default 'default' */
  TEMPORAL_NAMESPACE: z.preprocess(emptyToUndefined, z.string().default('default')),
  /** Local scratch space and state. @default '<repo>/.state' */
  AP_STATE_DIR: optionalString,
  AP_ENGINE_PYTHON: optionalString,
  ANTHROPIC_API_KEY: optionalString,
  ANTHROPIC_BASE_URL: optionalString,
});
export type WorkerEnv = z.infer<typeof WorkerEnvSchema>;

/** Read the worker environment (the one place `process.env` is read for it). */
export function readWorkerEnv(env: NodeJS.ProcessEnv = process.env): WorkerEnv {
  return parseWith(WorkerEnvSchema, env, 'environment');
}
