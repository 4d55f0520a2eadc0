/**
 * One case per counted op form (onnx backend/test/case/node style): a one- or few-node graph built in
 * TS, the expected output shape and MACs of the node under test, shapes in the comments.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { profileOnnx } from '../../src/onnx';
import { GraphBuilder } from './onnx-builder';

interface Case {
  name: string;
  build: () => GraphBuilder;
  /** Node whose output shape and MACs are checked. */
  node: string;
  shape: number[];
  macs: number;
  batchSize?: number;
}

const conv = (
  x: number[],
  w: number[],
  attrs: Record<string, number | string | number[]> = {},
): GraphBuilder =>
  new GraphBuilder().input('x', x).init('w', w).node('Conv', 'y', ['x', 'w'], attrs).output('y');

const cases: Case[] = [
  {
    // x [1,3,32,32] * w [16,3,3,3], pad 1 -> [1,16,32,32]; 16*32*32 * 3*3*3
    name: 'Conv 3x3 padded',
    build: () => conv([1, 3, 32, 32], [16, 3, 3, 3], { pads: [1, 1, 1, 1] }),
    node: 'y',
    shape: [1, 16, 32, 32],
    macs: 16 * 32 * 32 * 3 * 9,
  },
  {
    // x [2,8,15,15] * w [4,8,3,3], stride 2, pad 1 -> floor((15+2-3)/2)+1 = 8 -> [2,4,8,8]
    name: 'Conv strided, batch 2',
    build: () => conv([2, 8, 15, 15], [4, 8, 3, 3], { strides: [2, 2], pads: [1, 1, 1, 1] }),
    node: 'y',
    shape: [2, 4, 8, 8],
    macs: 2 * 4 * 8 * 8 * 8 * 9,
  },
  {
    // x [1,8,10,10] * w [16,2,3,3], group 4, no pad -> [1,16,8,8]; each output sees 8/4 = 2 input channels
    name: 'Conv grouped',
    build: () => conv([1, 8, 10, 10], [16, 2, 3, 3], { group: 4 }),
    node: 'y',
    shape: [1, 16, 8, 8],
    macs: 16 * 8 * 8 * 2 * 9,
  },
  {
    // x [1,32,14,14] * w [32,1,3,3], group 32, pad 1 -> [1,32,14,14]; one input channel per output
    name: 'Conv depthwise',
    build: () => conv([1, 32, 14, 14], [32, 1, 3, 3], { group: 32, pads: [1, 1, 1, 1] }),
    node: 'y',
    shape: [1, 32, 14, 14],
    macs: 32 * 14 * 14 * 9,
  },
  {
    // x [1,4,20,20] * w [4,4,3,3], dilation 2 (span 5) -> 16x16
    name: 'Conv dilated',
    build: () => conv([1, 4, 20, 20], [4, 4, 3, 3], { dilations: [2, 2] }),
    node: 'y',
    shape: [1, 4, 16, 16],
    macs: 4 * 16 * 16 * 4 * 9,
  },
  {
    // x [1,3,15,15] * w [8,3,3,3], stride 2, auto_pad SAME_UPPER -> ceil(15/2) = 8
    name: 'Conv auto_pad SAME_UPPER',
    build: () => conv([1, 3, 15, 15], [8, 3, 3, 3], { strides: [2, 2], auto_pad: 'SAME_UPPER' }),
    node: 'y',
    shape: [1, 8, 8, 8],
    macs: 8 * 8 * 8 * 3 * 9,
  },
  {
    // x [1,3,224,224] * w [64,3,7,7], stride 2, pad 3 (resnet stem) -> [1,64,112,112]
    name: 'Conv resnet stem, symbolic batch at batchSize 4',
    build: () =>
      new GraphBuilder()
        .input('x', ['batch', 3, 224, 224])
        .init('w', [64, 3, 7, 7])
        .init('b', [64])
        .node('Conv', 'y', ['x', 'w', 'b'], { strides: [2, 2], pads: [3, 3, 3, 3] })
        .output('y'),
    node: 'y',
    shape: [4, 64, 112, 112],
    macs: 4 * 64 * 112 * 112 * 3 * 49,
    batchSize: 4,
  },
  {
    // x [1,8,7,7] * w [8,4,4,4] transposed, stride 2, pad 1 -> 2*(7-1) + 4 - 2 = 14 -> [1,4,14,14];
    // each of the 8*7*7 input pixels scatters 4*4*4 products
    name: 'ConvTranspose stride 2',
    build: () =>
      new GraphBuilder()
        .input('x', [1, 8, 7, 7])
        .init('w', [8, 4, 4, 4])
        .node('ConvTranspose', 'y', ['x', 'w'], { strides: [2, 2], pads: [1, 1, 1, 1] })
        .output('y'),
    node: 'y',
    shape: [1, 4, 14, 14],
    macs: 8 * 7 * 7 * 4 * 16,
  },
  {
    // A [2,64] x B^T (B [10,64], transB) + C [10] -> [2,10]
    name: 'Gemm transB',
    build: () =>
      new GraphBuilder()
        .input('a', [2, 64])
        .init('w', [10, 64])
        .init('c', [10])
        .node('Gemm', 'y', ['a', 'w', 'c'], { transB: 1 })
        .output('y'),
    node: 'y',
    shape: [2, 10],
    macs: 2 * 10 * 64,
  },
  {
    // A^T (A [64,2], transA) x B [64,10] -> [2,10]
    name: 'Gemm transA',
    build: () =>
      new GraphBuilder()
        .input('a', [64, 2])
        .init('w', [64, 10])
        .node('Gemm', 'y', ['a', 'w'], { transA: 1 })
        .output('y'),
    node: 'y',
    shape: [2, 10],
    macs: 2 * 10 * 64,
  },
  {
    // [5,7] x [7,3] -> [5,3]
    name: 'MatMul 2D',
    build: () =>
      new GraphBuilder().input('a', [5, 7]).init('w', [7, 3]).node('MatMul', 'y', ['a', 'w']).output('y'),
    node: 'y',
    shape: [5, 3],
    macs: 5 * 3 * 7,
  },
  {
    // [7] x [7,3] -> [3] (1-D operand promoted, then the 1 dropped)
    name: 'MatMul 1D x 2D',
    build: () =>
      new GraphBuilder().input('a', [7]).init('w', [7, 3]).node('MatMul', 'y', ['a', 'w']).output('y'),
    node: 'y',
    shape: [3],
    macs: 3 * 7,
  },
  {
    // tokens [2,197,384] x qkv weight [384,1152] -> [2,197,1152] (timm Linear on 3-D input)
    name: 'MatMul 3D x 2D weight',
    build: () =>
      new GraphBuilder()
        .input('a', [2, 197, 384])
        .init('w', [384, 1152])
        .node('MatMul', 'y', ['a', 'w'])
        .output('y'),
    node: 'y',
    shape: [2, 197, 1152],
    macs: 2 * 197 * 1152 * 384,
  },
  {
    // attention Q K^T: [1,6,197,64] x [1,6,64,197] -> [1,6,197,197], activation x activation
    name: 'MatMul 4D batched (attention QK^T)',
    build: () =>
      new GraphBuilder()
        .input('q', [1, 6, 197, 64])
        .input('kt', [1, 6, 64, 197])
        .node('MatMul', 'y', ['q', 'kt'])
        .output('y'),
    node: 'y',
    shape: [1, 6, 197, 197],
    macs: 6 * 197 * 197 * 64,
  },
  {
    // batch dims broadcast: [4,1,5,6] x [3,6,2] -> [4,3,5,2]
    name: 'MatMul broadcast batch',
    build: () =>
      new GraphBuilder()
        .input('a', [4, 1, 5, 6])
        .input('b', [3, 6, 2])
        .node('MatMul', 'y', ['a', 'b'])
        .output('y'),
    node: 'y',
    shape: [4, 3, 5, 2],
    macs: 4 * 3 * 5 * 2 * 6,
  },
  {
    // 'bhqd,bhkd->bhqk': [1,2,5,8], [1,2,6,8] -> [1,2,5,6]; d = 8 summed
    name: 'Einsum matmul form',
    build: () =>
      new GraphBuilder()
        .input('q', [1, 2, 5, 8])
        .input('k', [1, 2, 6, 8])
        .node('Einsum', 'y', ['q', 'k'], { equation: 'bhqd,bhkd->bhqk' })
        .output('y'),
    node: 'y',
    shape: [1, 2, 5, 6],
    macs: 2 * 5 * 6 * 8,
  },
  {
    // '...ij,jk' with ellipsis and implicit output: [3,4,5], [5,2] -> [3,4,2]
    name: 'Einsum ellipsis, implicit output',
    build: () =>
      new GraphBuilder()
        .input('a', [3, 4, 5])
        .input('b', [5, 2])
        .node('Einsum', 'y', ['a', 'b'], { equation: '...ij,jk' })
        .output('y'),
    node: 'y',
    shape: [3, 4, 2],
    macs: 3 * 4 * 2 * 5,
  },
  {
    // 'ij->ji' is a transpose: no multiply-adds
    name: 'Einsum single operand (not counted)',
    build: () =>
      new GraphBuilder().input('a', [3, 4]).node('Einsum', 'y', ['a'], { equation: 'ij->ji' }).output('y'),
    node: 'y',
    shape: [4, 3],
    macs: 0,
  },
  {
    // x [2,3,4,5]; Shape -> Gather(0) -> Unsqueeze -> Concat([n], [-1]) -> Reshape -> [2,60]; then
    // MatMul with [60,10]: the folded shape is what makes the MatMul countable
    name: 'Reshape via Shape->Gather->Unsqueeze->Concat, then MatMul',
    build: () =>
      new GraphBuilder()
        .input('x', ['batch', 3, 4, 5])
        .node('Shape', 'shape', ['x'])
        .constInt('zero', [0], [])
        .node('Gather', 'n', ['shape', 'zero'], { axis: 0 })
        .constInt('axes', [0])
        .node('Unsqueeze', 'n1', ['n', 'axes'])
        .constInt('minus1', [-1])
        .node('Concat', 'target', ['n1', 'minus1'], { axis: 0 })
        .node('Reshape', 'flat', ['x', 'target'])
        .init('w', [60, 10])
        .node('MatMul', 'y', ['flat', 'w'])
        .output('y'),
    node: 'y',
    shape: [2, 10],
    macs: 2 * 10 * 60,
    batchSize: 2,
  },
];

describe('counted ops: output shape and MACs', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ap-onnx-ops-'));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const file = c.build().save(dir, `${c.name.replace(/\W+/g, '_')}.onnx`);
    const profile = await profileOnnx(file, c.batchSize !== undefined ? { batchSize: c.batchSize } : {});
    const node = profile.nodes.find((n) => n.name === c.node);
    expect(node?.outputShape).toEqual(c.shape);
    expect(node?.macs).toBe(c.macs);
    expect(profile.macs).toBe(c.macs);
  });
});
