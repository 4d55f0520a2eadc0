import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';

// A test file's own Temporal dev server and versitygw, started by infra/services.sh with their own state
// dir (.state/<name>) and ports: for tests that stop and restart servers, plant credentials in them, or
// count the workers a server sees (pollers of the shared server linger after an earlier file's workers
// stop). The shared servers of the rest of the suite (and of anyone else's run on this host) are never
// touched. The installed binaries are linked, not downloaded again.

const execFileAsync = promisify(execFile);
const ROOT = path.join(__dirname, '..', '..');

export type ServiceAction = 'start' | 'stop' | 'restart';
export type ServiceName = 'temporal' | 's3' | 'all';

export interface OwnServicesOptions {
  /** Port of the Temporal dev server. */
  temporalPort: string;
  /** Port of versitygw. */
  s3Port: string;
  /** More environment for infra/services.sh (AP_S3_BUCKET, AP_S3_ACCESS_KEY, AP_S3_SECRET_KEY...). */
  env?: Record<string, string>;
}

export class OwnServices {
  readonly stateDir: string;
  readonly temporalAddress: string;
  readonly s3Endpoint: string;

  constructor(
    readonly name: string,
    private readonly opts: OwnServicesOptions,
  ) {
    this.stateDir = path.join(ROOT, '.state', name);
    this.temporalAddress = `127.0.0.1:${opts.temporalPort}`;
    this.s3Endpoint = `http://127.0.0.1:${opts.s3Port}`;
  }

  /** `infra/services.sh <action> <service>` on these servers; asynchronous, so in-process workers run on meanwhile. */
  async run(action: ServiceAction, service: ServiceName = 'all'): Promise<void> {
    try {
      await execFileAsync('bash', [path.join(ROOT, 'infra', 'services.sh'), action, service], {
        env: {
          ...process.env,
          AP_STATE_DIR: this.stateDir,
          AP_TEMPORAL_PORT: this.opts.temporalPort,
          AP_S3_PORT: this.opts.s3Port,
          ...this.opts.env,
        },
        timeout: 180_000,
      });
    } catch (err) {
      const e = err as { stdout?: string; stderr?: string; message: string };
      throw new Error(
        `infra/services.sh ${action} ${service} (${this.name}) failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`,
      );
    }
  }

  /** A clean slate: link the installed binaries, stop whatever an earlier run left, wipe its data, start. */
  async fresh(service: ServiceName = 'all'): Promise<void> {
    this.linkBinaries();
    await this.run('stop', 'all');
    for (const dir of ['temporal', 's3'])
      fs.rmSync(path.join(this.stateDir, dir), { recursive: true, force: true });
    await this.run('start', service);
  }

  /** The state dir reuses the project's installed binaries (no second download). */
  linkBinaries(): void {
    // Where infra/ installed them: AP_TOOLS_DIR when set (a worktree sharing another checkout's tools).
    const tools = process.env.AP_TOOLS_DIR ?? path.join(ROOT, '.state');
    for (const rel of [path.join('venv-infra', 'bin', 'temporal'), path.join('bin', 'versitygw')]) {
      const target = path.join(tools, rel);
      if (!fs.existsSync(target)) throw new Error(`${target} missing: run bash infra/setup-services.sh`);
      const link = path.join(this.stateDir, rel);
      fs.mkdirSync(path.dirname(link), { recursive: true });
      fs.rmSync(link, { force: true });
      fs.symlinkSync(target, link);
    }
  }
}
