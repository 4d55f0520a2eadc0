/**
 * The project's MAC model for one ONNX node (1 MAC = 1 multiply-add; FLOPs = 2 x MACs).
 *
 * Counted — the ops structured pruning changes the cost of:
 * - `Conv`: `N * outC * prod(outSpatial) * (inC / group) * prod(kernel)` — bias adds not counted.
 * - `ConvTranspose`: `N * inC * prod(inSpatial) * (outC / group) * prod(kernel)` (each input pixel
 *   scatters a kernel).
 * - `Gemm`: `M * N * K` (alpha/beta scaling and the C add not counted).
 * - `MatMul`: `prod(broadcast batch) * M * N * K`, whether the second operand is a weight or an
 *   activation (attention `Q K^T` and `A V` are counted).
 * - `Einsum` with two operands and at least one summed label (matmul form): the product of all label
 *   sizes and the broadcast ellipsis.
 *
 * Not counted (0 MACs, by convention, not an error): BatchNorm, LayerNorm and other normalisations,
 * activations, element-wise arithmetic (incl. bias `Add` after `MatMul`, layer-scale `Mul`), pooling,
 * softmax, reductions and shape ops. This matches thop/fvcore-style counts for the supported models:
 * resnet50 4.089 G, deit_small 4.6 G at batch 1.
 *
 * @example
 * // Conv 3x3, 64 -> 64 channels, stride 1, pad 1 on [1, 64, 56, 56]:
 * // output [1, 64, 56, 56]; weight [64, 64, 3, 3]
 * // MACs = 1 * 64 * 56 * 56 * 64 * 3 * 3 = 115_605_504
 */
import { planEinsum } from './einsum';
import { product, toNumber } from './onnx-model';
import type { InferredNode } from './shape-inference';

/** Op types whose MACs are counted; every other op counts 0. */
export const COUNTED_OPS: ReadonlySet<string> = new Set([
  'Conv',
  'ConvTranspose',
  'Gemm',
  'MatMul',
  'Einsum',
]);

/** MACs of one node with inferred shapes, per the convention above. */
export function nodeMacs(node: InferredNode): number {
  const x = node.inputs[0]?.shape ?? [];
  const w = node.inputs[1]?.shape ?? [];
  const out = node.outputs[0]?.shape ?? [];
  switch (node.opType) {
    case 'Conv':
      // weight [outC, inC/group, k...]: every output element costs inC/group * prod(k).
      return product(out) * product(w.slice(1));
    case 'ConvTranspose':
      // weight [inC, outC/group, k...]: every input element scatters outC/group * prod(k).
      return product(x) * product(w.slice(1));
    case 'Gemm': {
      const transA = node.attributes.some((a) => a.name === 'transA' && toNumber(a.i) === 1);
      const k = transA ? (x[0] ?? 1) : (x[1] ?? 1);
      return product(out) * k;
    }
    case 'MatMul': {
      // Output already carries the broadcast batch, M and N; K is the first operand's last dim.
      return product(out) * (x[x.length - 1] ?? 1);
    }
    case 'Einsum': {
      if (node.inputs.length !== 2) return 0;
      const eq = node.attributes.find((a) => a.name === 'equation')?.s;
      const plan = planEinsum(eq ? Buffer.from(eq).toString('utf8') : '', [x, w]);
      if (plan.contracted.length === 0) return 0;
      return product([...plan.labelSizes.values()]) * product(plan.ellipsisShape);
    }
    default:
      return 0;
  }
}
