/**
 * The project's parameter rule for ONNX graphs: which initializers are learned weights, and which
 * node each one is attributed to.
 *
 * - A *parameter tensor* is a floating-point initializer, or the output of an `Identity` whose input
 *   is one. (torch.onnx deduplicates equal initializers into one plus `Identity` copies — all zero
 *   biases of a freshly initialised model, say — while PyTorch holds one tensor per module.)
 * - It counts when it has more than one element, or when it sits in a weight slot: any input after
 *   the first of Conv, ConvTranspose, Gemm, MatMul, Einsum, PRelu, or the scale/bias of a
 *   normalisation. Float scalars used as constants (eps, 0.5, sqrt(d)) and all integer tensors
 *   (shape constants) do not count.
 * - BatchNormalization running mean and variance (inputs 3 and 4) do not count: PyTorch keeps them as
 *   buffers, not parameters. (torch.onnx folds eval-mode BN into the preceding Conv, so a Conv carries
 *   the folded bias instead: a BN-folded resnet50 has 25.530 M vs PyTorch's 25.557 M, -0.1 %.)
 * - Each parameter tensor counts once, at its first consuming node in graph order (Identity copies
 *   excluded), so the per-node counts sum to the model total.
 */
import { isFloatType } from './onnx-model';
import type { InferredGraph } from './shape-inference';

const WEIGHT_SLOT_OPS = new Set(['Conv', 'ConvTranspose', 'Gemm', 'MatMul', 'Einsum', 'PRelu']);
const NORM_OPS = new Set([
  'BatchNormalization',
  'LayerNormalization',
  'InstanceNormalization',
  'GroupNormalization',
]);

function isWeightSlot(opType: string, slot: number): boolean {
  if (WEIGHT_SLOT_OPS.has(opType)) return slot >= 1;
  if (NORM_OPS.has(opType)) return slot === 1 || slot === 2;
  return false;
}

/** Parameter count attributed to each node of `graph` (same order as `graph.nodes`). */
export function nodeParams(graph: InferredGraph): number[] {
  // Parameter tensors by value name -> element count.
  const paramTensors = new Map<string, number>();
  for (const init of graph.model.initializers.values()) {
    if (isFloatType(init.dataType)) paramTensors.set(init.name, init.elementCount);
  }
  const counted = new Set<string>();
  return graph.nodes.map((node) => {
    if (node.opType === 'Identity') {
      const source = node.inputNames[0];
      const size = source !== undefined ? paramTensors.get(source) : undefined;
      const out = node.outputNames[0];
      if (size !== undefined && out !== undefined) paramTensors.set(out, size);
      return 0;
    }
    let params = 0;
    node.inputNames.forEach((name, slot) => {
      const size = paramTensors.get(name);
      if (size === undefined || counted.has(name)) return;
      if (node.opType === 'BatchNormalization' && slot >= 3) return;
      if (size > 1 || isWeightSlot(node.opType, slot)) {
        counted.add(name);
        params += size;
      }
    });
    return params;
  });
}
