/**
 * Builds small ONNX models in TS for the table-driven tests: graph inputs, initializers (inline or in
 * an external-data side file), constants and nodes, encoded with onnx-proto and written to disk.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

import { onnx } from 'onnx-proto';

export const FLOAT: number = onnx.TensorProto.DataType.FLOAT;
export const INT64: number = onnx.TensorProto.DataType.INT64;

type AttrValue = number | string | readonly number[] | { tensor: onnx.ITensorProto } | { float: number };

/** A tensor proto with inline raw data (zeros for floats unless `values` is given). */
export function tensorProto(
  name: string,
  dataType: number,
  dims: readonly number[],
  values?: readonly number[],
): onnx.ITensorProto {
  const count = dims.reduce((p, d) => p * d, 1);
  const raw =
    dataType === INT64
      ? Buffer.from(
          BigInt64Array.from((values ?? new Array<number>(count).fill(0)).map((v) => BigInt(v))).buffer,
        )
      : Buffer.from(Float32Array.from(values ?? new Array<number>(count).fill(0)).buffer);
  return { name, dataType, dims: [...dims], rawData: raw };
}

function attribute(name: string, value: AttrValue): onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof value === 'number') return { name, type: T.INT, i: value };
  if (typeof value === 'string') return { name, type: T.STRING, s: Buffer.from(value) };
  if (Array.isArray(value)) return { name, type: T.INTS, ints: [...(value as number[])] };
  if ('tensor' in (value as object))
    return { name, type: T.TENSOR, t: (value as { tensor: onnx.ITensorProto }).tensor };
  return { name, type: T.FLOAT, f: (value as { float: number }).float };
}

/** A fluent builder of one-graph models. */
export class GraphBuilder {
  private readonly nodes: onnx.INodeProto[] = [];
  private readonly initializers: onnx.ITensorProto[] = [];
  private readonly inputs: onnx.IValueInfoProto[] = [];
  private readonly outputs: onnx.IValueInfoProto[] = [];
  private readonly external: { tensor: onnx.ITensorProto; bytes: Buffer }[] = [];

  constructor(private readonly opset = 17) {}

  /** A graph input; a string dim is symbolic (e.g. `'batch'`). */
  input(name: string, dims: readonly (number | string)[], elemType = FLOAT): this {
    this.inputs.push(valueInfo(name, dims, elemType));
    return this;
  }

  /** A graph output (shape left undeclared unless given). */
  output(name: string, dims?: readonly (number | string)[], elemType = FLOAT): this {
    this.outputs.push(valueInfo(name, dims, elemType));
    return this;
  }

  /** An inline initializer. */
  init(name: string, dims: readonly number[], values?: readonly number[], dataType = FLOAT): this {
    this.initializers.push(tensorProto(name, dataType, dims, values));
    return this;
  }

  /** An initializer stored in the external-data side file (written by {@link save}). */
  externalInit(name: string, dims: readonly number[], values?: readonly number[], dataType = FLOAT): this {
    const inline = tensorProto(name, dataType, dims, values);
    const bytes = Buffer.from(inline.rawData as Uint8Array);
    const tensor: onnx.ITensorProto = {
      name,
      dataType,
      dims: [...dims],
      dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
    };
    this.external.push({ tensor, bytes });
    this.initializers.push(tensor);
    return this;
  }

  /** A node; `outputs` defaults to `[name]`; `domain` defaults to the default (ai.onnx) domain. */
  node(
    opType: string,
    name: string,
    inputs: readonly string[],
    attrs: Record<string, AttrValue> = {},
    outputs: readonly string[] = [name],
    domain = '',
  ): this {
    this.nodes.push({
      opType,
      domain,
      name,
      input: [...inputs],
      output: [...outputs],
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return this;
  }

  /** A `Constant` node producing an int64 tensor (a scalar when `dims` is `[]`). */
  constInt(name: string, values: readonly number[], dims: readonly number[] = [values.length]): this {
    return this.node('Constant', name, [], { value: { tensor: tensorProto('', INT64, dims, values) } });
  }

  /** The encoded model bytes; external tensors point at `externalFile` (relative to the model). */
  encode(externalFile = 'weights.bin'): Uint8Array {
    let offset = 0;
    for (const e of this.external) {
      // 64-byte alignment as onnx's external-data writer does, so offsets are not all zero.
      offset = Math.ceil(offset / 64) * 64;
      e.tensor.externalData = [
        { key: 'location', value: externalFile },
        { key: 'offset', value: String(offset) },
        { key: 'length', value: String(e.bytes.length) },
      ];
      offset += e.bytes.length;
    }
    const model: onnx.IModelProto = {
      irVersion: 8,
      producerName: 'agentic-pruner tests',
      opsetImport: [{ domain: '', version: this.opset }],
      graph: {
        name: 'g',
        node: this.nodes,
        initializer: this.initializers,
        input: this.inputs,
        output: this.outputs,
      },
    };
    return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
  }

  /** Write the model (and its external-data file, if any) into `dir`; returns the model's path. */
  save(dir: string, file = 'model.onnx', externalFile = 'weights.bin'): string {
    fs.mkdirSync(dir, { recursive: true });
    const modelPath = path.join(dir, file);
    fs.writeFileSync(modelPath, this.encode(externalFile));
    if (this.external.length > 0) {
      const chunks: Buffer[] = [];
      let offset = 0;
      for (const e of this.external) {
        const aligned = Math.ceil(offset / 64) * 64;
        chunks.push(Buffer.alloc(aligned - offset), e.bytes);
        offset = aligned + e.bytes.length;
      }
      fs.writeFileSync(path.join(dir, externalFile), Buffer.concat(chunks));
    }
    return modelPath;
  }
}

function valueInfo(
  name: string,
  dims: readonly (number | string)[] | undefined,
  elemType: number,
): onnx.IValueInfoProto {
  const shape = dims && { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) };
  return { name, type: { tensorType: shape ? { elemType, shape } : { elemType } } };
}

/**
 * x [batch, n, n] -> `count` x (MatMul by one w [n, n]) -> y: n^3 x count MACs per sample, for tests that
 * need a forward pass that takes a while (n = 2048, count = 3: 26 G MACs, a few hundred ms on one core).
 */
export function matMulChain(n: number, count: number): GraphBuilder {
  const b = new GraphBuilder().input('x', ['batch', n, n]).init('w', [n, n]);
  for (let i = 0; i < count; i++) b.node('MatMul', `m${i}`, [i === 0 ? 'x' : `m${i - 1}`, 'w']);
  return b.output(`m${count - 1}`);
}
