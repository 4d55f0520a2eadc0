import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { defaultEngineLocation } from '../../src/engine/engine-paths';
import { tempDir } from '../support/test-env';

// The engine never outlives the worker that started it. A worker killed with SIGKILL cannot stop its
// engine, which runs in its own process group (detached, as src/engine/engine-process.ts starts it): the
// engine must notice by itself — PR_SET_PDEATHSIG on Linux, and in warm mode EOF on stdin mid-job.

const location = defaultEngineLocation(process.env.AP_ENGINE_PYTHON);
const GONE_WITHIN_MS = 5000;

/**
 * A node parent that starts the engine as the worker does (detached, piped), gives it a 60 s job and prints
 * `ENGINE_PID <pid>` once the job is running. Plain JS, so it runs under `node` without a TS build.
 */
const PARENT = `
const { spawn } = require('node:child_process');
const readline = require('node:readline');
const [python, cwd, mode] = process.argv.slice(2);
const engine = spawn(python, ['-m', 'agentic_engine', mode === 'serve' ? 'serve' : 'ping'], {
  cwd, detached: true, stdio: ['pipe', 'pipe', 'ignore'],
  env: { PATH: process.env.PATH, HOME: process.env.HOME, OMP_NUM_THREADS: '1', PYTHONUNBUFFERED: '1' },
});
const job = { sleepMs: 60000 };
readline.createInterface({ input: engine.stdout }).on('line', (line) => {
  const ev = JSON.parse(line);
  if (ev.event === 'ready') engine.stdin.write(JSON.stringify({ id: '1', job: 'ping', request: job }) + '\\n');
  if (ev.event === 'progress' && ev.stage === 'sleeping') console.log('ENGINE_PID ' + engine.pid);
});
if (mode !== 'serve') engine.stdin.end(JSON.stringify(job));
setInterval(() => {}, 1000);
`;

/** Alive and not a zombie (a container's init may be slow to reap an orphan). */
function running(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

async function goneWithin(pid: number, ms: number): Promise<number | undefined> {
  const t0 = Date.now();
  while (Date.now() - t0 < ms) {
    if (!running(pid)) return Date.now() - t0;
    await new Promise((r) => setTimeout(r, 50));
  }
  return undefined;
}

/** Start the parent; resolve with the engine's pid once its job runs. */
function startParent(mode: 'serve' | 'one-shot'): Promise<{ parent: ChildProcess; enginePid: number }> {
  const script = path.join(tempDir('ap-parent-'), 'parent.js');
  fs.writeFileSync(script, PARENT);
  const parent = spawn(process.execPath, [script, location.python, location.cwd, mode], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the engine did not start its job in 60 s')), 60_000);
    parent.on('exit', (code) => reject(new Error(`parent exited early (code ${code})`)));
    readline.createInterface({ input: parent.stdout! }).on('line', (line) => {
      const m = /^ENGINE_PID (\d+)$/.exec(line);
      if (!m) return;
      clearTimeout(timer);
      resolve({ parent, enginePid: Number(m[1]) });
    });
  });
}

describe.each(['serve', 'one-shot'] as const)('engine (%s) whose worker is SIGKILLed', (mode) => {
  test(`exits within ${GONE_WITHIN_MS / 1000} s, mid-job`, async () => {
    const { parent, enginePid } = await startParent(mode);
    expect(running(enginePid)).toBe(true);
    parent.kill('SIGKILL');
    const ms = await goneWithin(enginePid, GONE_WITHIN_MS);
    if (ms === undefined)
      process.kill(enginePid, 'SIGKILL'); // leave nothing behind, then fail
    else console.log(`${mode} engine gone ${ms} ms after its parent's SIGKILL`);
    expect(ms).toBeDefined();
  }, 90_000);
});

test('a warm engine whose stdin closes mid-job exits at once (no PR_SET_PDEATHSIG needed)', async () => {
  const engine = spawn(location.python, ['-m', 'agentic_engine', 'serve'], {
    cwd: location.cwd,
    stdio: ['pipe', 'pipe', 'ignore'],
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', OMP_NUM_THREADS: '1' },
  });
  const exited = new Promise<number | null>((r) => engine.on('exit', (code) => r(code)));
  await new Promise<void>((resolve) => {
    readline.createInterface({ input: engine.stdout }).on('line', (line) => {
      const ev = JSON.parse(line) as { event: string; stage?: string };
      if (ev.event === 'ready')
        engine.stdin.write(`${JSON.stringify({ id: '1', job: 'ping', request: { sleepMs: 60_000 } })}\n`);
      if (ev.event === 'progress' && ev.stage === 'sleeping') resolve();
    });
  });
  const t0 = Date.now();
  engine.stdin.end();
  const code = await Promise.race([exited, new Promise<'late'>((r) => setTimeout(() => r('late'), 5000))]);
  if (code === 'late') engine.kill('SIGKILL');
  expect(code).toBe(0);
  expect(Date.now() - t0).toBeLessThan(GONE_WITHIN_MS);
}, 90_000);
