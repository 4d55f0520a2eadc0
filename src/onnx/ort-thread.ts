/**
 * The onnxruntime thread: the entry of the `node:worker_threads` Worker that ort-runner.ts starts for each
 * latency measurement or forward pass. It runs the one job in `workerData.request` (session creation,
 * warm-up and timed runs, or one inference), posts one {@link OrtThreadReply} and exits. onnxruntime-node
 * executes the native forward pass synchronously on the thread that calls `run`; here that thread is not
 * the worker's main thread, whose timers (an activity's heartbeat) keep firing. When the runner raises
 * `cancelFlag`, the job stops before its next forward pass with OnnxCancelledError.
 * Nothing imports this module; it runs only as a thread.
 */
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import { parentPort, workerData } from 'node:worker_threads';

import * as ort from 'onnxruntime-node';

import { checkInputShape, OnnxCancelledError, OnnxRuntimeError } from './errors';
import type {
  ExecutionProviderChoice,
  InferenceOutput,
  LatencyResult,
  OrtThreadData,
  OrtThreadReply,
  OrtThreadRequest,
  ThreadError,
} from './ort-runner';

interface OpenSession {
  readonly session: ort.InferenceSession;
  readonly provider: 'cpu' | 'cuda';
  readonly fallbackReason?: string;
  readonly threads: number;
}

/**
 * Why the CUDA provider library failed to load, once it has: later sessions skip the attempt. Each job
 * runs on a fresh thread, so the runner keeps it between jobs and passes it in with the request.
 */
let cudaUnavailable: string | undefined;

/** This thread's job and cancel flag; null where the module is loaded other than as a runner's thread. */
const data = workerData as OrtThreadData | null;

/** Throw OnnxCancelledError if the runner has asked this job to stop. */
function checkCancelled(modelPath: string): void {
  if (data !== null && Atomics.load(data.cancelFlag, 0) !== 0) throw new OnnxCancelledError(modelPath);
}

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

async function measure(request: Extract<OrtThreadRequest, { job: 'latency' }>): Promise<LatencyResult> {
  const { modelPath, batchSize, warmupRuns, runs } = request;
  const open = await openSession(modelPath, request.executionProvider, request.intraOpThreads);
  try {
    checkCancelled(modelPath);
    const { name, shape } = inputShape(modelPath, open.session, batchSize);
    const data = new Float32Array(shape.reduce((p, d) => p * d, 1));
    for (let i = 0; i < data.length; i++) data[i] = Math.random() * 2 - 1;
    const feeds = { [name]: new ort.Tensor('float32', data, shape) };
    for (let i = 0; i < warmupRuns; i++) {
      checkCancelled(modelPath);
      await open.session.run(feeds);
    }
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      checkCancelled(modelPath);
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

async function infer(request: Extract<OrtThreadRequest, { job: 'inference' }>): Promise<InferenceOutput> {
  const { modelPath, input, shape } = request;
  const open = await openSession(modelPath, request.executionProvider, request.intraOpThreads);
  try {
    const inputName = open.session.inputNames[0];
    const outputName = open.session.outputNames[0];
    if (inputName === undefined || outputName === undefined)
      throw new OnnxRuntimeError(modelPath, 'the model has no inputs or no outputs');
    checkCancelled(modelPath);
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

/** `e` as plain data: its own fields are the constructor arguments the runner rebuilds it from. */
function threadError(e: unknown): ThreadError {
  if (!(e instanceof Error)) return { name: 'Error', message: String(e), fields: {} };
  const fields = Object.fromEntries(
    Object.entries(e).filter(
      ([, v]) => ['string', 'number', 'boolean'].includes(typeof v) || Array.isArray(v),
    ),
  );
  return e.stack !== undefined
    ? { name: e.name, message: e.message, stack: e.stack, fields }
    : { name: e.name, message: e.message, fields };
}

async function runJob(request: OrtThreadRequest): Promise<OrtThreadReply> {
  cudaUnavailable = request.cudaUnavailable;
  try {
    const value = request.job === 'latency' ? await measure(request) : await infer(request);
    return { ok: true, value, cudaUnavailable };
  } catch (e) {
    return { ok: false, error: threadError(e), cudaUnavailable };
  }
}

if (parentPort !== null && data !== null) {
  const port = parentPort;
  void runJob(data.request).then((reply) => port.postMessage(reply));
}
