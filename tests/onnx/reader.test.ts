/**
 * The reader's contract beyond shapes: external-data initializers, the parameter rule, module paths
 * and stages, and the errors it throws (unsupported op naming op/node/opset, truncated or non-ONNX
 * file, missing or escaping external data).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import {
  OnnxFormatError,
  OnnxInputShapeError,
  UnsupportedOpError,
  autoStageRoots,
  loadOnnxModel,
  measureLatency,
  modulePathOf,
  profileOnnx,
  stageOf,
  stageTable,
} from '../../src/onnx';
import { GraphBuilder, INT64 } from './onnx-builder';

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ap-onnx-reader-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** x [1,3,8,8] -> Conv w [4,3,3,3] (external) -> [1,4,6,6] -> Reshape by shape [1,-1] (external int64) -> Gemm [10,144]^T */
function externalModel(): GraphBuilder {
  return new GraphBuilder()
    .input('x', ['batch', 3, 8, 8])
    .externalInit(
      'conv.weight',
      [4, 3, 3, 3],
      Array.from({ length: 108 }, (_, i) => i / 100),
    )
    .externalInit('target', [2], [1, -1], INT64)
    .init('fc.weight', [10, 144])
    .init('fc.bias', [10])
    .node('Conv', '/conv/Conv', ['x', 'conv.weight'])
    .node('Reshape', '/Reshape', ['/conv/Conv', 'target'])
    .node('Gemm', '/fc/Gemm', ['/Reshape', 'fc.weight', 'fc.bias'], { transB: 1 })
    .output('/fc/Gemm');
}

describe('external data', () => {
  test('shapes come from the model; values are read lazily from the side file at their offsets', async () => {
    const sub = path.join(dir, 'external');
    const file = externalModel().save(sub, 'model.onnx', 'model.data');
    const model = await loadOnnxModel(file);
    const weight = model.initializers.get('conv.weight');
    expect(weight?.dims).toEqual([4, 3, 3, 3]);
    expect(weight?.external).toMatchObject({
      file: path.join(sub, 'model.data'),
      offset: 0,
      length: 108 * 4,
    });
    const target = model.initializers.get('target');
    expect(target?.external?.offset).toBe(448); // 432 bytes of weight, aligned up to 64
    expect(model.tensorValues(target!.proto)).toEqual([1, -1]);
    const values = model.tensorValues(weight!.proto);
    expect(values[107]).toBeCloseTo(1.07, 5);

    // Conv: 4*6*6 * 3*9 = 3888; Gemm: 10 * 144 = 1440. Params: 108 + 1440 + 10 (target is int64: not counted).
    const profile = await profileOnnx(file);
    expect(profile.macs).toBe(3888 + 1440);
    expect(profile.params).toBe(108 + 1440 + 10);
    expect(profile.outputs[0]?.shape).toEqual([1, 10]);
  });

  test('a missing side file is an OnnxFormatError naming it', async () => {
    const sub = path.join(dir, 'external-missing');
    const file = externalModel().save(sub, 'model.onnx', 'model.data');
    fs.rmSync(path.join(sub, 'model.data'));
    await expect(loadOnnxModel(file)).rejects.toThrow(OnnxFormatError);
    await expect(loadOnnxModel(file)).rejects.toThrow(/model\.data is missing/);
  });

  test('a side file shorter than the model says is an OnnxFormatError', async () => {
    const sub = path.join(dir, 'external-short');
    const file = externalModel().save(sub, 'model.onnx', 'model.data');
    fs.truncateSync(path.join(sub, 'model.data'), 100);
    await expect(loadOnnxModel(file)).rejects.toThrow(/has 100 bytes, needs 432/);
  });

  test('a location outside the model folder is refused', async () => {
    const sub = path.join(dir, 'external-escape');
    const file = externalModel().save(sub, 'model.onnx', '../escape.data');
    await expect(loadOnnxModel(file)).rejects.toThrow(/outside the model's folder/);
  });
});

describe('parameter rule', () => {
  test('counts float weights once, Identity copies separately, not scalars, shape constants or BN statistics', async () => {
    // x [1,4,5,5] -> Conv w [4,4,1,1] + b (Identity copy of a shared zero bias) -> BN (s, b, mean, var [4])
    // -> Mul by float scalar 0.5 -> Conv w2 [4,4,1,1] + b2 (second Identity copy of the same zero bias)
    const file = new GraphBuilder()
      .input('x', [1, 4, 5, 5])
      .init('zeros', [4])
      .node('Identity', 'Identity_0', ['zeros'], {}, ['conv1.bias'])
      .node('Identity', 'Identity_1', ['zeros'], {}, ['conv2.bias'])
      .init('conv1.weight', [4, 4, 1, 1])
      .init('conv2.weight', [4, 4, 1, 1])
      .init('bn.weight', [4], [1, 1, 1, 1])
      .init('bn.bias', [4])
      .init('bn.running_mean', [4])
      .init('bn.running_var', [4], [1, 1, 1, 1])
      .init('half', [], [0.5])
      .node('Conv', '/conv1/Conv', ['x', 'conv1.weight', 'conv1.bias'])
      .node('BatchNormalization', '/bn/BatchNormalization', [
        '/conv1/Conv',
        'bn.weight',
        'bn.bias',
        'bn.running_mean',
        'bn.running_var',
      ])
      .node('Mul', '/Mul', ['/bn/BatchNormalization', 'half'])
      .node('Conv', '/conv2/Conv', ['/Mul', 'conv2.weight', 'conv2.bias'])
      .output('/conv2/Conv')
      .save(dir, 'params.onnx');
    const profile = await profileOnnx(file);
    const params = Object.fromEntries(profile.nodes.map((n) => [n.name, n.params]));
    expect(params).toEqual({
      Identity_0: 0,
      Identity_1: 0,
      '/conv1/Conv': 16 + 4,
      '/bn/BatchNormalization': 4 + 4,
      '/Mul': 0,
      '/conv2/Conv': 16 + 4,
    });
    expect(profile.params).toBe(48);
    // Two 1x1 convs on 5x5: 2 * 4*25 * 4 MACs; BN and Mul count none.
    expect(profile.macs).toBe(800);
    expect(profile.byModule).toEqual([
      { path: '', macs: 0, params: 0 },
      { path: 'conv1', macs: 400, params: 20 },
      { path: 'bn', macs: 0, params: 8 },
      { path: 'conv2', macs: 400, params: 20 },
    ]);
  });
});

describe('module paths and stages', () => {
  test.each([
    // [node name, module path, stage roots, stage]
    ['/layer1/layer1.0/conv1/Conv', 'layer1.0.conv1', [], 'layer1'],
    ['/layer4/layer4.2/downsample/downsample.0/Conv', 'layer4.2.downsample.0', [], 'layer4'],
    [
      '/features/features.1/features.1.0/block/block.0/Conv',
      'features.1.0.block.0',
      ['features'],
      'features.1',
    ],
    ['/classifier/classifier.2/Gemm', 'classifier.2', ['features'], 'classifier'],
    ['/blocks/blocks.3/attn/qkv/MatMul', 'blocks.3.attn.qkv', ['blocks'], 'blocks.3'],
    [
      '/encoder/layers/encoder_layer_0/self_attention/MatMul',
      'encoder.layers.encoder_layer_0.self_attention',
      ['encoder', 'encoder.layers'],
      'encoder.layers.encoder_layer_0',
    ],
    ['/patch_embed/proj/Conv', 'patch_embed.proj', ['blocks'], 'patch_embed'],
    ['/fc/Gemm', 'fc', [], 'fc'],
    ['/Flatten', '', [], '(root)'],
    ['Identity_12', '', [], '(root)'],
  ])('%s -> %s (stage %s)', (name, modulePath, roots, stage) => {
    expect(modulePathOf(name)).toBe(modulePath);
    expect(stageOf(modulePath, roots)).toBe(stage);
  });

  test('stage roots from the MAC distribution, MAC-less stages folded into the one before', () => {
    const modules = [
      { path: '', macs: 0, params: 7 }, // loose params (a cls token) before any stage: into the first
      { path: 'stem', macs: 10, params: 1 },
      { path: 'encoder.layers.l0.fc', macs: 40, params: 2 },
      { path: 'encoder.layers.l1.fc', macs: 45, params: 3 },
      { path: 'encoder.ln', macs: 0, params: 4 },
      { path: 'head', macs: 5, params: 5 },
    ];
    const roots = autoStageRoots(modules);
    expect(roots).toEqual(['encoder', 'encoder.layers']);
    expect(stageTable(modules, roots)).toEqual([
      { name: 'stem', macs: 10, params: 8, share: 0.1 },
      { name: 'encoder.layers.l0', macs: 40, params: 2, share: 0.4 },
      { name: 'encoder.layers.l1', macs: 45, params: 3 + 4, share: 0.45 },
      { name: 'head', macs: 5, params: 5, share: 0.05 },
    ]);
  });
});

describe('errors', () => {
  test('an op without a shape rule is an UnsupportedOpError naming op, node and opset', async () => {
    const file = new GraphBuilder(17)
      .input('boxes', [1, 10, 4])
      .input('scores', [1, 1, 10])
      .node('NonMaxSuppression', 'nms_0', ['boxes', 'scores'])
      .output('nms_0')
      .save(dir, 'unsupported.onnx');
    const error = await profileOnnx(file).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnsupportedOpError);
    expect(error).toMatchObject({ opType: 'NonMaxSuppression', nodeName: 'nms_0', opset: 17 });
    expect((error as Error).message).toMatch(/NonMaxSuppression.*nms_0.*opset 17/);
  });

  test('a Reshape whose target shape is computed from data is unsupported, with the reason', async () => {
    const file = new GraphBuilder()
      .input('x', [2, 6])
      .input('shape', [2], INT64)
      .node('Reshape', '/head/Reshape', ['x', 'shape'])
      .output('/head/Reshape')
      .save(dir, 'dynamic-reshape.onnx');
    await expect(profileOnnx(file)).rejects.toThrow(/Reshape.*\/head\/Reshape.*opset 17.*not a constant/);
  });

  test('an op from another domain is unsupported', async () => {
    const file = new GraphBuilder()
      .input('x', [1, 4])
      .node('FusedGemm', 'fg', ['x'], {}, ['fg'], 'com.microsoft')
      .output('fg')
      .save(dir, 'domain.onnx');
    await expect(profileOnnx(file)).rejects.toThrow(/FusedGemm.*domain com\.microsoft/);
  });

  test('a truncated file is an OnnxFormatError naming the path', async () => {
    const whole = externalModel().encode();
    const file = path.join(dir, 'truncated.onnx');
    fs.writeFileSync(file, whole.subarray(0, Math.floor(whole.length / 2)));
    const error = await profileOnnx(file).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OnnxFormatError);
    expect(error).toMatchObject({ path: file });
    expect((error as Error).message).toContain(file);
  });

  test.each([
    ['a text file', 'not an onnx model at all\n'],
    ['an empty file', ''],
  ])('%s is an OnnxFormatError', async (_what, content) => {
    const file = path.join(dir, 'not-onnx.onnx');
    fs.writeFileSync(file, content);
    await expect(profileOnnx(file)).rejects.toThrow(OnnxFormatError);
  });

  test('a missing file is an OnnxFormatError', async () => {
    await expect(profileOnnx(path.join(dir, 'nope.onnx'))).rejects.toThrow(
      /nope\.onnx: not a readable ONNX model: cannot read/,
    );
  });

  test('a symbolic dim other than the batch is an OnnxFormatError', async () => {
    const file = new GraphBuilder()
      .input('x', [1, 'seq', 4])
      .node('Relu', 'y', ['x'])
      .output('y')
      .save(dir, 'seq.onnx');
    await expect(profileOnnx(file)).rejects.toThrow(/symbolic dim "seq" at axis 1/);
  });

  test.each([
    // [1, 3, 2^40, 2^40]: used to profile as 3.2e28 MACs without a word
    [
      'a 2^40 x 2^40 image',
      [1, 3, 2 ** 40, 2 ** 40],
      /dim 1099511627776 at axis 2 is above the limit of 1048576/,
    ],
    // every dim plausible, the product not: 2^30 elements at batch 1
    ['a 2^30-element input', [1, 64, 4096, 4096], /1073741824 elements, above the limit of 268435456/],
  ])('%s is an OnnxInputShapeError naming the input (profile and latency)', async (_what, dims, message) => {
    const file = new GraphBuilder()
      .input('pixels', dims)
      .node('Relu', 'y', ['pixels'])
      .output('y')
      .save(dir, `huge-${dims.join('x')}.onnx`);
    const profiled = await profileOnnx(file).catch((e: unknown) => e);
    expect(profiled).toBeInstanceOf(OnnxInputShapeError);
    expect(profiled).toMatchObject({ input: 'pixels', shape: dims });
    expect((profiled as Error).message).toMatch(message);
    expect((profiled as Error).message).toContain('input "pixels"');
    // onnxruntime: the same typed error, not a RangeError from allocating the input
    const timed = await measureLatency(file, { runs: 1, warmupRuns: 0 }).catch((e: unknown) => e);
    expect(timed).toBeInstanceOf(OnnxInputShapeError);
    expect((timed as Error).message).toMatch(message);
  });
});
