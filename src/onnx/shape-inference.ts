/**
 * Walks a model's graph in order and gives every value a concrete shape, with a concrete batch size
 * standing in for the symbolic batch dimension. Small int64 tensors (shape arithmetic) are
 * evaluated as it goes, so `Shape -> Gather -> Unsqueeze -> Concat -> Reshape` resolves. The per-op
 * rules are in shape-rules.ts; counting MACs is not done here.
 */
import type { onnx } from 'onnx-proto';

import { checkInputShape, OnnxFormatError, UnsupportedOpError } from './errors';
import type { TensorValue } from './node-context';
import { NodeContext } from './node-context';
import type { OnnxModel } from './onnx-model';
import { dataTypeName, isFloatType, toNumber } from './onnx-model';
import { SHAPE_RULES } from './shape-rules';
import { FOLD_LIMIT } from './tensor-ops';

/** Float initializers up to this many elements are read for folding (scalars like 0.5, 1e-5, sqrt(d)). */
const SMALL_FLOAT_ELEMENTS = 64;

/** Options of shape inference. */
export interface InferOptions {
  /** Value for the symbolic batch (first) dimension of graph inputs. @default 1 */
  readonly batchSize?: number;
}

/** A graph input or output: its declared dims (numbers or symbols) and the concrete shape used. */
export interface GraphTensor {
  readonly name: string;
  /** Lower-case ONNX type name, e.g. `float`. */
  readonly dataType: string;
  /** Dims as declared in the model: a number, or the symbol's name (e.g. `batch`). */
  readonly declaredDims: readonly (number | string)[];
  /** Concrete shape after inference (the batch symbol replaced by the batch size). */
  readonly shape: readonly number[];
}

/** One node with concrete input and output tensors. */
export interface InferredNode {
  /** Position in the graph. */
  readonly index: number;
  /** Node name, or `<opType>_<index>` when the model leaves it empty. */
  readonly name: string;
  readonly opType: string;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** `undefined` for an omitted optional input. */
  readonly inputs: readonly (TensorValue | undefined)[];
  readonly outputs: readonly TensorValue[];
  readonly attributes: readonly onnx.IAttributeProto[];
}

/** A graph with every value's shape known. */
export interface InferredGraph {
  readonly model: OnnxModel;
  readonly nodes: readonly InferredNode[];
  /** Every value by name (graph inputs, initializers that were read, node outputs). */
  readonly values: ReadonlyMap<string, TensorValue>;
  readonly inputs: readonly GraphTensor[];
  readonly outputs: readonly GraphTensor[];
}

/**
 * Infer concrete shapes for every node of `model`.
 * Throws {@link UnsupportedOpError} for an op (or op form) it has no rule for, and
 * {@link OnnxFormatError} for a graph that reads a value nobody produces or has symbolic dims other
 * than the batch.
 */
export function inferShapes(model: OnnxModel, opts: InferOptions = {}): InferredGraph {
  const batchSize = opts.batchSize ?? 1;
  if (!Number.isInteger(batchSize) || batchSize < 1)
    throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
  const graph = model.graph;
  const values = new Map<string, TensorValue>();
  const inputs: GraphTensor[] = [];
  for (const vi of graph.input ?? []) {
    const name = vi.name ?? '';
    if (model.initializers.has(name)) continue; // IR < 4 lists initializers as inputs too
    const t = graphTensor(model, vi, batchSize);
    inputs.push(t);
    values.set(name, { dataType: vi.type?.tensorType?.elemType ?? 0, shape: t.shape });
  }

  const lookup = (name: string): TensorValue | undefined => {
    const known = values.get(name);
    if (known) return known;
    const init = model.initializers.get(name);
    if (!init) return undefined;
    const readable = init.elementCount <= (isFloatType(init.dataType) ? SMALL_FLOAT_ELEMENTS : FOLD_LIMIT);
    const v: TensorValue = readable
      ? { dataType: init.dataType, shape: init.dims, data: model.tensorValues(init.proto) }
      : { dataType: init.dataType, shape: init.dims };
    values.set(name, v);
    return v;
  };

  const nodes: InferredNode[] = [];
  (graph.node ?? []).forEach((node, index) => {
    const opType = node.opType ?? '';
    const name = node.name || `${opType}_${index}`;
    const domain = node.domain ?? '';
    const inputNames = node.input ?? [];
    const outputNames = node.output ?? [];
    const nodeInputs = inputNames.map((n) => {
      if (n === '') return undefined;
      const v = lookup(n);
      if (!v)
        throw new OnnxFormatError(
          model.path,
          `node ${name} reads ${n}, which no earlier node, input or initializer provides`,
        );
      return v;
    });
    const rule = domain === '' || domain === 'ai.onnx' ? SHAPE_RULES[opType] : undefined;
    if (!rule) {
      throw new UnsupportedOpError(
        opType,
        name,
        model.opset,
        domain ? `domain ${domain} is not supported` : 'no shape rule for this op',
      );
    }
    const ctx = new NodeContext(
      name,
      opType,
      model.opset,
      nodeInputs,
      outputNames.length,
      node.attribute ?? [],
      (t) => model.tensorValues(t),
    );
    const outputs = rule(ctx);
    outputNames.forEach((n, i) => {
      const v = outputs[i];
      if (n !== '' && v) values.set(n, v);
    });
    nodes.push({
      index,
      name,
      opType,
      inputNames,
      outputNames,
      inputs: nodeInputs,
      outputs,
      attributes: node.attribute ?? [],
    });
  });

  const outputs = (graph.output ?? []).map((vi): GraphTensor => {
    const name = vi.name ?? '';
    const v = values.get(name) ?? lookup(name);
    if (!v) throw new OnnxFormatError(model.path, `graph output ${name} is produced by no node`);
    return {
      name,
      dataType: dataTypeName(v.dataType),
      declaredDims: declaredDims(vi),
      shape: v.shape,
    };
  });
  return { model, nodes, values, inputs, outputs };
}

function declaredDims(vi: onnx.IValueInfoProto): (number | string)[] {
  return (vi.type?.tensorType?.shape?.dim ?? []).map((d) => (d.dimParam ? d.dimParam : toNumber(d.dimValue)));
}

function graphTensor(model: OnnxModel, vi: onnx.IValueInfoProto, batchSize: number): GraphTensor {
  const name = vi.name ?? '';
  const dims = declaredDims(vi);
  const shape = dims.map((d, i) => {
    if (typeof d === 'number' && d > 0) return d;
    // The first dim is the batch whether it is named (`batch`) or left unknown (0 / empty).
    if (i === 0) return batchSize;
    throw new OnnxFormatError(
      model.path,
      `input ${name} has symbolic dim ${JSON.stringify(d)} at axis ${i}; only the batch (axis 0) may be symbolic`,
    );
  });
  checkInputShape(model.path, name, shape);
  return { name, dataType: dataTypeName(vi.type?.tensorType?.elemType ?? 0), declaredDims: dims, shape };
}
