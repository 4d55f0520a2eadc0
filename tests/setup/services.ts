import { execFileSync } from 'node:child_process';
import * as path from 'node:path';

/** Addresses and credentials of the real services the tests use. */
export interface TestServices {
  temporalAddress: string;
  s3: { endpoint: string; accessKeyId: string; secretAccessKey: string; bucket: string };
}

/**
 * Start (or find running) the real Temporal dev server and versitygw through the project's own
 * infra/services.sh; idempotent and fast when they are already up.
 */
export async function ensureServices(): Promise<TestServices> {
  const root = path.join(__dirname, '..', '..');
  execFileSync('bash', [path.join(root, 'infra', 'services.sh'), 'start', 'all'], { stdio: 'inherit', timeout: 180_000 });
  return {
    temporalAddress: `127.0.0.1:${process.env.AP_TEMPORAL_PORT ?? '7233'}`,
    s3: {
      endpoint: `http://127.0.0.1:${process.env.AP_S3_PORT ?? '7070'}`,
      accessKeyId: process.env.AP_S3_ACCESS_KEY ?? 'agentic-pruner-local',
      secretAccessKey: process.env.AP_S3_SECRET_KEY ?? 'agentic-pruner-local-secret',
      bucket: process.env.AP_S3_BUCKET ?? 'agentic-pruner',
    },
  };
}
