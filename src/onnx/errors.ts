/**
 * Errors of the ONNX layer. {@link OnnxError} is the root: catch it to handle any failure of
 * reading, shape inference or profiling an ONNX file; branch on `name` (stable) rather than
 * `instanceof` where the error may have crossed a process or sandbox boundary.
 */

import { PrunerError } from '../core/errors';

/** Root of every error thrown by `src/onnx`. The CLI exits 1 with the stack. */
export class OnnxError extends PrunerError {
  override readonly name: string = 'OnnxError';
}

/**
 * Thrown when a file is not a readable ONNX model: missing, truncated, not protobuf, no graph,
 * an external-data file that is missing or shorter than the model says, or a graph input whose
 * shape cannot be made concrete.
 */
export class OnnxFormatError extends OnnxError {
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
