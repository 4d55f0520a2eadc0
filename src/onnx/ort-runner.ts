/**
 * Running ONNX models with onnxruntime-node: latency measurement (the deployment check) and a plain
 * forward pass (agreement checks between a PyTorch model and its export). CUDA is used when its
 * provider loads, CPU otherwise — onnxruntime does not fall back by itself, so `auto` catches the
 * failure and says why in `fallbackReason`. Nothing here parses the model or counts MACs.
 *
 * Each call runs onnxruntime on a thread of its own (ort-thread.ts): onnxruntime-node executes the native
 * forward pass synchronously on the thread that calls `run`, so on the main thread a measurement of a
 * large model would stop every timer, an activity's heartbeat among them, for as long as it lasts.
 */
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';

import { OnnxCancelledError, OnnxInputShapeError, OnnxRuntimeError } from './errors';

/** Which execution provider to run on. `auto`: CUDA if it loads, else CPU. */
export type ExecutionProviderChoice = 'auto' | 'cpu' | 'cuda';

/** Options of {@link measureLatency}. */
export interface LatencyOptions {
  /** Batch size of the random input. @default 1 */
  readonly batchSize?: number;
  /** Untimed runs before measuring. @default 5 */
  readonly warmupRuns?: number;
  /** Timed runs. @default 30 */
  readonly runs?: number;
  /** onnxruntime intra-op threads. @default os.availableParallelism() */
  readonly intraOpThreads?: number;
  /** @default 'auto' */
  readonly executionProvider?: ExecutionProviderChoice;
  /** Aborting it stops the measurement's thread before its next forward pass; rejects with `OnnxCancelledError`. */
  readonly signal?: AbortSignal;
}

/**
 * Latency of one forward pass, in milliseconds, over `runs` timed runs.
 *
 * @example
 * // resnet18, batch 1, 30 runs on a shared 2-core CPU without the CUDA provider library:
 * // { provider: 'cpu', batchSize: 1, p50Ms: 135.8, p90Ms: 207.3, p99Ms: 404.8, meanMs: 158.8, runs: 30,
 * //   threads: 2, fallbackReason: 'CUDA execution provider unavailable:
 * //   OrtSessionOptionsAppendExecutionProvider_Cuda: Failed to load shared library' }
 */
export interface LatencyResult {
  readonly provider: 'cpu' | 'cuda';
  /** Set when `auto` could not use CUDA: the error onnxruntime gave. */
  readonly fallbackReason?: string;
  readonly batchSize: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly meanMs: number;
  readonly runs: number;
  /** Intra-op threads the session was created with. */
  readonly threads: number;
}

/** Options of {@link runInference}. */
export interface InferenceOptions {
  /** @default 'cpu' (bit-stable agreement checks) */
  readonly executionProvider?: ExecutionProviderChoice;
  /** @default os.availableParallelism() */
  readonly intraOpThreads?: number;
  /** Aborting it stops the thread before its forward pass (not during one); rejects with `OnnxCancelledError`. */
  readonly signal?: AbortSignal;
}

/** The first output of a forward pass. */
export interface InferenceOutput {
  /** Output name, e.g. `logits`. */
  readonly name: string;
  readonly logits: Float32Array;
  readonly shape: readonly number[];
  readonly provider: 'cpu' | 'cuda';
}

/**
 * The one job a thread of ort-thread.ts is started with, as `workerData.request`; the runner has checked
 * its options but `intraOpThreads`. `cudaUnavailable` is the runner's memory of a CUDA provider library
 * that did not load (each job gets a fresh thread, which would otherwise try again).
 */
export type OrtThreadRequest = {
  readonly modelPath: string;
  readonly executionProvider: ExecutionProviderChoice;
  readonly intraOpThreads: number | undefined;
  readonly cudaUnavailable: string | undefined;
} & (
  | {
      readonly job: 'latency';
      readonly batchSize: number;
      readonly warmupRuns: number;
      readonly runs: number;
    }
  | { readonly job: 'inference'; readonly input: Float32Array; readonly shape: readonly number[] }
);

/** The `workerData` of an onnxruntime thread: its job, and a flag the runner sets to 1 to cancel it. */
export interface OrtThreadData {
  readonly request: OrtThreadRequest;
  /** One Int32 in a SharedArrayBuffer. */
  readonly cancelFlag: Int32Array;
}

/** The one message an onnxruntime thread posts: its result or its error, and what it learnt about CUDA. */
export type OrtThreadReply = { readonly cudaUnavailable: string | undefined } & (
  | { readonly ok: true; readonly value: LatencyResult | InferenceOutput }
  | { readonly ok: false; readonly error: ThreadError }
);

/**
 * An error as it crosses the thread boundary (structured clone keeps only the message of an Error and the
 * class of a built-in one): its class name, message and stack, and its own fields, which for the errors of
 * errors.ts are their constructor arguments.
 */
export interface ThreadError {
  readonly name: string;
  readonly message: string;
  readonly stack?: string;
  readonly fields: Readonly<Record<string, unknown>>;
}

/** Why the CUDA provider library failed to load, once it has: later jobs skip the attempt. */
let cudaUnavailable: string | undefined;

/** The errors a thread throws that reach the caller as their own class, rebuilt from their fields. */
const REBUILT: Readonly<Record<string, (e: ThreadError) => Error>> = {
  OnnxRuntimeError: ({ fields: f }) => new OnnxRuntimeError(f.modelPath as string, f.reason as string),
  OnnxCancelledError: ({ fields: f }) => new OnnxCancelledError(f.modelPath as string),
  OnnxInputShapeError: ({ fields: f }) =>
    new OnnxInputShapeError(f.path as string, f.input as string, f.shape as number[], f.reason as string),
  RangeError: ({ message }) => new RangeError(message),
  TypeError: ({ message }) => new TypeError(message),
};

function rebuild(e: ThreadError): Error {
  const make = REBUILT[e.name];
  const error = make !== undefined ? make(e) : Object.assign(new Error(e.message), { name: e.name });
  // The thread's stack says where it failed; the one made here would only say where the reply arrived.
  if (e.stack !== undefined) error.stack = e.stack;
  return error;
}

/**
 * Under ts-jest this module is a .ts source, and Node 20 cannot start a thread from one: the thread then
 * evaluates this bootstrap, which compiles each .ts file it requires with TypeScript's `transpileModule`
 * (CommonJS, as tsconfig emits; tsconfig's `isolatedModules` makes file-by-file compilation exact) and
 * requires the entry. Compiled (dist/), the entry's .js starts directly and TypeScript is never loaded.
 */
const TS_BOOTSTRAP = `
const fs = require('node:fs');
const { workerData } = require('node:worker_threads');
const ts = require(workerData.typescript);
require.extensions['.ts'] = (module, filename) => {
  const { outputText } = ts.transpileModule(fs.readFileSync(filename, 'utf8'), {
    fileName: filename,
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
  });
  module._compile(outputText, filename);
};
require(workerData.entry);
`;

function startThread(request: OrtThreadRequest, cancelFlag: Int32Array): Worker {
  const entry = path.join(__dirname, `ort-thread${path.extname(__filename)}`);
  const data: OrtThreadData = { request, cancelFlag };
  if (!entry.endsWith('.ts')) return new Worker(entry, { workerData: data });
  return new Worker(TS_BOOTSTRAP, {
    eval: true,
    workerData: { ...data, entry, typescript: require.resolve('typescript') },
  });
}

/**
 * Run `request` on a new onnxruntime thread and settle once the thread has exited (none is left running):
 * with its result, or with the error it threw rebuilt as its own class. An abort of `signal` raises a flag
 * in memory shared with the thread, which stops before its next forward pass (so after the session creation
 * or pass in flight) with OnnxCancelledError. `worker.terminate()` is not used: landing inside a native
 * call, it makes onnxruntime-node throw a C++ exception nothing catches, and the whole process aborts.
 */
function runOnThread<T extends LatencyResult | InferenceOutput>(
  request: OrtThreadRequest,
  signal: AbortSignal | undefined,
): Promise<T> {
  if (signal?.aborted === true) return Promise.reject(new OnnxCancelledError(request.modelPath));
  const cancelFlag = new Int32Array(new SharedArrayBuffer(4));
  return new Promise<T>((resolve, reject) => {
    const thread = startThread(request, cancelFlag);
    const onAbort = () => Atomics.store(cancelFlag, 0, 1);
    signal?.addEventListener('abort', onAbort, { once: true });
    let outcome: { ok: true; value: T } | { ok: false; error: Error } | undefined;
    thread.once('message', (reply: OrtThreadReply) => {
      cudaUnavailable = reply.cudaUnavailable;
      outcome = reply.ok ? { ok: true, value: reply.value as T } : { ok: false, error: rebuild(reply.error) };
    });
    // Thrown outside the job, e.g. by the bootstrap; the job's own errors come as a reply.
    thread.once('error', (error) => (outcome ??= { ok: false, error }));
    // Node delivers every message a thread posted before it emits 'exit'.
    thread.once('exit', (code) => {
      signal?.removeEventListener('abort', onAbort);
      if (outcome === undefined)
        reject(
          new OnnxRuntimeError(request.modelPath, `its thread exited with code ${code} without a result`),
        );
      else if (outcome.ok) resolve(outcome.value);
      else reject(outcome.error);
    });
  });
}

/**
 * Measure forward-pass latency of an ONNX model on a random input of its input shape.
 * Throws `OnnxRuntimeError` when `executionProvider: 'cuda'` is asked for and unavailable, or the
 * model cannot be run; `OnnxCancelledError` when `signal` aborts it.
 * @example
 * const r = await measureLatency('resnet50.onnx', { runs: 50 });
 * console.log(r.provider, r.p50Ms, r.fallbackReason ?? '');
 */
export async function measureLatency(modelPath: string, opts: LatencyOptions = {}): Promise<LatencyResult> {
  const batchSize = opts.batchSize ?? 1;
  const warmupRuns = opts.warmupRuns ?? 5;
  const runs = opts.runs ?? 30;
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
  if (!Number.isInteger(runs) || runs < 1)
    throw new RangeError(`runs must be a positive integer, got ${runs}`);
  if (!Number.isInteger(warmupRuns) || warmupRuns < 0)
    throw new RangeError(`warmupRuns must be a non-negative integer, got ${warmupRuns}`);
  return await runOnThread<LatencyResult>(
    {
      job: 'latency',
      modelPath,
      batchSize,
      warmupRuns,
      runs,
      executionProvider: opts.executionProvider ?? 'auto',
      intraOpThreads: opts.intraOpThreads,
      cudaUnavailable,
    },
    opts.signal,
  );
}

/**
 * Run one forward pass on `input` (row-major, of `shape`; copied to the thread) and return the first output.
 * Throws `OnnxRuntimeError` when the model cannot be run; `OnnxCancelledError` when `signal` aborts it.
 * @example
 * const out = await runInference('resnet18.onnx', pixels, [1, 3, 224, 224]);
 * out.shape; // [1, 1000]
 */
export async function runInference(
  modelPath: string,
  input: Float32Array,
  shape: readonly number[],
  opts: InferenceOptions = {},
): Promise<InferenceOutput> {
  const expected = shape.reduce((p, d) => p * d, 1);
  if (input.length !== expected)
    throw new RangeError(`input has ${input.length} elements, shape [${shape.join(', ')}] needs ${expected}`);
  return await runOnThread<InferenceOutput>(
    {
      job: 'inference',
      modelPath,
      input,
      shape,
      executionProvider: opts.executionProvider ?? 'cpu',
      intraOpThreads: opts.intraOpThreads,
      cudaUnavailable,
    },
    opts.signal,
  );
}
