/**
 * Errors of the ONNX layer. {@link OnnxError} is the root: catch it to handle any failure of
 * reading, shape inference or profiling an ONNX file; branch on `name` (stable) rather than
 * `instanceof` where the error may have crossed a process or sandbox boundary.
 */

import { ExitCode, PrunerError, type ExitCodeValue } from '../core/errors';

/**
 * Root of every error thrown by `src/onnx`. Each says what is wrong with which file or node in its
 * message, so the CLI prints it in one line, without a stack: exit 1, or 2 for a bad input file.
 */
export class OnnxError extends PrunerError {
  override readonly name: string = 'OnnxError';
  override get messageOnly(): boolean {
    return true;
  }
}

/** An ONNX error caused by the file the user gave (exit 2, like any bad input). */
abstract class OnnxInputError extends OnnxError {
  override get exitCode(): ExitCodeValue {
    return ExitCode.usage;
  }
}

/**
 * Thrown when a file is not a readable ONNX model: missing, truncated, not protobuf, no graph,
 * an external-data file that is missing or shorter than the model says, or a graph input whose
 * shape cannot be made concrete.
 */
export class OnnxFormatError extends OnnxInputError {
  override readonly name = 'OnnxFormatError';
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`${path}: not a readable ONNX model: ${reason}`);
  }
}

/**
 * Thrown when shape inference meets an operator (or an operator form, e.g. a `Reshape` whose target
 * shape is not a constant) it cannot infer output shapes for. Never swallowed into a zero count:
 * a MAC profile with a silent hole would mislead the search.
 */
export class UnsupportedOpError extends OnnxError {
  override readonly name = 'UnsupportedOpError';
  constructor(
    readonly opType: string,
    readonly nodeName: string,
    readonly opset: number,
    readonly detail?: string,
  ) {
    super(
      `cannot infer shapes for op ${opType} (node ${JSON.stringify(nodeName)}, opset ${opset})` +
        (detail !== undefined ? `: ${detail}` : ''),
    );
  }
}

/**
 * Thrown by the onnxruntime runner when a model cannot be run: an explicitly requested execution
 * provider (e.g. `cuda`) is unavailable, or the model's input is not a float32 tensor with at most
 * a symbolic batch dimension.
 */
export class OnnxRuntimeError extends OnnxError {
  override readonly name = 'OnnxRuntimeError';
  constructor(
    readonly modelPath: string,
    readonly reason: string,
  ) {
    super(`${modelPath}: onnxruntime: ${reason}`);
  }
}

/**
 * Thrown by the onnxruntime runner when the caller's `signal` aborts a latency measurement or forward pass
 * (an activity cancelled): the thread running onnxruntime has been terminated and has exited.
 */
export class OnnxCancelledError extends OnnxError {
  override readonly name = 'OnnxCancelledError';
  constructor(readonly modelPath: string) {
    super(`${modelPath}: onnxruntime: cancelled`);
  }
}

/**
 * Thrown when a graph input declares an implausible shape: a dim above {@link MAX_INPUT_DIM} or more than
 * {@link MAX_INPUT_ELEMENTS} elements at the batch size asked for. Such a model would report absurd MAC
 * counts (2^40 x 2^40 is 3e28 MACs) or make onnxruntime allocate without bound; it is refused by name.
 */
export class OnnxInputShapeError extends OnnxInputError {
  override readonly name = 'OnnxInputShapeError';
  constructor(
    readonly path: string,
    readonly input: string,
    readonly shape: readonly number[],
    readonly reason: string,
  ) {
    super(`${path}: input ${JSON.stringify(input)} has shape [${shape.join(', ')}]: ${reason}`);
  }
}

/** The largest single dim a graph input may declare. */
export const MAX_INPUT_DIM = 1 << 20;
/** The most elements a graph input may hold at the batch size used (1 GiB of float32). */
export const MAX_INPUT_ELEMENTS = 1 << 28;

/** Throw {@link OnnxInputShapeError} unless `shape` (concrete) is within {@link MAX_INPUT_DIM} and {@link MAX_INPUT_ELEMENTS}. */
export function checkInputShape(path: string, input: string, shape: readonly number[]): void {
  const axis = shape.findIndex((d) => d > MAX_INPUT_DIM);
  if (axis >= 0)
    throw new OnnxInputShapeError(
      path,
      input,
      shape,
      `dim ${shape[axis]} at axis ${axis} is above the limit of ${MAX_INPUT_DIM}`,
    );
  const elements = shape.reduce((p, d) => p * d, 1);
  if (elements > MAX_INPUT_ELEMENTS)
    throw new OnnxInputShapeError(
      path,
      input,
      shape,
      `${elements} elements, above the limit of ${MAX_INPUT_ELEMENTS}`,
    );
}
