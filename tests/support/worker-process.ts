import { execFile, spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { repoRoot } from '../../src/engine/engine-paths';
import { s3Env, tempDir, testServices } from './test-env';

// Worker processes run as a user runs them (`agentic-pruner worker ...` from the built CLI), on the test
// services and the real S3 store: for tests and benchmarks of a fleet of workers.

const ROOT = repoRoot(); // also from dist/, where bench/fleet runs this

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Thrown by a `waitFor` probe when what it waits for can no longer happen: the wait ends at once with it. */
export class WaitCannotSucceed extends Error {}

/**
 * Poll `probe` until it returns a value; throw a message naming `what` after `timeoutMs`. An error the
 * probe throws is retried (the service may be restarting), except a WaitCannotSucceed, which ends the wait.
 */
export async function waitFor<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined>,
  intervalMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      if (err instanceof WaitCannotSucceed) throw err;
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs / 1000}s waiting for ${what}${lastError ? ` (last error: ${(lastError as Error).message})` : ''}`,
      );
    }
    await sleep(intervalMs);
  }
}

/** One process of the table: pid, parent, command line, resident set size. */
export interface ProcessRow {
  pid: number;
  ppid: number;
  cmdline: string;
  rssBytes: number;
}

/** The process table from /proc. */
export function processTable(): ProcessRow[] {
  const rows: ProcessRow[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      // Field 4 of /proc/<pid>/stat is the parent pid, field 24 the RSS in pages; the name (field 2) may hold spaces.
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const cmdline = fs.readFileSync(`/proc/${name}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
      rows.push({ pid: Number(name), ppid: Number(fields[1]), cmdline, rssBytes: Number(fields[21]) * 4096 });
    } catch {
      // exited meanwhile
    }
  }
  return rows;
}

/** Process rows below `pid` (children, grandchildren...). */
export function descendantsOf(pid: number, table: readonly ProcessRow[] = processTable()): ProcessRow[] {
  const out: ProcessRow[] = [];
  const walk = (p: number) => {
    for (const r of table) {
      if (r.ppid !== p) continue;
      out.push(r);
      walk(r.pid);
    }
  };
  walk(pid);
  return out;
}

/** One environment variable of a running process (from /proc/<pid>/environ), `undefined` when unset. */
export function envOf(pid: number, name: string): string | undefined {
  const env = fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
  const hit = env.find((kv) => kv.startsWith(`${name}=`));
  return hit === undefined ? undefined : hit.slice(name.length + 1);
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The services a worker process connects to: the test services unless told otherwise. */
export type WorkerServices = ReturnType<typeof testServices>;

/** Options of {@link WorkerProcess}. */
export interface WorkerProcessOptions {
  /** A file that gets every chunk the worker prints, stdout and stderr (its whole output, not just the tail). */
  logFile?: string;
}

/** `agentic-pruner worker <args>` as its own process, on the test services with the S3 store. */
export class WorkerProcess {
  readonly child: ChildProcess;
  private output = '';

  constructor(
    readonly name: string,
    readonly args: string[],
    extraEnv: Record<string, string> = {},
    services: WorkerServices = testServices(),
    opts: WorkerProcessOptions = {},
  ) {
    const { temporalAddress, s3 } = services;
    this.child = spawn(process.execPath, [path.join(ROOT, 'bin', 'agentic-pruner.js'), 'worker', ...args], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '',
        ...(process.env.AP_ENGINE_PYTHON ? { AP_ENGINE_PYTHON: process.env.AP_ENGINE_PYTHON } : {}),
        // One torch thread per engine: on a small shared CPU the default pool spins.
        OMP_NUM_THREADS: '1',
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        TEMPORAL_ADDRESS: temporalAddress,
        ...s3Env(s3),
        AP_STATE_DIR: tempDir(`ap-${name}-`),
        ...extraEnv,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // Opened before the first chunk can come; every chunk is written as it comes, in order.
    const log = opts.logFile === undefined ? undefined : fs.openSync(opts.logFile, 'w');
    if (log !== undefined) this.child.once('close', () => fs.closeSync(log));
    const keep = (c: Buffer) => {
      if (log !== undefined) fs.writeSync(log, c);
      this.output = (this.output + c.toString('utf8')).slice(-8000);
    };
    this.child.stdout!.on('data', keep);
    this.child.stderr!.on('data', keep);
  }

  get pid(): number {
    if (this.child.pid === undefined) throw new Error(`${this.name}: not started`);
    return this.child.pid;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** What it printed (the last 8000 characters). */
  get printed(): string {
    return this.output;
  }

  tail(): string {
    return `--- ${this.name} output (tail) ---\n${this.output.trim()}`;
  }

  /** Resolves once it says it runs (its line `worker running on ...`), with that line. */
  async ready(timeoutMs = 180_000): Promise<string> {
    return waitFor(`${this.name} to say it is running\n${this.tail()}`, timeoutMs, async () => {
      if (!this.running) throw new Error(`${this.name} exited (code ${this.child.exitCode})\n${this.tail()}`);
      return /worker running on [^\n]*/.exec(this.output)?.[0];
    });
  }

  /** SIGKILL it and every process below it (no engine may train on for a dead worker). */
  kill(): void {
    const below = descendantsOf(this.pid);
    this.child.kill('SIGKILL');
    for (const p of below) if (alive(p.pid)) process.kill(p.pid, 'SIGKILL');
  }

  /** SIGTERM (graceful), then SIGKILL after `graceMs`; also ends engine processes it left behind. */
  async stop(graceMs = 15_000): Promise<void> {
    if (!this.running) return;
    const below = descendantsOf(this.pid);
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGTERM');
    await Promise.race([exited, sleep(graceMs)]);
    if (this.running) this.child.kill('SIGKILL');
    for (const p of below) if (alive(p.pid)) process.kill(p.pid, 'SIGKILL');
  }
}

const execFileAsync = promisify(execFile);

/** `agentic-pruner <args>` from the built CLI against `temporalAddress`, as a user runs it: exit code and output. */
export async function builtCli(
  temporalAddress: string,
  ...args: string[]
): Promise<{ code: number; out: string; err: string }> {
  try {
    const r = await execFileAsync(process.execPath, [path.join(ROOT, 'bin', 'agentic-pruner.js'), ...args], {
      cwd: ROOT,
      env: { ...process.env, TEMPORAL_ADDRESS: temporalAddress },
      timeout: 120_000,
    });
    return { code: 0, out: r.stdout, err: r.stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: e.code ?? 1, out: e.stdout ?? '', err: e.stderr ?? '' };
  }
}
