/**
 * Shape arithmetic and constant folding on small tensors (shapes, axes, scalars): numpy broadcasting,
 * row-major index helpers, and element-wise evaluation. No ONNX semantics beyond broadcasting live here.
 */
import { product } from './onnx-model';

/** Largest tensor whose elements shape inference computes; larger outputs keep only their shape. */
export const FOLD_LIMIT = 4096;

/**
 * Multidirectional (numpy) broadcast of shapes; undefined when they are incompatible.
 * @example broadcastShapes([[8, 1, 6], [7, 1]]) // [8, 7, 6]
 */
export function broadcastShapes(shapes: readonly (readonly number[])[]): number[] | undefined {
  const rank = Math.max(0, ...shapes.map((s) => s.length));
  const out = new Array<number>(rank).fill(1);
  for (const s of shapes) {
    for (let i = 0; i < s.length; i++) {
      const d = s[i] as number;
      const j = rank - s.length + i;
      const cur = out[j] as number;
      if (cur === 1) out[j] = d;
      else if (d !== 1 && d !== cur) return undefined;
    }
  }
  return out;
}

/** Row-major strides of a shape. */
export function stridesOf(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--)
    strides[i] = (strides[i + 1] as number) * (shape[i + 1] as number);
  return strides;
}

/** The multi-index of flat position `flat` in `shape`. */
export function unravel(flat: number, shape: readonly number[]): number[] {
  const idx = new Array<number>(shape.length).fill(0);
  for (let i = shape.length - 1; i >= 0; i--) {
    const d = shape[i] as number;
    idx[i] = flat % d;
    flat = Math.floor(flat / d);
  }
  return idx;
}

/** Flat position of a multi-index, given the shape's strides. */
export function ravel(idx: readonly number[], strides: readonly number[]): number {
  let flat = 0;
  for (let i = 0; i < idx.length; i++) flat += (idx[i] as number) * (strides[i] as number);
  return flat;
}

/**
 * Evaluate an element-wise function over broadcast inputs; undefined when the output is larger than
 * {@link FOLD_LIMIT}.
 */
export function elementwise(
  outShape: readonly number[],
  inputs: readonly { shape: readonly number[]; data: readonly number[] }[],
  fn: (...xs: number[]) => number,
): number[] | undefined {
  const n = product(outShape);
  if (n > FOLD_LIMIT) return undefined;
  const plans = inputs.map((t) => {
    // Strides of the input aligned to the output's rank, 0 where the input broadcasts.
    const own = stridesOf(t.shape);
    const offset = outShape.length - t.shape.length;
    return outShape.map((_, j) =>
      j < offset || t.shape[j - offset] === 1 ? 0 : (own[j - offset] as number),
    );
  });
  const out = new Array<number>(n);
  for (let f = 0; f < n; f++) {
    const idx = unravel(f, outShape);
    const args = inputs.map((t, k) => t.data[ravel(idx, plans[k] as number[])] as number);
    out[f] = fn(...args);
  }
  return out;
}

/**
 * Build an output tensor's elements by mapping each output multi-index to a flat source index.
 * Undefined when the output is larger than {@link FOLD_LIMIT}.
 */
export function gatherBy(
  outShape: readonly number[],
  source: readonly number[],
  sourceIndex: (outIdx: number[]) => number,
): number[] | undefined {
  const n = product(outShape);
  if (n > FOLD_LIMIT) return undefined;
  const out = new Array<number>(n);
  for (let f = 0; f < n; f++) out[f] = source[sourceIndex(unravel(f, outShape))] as number;
  return out;
}
