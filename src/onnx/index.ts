/**
 * src/onnx — the pure-TS ONNX reader and the onnxruntime-node runner.
 *
 * Belongs here: reading `.onnx` files (external data included), shape inference with constant
 * folding of shape arithmetic, the MAC and parameter conventions for ONNX nodes, MAC distribution
 * per module/stage/op type, and latency/inference runs with onnxruntime-node.
 * Does not belong here: Temporal (activities wrap these functions), artifact storage, the Python
 * engine, and anything a workflow imports at run time (this folder does file I/O and native code;
 * deterministic layers may import its types only).
 */
export {
  MAX_INPUT_DIM,
  MAX_INPUT_ELEMENTS,
  OnnxCancelledError,
  OnnxError,
  OnnxFormatError,
  OnnxInputShapeError,
  OnnxRuntimeError,
  UnsupportedOpError,
} from './errors';
export { DataType, OnnxModel, dataTypeName, isFloatType, loadOnnxModel } from './onnx-model';
export type { ExternalDataRef, InitializerInfo } from './onnx-model';
export { inferShapes } from './shape-inference';
export type { GraphTensor, InferOptions, InferredGraph, InferredNode } from './shape-inference';
export type { TensorValue } from './node-context';
export { SHAPE_RULES } from './shape-rules';
export { COUNTED_OPS, nodeMacs } from './mac-counter';
export { nodeParams } from './param-counter';
export { modulePathOf, profileModel, profileOnnx } from './profile';
export { autoStageRoots, stageOf, stageTable } from './stages';
export type { ModuleCost, StageCost } from './stages';
export type {
  ModuleProfile,
  NodeProfile,
  OnnxProfile,
  OpTypeProfile,
  ProfileOptions,
  StageProfile,
} from './profile';
export { measureLatency, runInference } from './ort-runner';
export type {
  ExecutionProviderChoice,
  InferenceOptions,
  InferenceOutput,
  LatencyOptions,
  LatencyResult,
} from './ort-runner';
