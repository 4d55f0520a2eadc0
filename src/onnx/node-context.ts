/**
 * What a per-op shape rule sees of one node: its inputs as {@link TensorValue}s (shape, type, and the
 * elements when they are a known constant), typed attribute access, and `fail` for an
 * {@link UnsupportedOpError} that names the op, the node and the opset.
 */
import type { onnx } from 'onnx-proto';

import { UnsupportedOpError } from './errors';
import { toNumber } from './onnx-model';

/**
 * A tensor during shape inference: element type, concrete shape, and — for small tensors whose
 * elements are known without running the model (shape arithmetic, constants) — the elements,
 * row-major, as JS numbers.
 *
 * @example
 * // Shape(x) of x: [1, 197, 384]
 * { dataType: 7, shape: [3], data: [1, 197, 384] }
 */
export interface TensorValue {
  /** ONNX data type code. */
  readonly dataType: number;
  readonly shape: readonly number[];
  /** The elements when known; absent for activations and for initializers too large to matter. */
  readonly data?: readonly number[];
}

/** Typed access to a node's attributes with defaults. */
export class Attributes {
  private readonly byName: ReadonlyMap<string, onnx.IAttributeProto>;

  constructor(attrs: readonly onnx.IAttributeProto[]) {
    this.byName = new Map(attrs.map((a) => [a.name ?? '', a]));
  }

  /** Whether the attribute is present. */
  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** An `INT` attribute, or `fallback` when absent. */
  int(name: string, fallback: number): number {
    const a = this.byName.get(name);
    return a ? toNumber(a.i) : fallback;
  }

  /** An `INTS` attribute, or `fallback` when absent. */
  ints(name: string, fallback: readonly number[]): readonly number[];
  ints(name: string): readonly number[] | undefined;
  ints(name: string, fallback?: readonly number[]): readonly number[] | undefined {
    const a = this.byName.get(name);
    return a ? (a.ints ?? []).map(toNumber) : fallback;
  }

  /** A `FLOAT` attribute, or `fallback` when absent. */
  float(name: string, fallback: number): number {
    const a = this.byName.get(name);
    return a ? (a.f ?? 0) : fallback;
  }

  /** A `FLOATS` attribute, or undefined when absent. */
  floats(name: string): readonly number[] | undefined {
    return this.byName.get(name)?.floats ?? undefined;
  }

  /** A `STRING` attribute decoded as UTF-8, or `fallback` when absent. */
  string(name: string, fallback: string): string {
    const s = this.byName.get(name)?.s;
    return s ? Buffer.from(s).toString('utf8') : fallback;
  }

  /** A `TENSOR` attribute, or undefined when absent. */
  tensor(name: string): onnx.ITensorProto | undefined {
    return this.byName.get(name)?.t ?? undefined;
  }
}

/** Reads the elements of a constant tensor proto (a `Constant`'s or `ConstantOfShape`'s value). */
export type TensorReader = (tensor: onnx.ITensorProto) => number[];

/** One node, as its shape rule sees it. */
export class NodeContext {
  /** The node's attributes. */
  readonly attrs: Attributes;

  constructor(
    /** Node name, or `<opType>_<index>` when the model leaves it empty. */
    readonly name: string,
    readonly opType: string,
    /** Opset version of the default domain. */
    readonly opset: number,
    /** One entry per declared input; `undefined` for an omitted optional input (empty name). */
    readonly inputs: readonly (TensorValue | undefined)[],
    /** Number of outputs the node declares. */
    readonly outputCount: number,
    attrs: readonly onnx.IAttributeProto[],
    /** Decodes tensor-valued attributes. */
    readonly readTensor: TensorReader,
  ) {
    this.attrs = new Attributes(attrs);
  }

  /** Throw an {@link UnsupportedOpError} for this node, with a reason. */
  fail(detail: string): never {
    throw new UnsupportedOpError(this.opType, this.name, this.opset, detail);
  }

  /** Input `i`, which must be present. */
  input(i: number): TensorValue {
    const v = this.inputs[i];
    if (v === undefined) this.fail(`required input ${i} is missing`);
    return v;
  }

  /** Input `i`, or undefined when omitted. */
  optional(i: number): TensorValue | undefined {
    return this.inputs[i];
  }

  /** The known elements of input `i`; fails (naming the input) when they are not a constant. */
  value(i: number, what: string): readonly number[] {
    const data = this.input(i).data;
    if (data === undefined)
      this.fail(`${what} (input ${i}) is not a constant; cannot infer the output shape`);
    return data;
  }

  /** The known elements of optional input `i`; undefined when omitted; fails when present but not constant. */
  optionalValue(i: number, what: string): readonly number[] | undefined {
    return this.inputs[i] === undefined ? undefined : this.value(i, what);
  }

  /** Whether every present input has known elements (so the outputs can be folded too). */
  allKnown(): boolean {
    return this.inputs.every((v) => v === undefined || v.data !== undefined);
  }

  /** Normalise a possibly negative axis against `rank`, failing when out of range. */
  axis(axis: number, rank: number): number {
    const a = axis < 0 ? axis + rank : axis;
    if (a < 0 || a >= rank) this.fail(`axis ${axis} is out of range for rank ${rank}`);
    return a;
  }
}
