import { execFileSync } from 'node:child_process';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, type Worker } from '@temporalio/worker';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ActivityDeps } from '../../src/activities';
import { strategyLogQuery, type StrategyLog } from '../../src/workflows/definitions';
import type { MacTargetSearchInput, MacTargetSearchResult } from '../../src/workflows/mac-target-search';
import { TaskQueues } from '../../src/workflows/presets';
import { defaultEngineLocation } from '../../src/engine/engine-paths';
import { OneShotEngine, WarmEngine } from '../../src/engine/engine-process';
import { S3ArtifactStore } from '../../src/storage';
import { createWorkers, type QueueName } from '../../src/workers/create-workers';

/** Settings the global setup put in the environment: the real services' addresses. */
export function testServices(): {
  temporalAddress: string;
  s3: { endpoint: string; accessKeyId: string; secretAccessKey: string; bucket: string };
} {
  const temporalAddress = process.env.AP_TEST_TEMPORAL_ADDRESS;
  const s3 = process.env.AP_TEST_S3;
  if (!temporalAddress || !s3) throw new Error('global setup did not run: services unknown');
  return { temporalAddress, s3: JSON.parse(s3) };
}

/** The S3 server's settings of {@link testServices}. */
export type TestS3 = ReturnType<typeof testServices>['s3'];

/** The real S3 store on the test services' S3 server (path-style, us-east-1). */
export function testStore(): S3ArtifactStore {
  return new S3ArtifactStore({ ...testServices().s3, region: 'us-east-1', forcePathStyle: true });
}

/** The environment that puts a worker or the CLI on the S3 store `s3` (AP_STORE and AP_S3_*). */
export function s3Env(s3: TestS3): Record<string, string> {
  return {
    AP_STORE: 's3',
    AP_S3_ENDPOINT: s3.endpoint,
    AP_S3_BUCKET: s3.bucket,
    AP_S3_ACCESS_KEY: s3.accessKeyId,
    AP_S3_SECRET_KEY: s3.secretAccessKey,
  };
}

/** A fresh scratch directory under the OS temp dir. */
export function tempDir(prefix = 'ap-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Real engines on the project venv, shared by a test file. */
export function realEngines(): { engine: WarmEngine; oneShotEngine: OneShotEngine } {
  const location = defaultEngineLocation(process.env.AP_ENGINE_PYTHON);
  return { engine: new WarmEngine(location), oneShotEngine: new OneShotEngine(location) };
}

/** Workers on the real dev server from the bundled workflow code, and a client. */
export interface TestWorkers {
  client: Client;
  workers: Worker[];
  /**
   * Shut the workers down and close the connections. By default it waits for the workers to stop and
   * throws what they or the connections throw; with `waitMs` (a server that may be down) it waits at most
   * that long and ignores their errors.
   */
  stop(opts?: { waitMs?: number }): Promise<void>;
}

/** Options of {@link startTestWorkers}. */
export interface TestWorkersOptions {
  /** The Temporal server the workers and the client connect to. @default testServices().temporalAddress */
  address?: string;
}

let runtimeInstalled = false;

export async function startTestWorkers(
  deps: ActivityDeps,
  queues: QueueName[] = ['control', 'trials', 'train'],
  opts: TestWorkersOptions = {},
): Promise<TestWorkers> {
  if (!runtimeInstalled) {
    // Workers log at WARN in tests: failures stay visible, routine state changes do not drown them.
    try {
      Runtime.install({ logger: new DefaultLogger('WARN') });
    } catch {
      // already installed by an earlier test file in this process
    }
    runtimeInstalled = true;
  }
  const temporalAddress = opts.address ?? testServices().temporalAddress;
  const codePath = process.env.AP_TEST_WORKFLOW_BUNDLE;
  if (!codePath) throw new Error('global setup did not bundle the workflows');
  const nativeConnection = await NativeConnection.connect({ address: temporalAddress });
  const workers = await createWorkers({
    connection: nativeConnection,
    namespace: 'default',
    queues,
    deps,
    workflowBundle: { codePath },
  });
  const running = Promise.all(workers.map((w) => w.run()));
  const connection = await Connection.connect({ address: temporalAddress });
  const client = new Client({ connection, namespace: 'default' });
  return {
    client,
    workers,
    async stop({ waitMs } = {}) {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
      if (waitMs === undefined) {
        await running;
        await nativeConnection.close();
        await connection.close();
        return;
      }
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        running.catch(() => undefined),
        new Promise((r) => (timer = setTimeout(r, waitMs))),
      ]);
      clearTimeout(timer);
      await nativeConnection.close().catch(() => undefined);
      await connection.close().catch(() => undefined);
    },
  };
}

/** A small generated dataset: 4 classes of 32 px shapes, 16 train and 4 val images each (seed 0); its root. */
export async function smallShapes(engine: OneShotEngine, prefix = 'ap-shapes-'): Promise<string> {
  const ds = await engine.run<{ root: string }>('make-dataset', {
    out: path.join(tempDir(prefix), 'shapes'),
    classes: 4,
    trainPerClass: 16,
    valPerClass: 4,
    imageSize: 32,
    seed: 0,
  });
  return ds.root;
}

/**
 * A 10-class, 32 px generated dataset (40 train / 10 val images per class) and a democnn trained on it for
 * `steps` seeded steps (batch 16, SGD 0.01): fixed dense weights, so every engine process prunes the very
 * same model (one from random init differs between processes).
 */
export async function denseDemocnn(
  engine: OneShotEngine,
  steps: number,
): Promise<{ dataset: string; weights: string }> {
  const data = tempDir('ap-dense-');
  const ds = await engine.run<{ root: string }>('make-dataset', {
    out: path.join(data, 'shapes'),
    classes: 10,
    trainPerClass: 40,
    valPerClass: 10,
    imageSize: 32,
    seed: 0,
  });
  const dense = await engine.run<{ model: { path: string } }>('finetune', {
    model: { name: 'democnn', numClasses: 10 },
    dataset: { root: ds.root },
    recipe: { epochs: Math.ceil(steps / 25), batchSize: 16, lr: 0.01, maxSteps: steps, seed: 0 },
    checkpointDir: path.join(data, 'dense-ckpt'),
    checkpointEverySteps: steps,
    outDir: path.join(data, 'dense'),
  });
  return { dataset: ds.root, weights: dense.model.path };
}

/** A unique id for workflows started by a test. */
export function testId(name: string): string {
  return `test-${name}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`;
}

/**
 * A macTargetSearch input for resnet18 at 96x96 aiming at half its MACs, band -5%..+1%, solver agent;
 * `overrides` change any field.
 */
export function searchInputFor(
  profile: MacTargetSearchInput['profile'],
  overrides: Partial<MacTargetSearchInput> = {},
): MacTargetSearchInput {
  return {
    campaignId: testId('search'),
    targetLabel: 't1',
    model: { name: 'resnet18', inputSize: 96 },
    profile,
    targetMacs: Math.round(profile.macs * 0.5),
    band: { lo: -0.05, hi: 0.01 },
    agent: 'solver',
    fallbackAgent: 'solver',
    maxIterations: 10,
    gridStep: 0.05,
    stagnationWindow: 3,
    extendedSearch: 0,
    attemptsPerRun: 50,
    baseStrategy: { importance: 'l2', globalPruning: true, isomorphic: true, roundTo: 8 },
    ...overrides,
  };
}

/** Run one macTargetSearch to its end on the control queue; its result and its final strategy log. */
export async function runSearch(
  client: Client,
  input: MacTargetSearchInput,
): Promise<{ workflowId: string; result: MacTargetSearchResult; log: StrategyLog }> {
  const workflowId = `${input.campaignId}--t1`;
  const result: MacTargetSearchResult = await client.workflow.execute('macTargetSearch', {
    taskQueue: TaskQueues.control,
    workflowId,
    args: [input],
  });
  const log = await client.workflow.getHandle(workflowId).query(strategyLogQuery);
  return { workflowId, result, log };
}

/**
 * With AP_RECORD_HISTORIES=1, write a history to tests/replay/histories/ so the replay test replays it
 * on every change (commit the file). Without it, nothing is written.
 */
export function saveHistoryFixture(name: string, workflowId: string): void {
  if (process.env.AP_RECORD_HISTORIES !== '1') return;
  const dir = path.join(__dirname, '..', 'replay', 'histories');
  fs.mkdirSync(dir, { recursive: true });
  // The temporal CLI writes the proto3 JSON that historyFromJSON reads.
  const tools = process.env.AP_TOOLS_DIR || path.join(__dirname, '..', '..', '.state');
  const json = execFileSync(path.join(tools, 'venv-infra', 'bin', 'temporal'), [
    'workflow',
    'show',
    '--workflow-id',
    workflowId,
    '--output',
    'json',
    '--address',
    testServices().temporalAddress,
  ]);
  fs.writeFileSync(path.join(dir, `${name}.json`), json);
}

const REPO_ROOT = path.join(__dirname, '..', '..');

/** Newest mtime of the files under `dir` (recursive). */
function newestMtime(dir: string): number {
  let newest = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : fs.statSync(p).mtimeMs);
  }
  return newest;
}

/** `bin/agentic-pruner.js` runs dist/: build it when missing or older than src/. */
export function ensureBuilt(): void {
  const cli = path.join(REPO_ROOT, 'dist', 'src', 'client', 'cli.js');
  if (fs.existsSync(cli) && fs.statSync(cli).mtimeMs >= newestMtime(path.join(REPO_ROOT, 'src'))) return;
  try {
    execFileSync('npm', ['run', 'build'], { cwd: REPO_ROOT, stdio: 'pipe', timeout: 300_000 });
  } catch (err) {
    const e = err as { stdout?: Buffer; stderr?: Buffer; message: string };
    throw new Error(`npm run build failed: ${e.message}\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}
