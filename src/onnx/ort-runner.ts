/**
 * Running ONNX models with onnxruntime-node: latency measurement (the deployment check) and a plain
 * forward pass (agreement checks between a PyTorch model and its export). CUDA is used when its
 * provider loads, CPU otherwise — onnxruntime does not fall back by itself, so `auto` catches the
 * failure and says why in `fallbackReason`. Nothing here parses the model or counts MACs.
 */
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';

import * as ort from 'onnxruntime-node';

import { checkInputShape, OnnxRuntimeError } from './errors';

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
}

/** The first output of a forward pass. */
export interface InferenceOutput {
  /** Output name, e.g. `logits`. */
  readonly name: string;
  readonly logits: Float32Array;
  readonly shape: readonly number[];
  readonly provider: 'cpu' | 'cuda';
}

interface OpenSession {
  readonly session: ort.InferenceSession;
  readonly provider: 'cpu' | 'cuda';
  readonly fallbackReason?: string;
  readonly threads: number;
}

/** Why the CUDA provider library failed to load, once it has: later sessions skip the attempt. */
let cudaUnavailable: string | undefined;

async function openSession(
  modelPath: string,
  choice: ExecutionProviderChoice,
  intraOpThreads?: number,
): Promise<OpenSession> {
  const threads = intraOpThreads ?? availableParallelism();
  if (!Number.isInteger(threads) || threads < 1)
    throw new RangeError(`intraOpThreads must be a positive integer, got ${threads}`);
  const base: ort.InferenceSession.SessionOptions = {
    intraOpNumThreads: threads,
    graphOptimizationLevel: 'all',
  };
  // ORT's own log goes to stderr in red (a CPU host's missing CUDA provider library at error level) and
  // says nothing the thrown errors do not: fatal only, set before the first session initialises ORT.
  ort.env.logLevel = 'fatal';
  let fallbackReason: string | undefined;
  if (choice !== 'cpu') {
    if (cudaUnavailable === undefined) {
      try {
        // Severity 4 (fatal only): the failure is reported in fallbackReason, not as a session log line.
        const session = await ort.InferenceSession.create(modelPath, {
          ...base,
          executionProviders: ['cuda'],
          logSeverityLevel: 4,
        });
        return { session, provider: 'cuda', threads };
      } catch (e) {
        const message = (e as Error).message;
        // A provider library that does not load will not load later in this process either.
        if (/librar|\.so\b|\.dll\b/i.test(message)) cudaUnavailable = message;
        fallbackReason = `CUDA execution provider unavailable: ${message}`;
      }
    } else {
      fallbackReason = `CUDA execution provider unavailable: ${cudaUnavailable}`;
    }
    if (choice === 'cuda') throw new OnnxRuntimeError(modelPath, fallbackReason);
  }
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(modelPath, { ...base, executionProviders: ['cpu'] });
  } catch (e) {
    throw new OnnxRuntimeError(modelPath, `cannot create a session: ${(e as Error).message}`);
  }
  return fallbackReason !== undefined
    ? { session, provider: 'cpu', fallbackReason, threads }
    : { session, provider: 'cpu', threads };
}

/** The concrete shape of the model's single float32 input at `batchSize`. */
function inputShape(
  modelPath: string,
  session: ort.InferenceSession,
  batchSize: number,
): { name: string; shape: number[] } {
  const meta = session.inputMetadata;
  const first = meta[0];
  if (meta.length !== 1 || first === undefined || !first.isTensor) {
    throw new OnnxRuntimeError(modelPath, `expected one tensor input, the model has ${meta.length}`);
  }
  if (first.type !== 'float32')
    throw new OnnxRuntimeError(modelPath, `input ${first.name} is ${first.type}, expected float32`);
  const shape = first.shape.map((d, i) => {
    if (typeof d === 'number' && d > 0) return d;
    if (i === 0) return batchSize;
    throw new OnnxRuntimeError(
      modelPath,
      `input ${first.name} has symbolic dim ${String(d)} at axis ${i}; only the batch may be symbolic`,
    );
  });
  checkInputShape(modelPath, first.name, shape);
  return { name: first.name, shape };
}

/** Nearest-rank percentile of ascending `sorted`. */
function percentile(sorted: readonly number[], q: number): number {
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i] ?? NaN;
}

/**
 * Measure forward-pass latency of an ONNX model on a random input of its input shape.
 * Throws `OnnxRuntimeError` when `executionProvider: 'cuda'` is asked for and unavailable, or the
 * model cannot be run.
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
  const open = await openSession(modelPath, opts.executionProvider ?? 'auto', opts.intraOpThreads);
  try {
    const { name, shape } = inputShape(modelPath, open.session, batchSize);
    const data = new Float32Array(shape.reduce((p, d) => p * d, 1));
    for (let i = 0; i < data.length; i++) data[i] = Math.random() * 2 - 1;
    const feeds = { [name]: new ort.Tensor('float32', data, shape) };
    for (let i = 0; i < warmupRuns; i++) await open.session.run(feeds);
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const t0 = performance.now();
      await open.session.run(feeds);
      times.push(performance.now() - t0);
    }
    const sorted = [...times].sort((a, b) => a - b);
    const result = {
      provider: open.provider,
      batchSize,
      p50Ms: percentile(sorted, 0.5),
      p90Ms: percentile(sorted, 0.9),
      p99Ms: percentile(sorted, 0.99),
      meanMs: times.reduce((s, t) => s + t, 0) / times.length,
      runs,
      threads: open.threads,
    };
    return open.fallbackReason !== undefined ? { ...result, fallbackReason: open.fallbackReason } : result;
  } finally {
    await open.session.release();
  }
}

/**
 * Run one forward pass on `input` (row-major, of `shape`) and return the first output.
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
  const open = await openSession(modelPath, opts.executionProvider ?? 'cpu', opts.intraOpThreads);
  try {
    const inputName = open.session.inputNames[0];
    const outputName = open.session.outputNames[0];
    if (inputName === undefined || outputName === undefined)
      throw new OnnxRuntimeError(modelPath, 'the model has no inputs or no outputs');
    let results: ort.InferenceSession.ReturnType;
    try {
      results = await open.session.run({ [inputName]: new ort.Tensor('float32', input, [...shape]) });
    } catch (e) {
      throw new OnnxRuntimeError(modelPath, `inference failed: ${(e as Error).message}`);
    }
    const out = results[outputName];
    if (!out || out.type !== 'float32')
      throw new OnnxRuntimeError(modelPath, `output ${outputName} is not a float32 tensor`);
    return {
      name: outputName,
      logits: out.data as Float32Array,
      shape: [...out.dims],
      provider: open.provider,
    };
  } finally {
    await open.session.release();
  }
}
