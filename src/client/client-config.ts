import { readWorkerEnv, type WorkerEnv } from '../workers/worker-config';

/** Where the local services listen when nothing else is said (infra/services.sh's defaults). */
export const LocalServiceDefaults = {
  /** @default 7233 */
  temporalPort: 7233,
  /** @default 7070 */
  s3Port: 7070,
  /** @default 'agentic-pruner' */
  s3Bucket: 'agentic-pruner',
  /** Keys of the local dev S3 server only (infra/services.sh); never used for another endpoint. */
  s3AccessKey: 'agentic-pruner-local',
  s3SecretKey: 'agentic-pruner-local-secret',
} as const;

/** What the CLI resolved: the worker environment plus the process environment its store reads. */
export interface ResolvedClientConfig {
  /** The environment with `TEMPORAL_ADDRESS` resolved (flag, env, port, default). */
  env: WorkerEnv;
  /** The process environment with the local S3 defaults filled in when `AP_STORE=s3` names no endpoint. */
  processEnv: NodeJS.ProcessEnv;
}

const blank = (v: string | undefined): string | undefined => (v === undefined || v === '' ? undefined : v);

/**
 * The one configuration resolution of the CLI (and the workers it starts): a flag beats the environment,
 * the environment beats the defaults. Temporal: `--address`, else `TEMPORAL_ADDRESS`, else
 * `127.0.0.1:$AP_TEMPORAL_PORT`, else `127.0.0.1:7233` — the same port `infra/services.sh` starts the server
 * on. S3 (`AP_STORE=s3`): `AP_S3_ENDPOINT`, else the local server `http://127.0.0.1:$AP_S3_PORT` (default
 * 7070) with its bucket and its local-only keys unless `AP_S3_*` say otherwise.
 *
 * @example
 * resolveClientConfig({ AP_TEMPORAL_PORT: '7333' }).env.TEMPORAL_ADDRESS // '127.0.0.1:7333'
 */
export function resolveClientConfig(
  processEnv: NodeJS.ProcessEnv = process.env,
  flags: { address?: string; namespace?: string } = {},
): ResolvedClientConfig {
  const port = blank(processEnv.AP_TEMPORAL_PORT) ?? String(LocalServiceDefaults.temporalPort);
  const address = blank(flags.address) ?? blank(processEnv.TEMPORAL_ADDRESS) ?? `127.0.0.1:${port}`;
  const env = readWorkerEnv({
    ...processEnv,
    TEMPORAL_ADDRESS: address,
    ...(blank(flags.namespace) ? { TEMPORAL_NAMESPACE: flags.namespace } : {}),
  });
  const resolvedProcessEnv: NodeJS.ProcessEnv = { ...processEnv };
  if (blank(processEnv.AP_STORE) === 's3' && !blank(processEnv.AP_S3_ENDPOINT)) {
    const s3Port = blank(processEnv.AP_S3_PORT) ?? String(LocalServiceDefaults.s3Port);
    resolvedProcessEnv.AP_S3_ENDPOINT = `http://127.0.0.1:${s3Port}`;
    resolvedProcessEnv.AP_S3_BUCKET = blank(processEnv.AP_S3_BUCKET) ?? LocalServiceDefaults.s3Bucket;
    resolvedProcessEnv.AP_S3_ACCESS_KEY =
      blank(processEnv.AP_S3_ACCESS_KEY) ?? LocalServiceDefaults.s3AccessKey;
    resolvedProcessEnv.AP_S3_SECRET_KEY =
      blank(processEnv.AP_S3_SECRET_KEY) ?? LocalServiceDefaults.s3SecretKey;
  }
  return { env, processEnv: resolvedProcessEnv };
}
