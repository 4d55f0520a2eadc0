// Pre-flight: what the client checks before any workflow starts, each problem naming its field.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CampaignConfigSchema } from '../../src/core/campaign-config';
import { KNOWN_MODELS } from '../../src/core/model-spec';
import { defaultEngineLocation } from '../../src/engine/engine-paths';
import { preflight, PreflightError, unknownModelProblem } from '../../src/client/preflight';
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
