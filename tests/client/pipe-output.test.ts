// `--json` to a pipe whose reader is slow: the CLI must not exit before stdout drains (it cut at 64 KiB).
import { spawn, spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { GraphBuilder } from '../onnx/onnx-builder';
import { ensureBuilt, tempDir } from '../support/test-env';

const ROOT = path.join(__dirname, '..', '..');

/** A chain of `n` Relu nodes: a model whose `profile --json` runs to several hundred KiB. */
function bigOnnx(dir: string, n: number): string {
  const g = new GraphBuilder().input('x', [1, 8, 4, 4]);
  for (let i = 0; i < n; i++) g.node('Relu', `relu_${i}`, [i === 0 ? 'x' : `relu_${i - 1}`]);
  return g.output(`relu_${n - 1}`).save(dir, 'big.onnx');
}

/** Run the installed CLI with stdout to a pipe nobody reads for `stallMs`, then read it all. */
function runThroughSlowReader(
  args: string[],
  stallMs: number,
): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'bin', 'agentic-pruner.js'), ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const chunks: Buffer[] = [];
    child.stdout.pause();
    setTimeout(() => {
      child.stdout.on('data', (c: Buffer) => chunks.push(c));
      child.stdout.resume();
    }, stallMs);
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, out: Buffer.concat(chunks).toString('utf8') }));
  });
}

test('profile <big onnx> --json through a slow reader: the whole output arrives and parses', async () => {
  ensureBuilt();
  const model = bigOnnx(tempDir('ap-pipe-'), 3000);
  const r = await runThroughSlowReader(['profile', model, '--json'], 1500);
  expect(r.code).toBe(0);
  expect(r.out.length).toBeGreaterThan(4 * 65536);
  const profile = JSON.parse(r.out) as { layers: unknown[] };
  expect(profile.layers).toHaveLength(3000);
}, 400_000);

test('profile <onnx> --latency on a CPU host: the latency line on stdout, nothing on stderr', () => {
  ensureBuilt();
  const model = bigOnnx(tempDir('ap-quiet-'), 3);
  // ORT's native logger writes past process.stderr, so only a child process shows what a user sees.
  const r = spawnSync(
    process.execPath,
    [path.join(ROOT, 'bin', 'agentic-pruner.js'), 'profile', model, '--latency'],
    {
      encoding: 'utf8',
      timeout: 120_000,
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    },
  );
  expect(r.status).toBe(0);
  expect(r.stdout).toMatch(/latency \(cpu, batch 1, \d+ runs, \d+ threads\): p50 /);
  // Before: a red `[E:onnxruntime ... Failed to load library libonnxruntime_providers_shared.so]`.
  expect(r.stderr).toBe('');
}, 300_000);

test("the services script's progress lines go to stderr: stdout stays clean for a bench's JSON", () => {
  ensureBuilt();
  const script = `process.exitCode = require(${JSON.stringify(path.join(ROOT, 'dist', 'src', 'client', 'local-runtime.js'))}).runServices('status', 'temporal')`;
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8', timeout: 60_000 });
  expect(r.stdout).toBe('');
  expect(r.stderr).toMatch(/^temporal +up +127\.0\.0\.1:\d+/m);
});
