// Pre-flight: what the client checks before any workflow starts, each problem naming its field.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CampaignConfigSchema } from '../../src/core/campaign-config';
import {
  KNOWN_MODELS,
  TIMM_PRETRAINED_TAGS,
  TORCHVISION_WEIGHT_FILES,
  VIT_PATCH_SIZES,
} from '../../src/core/model-spec';
import { defaultEngineLocation } from '../../src/engine/engine-paths';
import {
  countSplitImages,
  IMAGE_EXTENSIONS,
  namedWeightsProblem,
  preflight,
  PreflightError,
  unknownModelProblem,
  vitInputSizeProblem,
  weightCachesFromEnv,
} from '../../src/client/preflight';
import { tempDir } from '../support/test-env';
import { cli, stackLines, withEnv } from './run-cli';

// Nothing listens on port 1: a command that got past pre-flight would fail with "not reachable" instead.
const NO_SERVER = { TEMPORAL_ADDRESS: '127.0.0.1:1' };

function campaignFile(dir: string, body: string): string {
  const file = path.join(dir, `c-${Math.random().toString(36).slice(2)}.yaml`);
  fs.writeFileSync(file, body);
  return file;
}

function datasetAt(dir: string, splits: string[]): string {
  for (const s of splits) fs.mkdirSync(path.join(dir, s, 'a'), { recursive: true });
  return dir;
}

test("the model list is the engine's (engine/agentic_engine/models.py KNOWN_MODELS, same order)", () => {
  const { python, cwd } = defaultEngineLocation(process.env.AP_ENGINE_PYTHON);
  const out = execFileSync(
    python,
    ['-c', 'import json; from agentic_engine.models import KNOWN_MODELS; print(json.dumps(KNOWN_MODELS))'],
    { cwd, encoding: 'utf8' },
  );
  expect([...KNOWN_MODELS]).toEqual(JSON.parse(out));
});

test("the image endings counted are the engine's (engine/agentic_engine/training.py IMG_EXTENSIONS)", () => {
  const { python, cwd } = defaultEngineLocation(process.env.AP_ENGINE_PYTHON);
  const out = execFileSync(
    python,
    [
      '-c',
      'import json; from agentic_engine.training import IMG_EXTENSIONS; print(json.dumps(IMG_EXTENSIONS))',
    ],
    { cwd, encoding: 'utf8' },
  );
  expect([...IMAGE_EXTENSIONS]).toEqual(JSON.parse(out));
});

describe('the held-out scoring slice and the calibration sample must fit in train/', () => {
  // train/ with 2 classes x 10 images (and a text file and a hidden folder the engine does not count).
  const root = tempDir('ap-split-');
  for (const c of ['a', 'b']) {
    fs.mkdirSync(path.join(root, 'train', c, 'sub'), { recursive: true });
    for (let i = 0; i < 9; i++) fs.writeFileSync(path.join(root, 'train', c, `${i}.png`), '');
    fs.writeFileSync(path.join(root, 'train', c, 'sub', 'x.JPG'), '');
    fs.writeFileSync(path.join(root, 'train', c, 'notes.txt'), '');
  }
  fs.mkdirSync(path.join(root, 'train', '.cache'), { recursive: true });
  fs.writeFileSync(path.join(root, 'train', '.cache', 'y.png'), '');
  fs.mkdirSync(path.join(root, 'val', 'a'), { recursive: true });
  const config = (search: Record<string, unknown>, calibrationBatches = 1) =>
    CampaignConfigSchema.parse({
      model: { name: 'democnn' },
      targets: [{ fraction: 0.5 }],
      search,
      dataset: { root, calibrationBatches, calibrationBatchSize: 4 },
    });

  test('images are counted as the engine lists them, and counting stops at what the check needs', () => {
    expect(countSplitImages(path.join(root, 'train'))).toBe(20);
    expect(countSplitImages(path.join(root, 'train'), 5)).toBe(5);
  });

  test('an explicit scoreImages that does not fit beside the calibration sample is refused, naming it', () => {
    expect(() => preflight(config({ scoreImages: 17 }))).toThrow(
      `search.scoreImages: 17 held-out images and 4 calibration images do not fit in the 20 of '${path.join(root, 'train')}' (they must be disjoint)`,
    );
    expect(() => preflight(config({ scoreImages: 16 }))).not.toThrow();
  });

  test('with scoring configured, a calibration sample larger than train/ is refused, naming it', () => {
    expect(() => preflight(config({ scoring: 'zero-shot' }, 6))).toThrow(
      'dataset.calibrationBatches: 6 x calibrationBatchSize 4 = 24 images, more than the 20 of',
    );
    // With the defaults the engine sizes the slice to the split and prune takes up to the batches asked for.
    expect(() => preflight(config({}, 6))).not.toThrow();
  });
});

test('an unknown model is named with the nearest known ones first, as the engine words it', () => {
  const problem = unknownModelProblem('resnet19');
  expect(problem).toMatch(/^unknown model 'resnet19'; known \(nearest first\): resnet18, /);
  expect(problem).toMatch(/, or file:<path\.py>:<function>$/);
  expect(unknownModelProblem('resnet50')).toBeUndefined();
  expect(unknownModelProblem('deit_small')).toBeUndefined();
  expect(unknownModelProblem('file:m.py:build')).toBeUndefined();
});

describe('campaign start refuses, before connecting, naming the field; exit 2, no stack', () => {
  const dir = tempDir('ap-preflight-');

  test.each([
    [
      'an unknown model',
      'model:\n  name: resnet19\ntargets:\n  - fraction: 0.5\n',
      "model.name: unknown model 'resnet19'; known (nearest first): resnet18, ",
    ],
    [
      'a missing dataset folder',
      'model:\n  name: democnn\ntargets:\n  - fraction: 0.5\ndataset:\n  root: no-such-data\n',
      `dataset.root: dataset folder '${path.join(dir, 'no-such-data')}' does not exist`,
    ],
    [
      'a missing weights file (relative to the campaign file)',
      'model:\n  name: democnn\n  weights: w/model.pt\ntargets:\n  - fraction: 0.5\n',
      `model.weights: weights '${path.join(dir, 'w', 'model.pt')}' does not exist`,
    ],
    [
      'a missing factory file',
      'model:\n  name: file:nets/mine.py:build\ntargets:\n  - fraction: 0.5\n',
      `model.name: model factory file '${path.join(dir, 'nets', 'mine.py')}' does not exist`,
    ],
  ])('%s', async (_name, body, line) => {
    const file = campaignFile(dir, body);
    const r = await withEnv(NO_SERVER, () => cli('campaign', 'start', '-c', file));
    expect(r.code).toBe(2);
    expect(r.err).toContain(`${file}:\n  - ${line}`);
    expect(r.err).not.toContain('not reachable');
    expect(stackLines(r.err)).toEqual([]);
  });

  test('a dataset without val/ says which split is missing', async () => {
    const data = datasetAt(path.join(dir, 'half'), ['train']);
    const file = campaignFile(
      dir,
      `model:\n  name: democnn\ntargets:\n  - fraction: 0.5\ndataset:\n  root: half\n`,
    );
    const r = await withEnv(NO_SERVER, () => cli('campaign', 'start', '-c', file));
    expect(r.code).toBe(2);
    expect(r.err).toContain(
      `dataset.root: '${data}' has no val/ folder (ImageFolder layout: train/<class>/..., val/<class>/...)`,
    );
  });

  test.each([['../../evil'], ['a/b'], ['-x'], ['x--y'], ['.hidden'], ['a'.repeat(101)]])(
    '--id %s is refused before anything starts',
    async (id) => {
      const file = campaignFile(dir, 'model:\n  name: democnn\ntargets:\n  - fraction: 0.5\n');
      const r = await withEnv(NO_SERVER, () => cli('campaign', 'start', '-c', file, '--id', id));
      expect(r.code).toBe(2);
      expect(r.err).toContain(`agentic-pruner: --id: "${id}" must `);
      expect(r.err).not.toContain('not reachable');
    },
  );

  test('a good file passes pre-flight and only then needs the server', async () => {
    datasetAt(path.join(dir, 'data'), ['train', 'val']);
    fs.mkdirSync(path.join(dir, 'w'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'w', 'ok.pt'), '');
    const file = campaignFile(
      dir,
      'model:\n  name: democnn\n  weights: w/ok.pt\ntargets:\n  - fraction: 0.5\ndataset:\n  root: data\n',
    );
    const r = await withEnv(NO_SERVER, () => cli('campaign', 'start', '-c', file));
    expect(r.code).toBe(1);
    expect(r.err).toContain('Temporal server at 127.0.0.1:1 is not reachable');
    // Nothing started: no search line (it follows a started campaign's id).
    expect(r.err).not.toContain('search: ');
    expect(r.out).toBe('');
  });
});

describe('preflight() resolves relative paths against the campaign file folder, not the cwd', () => {
  const dir = tempDir('ap-preflight-paths-');
  test('weights, dataset and factory come back absolute', () => {
    datasetAt(path.join(dir, 'data'), ['train', 'val']);
    fs.writeFileSync(path.join(dir, 'w.pt'), '');
    fs.writeFileSync(path.join(dir, 'net.py'), '');
    const config = CampaignConfigSchema.parse({
      model: { name: 'file:net.py:build', weights: 'w.pt' },
      targets: [{ fraction: 0.5 }],
      dataset: { root: 'data' },
    });
    const out = preflight(config, { baseDir: dir });
    expect(out.model).toEqual({
      name: `file:${path.join(dir, 'net.py')}:build`,
      weights: path.join(dir, 'w.pt'),
    });
    expect(out.dataset?.root).toBe(path.join(dir, 'data'));
  });

  test('with checkPaths off, paths are made absolute but not required to exist here; artifact URIs pass', () => {
    const config = CampaignConfigSchema.parse({
      model: { name: 'resnet50', weights: 's3://bucket/r50.pt' },
      targets: [{ fraction: 0.5 }],
      dataset: { root: 'imagenet' },
    });
    const out = preflight(config, { baseDir: '/data', checkPaths: false });
    expect(out.model.weights).toBe('s3://bucket/r50.pt');
    expect(out.dataset?.root).toBe('/data/imagenet');
  });

  test('every problem is listed, each naming its field', () => {
    const config = CampaignConfigSchema.parse({
      model: { name: 'resnet19', weights: 'nope.pt' },
      targets: [{ fraction: 0.5 }],
      dataset: { root: 'nope' },
    });
    let err: unknown;
    try {
      preflight(config, { baseDir: dir });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PreflightError);
    expect((err as PreflightError).problems.map((p) => p.split(':')[0])).toEqual([
      'model.name',
      'model.weights',
      'dataset.root',
    ]);
  });
});

describe('pretrained weights by name: a missing cache entry is refused before anything starts, with its path', () => {
  const dir = tempDir('ap-preflight-weights-');
  const torchHome = path.join(dir, 'torch-home');
  const hfHubCache = path.join(dir, 'hf-hub');
  const caches = { torchHome, hfHubCache };

  test("the weights tables are the engine's (engine/agentic_engine/named_weights.py)", () => {
    const { python, cwd } = defaultEngineLocation(process.env.AP_ENGINE_PYTHON);
    const script = [
      'import json',
      'from agentic_engine.models import _TIMM, _TORCHVISION',
      'from agentic_engine.named_weights import timm_table, torchvision_table',
      'print(json.dumps([torchvision_table(_TORCHVISION), timm_table(_TIMM)]))',
    ].join('\n');
    const out = execFileSync(python, ['-c', script], { cwd, encoding: 'utf8' });
    const [torchvision, timm] = JSON.parse(out) as [unknown, unknown];
    expect(TORCHVISION_WEIGHT_FILES).toEqual(torchvision);
    expect(Object.keys(TORCHVISION_WEIGHT_FILES)).toEqual(Object.keys(torchvision as object));
    expect(TIMM_PRETRAINED_TAGS).toEqual(timm);
  });

  test('campaign start: exit 2 naming model.weights, the file looked for and how to fill it', async () => {
    const file = campaignFile(
      dir,
      'model:\n  name: resnet50\n  weights: torchvision:IMAGENET1K_V2\ntargets:\n  - fraction: 0.5\n',
    );
    const r = await withEnv({ ...NO_SERVER, TORCH_HOME: torchHome }, () =>
      cli('campaign', 'start', '-c', file),
    );
    expect(r.code).toBe(2);
    const expected = path.join(torchHome, 'hub', 'checkpoints', 'resnet50-11ad3fa6.pth');
    expect(r.err).toContain(
      `${file}:\n  - model.weights: torchvision weights IMAGENET1K_V2 of resnet50 are not in the local cache: ` +
        `'${expected}' does not exist; fill it on a host with network: TORCH_HOME=${torchHome} python -c ` +
        `"import torchvision; torchvision.models.resnet50(weights='IMAGENET1K_V2')" (or copy resnet50-11ad3fa6.pth there)\n`,
    );
    expect(r.err).not.toContain('not reachable');
    expect(stackLines(r.err)).toEqual([]);

    // Filled (presence is all the client checks; the worker's engine checks the bytes): on to the server.
    fs.mkdirSync(path.dirname(expected), { recursive: true });
    fs.writeFileSync(expected, '');
    const ok = await withEnv({ ...NO_SERVER, TORCH_HOME: torchHome }, () =>
      cli('campaign', 'start', '-c', file),
    );
    expect(ok.code).toBe(1);
    expect(ok.err).toContain('is not reachable');
  });

  test('timm: the hub cache folder is named; refs/main -> snapshots/<rev>/model.safetensors fills it', () => {
    const config = CampaignConfigSchema.parse({
      model: { name: 'deit_tiny', weights: 'timm:fb_in1k' },
      targets: [{ fraction: 0.5 }],
    });
    const folder = path.join(hfHubCache, 'models--timm--deit_tiny_patch16_224.fb_in1k');
    expect(() => preflight(config, { weightCaches: caches })).toThrow(
      `model.weights: timm weights fb_in1k of deit_tiny_patch16_224 are not in the local cache: no ` +
        `model.safetensors or pytorch_model.bin under '${folder}'; fill it on a host with network: ` +
        `HF_HUB_CACHE=${hfHubCache} python -c "import timm; timm.create_model('deit_tiny_patch16_224.fb_in1k', pretrained=True)"`,
    );
    fs.mkdirSync(path.join(folder, 'refs'), { recursive: true });
    fs.writeFileSync(path.join(folder, 'refs', 'main'), 'abc123\n');
    fs.mkdirSync(path.join(folder, 'snapshots', 'abc123'), { recursive: true });
    // A snapshot without the file is still missing.
    expect(() => preflight(config, { weightCaches: caches })).toThrow(PreflightError);
    fs.writeFileSync(path.join(folder, 'snapshots', 'abc123', 'model.safetensors'), '');
    expect(preflight(config, { weightCaches: caches }).model.weights).toBe('timm:fb_in1k');
  });

  test.each([
    [
      'resnet18',
      'torchvision:IMAGENET1K_V9',
      "torchvision has no weights 'IMAGENET1K_V9' for resnet18; known: IMAGENET1K_V1",
    ],
    [
      'deit_small',
      'timm:in22k',
      "timm has no pretrained tag 'in22k' for deit_small_patch16_224; known: fb_in1k",
    ],
    [
      'democnn',
      'torchvision:IMAGENET1K_V1',
      "'torchvision:IMAGENET1K_V1' names torchvision weights; 'democnn' is not a torchvision model",
    ],
    ['resnet18', 'timm:fb_in1k', "'timm:fb_in1k' names timm weights; 'resnet18' is not a timm model"],
  ])('%s with %s: a bad name is refused even without path checks', (name, weights, message) => {
    expect(namedWeightsProblem(name, weights)).toBe(message);
    const config = CampaignConfigSchema.parse({ model: { name, weights }, targets: [{ fraction: 0.5 }] });
    expect(() => preflight(config, { checkPaths: false })).toThrow(`model.weights: ${message}`);
  });

  test('the caches resolve as torch.hub and huggingface_hub resolve them', () => {
    expect(weightCachesFromEnv({ TORCH_HOME: '/t', HF_HUB_CACHE: '/h', HF_HOME: '/x' })).toEqual({
      torchHome: '/t',
      hfHubCache: '/h',
    });
    expect(weightCachesFromEnv({ XDG_CACHE_HOME: '/c', HF_HOME: '' })).toEqual({
      torchHome: '/c/torch',
      hfHubCache: '/c/huggingface/hub',
    });
    expect(weightCachesFromEnv({ HF_HOME: '/hf' }).hfHubCache).toBe('/hf/hub');
    expect(weightCachesFromEnv({}).torchHome).toBe(path.join(os.homedir(), '.cache', 'torch'));
  });
});

describe('an input size a ViT cannot take is refused before anything starts, naming model.inputSize', () => {
  test("the patch sizes are the engine's (models.py _VIT_PATCH, 16 for timm DeiTs)", () => {
    const { python, cwd } = defaultEngineLocation(process.env.AP_ENGINE_PYTHON);
    const script =
      'import json; from agentic_engine.models import _TIMM, _VIT_PATCH; print(json.dumps({**_VIT_PATCH, **{n: 16 for n in _TIMM}}))';
    const out = execFileSync(python, ['-c', script], { cwd, encoding: 'utf8' });
    expect(VIT_PATCH_SIZES).toEqual(JSON.parse(out));
  });

  test.each([
    ['vit_b_16', 60, 'vit_b_16 takes inputs whose side is a multiple of its patch size 16; got 60 (try 48)'],
    ['vit_b_32', 48, 'vit_b_32 takes inputs whose side is a multiple of its patch size 32; got 48 (try 32)'],
    [
      'deit_tiny',
      40,
      'deit_tiny_patch16_224 takes inputs whose side is a multiple of its patch size 16; got 40 (try 32)',
    ],
    [
      'deit_small',
      8,
      'deit_small_patch16_224 takes inputs whose side is a multiple of its patch size 16; got 8 (try 16)',
    ],
  ])('%s at %i px', (name, inputSize, message) => {
    expect(vitInputSizeProblem(name, inputSize)).toBe(message);
    const config = CampaignConfigSchema.parse({ model: { name, inputSize }, targets: [{ fraction: 0.5 }] });
    expect(() => preflight(config, { checkPaths: false })).toThrow(`model.inputSize: ${message}`);
  });

  test('sizes a ViT takes, and CNNs at any size, pass', () => {
    expect(vitInputSizeProblem('vit_b_16', 32)).toBeUndefined();
    expect(vitInputSizeProblem('deit_tiny', 224)).toBeUndefined();
    expect(vitInputSizeProblem('resnet18', 61)).toBeUndefined();
  });
});
