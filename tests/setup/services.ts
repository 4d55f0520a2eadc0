import { spawn } from 'node:child_process';
import * as path from 'node:path';

/** Addresses and credentials of the real services the tests use. */
export interface TestServices {
  /** `host:port` of the Temporal dev server. */
  temporalAddress: string;
  s3: { endpoint: string; accessKeyId: string; secretAccessKey: string; bucket: string };
}

const ROOT = path.join(__dirname, '..', '..');

/** Run `bash infra/services.sh ...args`, its output going to ours (so CI logs show the servers start). */
function runServicesScript(args: string[], timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [path.join(ROOT, 'infra', 'services.sh'), ...args], {
      cwd: ROOT,
      stdio: 'inherit',
    });
    const timer = setTimeout(() => child.kill('SIGTERM'), timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else
        reject(
          new Error(
            `infra/services.sh ${args.join(' ')} failed (${signal ?? `exit ${code}`}); see its output above`,
          ),
        );
    });
  });
}

/**
 * Start (or find running) the real Temporal dev server and versitygw through the project's own
 * `infra/services.sh start all`; idempotent, about a second when they are already up. Reads the same
 * environment as the script (AP_TEMPORAL_PORT, AP_S3_PORT, AP_S3_BUCKET, AP_S3_ACCESS_KEY,
 * AP_S3_SECRET_KEY, AP_STATE_DIR), with the script's local-only defaults.
 */
export async function ensureServices(): Promise<TestServices> {
  await runServicesScript(['start', 'all'], 240_000);
  const env = (name: string, fallback: string): string => {
    const value = process.env[name];
    return value === undefined || value === '' ? fallback : value;
  };
  return {
    temporalAddress: `127.0.0.1:${env('AP_TEMPORAL_PORT', '7233')}`,
    s3: {
      endpoint: `http://127.0.0.1:${env('AP_S3_PORT', '7070')}`,
      accessKeyId: env('AP_S3_ACCESS_KEY', 'agentic-pruner-local'),
      secretAccessKey: env('AP_S3_SECRET_KEY', 'agentic-pruner-local-secret'),
      bucket: env('AP_S3_BUCKET', 'agentic-pruner'),
    },
  };
}
