/**
 * The bad-input surfaces of the property suite (issue 16, item 2), shared by the jest properties
 * (tests/property/bad-input.test.ts) and the figures of bench/bad-input.ts: for each surface, a fast-check
 * arbitrary of inputs (valid ones, and valid ones broken in one to three places) and a `check` that feeds
 * one input to the real code and says which of the two allowed outcomes it got — `valid` or
 * `typed-error` — or throws a {@link PropertyViolation} saying what else happened.
 *
 * The allowed outcomes: a valid result (which must then really be valid), or the layer's typed error
 * (the PrunerError family, or a non-ok reply check) whose message names the culprit: a field path that
 * exists in the input (all of it, or all but its last segment when the field is missing), or the file.
 * Jest-free, so the bench can run it.
 */
import * as fc from 'fast-check';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseDocument } from 'yaml';
import type { Message } from '@anthropic-ai/sdk/resources/messages';
import { checkReply } from '../../src/agents/claude';
import type { ProposeInput } from '../../src/agents/agent';
import { loadCampaignFile, ConfigFileError } from '../../src/client/config-file';
import { CampaignConfigSchema, campaignIdProblem } from '../../src/core/campaign-config';
import { ConfigError, ExitCode, parseWith, PrunerError } from '../../src/core/errors';
import { StrategySchema, strategyKey, type Strategy } from '../../src/core/strategy';
import { OnnxError, UnsupportedOpError } from '../../src/onnx/errors';
import { profileOnnx } from '../../src/onnx';
import { ArtifactKeyError } from '../../src/storage/errors';
import { artifactKey, validateKey } from '../../src/storage/keys';
import { onnx } from 'onnx-proto';

/** The only outcomes a surface may have. */
export type Outcome = 'valid' | 'typed-error';

/** Thrown by a check when the code under test did something else: an untyped error, a silent wrong result. */
export class PropertyViolation extends Error {
  override readonly name = 'PropertyViolation';
}

function violation(what: string, input: unknown, cause?: unknown): PropertyViolation {
  const shown = typeof input === 'string' ? input : safeJson(input);
  const why =
    cause instanceof Error
      ? ` — ${cause.name}: ${cause.message}`
      : cause !== undefined
        ? ` — ${safeJson(cause)}`
        : '';
  return new PropertyViolation(`${what}${why}\ninput: ${shown.slice(0, 600)}`);
}

function safeJson(v: unknown): string {
  try {
    return JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? `${x}n` : x)) ?? String(v);
  } catch {
    return String(v);
  }
}

/** One surface: what it feeds, how to generate it, how to judge one input. */
export interface Surface<T> {
  readonly name: string;
  readonly arbitrary: fc.Arbitrary<T>;
  check(input: T): Outcome | Promise<Outcome>;
}

// ---------------------------------------------------------------------------------------------------------
// Paths in generated data

type Path = readonly (string | number)[];

/** Every path to a value inside `v` (objects and arrays), the root excluded. */
function pathsOf(v: unknown, prefix: Path = []): Path[] {
  const out: Path[] = [];
  if (Array.isArray(v)) {
    v.forEach((x, i) => {
      out.push([...prefix, i], ...pathsOf(x, [...prefix, i]));
    });
  } else if (v !== null && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) out.push([...prefix, k], ...pathsOf(x, [...prefix, k]));
  }
  return out;
}

/** How many leading segments of `p` exist in `v`. */
function existingPrefix(v: unknown, p: readonly PropertyKey[]): number {
  let node: unknown = v;
  for (let i = 0; i < p.length; i++) {
    const key = p[i]!;
    if (node === null || typeof node !== 'object') return i;
    const k = Array.isArray(node) ? Number(key) : String(key);
    if (!Object.prototype.hasOwnProperty.call(node, k)) return i;
    node = (node as Record<string, unknown>)[k as string];
  }
  return p.length;
}

/** A zod issue path names the culprit: it exists in the input, or only its last (missing) key does not. */
function namesAField(input: unknown, p: readonly PropertyKey[]): boolean {
  return existingPrefix(input, p) >= p.length - 1;
}

// ---------------------------------------------------------------------------------------------------------
// Generated values

/** Values that break a field: wrong types, out-of-range and non-finite numbers, odd strings, nesting. */
const junk: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(
    null,
    true,
    false,
    0,
    -1,
    1e308,
    -0,
    0.5,
    2 ** 53 + 2,
    '',
    '0.3',
    'yes',
    '-5%..+1%',
    '0%..0%',
    '-500%..+900%',
    '1.77G',
    'NaN',
    'Infinity',
    '1e400',
    '-1G',
    '0G',
    '1.77 GG',
    '+1%..-5%',
    '-0%..+0%',
    '-5%..+1e400%',
    '../../evil',
    '/etc/shadow',
    '💥',
    [],
    {},
    [1, 2, 3],
  ),
  fc.double(),
  fc.integer({ min: -(2 ** 40), max: 2 ** 40 }),
  fc.string({ maxLength: 12 }),
  fc.jsonValue({ maxDepth: 2 }),
);

type Mutation = { op: 'delete' | 'replace' | 'add'; at: number; key: string; value: unknown };

const mutation: fc.Arbitrary<Mutation> = fc.record({
  op: fc.constantFrom('delete', 'replace', 'replace', 'add'),
  at: fc.nat(),
  key: fc.oneof(
    fc.constantFrom('typo', 'band ', 'ratio', '__proto__', 'constructor'),
    fc.string({ maxLength: 6 }),
  ),
  value: junk,
});

/** `base` (JSON-like) with each mutation applied at a path chosen by its `at`. */
function mutate<T>(base: T, mutations: readonly Mutation[]): unknown {
  const root = structuredClone(base) as unknown;
  let data: unknown = root;
  for (const m of mutations) {
    const paths = pathsOf(data);
    if (m.op === 'replace' && paths.length === 0) {
      data = structuredClone(m.value);
      continue;
    }
    const target = paths.length === 0 ? [] : paths[m.at % paths.length]!;
    if (target.length === 0 || m.op === 'add') {
      const parentPath = m.op === 'add' ? [...target] : [];
      let parent = get(data, parentPath);
      if (parent === null || typeof parent !== 'object' || Array.isArray(parent)) parent = data;
      if (parent !== null && typeof parent === 'object' && !Array.isArray(parent))
        // defineProperty: a `__proto__` key is data, as JSON.parse or YAML would give it.
        Object.defineProperty(parent, m.key, {
          value: structuredClone(m.value),
          enumerable: true,
          writable: true,
          configurable: true,
        });
      continue;
    }
    const parent = get(data, target.slice(0, -1)) as Record<string | number, unknown> | unknown[];
    const last = target[target.length - 1]!;
    if (m.op === 'delete') {
      if (Array.isArray(parent)) parent.splice(Number(last), 1);
      else delete (parent as Record<string, unknown>)[last];
    } else {
      (parent as Record<string | number, unknown>)[last] = structuredClone(m.value);
    }
  }
  return data;
}

function get(v: unknown, p: Path): unknown {
  let node = v;
  for (const k of p) node = (node as Record<string | number, unknown>)[k];
  return node;
}

// ---------------------------------------------------------------------------------------------------------
// Campaign configs

const band = fc.oneof(
  fc.constantFrom('-5%..+1%', '-2%..+2%', '-10%..+0%', '-1%..+5%'),
  fc
    .tuple(fc.integer({ min: -60, max: 0 }), fc.integer({ min: 0, max: 60 }))
    .map(([lo, hi]) => `${lo}%..+${hi}%`),
);

const target = fc.oneof(
  fc.record(
    {
      fraction: fc.double({ min: 0.01, max: 0.99, noNaN: true }),
      band,
      label: fc.stringMatching(/^[a-z0-9._-]{1,8}$/),
    },
    { requiredKeys: ['fraction'] },
  ),
  fc.record(
    { macs: fc.oneof(fc.constantFrom('1.77G', '300M', '12.5k'), fc.integer({ min: 1, max: 1e12 })), band },
    { requiredKeys: ['macs'] },
  ),
);

/** A valid campaign config (before defaults), of the shapes users write. */
export const validCampaignConfig = fc
  .record(
    {
      name: fc.stringMatching(/^[A-Za-z0-9._-]{1,12}$/),
      model: fc.record(
        {
          name: fc.constantFrom('democnn', 'resnet18', 'resnet50', 'deit_small'),
          weights: fc.constantFrom('weights.pt', 'models/dense.pth'),
          numClasses: fc.integer({ min: 1, max: 1000 }),
          inputSize: fc.integer({ min: 8, max: 512 }),
        },
        { requiredKeys: ['name'] },
      ),
      inputShape: fc.tuple(
        fc.integer({ min: 1, max: 8 }),
        fc.constant(3),
        fc.integer({ min: 8, max: 64 }),
        fc.integer({ min: 8, max: 64 }),
      ),
      targets: fc.array(target, { minLength: 1, maxLength: 3 }),
      search: fc.record(
        {
          agent: fc.constantFrom('solver', 'grid', 'claude', 'hybrid'),
          maxIterations: fc.integer({ min: 1, max: 500 }),
          extendedSearch: fc.integer({ min: 0, max: 20 }),
          base: fc.record(
            { importance: fc.constantFrom('l1', 'l2', 'taylor'), roundTo: fc.integer({ min: 1, max: 256 }) },
            { requiredKeys: [] },
          ),
        },
        { requiredKeys: [] },
      ),
      dataset: fc.record(
        {
          root: fc.constantFrom('data/shapes', '/data/imagenet'),
          calibrationBatches: fc.integer({ min: 1, max: 1000 }),
        },
        { requiredKeys: ['root'] },
      ),
      finetune: fc.record(
        {
          epochs: fc.double({ min: 0.01, max: 1000, noNaN: true }),
          batchSize: fc.integer({ min: 1, max: 8192 }),
          maxSteps: fc.integer({ min: 1, max: 10000 }),
        },
        { requiredKeys: [] },
      ),
      deployment: fc.record(
        {
          enabled: fc.boolean(),
          batchSizes: fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 3 }),
        },
        { requiredKeys: [] },
      ),
    },
    { requiredKeys: ['model', 'targets'] },
  )
  .map((c) => {
    // A fine-tune needs a dataset (the schema says so); the valid generator keeps to that.
    if (c.finetune && !c.dataset) return { ...c, dataset: { root: 'data/shapes' } };
    return c;
  });

/** A campaign config, valid or broken in one to three places. */
export const campaignConfigInput: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 1, arbitrary: validCampaignConfig },
  {
    weight: 4,
    arbitrary: fc
      .tuple(validCampaignConfig, fc.array(mutation, { minLength: 1, maxLength: 3 }))
      .map(([c, ms]) => mutate(c, ms)),
  },
);

/** Facts every accepted campaign config holds, beyond its schema's own field checks. */
function checkAcceptedConfig(config: ReturnType<typeof CampaignConfigSchema.parse>, input: unknown): void {
  const again = CampaignConfigSchema.safeParse(config);
  if (!again.success || safeJson(again.data) !== safeJson(config))
    throw violation('an accepted config does not parse to itself again', input);
  for (const t of config.targets)
    if ((t.macs === undefined) === (t.fraction === undefined))
      throw violation('an accepted target lacks exactly one of macs/fraction', input);
  if (config.finetune && !config.dataset) throw violation('accepted a fine-tune without a dataset', input);
}

export const campaignConfigObjects: Surface<unknown> = {
  name: 'campaign config (parsed object)',
  arbitrary: campaignConfigInput,
  check(input) {
    let config;
    try {
      config = parseWith(CampaignConfigSchema, input, 'campaign.yaml');
    } catch (err) {
      if (!(err instanceof ConfigError)) throw violation('not a ConfigError', input, err);
      if (err.exitCode !== ExitCode.usage || !err.messageOnly)
        throw violation('not a usage error', input, err);
      if (!err.message.startsWith('campaign.yaml is invalid:'))
        throw violation('message does not name the file', input, err);
      for (const issue of err.issues) {
        if (!namesAField(input, issue.path))
          throw violation(`issue path ${issue.path.map(String).join('.')} is not in the input`, input, err);
        if (issue.code === 'unrecognized_keys')
          for (const k of issue.keys)
            if (existingPrefix(input, [...issue.path, k]) !== issue.path.length + 1)
              throw violation(`unknown key ${k} is not in the input`, input, err);
      }
      return 'typed-error';
    }
    checkAcceptedConfig(config, input);
    return 'valid';
  },
};

/** A YAML text edit: insert, delete or overwrite a few characters, or cut the text. */
type TextEdit = { op: 'insert' | 'delete' | 'cut' | 'overwrite'; at: number; text: string };

const yamlNoise = fc.oneof(
  fc.constantFrom(
    ':',
    ' ',
    '\n',
    '\t',
    '- ',
    '{',
    '}',
    '[',
    ']',
    '&a ',
    '*a',
    '*b',
    '!!binary ',
    '? ',
    '%YAML 1.1\n',
    '---\n',
    '"',
    "'",
    '#',
    '<<: *a\n',
    '\0',
    '\u00a0',
  ),
  fc.string({ maxLength: 6 }),
);

const textEdit: fc.Arbitrary<TextEdit> = fc.record({
  op: fc.constantFrom('insert', 'delete', 'cut', 'overwrite'),
  at: fc.nat(),
  text: yamlNoise,
});

function applyEdit(text: string, e: TextEdit): string {
  const at = text.length === 0 ? 0 : e.at % (text.length + 1);
  switch (e.op) {
    case 'insert':
      return text.slice(0, at) + e.text + text.slice(at);
    case 'delete':
      return text.slice(0, at) + text.slice(at + 1 + (e.text.length % 4));
    case 'cut':
      return text.slice(0, at);
    case 'overwrite':
      return text.slice(0, at) + e.text + text.slice(at + e.text.length);
  }
}

/** A campaign file's text: a config (valid or broken) written as YAML or JSON, then edited 0-3 times. */
export const campaignYamlText: fc.Arbitrary<string> = fc
  .tuple(
    campaignConfigInput,
    fc.boolean(),
    fc.oneof(
      { weight: 1, arbitrary: fc.constant([]) },
      { weight: 2, arbitrary: fc.array(textEdit, { minLength: 1, maxLength: 3 }) },
    ),
  )
  .map(([config, asJson, edits]) => {
    const doc = parseDocument('');
    doc.contents = doc.createNode(config) as typeof doc.contents;
    const text = asJson ? `${safeJson(config)}\n` : doc.toString();
    return edits.reduce(applyEdit, text);
  });

/** The campaign-file surface, writing each text to a file under `dir`. */
export function campaignYamlFiles(dir: string): Surface<string> {
  let n = 0;
  return {
    name: 'campaign config (YAML file)',
    arbitrary: campaignYamlText,
    check(text) {
      const file = path.join(dir, `campaign-${n++ % 16}.yaml`);
      fs.writeFileSync(file, text);
      let config;
      try {
        config = loadCampaignFile(file);
      } catch (err) {
        if (!(err instanceof ConfigFileError)) throw violation('not a ConfigFileError', text, err);
        if (err.exitCode !== ExitCode.usage || !err.messageOnly)
          throw violation('not a usage error', text, err);
        if (err.file !== file || !err.message.startsWith(`${file}:\n`))
          throw violation('message does not name the file', text, err);
        if (err.problems.length === 0 || err.problems.some((p) => p.trim() === ''))
          throw violation('an empty problem line', text, err);
        // Schema problems name a field (with its line): check the field against what the YAML holds.
        const doc = parseDocument(text, { logLevel: 'error' });
        let data: unknown;
        try {
          if (doc.errors.length > 0) return 'typed-error';
          data = doc.toJS({ maxAliasCount: 100 });
        } catch {
          return 'typed-error';
        }
        const fieldPaths = CampaignConfigSchema.safeParse(data);
        if (!fieldPaths.success)
          for (const issue of fieldPaths.error.issues.slice(0, 8)) {
            if (!namesAField(data, issue.path))
              throw violation(`issue path ${issue.path.map(String).join('.')} is not in the file`, text, err);
            const shown = issue.path.map(String).join('.') || '(root)';
            if (!err.problems.some((p) => p.startsWith(shown)))
              throw violation(`no problem line names ${shown}`, text, err);
          }
        return 'typed-error';
      }
      checkAcceptedConfig(config, text);
      return 'valid';
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// ONNX files

const FLOAT = onnx.TensorProto.DataType.FLOAT;

function tensor(name: string, dims: number[]): onnx.ITensorProto {
  const count = dims.reduce((p, d) => p * d, 1);
  return { name, dataType: FLOAT, dims, rawData: Buffer.alloc(count * 4) };
}

/** A small valid model, Conv -> Relu -> GlobalAveragePool -> Flatten -> Gemm, with a settable input shape. */
function smallModel(inputDims: readonly (number | string)[], channels: number): onnx.IModelProto {
  return {
    irVersion: 8,
    producerName: 'agentic-pruner property tests',
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'g',
      input: [
        {
          name: 'input',
          type: {
            tensorType: {
              elemType: FLOAT,
              shape: {
                dim: inputDims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })),
              },
            },
          },
        },
      ],
      output: [{ name: 'logits', type: { tensorType: { elemType: FLOAT } } }],
      initializer: [
        tensor('conv.weight', [channels, 3, 3, 3]),
        tensor('conv.bias', [channels]),
        tensor('fc.weight', [10, channels]),
        tensor('fc.bias', [10]),
      ],
      node: [
        {
          opType: 'Conv',
          name: '/conv/Conv',
          input: ['input', 'conv.weight', 'conv.bias'],
          output: ['c'],
          attribute: [{ name: 'pads', type: onnx.AttributeProto.AttributeType.INTS, ints: [1, 1, 1, 1] }],
        },
        { opType: 'Relu', name: '/Relu', input: ['c'], output: ['r'] },
        { opType: 'GlobalAveragePool', name: '/pool/GlobalAveragePool', input: ['r'], output: ['p'] },
        { opType: 'Flatten', name: '/Flatten', input: ['p'], output: ['f'] },
        {
          opType: 'Gemm',
          name: '/fc/Gemm',
          input: ['f', 'fc.weight', 'fc.bias'],
          output: ['logits'],
          attribute: [{ name: 'transB', type: onnx.AttributeProto.AttributeType.INT, i: 1 }],
        },
      ],
    },
  };
}

function encode(model: onnx.IModelProto): Buffer {
  return Buffer.from(onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish());
}

/** A dim as a user or a broken exporter might declare it. */
const dim = fc.oneof(
  { weight: 4, arbitrary: fc.integer({ min: 1, max: 64 }) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      0,
      -1,
      -7,
      1 << 20,
      (1 << 20) + 1,
      2 ** 31,
      2 ** 40,
      2 ** 53,
      100000,
      'batch',
      '',
    ),
  },
  { weight: 1, arbitrary: fc.integer({ min: -(2 ** 40), max: 2 ** 40 }) },
);

/** What one ONNX case is: the bytes of a file, and how they were made (for failure messages). */
export interface OnnxCase {
  how: string;
  bytes: Buffer;
}

/** Odd Conv attributes and weight dims, for {@link oddConv}. */
export interface ConvAttrs {
  strides: number[];
  pads: number[];
  dilations: number[];
  group: number;
  weight: number[];
  size: number;
}

/** The small model with its Conv's attributes and weight dims replaced. */
export function oddConv(a: ConvAttrs): OnnxCase {
  const model = smallModel([1, 3, a.size, a.size], 4);
  const ints = onnx.AttributeProto.AttributeType.INTS;
  const conv = model.graph!.node![0]!;
  conv.attribute = [
    ...(a.strides.length ? [{ name: 'strides', type: ints, ints: a.strides }] : []),
    ...(a.pads.length ? [{ name: 'pads', type: ints, ints: a.pads }] : []),
    ...(a.dilations.length ? [{ name: 'dilations', type: ints, ints: a.dilations }] : []),
    { name: 'group', type: onnx.AttributeProto.AttributeType.INT, i: a.group },
  ];
  model.graph!.initializer![0] = tensor('conv.weight', a.weight);
  return { how: `conv ${safeJson(a)}`, bytes: encode(model) };
}

export const onnxCase: fc.Arbitrary<OnnxCase> = fc.oneof(
  // A valid model with plausible or implausible declared input shapes (and a possibly wrong rank).
  fc
    .tuple(fc.array(dim, { minLength: 0, maxLength: 6 }), fc.integer({ min: 1, max: 16 }), fc.boolean())
    .map(([dims, channels, nchw]) => {
      const shape = nchw && dims.length >= 2 ? [dims[0]!, 3, ...dims.slice(2, 4)] : dims;
      return {
        how: `input shape [${shape.join(', ')}], ${channels} channels`,
        bytes: encode(smallModel(shape, channels)),
      };
    }),
  // A valid graph whose Conv has odd attributes or weight dims (strides 0, negative pads, a wrong group...).
  fc
    .record({
      strides: fc.array(fc.constantFrom(1, 2, 0, -1, 3, 2 ** 31), { minLength: 0, maxLength: 3 }),
      pads: fc.array(fc.constantFrom(0, 1, -1, -5, 100, 2 ** 31), { minLength: 0, maxLength: 5 }),
      dilations: fc.array(fc.constantFrom(1, 2, 0, -1), { minLength: 0, maxLength: 3 }),
      group: fc.constantFrom(1, 1, 2, 3, 0, -1),
      weight: fc.array(fc.constantFrom(1, 2, 3, 4, 0, 5), { minLength: 1, maxLength: 5 }),
      size: fc.integer({ min: 1, max: 16 }),
    })
    .map(oddConv),
  // A valid model, truncated.
  fc.tuple(fc.integer({ min: 1, max: 64 }), fc.double({ min: 0, max: 1, noNaN: true })).map(([size, cut]) => {
    const bytes = encode(smallModel([1, 3, size, size], 4));
    const at = Math.floor(bytes.length * cut);
    return { how: `truncated at ${at} of ${bytes.length} bytes`, bytes: bytes.subarray(0, at) };
  }),
  // A valid model with bytes overwritten.
  fc
    .tuple(
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
      fc.integer({ min: 1, max: 8 }),
    )
    .map(([edits, channels]) => {
      const bytes = encode(smallModel([1, 3, 16, 16], channels));
      for (const [at, b] of edits) bytes[at % bytes.length] = b;
      return {
        how: `bytes overwritten at ${edits.map(([a, b]) => `${a % bytes.length}=${b}`).join(',')}`,
        bytes,
      };
    }),
  // Garbage.
  fc
    .uint8Array({ minLength: 0, maxLength: 512 })
    .map((a) => ({ how: `${a.length} random bytes`, bytes: Buffer.from(a) })),
);

/** The ONNX surface through the real reader and profiler, writing each case to a file under `dir`. */
export function onnxFiles(dir: string): Surface<OnnxCase> {
  let n = 0;
  return {
    name: 'ONNX file',
    arbitrary: onnxCase,
    async check(c) {
      const file = path.join(dir, `model-${n++ % 16}.onnx`);
      fs.writeFileSync(file, c.bytes);
      let profile;
      try {
        profile = await profileOnnx(file);
      } catch (err) {
        if (!(err instanceof OnnxError)) throw violation('not an OnnxError', c.how, err);
        if (!err.messageOnly) throw violation('printed with a stack', c.how, err);
        if (err instanceof UnsupportedOpError) {
          if (err.nodeName === '' || !err.message.includes(JSON.stringify(err.nodeName)))
            throw violation('an unsupported op that names no node', c.how, err);
        } else if (!err.message.startsWith(`${file}: `)) {
          throw violation('message does not name the file', c.how, err);
        }
        return 'typed-error';
      }
      const counts = [profile.macs, profile.params, ...profile.nodes.map((x) => x.macs)];
      if (counts.some((x) => !Number.isFinite(x) || x < 0))
        throw violation(
          `a profile with a non-finite or negative count (macs ${profile.macs}, params ${profile.params})`,
          c.how,
        );
      return 'valid';
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// LLM replies

const ratio = fc.oneof(
  { weight: 4, arbitrary: fc.double({ min: 0, max: 0.95, noNaN: true }) },
  { weight: 1, arbitrary: fc.constantFrom(0.96, 1, -0.1, '0.3', null, 1e9) },
);

/** A strategy as a model might send it: mostly well formed. */
const proposedStrategy = fc.record(
  {
    pruningRatio: ratio,
    importance: fc.constantFrom('l1', 'l2', 'taylor', 'bn_scale', 'lamp', 'random', 'l2', 'L2'),
    globalPruning: fc.boolean(),
    isomorphic: fc.boolean(),
    roundTo: fc.oneof(
      { weight: 4, arbitrary: fc.integer({ min: 1, max: 256 }) },
      { weight: 1, arbitrary: fc.constantFrom(0, 8.5, 512) },
    ),
    maxLayerRatio: fc.double({ min: 0.01, max: 1, noNaN: true }),
    stageRatios: fc.dictionary(
      fc.constantFrom('layer1', 'layer2', 'layer3', 'layer4', 'layer5', 'layer4.2', 'fc', 'head'),
      ratio,
      { maxKeys: 3 },
    ),
    ignoredLayers: fc.array(fc.constantFrom('conv1', 'fc', 'layer1.0.conv1', ''), { maxLength: 3 }),
    iterativeSteps: fc.integer({ min: 1, max: 100 }),
    rationale: fc.string({ maxLength: 80 }),
  },
  { requiredKeys: ['pruningRatio', 'importance', 'globalPruning', 'isomorphic', 'roundTo'] },
);

const toolInput: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: proposedStrategy },
  {
    weight: 3,
    arbitrary: fc
      .tuple(proposedStrategy, fc.array(mutation, { minLength: 1, maxLength: 2 }))
      .map(([s, ms]) => mutate(s, ms)),
  },
  { weight: 1, arbitrary: proposedStrategy.map((s) => JSON.stringify(s)) },
  {
    weight: 1,
    arbitrary: fc.tuple(proposedStrategy, fc.nat()).map(([s, cut]) => {
      const t = JSON.stringify(s);
      return t.slice(0, cut % t.length);
    }),
  },
  { weight: 1, arbitrary: junk },
);

const block = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      type: fc.constant('tool_use' as const),
      id: fc.constant('toolu_1'),
      name: fc.constantFrom('propose_strategy', 'propose_strategy', 'other_tool', ''),
      input: toolInput,
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      type: fc.constant('text' as const),
      text: fc.string({ maxLength: 60 }),
      citations: fc.constant(null),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      type: fc.constant('thinking' as const),
      thinking: fc.string({ maxLength: 30 }),
      signature: fc.constant('sig'),
    }),
  },
);

/** One reply: 0-3 content blocks, any stop reason; and whether the history holds an attempt it may repeat. */
export interface ReplyCase {
  reply: Message;
  mode: 'full' | 'shape';
  repeatOf: Strategy | undefined;
}

export const replyCase: fc.Arbitrary<ReplyCase> = fc
  .tuple(
    fc.array(block, { maxLength: 3 }),
    fc.constantFrom('tool_use', 'end_turn', 'max_tokens', 'refusal', 'stop_sequence', 'pause_turn'),
    fc.constantFrom('full' as const, 'shape' as const),
    fc.boolean(),
  )
  .map(([content, stopReason, mode, seeded]) => {
    const reply = {
      id: 'msg_prop',
      type: 'message',
      role: 'assistant',
      model: 'claude-sonnet-5-5',
      content,
      stop_reason: stopReason,
      stop_sequence: null,
      usage: { input_tokens: 100, output_tokens: 50 },
    } as unknown as Message;
    // Half the cases have the proposed strategy already in the history (a repeat), where it parses.
    const first = content.find((b) => b.type === 'tool_use');
    const parsed = first && StrategySchema.safeParse(first.input);
    return { reply, mode, repeatOf: seeded && parsed?.success ? parsed.data : undefined };
  });

/** The reply checker of the Claude agent (the function that turns a reply into a Strategy or a repair). */
export function llmReplies(
  base: Omit<ProposeInput, 'history'>,
  stages: readonly string[],
): Surface<ReplyCase> {
  return {
    name: 'LLM reply',
    arbitrary: replyCase,
    check(c) {
      const history = c.repeatOf
        ? [
            {
              index: 1,
              agent: 'claude' as const,
              strategy: c.repeatOf,
              macs: 1e9,
              params: 1e6,
              deviation: 0.2,
              inBand: false,
              wallMs: 10,
            },
          ]
        : [];
      const input: ProposeInput = { ...base, history };
      let check;
      try {
        check = checkReply(c.reply, input, c.mode);
      } catch (err) {
        throw violation('checkReply threw (a bad reply must become a repair or a fallback)', c, err);
      }
      if (!check.ok) {
        if (check.problem.trim() === '' || check.problem.includes('\n'))
          throw violation(`not a one-line problem: ${JSON.stringify(check.problem)}`, c);
        const call = c.reply.content.find((b) => b.type === 'tool_use' && b.name === 'propose_strategy');
        // A schema problem names fields of the tool input: `a.b: message; c: message`.
        if (call && call.type === 'tool_use' && c.reply.stop_reason !== 'refusal') {
          let raw: unknown = call.input;
          if (typeof raw === 'string')
            try {
              raw = JSON.parse(raw);
            } catch {
              return 'typed-error';
            }
          const schema = StrategySchema.safeParse(raw);
          if (!schema.success)
            for (const issue of schema.error.issues.slice(0, 5)) {
              const shown = issue.path.map(String).join('.') || '(root)';
              if (!namesAField(raw, issue.path) || !check.problem.includes(`${shown}: `))
                throw violation(`the problem does not name ${shown}: ${check.problem}`, c);
            }
        }
        return 'typed-error';
      }
      const s = check.strategy;
      if (!StrategySchema.safeParse(s).success)
        throw violation('accepted a strategy outside StrategySchema', c);
      for (const k of Object.keys(s.stageRatios ?? {}))
        if (!stages.some((st) => st === k || st.startsWith(`${k}.`) || k.startsWith(`${st}.`)))
          throw violation(`accepted an unknown stage ${k}`, c);
      for (const l of base.baseStrategy.ignoredLayers ?? [])
        if (!(s.ignoredLayers ?? []).includes(l)) throw violation(`dropped the user's ignored layer ${l}`, c);
      if (c.mode === 'full' && c.repeatOf && strategyKey(c.repeatOf) === strategyKey(s))
        throw violation('accepted a strategy already measured', c);
      return 'valid';
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// Artifact keys and campaign ids

const segment = fc.oneof(
  { weight: 4, arbitrary: fc.stringMatching(/^[A-Za-z0-9._-]{1,12}$/) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      '..',
      '.',
      '',
      '~',
      '%2e%2e',
      'a\\b',
      'c:',
      '\0',
      '\n',
      'é',
      '💥',
      ' ',
      '-',
      '--x',
      'a'.repeat(256),
    ),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 8 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 8 }) },
);

/** A key as a caller might pass it: 0-6 segments joined with `/`, sometimes with a leading or trailing `/`. */
export const keyText: fc.Arbitrary<string> = fc
  .tuple(fc.array(segment, { maxLength: 6 }), fc.boolean(), fc.boolean(), fc.nat({ max: 10 }))
  .map(([segs, lead, trail, long]) => {
    const body = segs.join('/');
    return `${lead ? '/' : ''}${long === 0 ? body.repeat(80) : body}${trail ? '/' : ''}`;
  });

/** What a valid key must be: no way out of the store's root. */
function checkSafeKey(key: string, input: unknown): void {
  const root = '/store/root';
  const resolved = path.posix.resolve(root, key);
  if (!resolved.startsWith(`${root}/`) || path.posix.normalize(key) !== key || key.includes('\\'))
    throw violation(
      `accepted a key that leaves the store's root or is not normal: ${JSON.stringify(key)}`,
      input,
    );
}

export const artifactKeys: Surface<{ key: string; parts: [string, string, string, string] }> = {
  name: 'artifact key',
  arbitrary: fc.record({ key: keyText, parts: fc.tuple(segment, segment, segment, segment) }),
  check({ key, parts }) {
    let outcome: Outcome = 'valid';
    try {
      if (validateKey(key) !== key) throw violation('validateKey changed the key', key);
      checkSafeKey(key, key);
    } catch (err) {
      if (err instanceof PropertyViolation) throw err;
      if (
        !(err instanceof ArtifactKeyError) ||
        err.key !== key ||
        !err.message.startsWith(`artifact key ${JSON.stringify(key)}: `)
      )
        throw violation('not an ArtifactKeyError naming the key', key, err);
      outcome = 'typed-error';
    }
    let built: string;
    try {
      built = artifactKey(...parts);
    } catch (err) {
      if (!(err instanceof ArtifactKeyError) || !(err instanceof PrunerError))
        throw violation('not an ArtifactKeyError', parts, err);
      if (!parts.some((p) => err.key === p) && err.key !== `campaigns/${parts.join('/')}`)
        throw violation('the error names neither a part nor the key', parts, err);
      return 'typed-error';
    }
    if (built !== `campaigns/${parts.join('/')}` || built.split('/').length !== 5)
      throw violation(`artifactKey built ${built}: not one segment per part`, parts);
    checkSafeKey(built, parts);
    return outcome;
  },
};

export const campaignIds: Surface<string> = {
  name: 'campaign id',
  arbitrary: fc.oneof(
    { weight: 3, arbitrary: fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,30}$/) },
    { weight: 2, arbitrary: keyText },
    { weight: 1, arbitrary: fc.tuple(segment, segment).map(([a, b]) => `${a}--${b}`) },
    { weight: 1, arbitrary: fc.integer({ min: 95, max: 105 }).map((n) => 'c'.repeat(n)) },
  ),
  check(id) {
    let problem: string | undefined;
    try {
      problem = campaignIdProblem(id);
    } catch (err) {
      throw violation('campaignIdProblem threw', id, err);
    }
    if (problem !== undefined) {
      if (problem.trim() === '' || problem.includes('\n')) throw violation('not a one-line problem', id);
      return 'typed-error';
    }
    // An accepted id is one safe segment: every key built from it stays in its own campaign's folder.
    if (id.length > 100 || id.includes('--') || id.includes('/'))
      throw violation('accepted an unsafe id', id);
    let key: string;
    try {
      key = artifactKey(id, 't1', 'profile', 'profile.json');
    } catch (err) {
      throw violation('an accepted id makes an invalid artifact key', id, err);
    }
    checkSafeKey(key, id);
    if (path.posix.dirname(path.posix.dirname(path.posix.dirname(key))) !== `campaigns/${id}`)
      throw violation('the key of an accepted id is not under campaigns/<id>', id);
    return 'valid';
  },
};
