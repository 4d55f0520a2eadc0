import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import * as readline from 'node:readline';
import { EngineCancelledError, EngineJobError, EngineProcessError } from './errors';
import { parseEventLine, type EngineEvent, type JobOptions } from './protocol';
import type { EngineLocation } from './engine-paths';

const STDERR_TAIL_BYTES = 4000;
/** How long a warm engine may take to import torch and say `ready`. */
const READY_TIMEOUT_MS = 120_000;

/** Anything that runs engine jobs: a one-shot process per job, or a warm engine. */
export interface EngineRunner {
  run<T = Record<string, unknown>>(job: string, request: unknown, opts?: JobOptions): Promise<T>;
  close(): Promise<void>;
}

/** What a runner's engine processes get on top of the worker's environment (e.g. the device it is pinned to). */
export interface EngineProcessOptions {
  /** Variables set in the engine child's environment, e.g. `{ CUDA_VISIBLE_DEVICES: '2' }` for a slot. */
  env?: Readonly<Record<string, string>>;
}

function childEnv(extra: Readonly<Record<string, string>> = {}): NodeJS.ProcessEnv {
  // The engine needs no secrets: pass only what Python and torch need.
  const keep = [
    'PATH',
    'HOME',
    'LANG',
    'LC_ALL',
    'TMPDIR',
    'CUDA_VISIBLE_DEVICES',
    'OMP_NUM_THREADS',
    'MKL_NUM_THREADS',
    'OPENBLAS_CORETYPE',
    'OPENBLAS_L2_SIZE',
    'TORCH_HOME',
    'PYTHONHASHSEED',
    // The fault suite's failpoints (engine/agentic_engine/failpoints.py); unset in production.
    'AP_ENGINE_FAILPOINTS',
  ];
  const env: NodeJS.ProcessEnv = { PYTHONUNBUFFERED: '1' };
  for (const k of keep) if (process.env[k] !== undefined) env[k] = process.env[k];
  return { ...env, ...extra };
}

class StderrTail {
  private buf = '';
  push(chunk: Buffer): void {
    this.buf = (this.buf + chunk.toString('utf8')).slice(-STDERR_TAIL_BYTES);
  }
  get text(): string {
    return this.buf.trim();
  }
}

/**
 * Runs each job in a fresh `python -m agentic_engine <job>` process: simple and isolated, pays
 * Python/torch start-up every time. Used for long jobs (fine-tune) where isolation matters more.
 */
export class OneShotEngine implements EngineRunner {
  constructor(
    private readonly location: EngineLocation,
    private readonly options: EngineProcessOptions = {},
  ) {}

  run<T = Record<string, unknown>>(job: string, request: unknown, opts: JobOptions = {}): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const child = spawn(this.location.python, ['-m', 'agentic_engine', job], {
        cwd: this.location.cwd,
        env: childEnv(this.options.env),
        stdio: ['pipe', 'pipe', 'pipe'],
        detached: true, // own process group: a kill reaches torch's worker processes too
      });
      const stderr = new StderrTail();
      child.stderr.on('data', (c: Buffer) => stderr.push(c));
      let settled = false;
      let result: Record<string, unknown> | undefined;
      let error: EngineJobError | undefined;
      let pending: Promise<void> = Promise.resolve();
      const finish = (err: Error | undefined, value?: T) => {
        if (settled) return;
        settled = true;
        cleanup();
        if (err) reject(err);
        else resolve(value as T);
      };
      const kill = () => killGroup(child);
      const onAbort = () => {
        kill();
        finish(new EngineCancelledError(job));
      };
      const timer =
        opts.timeoutMs !== undefined
          ? setTimeout(() => {
              kill();
              finish(new EngineProcessError(job, `timed out after ${opts.timeoutMs} ms`, stderr.text));
            }, opts.timeoutMs)
          : undefined;
      const cleanup = () => {
        if (timer) clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
      };
      if (opts.signal?.aborted) return onAbort();
      opts.signal?.addEventListener('abort', onAbort, { once: true });

      readline.createInterface({ input: child.stdout }).on('line', (line) => {
        const ev = parseEventLine(line);
        if (!ev) return;
        pending = pending
          .then(() => dispatch(ev))
          .catch((e: unknown) => {
            kill();
            finish(e instanceof Error ? e : new Error(String(e)));
          });
      });
      const dispatch = async (ev: EngineEvent) => {
        if (ev.event === 'progress') opts.onProgress?.(ev);
        else if (ev.event === 'artifact') await opts.onArtifact?.(ev);
        else if (ev.event === 'result') result = ev.data;
        else if (ev.event === 'error')
          error = new EngineJobError(job, ev.type, ev.message, ev.field ?? null, ev.retryable ?? false);
      };
      child.on('error', (e) =>
        finish(new EngineProcessError(job, `cannot start ${this.location.python}: ${e.message}`, '')),
      );
      child.on('close', (code, sig) => {
        void pending.then(() => {
          if (error) return finish(error);
          if (result && code === 0) return finish(undefined, result as T);
          finish(
            new EngineProcessError(
              job,
              `process exited (code ${code}, signal ${sig}) without a result`,
              stderr.text,
            ),
          );
        });
      });
      child.stdin.end(JSON.stringify(request));
    });
  }

  async close(): Promise<void> {}
}

function killGroup(child: ChildProcessWithoutNullStreams): void {
  if (child.pid === undefined || child.exitCode !== null) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
}

interface InFlight {
  id: string;
  child: ChildProcessWithoutNullStreams;
  job: string;
  opts: JobOptions;
  resolve: (v: Record<string, unknown>) => void;
  reject: (e: Error) => void;
  result?: Record<string, unknown>;
  pending: Promise<void>;
}

/**
 * A long-lived `python -m agentic_engine serve` process taking one job at a time as JSON lines. It keeps
 * imports, dense models and dependency graphs cached between trials of the same model. A crash fails
 * the job in flight (retryable) and the next job starts a fresh process; cancelling a job kills the
 * process (the only way to stop torch mid-computation) and the next job restarts it.
 */
export class WarmEngine implements EngineRunner {
  private child: ChildProcessWithoutNullStreams | undefined;
  private ready: Promise<void> | undefined;
  private stderr = new StderrTail();
  private inFlight: InFlight | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private nextId = 1;
  /** How many times a process was started (1 + restarts). */
  starts = 0;

  constructor(
    private readonly location: EngineLocation,
    private readonly options: EngineProcessOptions = {},
  ) {}

  run<T = Record<string, unknown>>(job: string, request: unknown, opts: JobOptions = {}): Promise<T> {
    const task = this.queue.then(() => this.runNow(job, request, opts));
    this.queue = task.catch(() => undefined);
    return task as Promise<T>;
  }

  private async runNow(job: string, request: unknown, opts: JobOptions): Promise<Record<string, unknown>> {
    if (opts.signal?.aborted) throw new EngineCancelledError(job);
    await this.ensureStarted(job);
    const child = this.child;
    if (!child) throw new EngineProcessError(job, 'engine is not running', this.stderr.text);
    const id = String(this.nextId++);
    return new Promise<Record<string, unknown>>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const onAbort = () => {
        this.kill();
        done(new EngineCancelledError(job));
      };
      const done = (err: Error | undefined, value?: Record<string, unknown>) => {
        if (this.inFlight?.id !== id) return;
        this.inFlight = undefined;
        if (timer) clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve(value ?? {});
      };
      this.inFlight = {
        id,
        child,
        job,
        opts,
        resolve: (v) => done(undefined, v),
        reject: (e) => done(e),
        pending: Promise.resolve(),
      };
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      if (opts.timeoutMs !== undefined) {
        timer = setTimeout(() => {
          this.kill();
          done(new EngineProcessError(job, `timed out after ${opts.timeoutMs} ms`, this.stderr.text));
        }, opts.timeoutMs);
      }
      child.stdin.write(`${JSON.stringify({ id, job, request })}\n`);
    });
  }

  private ensureStarted(job: string): Promise<void> {
    if (this.child && this.child.exitCode === null && this.ready) return this.ready;
    this.stderr = new StderrTail();
    const child = spawn(this.location.python, ['-m', 'agentic_engine', 'serve'], {
      cwd: this.location.cwd,
      env: childEnv(this.options.env),
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    this.child = child;
    this.starts++;
    child.stderr.on('data', (c: Buffer) => this.stderr.push(c));
    this.ready = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.kill();
        reject(
          new EngineProcessError(job, `warm engine not ready after ${READY_TIMEOUT_MS} ms`, this.stderr.text),
        );
      }, READY_TIMEOUT_MS);
      readline.createInterface({ input: child.stdout }).on('line', (line) => {
        const ev = parseEventLine(line);
        if (!ev) return;
        if (ev.event === 'ready') {
          clearTimeout(timer);
          resolve();
          return;
        }
        this.dispatch(ev);
      });
      child.on('error', (e) => {
        clearTimeout(timer);
        reject(new EngineProcessError(job, `cannot start ${this.location.python}: ${e.message}`, ''));
      });
      child.on('close', (code, sig) => {
        clearTimeout(timer);
        if (this.child === child) this.child = undefined;
        const msg = `warm engine exited (code ${code}, signal ${sig})`;
        reject(new EngineProcessError(job, msg, this.stderr.text));
        const job0 = this.inFlight;
        if (job0?.child === child)
          void job0.pending.then(() => job0.reject(new EngineProcessError(job0.job, msg, this.stderr.text)));
      });
    });
    return this.ready;
  }

  private dispatch(ev: EngineEvent): void {
    const cur = this.inFlight;
    if (!cur || ev.id !== cur.id) return;
    cur.pending = cur.pending
      .then(async () => {
        if (ev.event === 'progress') cur.opts.onProgress?.(ev);
        else if (ev.event === 'artifact') await cur.opts.onArtifact?.(ev);
        else if (ev.event === 'result') cur.resolve(ev.data);
        else if (ev.event === 'error')
          cur.reject(
            new EngineJobError(cur.job, ev.type, ev.message, ev.field ?? null, ev.retryable ?? false),
          );
      })
      .catch((e: unknown) => cur.reject(e instanceof Error ? e : new Error(String(e))));
  }

  /** Kill the process now and forget it: the next job starts a fresh one even before 'close' fires. */
  private kill(): void {
    if (this.child) killGroup(this.child);
    this.child = undefined;
    this.ready = undefined;
  }

  /** Stop the process (EOF on stdin, then a kill if it lingers). */
  async close(): Promise<void> {
    const child = this.child;
    if (!child || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        killGroup(child);
      }, 3000);
      child.once('close', () => {
        clearTimeout(t);
        resolve();
      });
      child.stdin.end();
    });
  }
}
