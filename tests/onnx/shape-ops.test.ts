/**
 * @jest-environment ./tests/onnx/ort-environment.ts
 *
 * Ops that are not counted (0 MACs by convention) and the shape arithmetic the exports use. Each case
 * states the expected output shapes (and folded values for int64 shape tensors), checks them against
 * the TS inference, and checks TS against onnxruntime running the same graph (the oracle).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import * as ort from 'onnxruntime-node';

import { inferShapes, loadOnnxModel, profileOnnx } from '../../src/onnx';
import { FLOAT, GraphBuilder, INT64 } from './onnx-builder';

const INT64_MAX = Number.MAX_SAFE_INTEGER; // stands in for 2^63-1: any end past the dim clamps the same

interface Case {
  name: string;
  build: () => GraphBuilder;
  /** Expected shape of each graph output. */
  shapes: Record<string, number[]>;
  /** Expected folded elements of int64 outputs. */
  values?: Record<string, number[]>;
}

const unaryCase = (op: string, dims: number[], attrs: Record<string, number> = {}): Case => ({
  name: op,
  build: () => new GraphBuilder().input('x', dims).node(op, 'y', ['x'], attrs).output('y'),
  shapes: { y: dims },
});

const cases: Case[] = [
  unaryCase('Relu', [2, 3]),
  unaryCase('Sigmoid', [2, 3]),
  unaryCase('Erf', [4]),
  unaryCase('Sqrt', [1, 5]),
  unaryCase('Softmax', [2, 5], { axis: -1 }),
  {
    // Clip with min/max as inputs (opset >= 11): ReLU6 of mobilenet_v2
    name: 'Clip (ReLU6)',
    build: () =>
      new GraphBuilder()
        .input('x', [1, 4, 3, 3])
        .init('lo', [], [0])
        .init('hi', [], [6])
        .node('Clip', 'y', ['x', 'lo', 'hi'])
        .output('y'),
    shapes: { y: [1, 4, 3, 3] },
  },
  {
    // x [2,4,8] normalised over the last axis with scale/bias [8]
    name: 'LayerNormalization',
    build: () =>
      new GraphBuilder()
        .input('x', [2, 4, 8])
        .init('g', [8], new Array<number>(8).fill(1))
        .init('b', [8])
        .node('LayerNormalization', 'y', ['x', 'g', 'b'], { axis: -1 })
        .output('y'),
    shapes: { y: [2, 4, 8] },
  },
  {
    // x [1,4,5,5], per-channel scale/bias/mean/var [4]
    name: 'BatchNormalization',
    build: () =>
      new GraphBuilder()
        .input('x', [1, 4, 5, 5])
        .init('s', [4], [1, 1, 1, 1])
        .init('b', [4])
        .init('m', [4])
        .init('v', [4], [1, 1, 1, 1])
        .node('BatchNormalization', 'y', ['x', 's', 'b', 'm', 'v'])
        .output('y'),
    shapes: { y: [1, 4, 5, 5] },
  },
  {
    // [1,2,7,7], kernel 3, stride 2, pad 1 -> floor((7+2-3)/2)+1 = 4 (resnet's stem pool)
    name: 'MaxPool padded',
    build: () =>
      new GraphBuilder()
        .input('x', [1, 2, 7, 7])
        .node('MaxPool', 'y', ['x'], { kernel_shape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] })
        .output('y'),
    shapes: { y: [1, 2, 4, 4] },
  },
  {
    // [1,1,6,6], kernel 3, stride 2, ceil_mode -> ceil((6-3)/2)+1 = 3 (floor would give 2)
    name: 'MaxPool ceil_mode',
    build: () =>
      new GraphBuilder()
        .input('x', [1, 1, 6, 6])
        .node('MaxPool', 'y', ['x'], { kernel_shape: [3, 3], strides: [2, 2], ceil_mode: 1 })
        .output('y'),
    shapes: { y: [1, 1, 3, 3] },
  },
  {
    // [1,3,8,8], kernel 2, stride 2 -> [1,3,4,4]
    name: 'AveragePool',
    build: () =>
      new GraphBuilder()
        .input('x', [1, 3, 8, 8])
        .node('AveragePool', 'y', ['x'], { kernel_shape: [2, 2], strides: [2, 2] })
        .output('y'),
    shapes: { y: [1, 3, 4, 4] },
  },
  {
    // [1,8,7,7] -> [1,8,1,1], then Flatten -> [1,8]
    name: 'GlobalAveragePool + Flatten',
    build: () =>
      new GraphBuilder()
        .input('x', [1, 8, 7, 7])
        .node('GlobalAveragePool', 'p', ['x'])
        .node('Flatten', 'y', ['p'], { axis: 1 })
        .output('y'),
    shapes: { y: [1, 8] },
  },
  {
    // ReduceMean over the last axis, keepdims (axes attribute at opset 17)
    name: 'ReduceMean',
    build: () =>
      new GraphBuilder()
        .input('x', [2, 3, 4])
        .node('ReduceMean', 'y', ['x'], { axes: [-1], keepdims: 1 })
        .output('y'),
    shapes: { y: [2, 3, 1] },
  },
  {
    // [2,3,4] perm [0,2,1] -> [2,4,3]
    name: 'Transpose',
    build: () =>
      new GraphBuilder()
        .input('x', [2, 3, 4])
        .node('Transpose', 'y', ['x'], { perm: [0, 2, 1] })
        .output('y'),
    shapes: { y: [2, 4, 3] },
  },
  {
    // [6,4] split [1,2,3] on axis 0 (split as an input since opset 13)
    name: 'Split',
    build: () =>
      new GraphBuilder()
        .input('x', [6, 4])
        .constInt('sizes', [1, 2, 3])
        .node('Split', 'split', ['x', 'sizes'], { axis: 0 }, ['a', 'b', 'c'])
        .output('a')
        .output('b')
        .output('c'),
    shapes: { a: [1, 4], b: [2, 4], c: [3, 4] },
  },
  {
    // timm's head-dim scale: Shape [1,6,197,64] -> Slice(-1, INT64_MAX) -> [64]; Squeeze/Unsqueeze round trip
    name: 'Shape -> Slice to INT64_MAX -> Squeeze -> Unsqueeze',
    build: () =>
      new GraphBuilder()
        .input('x', [1, 6, 197, 64])
        .node('Shape', 'shape', ['x'])
        .constInt('start', [-1])
        .constInt('end', [INT64_MAX])
        .node('Slice', 'last', ['shape', 'start', 'end'])
        .constInt('axes', [0])
        .node('Squeeze', 'scalar', ['last', 'axes'])
        .node('Unsqueeze', 'y', ['scalar', 'axes'])
        .output('last', undefined, INT64)
        .output('y', undefined, INT64),
    shapes: { last: [1], y: [1] },
    values: { last: [64], y: [64] },
  },
  {
    // Slice with axes and steps on data: [4,10] rows 1.., every 3rd column from 9 backwards -> [3,4]
    name: 'Slice with negative step',
    build: () =>
      new GraphBuilder()
        .input('x', [4, 10])
        .constInt('starts', [1, 9])
        .constInt('ends', [INT64_MAX, -INT64_MAX])
        .constInt('axes', [0, 1])
        .constInt('steps', [1, -3])
        .node('Slice', 'y', ['x', 'starts', 'ends', 'axes', 'steps'])
        .output('y'),
    shapes: { y: [3, 4] },
  },
  {
    // deit's cls token: Expand(cls [1,1,8], Where(Equal(s, -1), ones, s)) with s = Reshape(Concat(B,-1,-1), -1)
    name: 'cls-token Expand via ConstantOfShape/Equal/Where',
    build: () =>
      new GraphBuilder()
        .input('tokens', ['batch', 196, 8])
        .init('cls', [1, 1, 8])
        .node('Shape', 'shape', ['tokens'])
        .constInt('zero', [0], [])
        .node('Gather', 'b', ['shape', 'zero'], { axis: 0 })
        .constInt('axes', [0])
        .node('Unsqueeze', 'b1', ['b', 'axes'])
        .constInt('m1', [-1])
        .node('Concat', 'target', ['b1', 'm1', 'm1'], { axis: 0 })
        .node('Reshape', 's', ['target', 'm1'])
        .node('Shape', 's_shape', ['s'])
        .node('ConstantOfShape', 'ones', ['s_shape'], {
          value: { tensor: { dataType: INT64, dims: [1], int64Data: [1] } },
        })
        .constInt('neg', [-1], [])
        .node('Mul', 'neg_ones', ['ones', 'neg'])
        .node('Equal', 'is_neg', ['s', 'neg_ones'])
        .node('Where', 'dims', ['is_neg', 'ones', 's'])
        .node('Expand', 'cls_b', ['cls', 'dims'])
        .node('Concat', 'y', ['cls_b', 'tokens'], { axis: 1 })
        .output('dims', undefined, INT64)
        .output('y'),
    shapes: { dims: [3], y: [3, 197, 8] },
    values: { dims: [3, 1, 1] },
  },
  {
    // Range(0, n, 1) with n from a Shape, Tile [2,3] by [2,2] -> [4,6], Pad [1,1,3,3] by 1 -> [1,1,5,5]
    name: 'Range, Tile, Pad',
    build: () =>
      new GraphBuilder()
        .input('x', [2, 3])
        .input('img', [1, 1, 3, 3])
        .node('Shape', 'shape', ['x'])
        .constInt('one', [1], [])
        .node('Gather', 'n', ['shape', 'one'], { axis: 0 })
        .constInt('start', [0], [])
        .node('Range', 'r', ['start', 'n', 'one'])
        .constInt('reps', [2, 2])
        .node('Tile', 't', ['x', 'reps'])
        .constInt('pads', [0, 0, 1, 1, 0, 0, 1, 1])
        .node('Pad', 'p', ['img', 'pads'])
        .output('r', undefined, INT64)
        .output('t')
        .output('p'),
    shapes: { r: [3], t: [4, 6], p: [1, 1, 5, 5] },
    values: { r: [0, 1, 2] },
  },
  {
    // int shape arithmetic through float: Cast(64) -> Sqrt -> Div(1, .) is what timm's attention scale does
    name: 'Cast, Div, Mod on shape values',
    build: () =>
      new GraphBuilder()
        .input('x', [2, 12, 7])
        .node('Shape', 'shape', ['x'])
        .constInt('five', [5], [])
        .node('Mod', 'mod', ['shape', 'five'])
        .node('Div', 'div', ['shape', 'five'])
        .node('Cast', 'f', ['shape'], { to: FLOAT })
        .node('Sqrt', 'y', ['f'])
        .output('mod', undefined, INT64)
        .output('div', undefined, INT64)
        .output('y'),
    shapes: { mod: [3], div: [3], y: [3] },
    values: { mod: [2, 2, 2], div: [0, 2, 1] },
  },
];

describe('shape rules of uncounted ops, checked against onnxruntime', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ap-onnx-shapes-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const file = c.build().save(dir, `${c.name.replace(/\W+/g, '_')}.onnx`);
    const profile = await profileOnnx(file, { batchSize: 3 });
    expect(profile.macs).toBe(0);
    const ours = Object.fromEntries(profile.outputs.map((o) => [o.name, [...o.shape]]));
    expect(ours).toEqual(c.shapes);

    const graph = inferShapes(await loadOnnxModel(file), { batchSize: 3 });
    for (const [name, expected] of Object.entries(c.values ?? {})) {
      expect(graph.values.get(name)?.data).toEqual(expected);
    }

    // onnxruntime on the same graph, batch 3, zero-filled float inputs.
    const session = await ort.InferenceSession.create(file, { logSeverityLevel: 3 });
    try {
      const feeds: Record<string, ort.Tensor> = {};
      for (const input of profile.inputs) {
        feeds[input.name] = new ort.Tensor(
          'float32',
          new Float32Array(input.shape.reduce((p, d) => p * d, 1)),
          [...input.shape],
        );
      }
      const results = await session.run(feeds);
      for (const [name, shape] of Object.entries(c.shapes))
        expect([...(results[name]?.dims ?? [])]).toEqual(shape);
      for (const [name, expected] of Object.entries(c.values ?? {})) {
        expect(Array.from(results[name]?.data as BigInt64Array, Number)).toEqual(expected);
      }
    } finally {
      await session.release();
    }
  });
});
