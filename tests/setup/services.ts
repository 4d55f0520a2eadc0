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
 * Where the tests' services live, apart from a user's: a state dir under the user's (`<state>/tests`) and
 * ports of their own (Temporal 7253, S3 7083). A dev server and a worker kept on the defaults (`.state`, 7233,
 * 7070) are then neither used by the tests nor handed their tasks: a worker polling the default queues on the
 * same server took the tests' activities and failed them with unrelated errors. `AP_TEST_STATE_DIR`,
 * `AP_TEST_TEMPORAL_PORT` and `AP_TEST_S3_PORT` move them; the binaries stay in the user's tools dir. The
 * result names the `AP_TEST_*` values too, so that applying it again gives the same services.
 *
 * @example
 * testServiceEnv({}) // { AP_STATE_DIR: '<repo>/.state/tests', AP_TOOLS_DIR: '<repo>/.state', AP_TEMPORAL_PORT: '7253', AP_S3_PORT: '7083', AP_TEST_...: the same }
 */
export function testServiceEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const given = (name: string): string | undefined => env[name] || undefined;
  const userState = given('AP_STATE_DIR') ?? path.join(ROOT, '.state');
  const state = given('AP_TEST_STATE_DIR') ?? path.join(userState, 'tests');
  const temporalPort = given('AP_TEST_TEMPORAL_PORT') ?? '7253';
  const s3Port = given('AP_TEST_S3_PORT') ?? '7083';
  return {
    AP_TOOLS_DIR: given('AP_TOOLS_DIR') ?? userState,
    AP_STATE_DIR: state,
    AP_TEMPORAL_PORT: temporalPort,
    AP_S3_PORT: s3Port,
    AP_TEST_STATE_DIR: state,
    AP_TEST_TEMPORAL_PORT: temporalPort,
    AP_TEST_S3_PORT: s3Port,
  };
}

/**
 * Start (or find running) the tests' real Temporal dev server and versitygw ({@link testServiceEnv}, put in
 * this process's environment for the CLI and workers under test) through the project's own
 * `infra/services.sh start all`; idempotent, about a second when they are already up. Reads the same
 * environment as the script (AP_S3_BUCKET, AP_S3_ACCESS_KEY, AP_S3_SECRET_KEY), with the script's local-only
 * defaults.
 */
export async function ensureServices(): Promise<TestServices> {
  Object.assign(process.env, testServiceEnv(process.env));
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
