/**
 * The per-op table of shape rules (default `ai.onnx` domain, opsets 11–18 forms): each rule maps a
 * node's input {@link TensorValue}s to its outputs, and folds the elements too when the inputs are
 * known and small (the int64 shape arithmetic of `Shape -> Gather -> Unsqueeze -> Concat -> Reshape`).
 * An op missing from the table is unsupported; a rule that cannot decide fails with the reason.
 * MAC counting does not belong here (see mac-counter.ts).
 */
import { planEinsum } from './einsum';
import type { NodeContext, TensorValue } from './node-context';
import { DataType, isFloatType, product, toNumber } from './onnx-model';
import { FOLD_LIMIT, broadcastShapes, elementwise, gatherBy, stridesOf, unravel } from './tensor-ops';

/** Computes a node's outputs (one per declared output, in order). */
export type ShapeRule = (ctx: NodeContext) => TensorValue[];

const tensor = (dataType: number, shape: readonly number[], data?: readonly number[]): TensorValue =>
  data !== undefined && product(shape) <= FOLD_LIMIT ? { dataType, shape, data } : { dataType, shape };

const same = (x: TensorValue): TensorValue => ({ dataType: x.dataType, shape: x.shape });

/** ONNX integer division truncates toward zero; float division does not. */
const divide = (dataType: number) => (a: number, b: number) =>
  isFloatType(dataType) ? a / b : Math.trunc(a / b);

/** Cast of one element to `to` (truncation toward zero for integers, 0/1 for bool). */
function castElement(v: number, to: number): number {
  if (isFloatType(to)) return v;
  if (to === DataType.BOOL) return v !== 0 ? 1 : 0;
  return Math.trunc(v);
}

// --- element-wise -------------------------------------------------------------------------------

function unary(fn?: (x: number) => number): ShapeRule {
  return (ctx) => {
    const x = ctx.input(0);
    const data = fn && x.data ? x.data.map(fn) : undefined;
    const out = [tensor(x.dataType, x.shape, data)];
    // Extra outputs (Dropout's mask) share the shape.
    for (let i = 1; i < ctx.outputCount; i++) out.push({ dataType: DataType.BOOL, shape: x.shape });
    return out;
  };
}

function nary(fn: ((...xs: number[]) => number) | undefined, outType?: number | 'second'): ShapeRule {
  return (ctx) => {
    const inputs = ctx.inputs.filter((v): v is TensorValue => v !== undefined);
    const shape =
      broadcastShapes(inputs.map((v) => v.shape)) ??
      ctx.fail(`input shapes ${inputs.map((v) => `[${v.shape.join(',')}]`).join(' ')} do not broadcast`);
    const first = inputs[0];
    if (first === undefined) return ctx.fail('no inputs');
    const dataType =
      outType === 'second' ? (inputs[1]?.dataType ?? first.dataType) : (outType ?? first.dataType);
    const data =
      fn && ctx.allKnown()
        ? elementwise(
            shape,
            inputs.map((v) => ({ shape: v.shape, data: v.data ?? [] })),
            fn,
          )
        : undefined;
    return [tensor(dataType, shape, data)];
  };
}

const binaryWithType = (
  ctx: NodeContext,
  fn: (t: number) => (a: number, b: number) => number,
): TensorValue[] => nary(fn(ctx.input(0).dataType))(ctx);

// --- conv and pooling ---------------------------------------------------------------------------

interface WindowSpec {
  kernel: readonly number[];
  strides: readonly number[];
  dilations: readonly number[];
  pads: readonly number[];
  ceil: boolean;
}

/** Output spatial sizes of a sliding window (Conv, pooling), honouring auto_pad and ceil_mode. */
function windowOutput(ctx: NodeContext, spatial: readonly number[], w: WindowSpec): number[] {
  const autoPad = ctx.attrs.string('auto_pad', 'NOTSET');
  return spatial.map((size, i) => {
    const k = w.kernel[i] ?? 1;
    const s = w.strides[i] ?? 1;
    const d = w.dilations[i] ?? 1;
    const span = (k - 1) * d + 1;
    if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') return Math.ceil(size / s);
    const begin = autoPad === 'VALID' ? 0 : (w.pads[i] ?? 0);
    const end = autoPad === 'VALID' ? 0 : (w.pads[i + spatial.length] ?? 0);
    const room = size + begin + end - span;
    if (room < 0)
      ctx.fail(`window ${span} is larger than padded input ${size + begin + end} on spatial axis ${i}`);
    let out = (w.ceil ? Math.ceil(room / s) : Math.floor(room / s)) + 1;
    // With ceil_mode the last window must start inside the input or its left padding.
    if (w.ceil && (out - 1) * s >= size + begin) out -= 1;
    return out;
  });
}

function windowSpec(ctx: NodeContext, rank: number, kernel: readonly number[], ceil: boolean): WindowSpec {
  const ones = new Array<number>(rank).fill(1);
  const spec = {
    kernel,
    strides: ctx.attrs.ints('strides', ones),
    dilations: ctx.attrs.ints('dilations', ones),
    pads: ctx.attrs.ints('pads', new Array<number>(2 * rank).fill(0)),
    ceil,
  };
  // The ONNX spec's ranges: a stride or dilation of 0 made NaN MACs, a negative pad or stride negative MACs.
  for (const [name, values, min] of [
    ['kernel_shape', spec.kernel, 1],
    ['strides', spec.strides, 1],
    ['dilations', spec.dilations, 1],
    ['pads', spec.pads, 0],
  ] as const) {
    const bad = values.find((v) => !Number.isSafeInteger(v) || v < min);
    if (bad !== undefined) ctx.fail(`${name} [${values.join(', ')}]: ${bad} is not an integer >= ${min}`);
  }
  return spec;
}

const conv: ShapeRule = (ctx) => {
  const x = ctx.input(0);
  const w = ctx.input(1);
  const group = ctx.attrs.int('group', 1);
  const spatial = x.shape.slice(2);
  if (x.shape.length < 3 || w.shape.length !== x.shape.length)
    ctx.fail(`input rank ${x.shape.length} and weight rank ${w.shape.length} do not fit`);
  if ((x.shape[1] ?? 0) !== (w.shape[1] ?? 0) * group) {
    ctx.fail(`input channels ${x.shape[1]} != weight channels ${w.shape[1]} x group ${group}`);
  }
  const kernel = ctx.attrs.ints('kernel_shape', w.shape.slice(2));
  const out = windowOutput(ctx, spatial, windowSpec(ctx, spatial.length, kernel, false));
  return [{ dataType: x.dataType, shape: [x.shape[0] ?? 1, w.shape[0] ?? 1, ...out] }];
};

const convTranspose: ShapeRule = (ctx) => {
  const x = ctx.input(0);
  const w = ctx.input(1);
  const group = ctx.attrs.int('group', 1);
  const spatial = x.shape.slice(2);
  const rank = spatial.length;
  const kernel = ctx.attrs.ints('kernel_shape', w.shape.slice(2));
  const spec = windowSpec(ctx, rank, kernel, false);
  const outputPadding = ctx.attrs.ints('output_padding', new Array<number>(rank).fill(0));
  const explicit = ctx.attrs.ints('output_shape');
  const autoPad = ctx.attrs.string('auto_pad', 'NOTSET');
  const out = spatial.map((size, i) => {
    if (explicit) return explicit[explicit.length - rank + i] ?? 0;
    const s = spec.strides[i] ?? 1;
    if (autoPad === 'SAME_UPPER' || autoPad === 'SAME_LOWER') return size * s;
    const span = ((kernel[i] ?? 1) - 1) * (spec.dilations[i] ?? 1) + 1;
    const pads = autoPad === 'VALID' ? 0 : (spec.pads[i] ?? 0) + (spec.pads[i + rank] ?? 0);
    const outSize = s * (size - 1) + (outputPadding[i] ?? 0) + span - pads;
    if (outSize < 1)
      ctx.fail(`output size ${outSize} on spatial axis ${i}: the pads are larger than the output`);
    return outSize;
  });
  return [{ dataType: x.dataType, shape: [x.shape[0] ?? 1, (w.shape[1] ?? 1) * group, ...out] }];
};

function pool(ceilAllowed: boolean): ShapeRule {
  return (ctx) => {
    const x = ctx.input(0);
    const kernel = ctx.attrs.ints('kernel_shape');
    if (kernel === undefined) return ctx.fail('kernel_shape attribute is missing');
    const spec = windowSpec(ctx, kernel.length, kernel, ceilAllowed && ctx.attrs.int('ceil_mode', 0) === 1);
    const shape = [...x.shape.slice(0, 2), ...windowOutput(ctx, x.shape.slice(2), spec)];
    const outs: TensorValue[] = [{ dataType: x.dataType, shape }];
    if (ctx.outputCount > 1) outs.push({ dataType: DataType.INT64, shape }); // MaxPool indices
    return outs;
  };
}

const globalPool: ShapeRule = (ctx) => {
  const x = ctx.input(0);
  return [{ dataType: x.dataType, shape: [...x.shape.slice(0, 2), ...x.shape.slice(2).map(() => 1)] }];
};

// --- linear algebra -----------------------------------------------------------------------------

const gemm: ShapeRule = (ctx) => {
  const a = ctx.input(0);
  const b = ctx.input(1);
  if (a.shape.length !== 2 || b.shape.length !== 2)
    ctx.fail(`Gemm needs 2-D inputs, got [${a.shape.join(',')}] and [${b.shape.join(',')}]`);
  const [m, ka] = ctx.attrs.int('transA', 0) ? [a.shape[1], a.shape[0]] : [a.shape[0], a.shape[1]];
  const [kb, n] = ctx.attrs.int('transB', 0) ? [b.shape[1], b.shape[0]] : [b.shape[0], b.shape[1]];
  if (ka !== kb) ctx.fail(`inner dimensions differ: ${ka} vs ${kb}`);
  return [{ dataType: a.dataType, shape: [m ?? 1, n ?? 1] }];
};

/** numpy matmul shapes: returns the output shape and the (M, K, N, batch) the MAC counter needs. */
function matmulDims(
  ctx: NodeContext,
  a: readonly number[],
  b: readonly number[],
): { shape: number[]; m: number; k: number; n: number; batch: number } {
  if (a.length === 0 || b.length === 0) return ctx.fail('MatMul of a scalar');
  const a2 = a.length === 1 ? [1, a[0] as number] : a;
  const b2 = b.length === 1 ? [b[0] as number, 1] : b;
  const m = a2[a2.length - 2] as number;
  const k = a2[a2.length - 1] as number;
  const kb = b2[b2.length - 2] as number;
  const n = b2[b2.length - 1] as number;
  if (k !== kb) ctx.fail(`inner dimensions differ: [${a.join(',')}] x [${b.join(',')}]`);
  const batch = broadcastShapes([a2.slice(0, -2), b2.slice(0, -2)]);
  if (batch === undefined)
    return ctx.fail(`batch dimensions of [${a.join(',')}] and [${b.join(',')}] do not broadcast`);
  const shape = [...batch, ...(a.length === 1 ? [] : [m]), ...(b.length === 1 ? [] : [n])];
  return { shape, m, k, n, batch: product(batch) };
}

const matmul: ShapeRule = (ctx) => {
  const a = ctx.input(0);
  return [{ dataType: a.dataType, shape: matmulDims(ctx, a.shape, ctx.input(1).shape).shape }];
};

const einsum: ShapeRule = (ctx) => {
  const equation = ctx.attrs.string('equation', '');
  try {
    const plan = planEinsum(
      equation,
      ctx.inputs.map((v) => v?.shape ?? []),
    );
    return [{ dataType: ctx.input(0).dataType, shape: plan.outputShape }];
  } catch (e) {
    return ctx.fail(`equation "${equation}": ${(e as Error).message}`);
  }
};

// --- shape manipulation -------------------------------------------------------------------------

const reshape: ShapeRule = (ctx) => {
  const x = ctx.input(0);
  const target = ctx.value(1, 'the target shape');
  const allowZero = ctx.attrs.int('allowzero', 0) === 1;
  const shape = target.map((d, i) =>
    d === 0 && !allowZero ? (x.shape[i] ?? ctx.fail(`0 at ${i} copies a missing dim`)) : d,
  );
  const known = shape.filter((d) => d !== -1);
  const total = product(x.shape);
  if (shape.length - known.length > 1) ctx.fail('more than one -1 in the target shape');
  if (known.length < shape.length) {
    const rest = product(known);
    if (rest === 0 || total % rest !== 0)
      ctx.fail(`cannot reshape [${x.shape.join(',')}] to [${target.join(',')}]`);
    shape[shape.indexOf(-1)] = total / rest;
  } else if (product(shape) !== total) {
    ctx.fail(`cannot reshape [${x.shape.join(',')}] (${total} elements) to [${shape.join(',')}]`);
  }
  return [tensor(x.dataType, shape, x.data)];
};

const flatten: ShapeRule = (ctx) => {
  const x = ctx.input(0);
  const rank = x.shape.length;
  const raw = ctx.attrs.int('axis', 1);
  const axis = raw < 0 ? raw + rank : raw;
  if (axis < 0 || axis > rank) ctx.fail(`axis ${raw} is out of range for rank ${rank}`);
  return [tensor(x.dataType, [product(x.shape.slice(0, axis)), product(x.shape.slice(axis))], x.data)];
};

const transpose: ShapeRule = (ctx) => {
  const x = ctx.input(0);
  const rank = x.shape.length;
  const perm = ctx.attrs.ints('perm', [...Array(rank).keys()].reverse());
  if (perm.length !== rank) ctx.fail(`perm [${perm.join(',')}] does not match rank ${rank}`);
  const shape = perm.map((p) => x.shape[ctx.axis(p, rank)] as number);
  const src = stridesOf(x.shape);
  const data =
    x.data &&
    gatherBy(shape, x.data, (idx) => idx.reduce((f, v, j) => f + v * (src[perm[j] as number] as number), 0));
  return [tensor(x.dataType, shape, data)];
};

const concat: ShapeRule = (ctx) => {
  const parts = ctx.inputs.filter((v): v is TensorValue => v !== undefined);
  const first = parts[0] ?? ctx.fail('no inputs');
  const rank = first.shape.length;
  const axis = ctx.axis(ctx.attrs.int('axis', 0), rank);
  const shape = [...first.shape];
  shape[axis] = 0;
  for (const p of parts) {
    if (p.shape.length !== rank || p.shape.some((d, i) => i !== axis && d !== first.shape[i])) {
      ctx.fail(
        `input shapes ${parts.map((v) => `[${v.shape.join(',')}]`).join(' ')} differ off axis ${axis}`,
      );
    }
    shape[axis] = shape[axis] + (p.shape[axis] as number);
  }
  let data: number[] | undefined;
  if (ctx.allKnown() && product(shape) <= FOLD_LIMIT) {
    // Which part and which offset along `axis` each output position comes from.
    const owners: { part: TensorValue; offset: number }[] = [];
    for (const part of parts)
      for (let j = 0; j < (part.shape[axis] as number); j++) owners.push({ part, offset: j });
    data = [];
    const n = product(shape);
    for (let f = 0; f < n; f++) {
      const idx = unravel(f, shape);
      const owner = owners[idx[axis] as number] as { part: TensorValue; offset: number };
      idx[axis] = owner.offset;
      const strides = stridesOf(owner.part.shape);
      data.push(
        (owner.part.data ?? [])[idx.reduce((s, v, j) => s + v * (strides[j] as number), 0)] as number,
      );
    }
  }
  return [tensor(first.dataType, shape, data)];
};

const gather: ShapeRule = (ctx) => {
  const x = ctx.input(0);
  const indices = ctx.input(1);
  const axis = ctx.axis(ctx.attrs.int('axis', 0), x.shape.length);
  const dim = x.shape[axis] as number;
  const shape = [...x.shape.slice(0, axis), ...indices.shape, ...x.shape.slice(axis + 1)];
  let data: number[] | undefined;
  if (x.data && indices.data) {
    const idxData = indices.data.map((i) => (i < 0 ? i + dim : i));
    if (idxData.some((i) => i < 0 || i >= dim)) ctx.fail(`index out of range for axis of size ${dim}`);
    const src = stridesOf(x.shape);
    const q = indices.shape.length;
    const idxStrides = stridesOf(indices.shape);
    data = gatherBy(shape, x.data, (o) => {
      const flatIdx = o.slice(axis, axis + q).reduce((s, v, j) => s + v * (idxStrides[j] as number), 0);
      const srcIdx = [...o.slice(0, axis), idxData[flatIdx] as number, ...o.slice(axis + q)];
      return srcIdx.reduce((s, v, j) => s + v * (src[j] as number), 0);
    });
  }
  return [tensor(x.dataType, shape, data)];
};

/** numpy slice bounds of one axis: the start and the element count. */
function sliceAxis(dim: number, start: number, end: number, step: number): { start: number; count: number } {
  const s0 = start < 0 ? start + dim : start;
  const e0 = end < 0 ? end + dim : end;
  if (step > 0) {
    const s = Math.min(Math.max(s0, 0), dim);
    const e = Math.min(Math.max(e0, 0), dim);
    return { start: s, count: Math.max(0, Math.ceil((e - s) / step)) };
  }
  const s = Math.min(Math.max(s0, 0), dim - 1);
  const e = Math.min(Math.max(e0, -1), dim - 1);
  return { start: s, count: Math.max(0, Math.ceil((e - s) / step)) };
}

const slice: ShapeRule = (ctx) => {
  const x = ctx.input(0);
  const rank = x.shape.length;
  const legacy = ctx.opset < 10;
  const starts = legacy ? ctx.attrs.ints('starts', []) : ctx.value(1, 'starts');
  const ends = legacy ? ctx.attrs.ints('ends', []) : ctx.value(2, 'ends');
  const axes = (legacy ? ctx.attrs.ints('axes') : ctx.optionalValue(3, 'axes')) ?? starts.map((_, i) => i);
  const steps = (legacy ? undefined : ctx.optionalValue(4, 'steps')) ?? starts.map(() => 1);
  const begin = new Array<number>(rank).fill(0);
  const step = new Array<number>(rank).fill(1);
  const shape = [...x.shape];
  axes.forEach((a, i) => {
    const axis = ctx.axis(a, rank);
    const st = steps[i] ?? 1;
    if (st === 0) ctx.fail('step 0');
    const r = sliceAxis(x.shape[axis] as number, starts[i] ?? 0, ends[i] ?? 0, st);
    begin[axis] = r.start;
    step[axis] = st;
    shape[axis] = r.count;
  });
  const src = stridesOf(x.shape);
  const data =
    x.data &&
    gatherBy(shape, x.data, (o) =>
      o.reduce((s, v, j) => s + ((begin[j] as number) + v * (step[j] as number)) * (src[j] as number), 0),
    );
  return [tensor(x.dataType, shape, data)];
};

const split: ShapeRule = (ctx) => {
  const x = ctx.input(0);
  const axis = ctx.axis(ctx.attrs.int('axis', 0), x.shape.length);
  const dim = x.shape[axis] as number;
  const n = ctx.outputCount;
  let sizes = ctx.opset >= 13 ? ctx.optionalValue(1, 'split') : ctx.attrs.ints('split');
  if (sizes === undefined) {
    // Equal parts; since opset 18 the last part may be smaller.
    const part = Math.ceil(dim / n);
    sizes = Array.from({ length: n }, (_, i) => Math.max(0, Math.min(part, dim - i * part)));
  }
  if (sizes.length !== n || sizes.reduce((s, v) => s + v, 0) !== dim)
    ctx.fail(`split [${sizes.join(',')}] does not fit axis of size ${dim} into ${n} outputs`);
  return sizes.map((size) => {
    const shape = [...x.shape];
    shape[axis] = size;
    return { dataType: x.dataType, shape };
  });
};

function axesArg(ctx: NodeContext, inputIndex: number, sinceOpset: number): readonly number[] | undefined {
  return ctx.opset >= sinceOpset ? ctx.optionalValue(inputIndex, 'axes') : ctx.attrs.ints('axes');
}

const unsqueeze: ShapeRule = (ctx) => {
  const x = ctx.input(0);
  const axes = axesArg(ctx, 1, 13) ?? ctx.fail('axes are missing');
  const rank = x.shape.length + axes.length;
  const at = new Set(axes.map((a) => ctx.axis(a, rank)));
  const rest = [...x.shape];
  const shape = Array.from({ length: rank }, (_, i) => (at.has(i) ? 1 : (rest.shift() as number)));
  return [tensor(x.dataType, shape, x.data)];
};

const squeeze: ShapeRule = (ctx) => {
  const x = ctx.input(0);
  const axes = axesArg(ctx, 1, 13);
  const drop = new Set(
    axes ? axes.map((a) => ctx.axis(a, x.shape.length)) : x.shape.flatMap((d, i) => (d === 1 ? [i] : [])),
  );
  for (const a of drop) if (x.shape[a] !== 1) ctx.fail(`cannot squeeze axis ${a} of size ${x.shape[a]}`);
  return [
    tensor(
      x.dataType,
      x.shape.filter((_, i) => !drop.has(i)),
      x.data,
    ),
  ];
};

const expand: ShapeRule = (ctx) => {
  const x = ctx.input(0);
  const target = ctx.value(1, 'the target shape');
  const shape =
    broadcastShapes([x.shape, target]) ??
    ctx.fail(`[${x.shape.join(',')}] does not expand to [${target.join(',')}]`);
  const data = x.data && elementwise(shape, [{ shape: x.shape, data: x.data }], (v) => v);
  return [tensor(x.dataType, shape, data)];
};

const tile: ShapeRule = (ctx) => {
  const x = ctx.input(0);
  const repeats = ctx.value(1, 'repeats');
  if (repeats.length !== x.shape.length)
    ctx.fail(`repeats [${repeats.join(',')}] do not match rank ${x.shape.length}`);
  const shape = x.shape.map((d, i) => d * (repeats[i] as number));
  const src = stridesOf(x.shape);
  const data =
    x.data &&
    gatherBy(shape, x.data, (o) =>
      o.reduce((s, v, j) => s + (v % (x.shape[j] as number)) * (src[j] as number), 0),
    );
  return [tensor(x.dataType, shape, data)];
};

const pad: ShapeRule = (ctx) => {
  const x = ctx.input(0);
  const rank = x.shape.length;
  const pads = ctx.opset >= 11 ? ctx.value(1, 'pads') : ctx.attrs.ints('pads', []);
  const axes = (ctx.opset >= 18 ? ctx.optionalValue(3, 'axes') : undefined)?.map((a) =>
    ctx.axis(a, rank),
  ) ?? [...Array(rank).keys()];
  const shape = [...x.shape];
  axes.forEach((axis, i) => {
    shape[axis] = (shape[axis] as number) + (pads[i] ?? 0) + (pads[i + axes.length] ?? 0);
  });
  return [{ dataType: x.dataType, shape }];
};

const resize: ShapeRule = (ctx) => {
  const x = ctx.input(0);
  const sizes = ctx.optionalValue(3, 'sizes');
  const scales = ctx.optionalValue(ctx.opset >= 11 ? 2 : 1, 'scales');
  if (sizes && sizes.length > 0) return [{ dataType: x.dataType, shape: [...sizes] }];
  if (!scales || scales.length !== x.shape.length)
    return ctx.fail('neither sizes nor scales give the output shape');
  return [{ dataType: x.dataType, shape: x.shape.map((d, i) => Math.floor(d * (scales[i] as number))) }];
};

// --- sources: Constant, Shape, ConstantOfShape, Range, Size -------------------------------------

const constant: ShapeRule = (ctx) => {
  const t = ctx.attrs.tensor('value');
  if (t) {
    const shape = (t.dims ?? []).map(toNumber);
    const dataType = t.dataType ?? DataType.FLOAT;
    return [tensor(dataType, shape, product(shape) <= FOLD_LIMIT ? ctx.readTensor(t) : undefined)];
  }
  if (ctx.attrs.has('value_int')) return [tensor(DataType.INT64, [], [ctx.attrs.int('value_int', 0)])];
  if (ctx.attrs.has('value_ints')) {
    const v = ctx.attrs.ints('value_ints', []);
    return [tensor(DataType.INT64, [v.length], v)];
  }
  if (ctx.attrs.has('value_float')) return [tensor(DataType.FLOAT, [], [ctx.attrs.float('value_float', 0)])];
  const floats = ctx.attrs.floats('value_floats');
  if (floats) return [tensor(DataType.FLOAT, [floats.length], floats)];
  return ctx.fail('only tensor, int(s) and float(s) constants are supported');
};

const shapeOf: ShapeRule = (ctx) => {
  const x = ctx.input(0);
  const rank = x.shape.length;
  const clamp = (v: number): number => Math.min(Math.max(v < 0 ? v + rank : v, 0), rank);
  const start = clamp(ctx.attrs.int('start', 0));
  const end = clamp(ctx.attrs.int('end', rank));
  const data = x.shape.slice(start, Math.max(start, end));
  return [tensor(DataType.INT64, [data.length], data)];
};

const sizeOf: ShapeRule = (ctx) => [tensor(DataType.INT64, [], [product(ctx.input(0).shape)])];

const constantOfShape: ShapeRule = (ctx) => {
  const shape = ctx.value(0, 'the shape');
  const t = ctx.attrs.tensor('value');
  const dataType = t?.dataType ?? DataType.FLOAT;
  const fill = t ? (ctx.readTensor(t)[0] ?? 0) : 0;
  const n = product(shape);
  return [tensor(dataType, shape, n <= FOLD_LIMIT ? new Array<number>(n).fill(fill) : undefined)];
};

const range: ShapeRule = (ctx) => {
  const [start = 0] = ctx.value(0, 'start');
  const [limit = 0] = ctx.value(1, 'limit');
  const [delta = 1] = ctx.value(2, 'delta');
  if (delta === 0) ctx.fail('delta 0');
  const n = Math.max(Math.ceil((limit - start) / delta), 0);
  const data = n <= FOLD_LIMIT ? Array.from({ length: n }, (_, i) => start + i * delta) : undefined;
  return [tensor(ctx.input(0).dataType, [n], data)];
};

// --- reductions and normalisation ---------------------------------------------------------------

function reduce(fold?: (xs: number[]) => number): ShapeRule {
  return (ctx) => {
    const x = ctx.input(0);
    const rank = x.shape.length;
    // Axes moved from attribute to input: ReduceSum at opset 13, the other reductions at 18.
    const axesInput = ctx.opType === 'ReduceSum' ? 13 : 18;
    const axes = axesArg(ctx, 1, axesInput) ?? [];
    const keep = ctx.attrs.int('keepdims', 1) === 1;
    if (axes.length === 0 && ctx.attrs.int('noop_with_empty_axes', 0) === 1) return [same(x)];
    const reduced = new Set(axes.length > 0 ? axes.map((a) => ctx.axis(a, rank)) : [...Array(rank).keys()]);
    const full = x.shape.map((d, i) => (reduced.has(i) ? 1 : d));
    const shape = keep ? full : x.shape.filter((_, i) => !reduced.has(i));
    let data: number[] | undefined;
    if (fold && x.data && product(full) <= FOLD_LIMIT) {
      const groups: number[][] = Array.from({ length: product(full) }, () => []);
      const outStrides = stridesOf(full);
      x.data.forEach((v, f) => {
        const idx = unravel(f, x.shape).map((i, j) => (reduced.has(j) ? 0 : i));
        (groups[idx.reduce((s, i, j) => s + i * (outStrides[j] as number), 0)] as number[]).push(v);
      });
      data = groups.map(fold);
    }
    return [tensor(x.dataType, shape, data)];
  };
}

const argReduce: ShapeRule = (ctx) => {
  const x = ctx.input(0);
  const axis = ctx.axis(ctx.attrs.int('axis', 0), x.shape.length);
  const keep = ctx.attrs.int('keepdims', 1) === 1;
  const shape = keep ? x.shape.map((d, i) => (i === axis ? 1 : d)) : x.shape.filter((_, i) => i !== axis);
  return [{ dataType: DataType.INT64, shape }];
};

const layerNorm: ShapeRule = (ctx) => {
  const x = ctx.input(0);
  const axis = ctx.axis(ctx.attrs.int('axis', -1), x.shape.length);
  const stats = x.shape.map((d, i) => (i < axis ? d : 1));
  const outs: TensorValue[] = [same(x)];
  for (let i = 1; i < ctx.outputCount; i++) outs.push({ dataType: DataType.FLOAT, shape: stats });
  return outs;
};

const batchNorm: ShapeRule = (ctx) => {
  const x = ctx.input(0);
  const channels = [x.shape[1] ?? 1];
  const outs: TensorValue[] = [same(x)];
  // Training-mode extras (running mean/var, saved stats) are per channel.
  for (let i = 1; i < ctx.outputCount; i++) outs.push({ dataType: x.dataType, shape: channels });
  return outs;
};

const cast: ShapeRule = (ctx) => {
  const x = ctx.input(0);
  const to = ctx.opType === 'CastLike' ? ctx.input(1).dataType : ctx.attrs.int('to', DataType.FLOAT);
  return [
    tensor(
      to,
      x.shape,
      x.data?.map((v) => castElement(v, to)),
    ),
  ];
};

const where: ShapeRule = nary((c, a, b) => (c ? a : b), 'second');

const erf = (x: number): number => {
  // Abramowitz-Stegun 7.1.26; only ever folded on tiny constant tensors.
  const t = 1 / (1 + 0.3275911 * Math.abs(x));
  const y =
    1 -
    ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) *
      t *
      Math.exp(-x * x);
  return x >= 0 ? y : -y;
};

/**
 * Shape rules by op type. Ops whose outputs have the input's shape are listed once as `unary()`;
 * those that fold constants give the element function.
 */
export const SHAPE_RULES: Readonly<Record<string, ShapeRule>> = {
  // Same shape, no folding needed.
  Relu: unary((x) => Math.max(0, x)),
  Sigmoid: unary((x) => 1 / (1 + Math.exp(-x))),
  Tanh: unary(Math.tanh),
  Erf: unary(erf),
  Gelu: unary(),
  Softmax: unary(),
  LogSoftmax: unary(),
  Hardmax: unary(),
  HardSigmoid: unary(),
  HardSwish: unary(),
  LeakyRelu: unary(),
  Elu: unary(),
  Selu: unary(),
  Softplus: unary(),
  Mish: unary(),
  Clip: unary(),
  Dropout: unary((x) => x),
  Identity: unary((x) => x),
  Neg: unary((x) => -x),
  Abs: unary(Math.abs),
  Sqrt: unary(Math.sqrt),
  Exp: unary(Math.exp),
  Log: unary(Math.log),
  Reciprocal: unary((x) => 1 / x),
  Floor: unary(Math.floor),
  Ceil: unary(Math.ceil),
  Round: unary((x) => {
    const r = Math.round(x);
    return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r; // round half to even
  }),
  Sign: unary(Math.sign),
  Not: unary((x) => (x ? 0 : 1)),
  Sin: unary(Math.sin),
  Cos: unary(Math.cos),
  CumSum: unary(),
  Trilu: unary(),
  InstanceNormalization: unary(),
  GroupNormalization: unary(),
  LpNormalization: unary(),
  LRN: unary(),
  Cast: cast,
  CastLike: cast,
  // Broadcasting element-wise.
  Add: nary((a, b) => a + b),
  Sub: nary((a, b) => a - b),
  Mul: nary((a, b) => a * b),
  Div: (ctx) => binaryWithType(ctx, divide),
  Pow: nary((a, b) => a ** b),
  Mod: (ctx) => nary(ctx.attrs.int('fmod', 0) === 1 ? (a, b) => a % b : (a, b) => ((a % b) + b) % b)(ctx),
  Max: nary((...xs) => Math.max(...xs)),
  Min: nary((...xs) => Math.min(...xs)),
  Sum: nary((...xs) => xs.reduce((s, v) => s + v, 0)),
  Mean: nary((...xs) => xs.reduce((s, v) => s + v, 0) / xs.length),
  PRelu: nary(undefined),
  Equal: nary((a, b) => (a === b ? 1 : 0), DataType.BOOL),
  Less: nary((a, b) => (a < b ? 1 : 0), DataType.BOOL),
  LessOrEqual: nary((a, b) => (a <= b ? 1 : 0), DataType.BOOL),
  Greater: nary((a, b) => (a > b ? 1 : 0), DataType.BOOL),
  GreaterOrEqual: nary((a, b) => (a >= b ? 1 : 0), DataType.BOOL),
  And: nary((a, b) => (a && b ? 1 : 0), DataType.BOOL),
  Or: nary((a, b) => (a || b ? 1 : 0), DataType.BOOL),
  Xor: nary((a, b) => (!a !== !b ? 1 : 0), DataType.BOOL),
  Where: where,
  // Counted ops (see mac-counter.ts).
  Conv: conv,
  ConvTranspose: convTranspose,
  Gemm: gemm,
  MatMul: matmul,
  Einsum: einsum,
  // Pooling and normalisation.
  MaxPool: pool(true),
  AveragePool: pool(true),
  LpPool: pool(false),
  GlobalAveragePool: globalPool,
  GlobalMaxPool: globalPool,
  GlobalLpPool: globalPool,
  BatchNormalization: batchNorm,
  LayerNormalization: layerNorm,
  ReduceMean: reduce((xs) => xs.reduce((s, v) => s + v, 0) / xs.length),
  ReduceSum: reduce((xs) => xs.reduce((s, v) => s + v, 0)),
  ReduceProd: reduce((xs) => xs.reduce((s, v) => s * v, 1)),
  ReduceMax: reduce((xs) => Math.max(...xs)),
  ReduceMin: reduce((xs) => Math.min(...xs)),
  ReduceL1: reduce(),
  ReduceL2: reduce(),
  ReduceSumSquare: reduce(),
  ReduceLogSumExp: reduce(),
  ArgMax: argReduce,
  ArgMin: argReduce,
  // Shape manipulation and shape arithmetic.
  Reshape: reshape,
  Flatten: flatten,
  Transpose: transpose,
  Concat: concat,
  Gather: gather,
  Slice: slice,
  Split: split,
  Unsqueeze: unsqueeze,
  Squeeze: squeeze,
  Expand: expand,
  Tile: tile,
  Pad: pad,
  Resize: resize,
  Constant: constant,
  Shape: shapeOf,
  Size: sizeOf,
  ConstantOfShape: constantOfShape,
  Range: range,
};
