// The bad-input property suite (issue 16, item 2): for each surface, 2,000 generated inputs with a fixed
// seed through the real code (the campaign-file loader and CampaignConfigSchema, the ONNX reader and
// profiler, the Claude agent's reply check, artifact keys, campaign ids). Each input must end in a valid
// result or in the typed error naming the culprit field or file (tests/property/surfaces.ts says how each
// is judged); bench/bad-input.ts runs the same generators with more runs and counts the outcomes.
import * as fc from 'fast-check';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigFileError, loadCampaignFile } from '../../src/client/config-file';
import { profileOnnx } from '../../src/onnx';
import { PROFILE, proposeInput } from '../agents/claude-fixtures';
import { tempDir } from '../support/test-env';
import {
  artifactKeys,
  campaignConfigObjects,
  campaignIds,
  campaignYamlFiles,
  llmReplies,
  oddConv,
  onnxFiles,
  type Outcome,
  type Surface,
} from './surfaces';

const NUM_RUNS = 2000;
const SEED = 16;

/** Run a surface's property; returns how many cases ended each way (both outcomes must occur). */
async function runSurface<T>(surface: Surface<T>): Promise<Record<Outcome, number>> {
  const seen: Record<Outcome, number> = { valid: 0, 'typed-error': 0 };
  await fc.assert(
    fc.asyncProperty(surface.arbitrary, async (input) => {
      seen[await surface.check(input)] += 1;
    }),
    { numRuns: NUM_RUNS, seed: SEED, endOnFailure: true },
  );
  return seen;
}

describe('bad input: every generated case ends in a valid result or the typed error naming the culprit', () => {
  const dir = tempDir('ap-property-');
  const llmBase = proposeInput([], {
    baseStrategy: {
      importance: 'l2',
      globalPruning: true,
      isomorphic: true,
      roundTo: 8,
      ignoredLayers: ['conv1'],
    },
  });
  const surfaces: Surface<never>[] = [
    campaignConfigObjects,
    campaignYamlFiles(dir),
    onnxFiles(dir),
    llmReplies(
      llmBase,
      PROFILE.stages.map((s) => s.name),
    ),
    artifactKeys,
    campaignIds,
  ] as Surface<never>[];

  test.each(surfaces.map((s) => [s.name, s] as const))('%s', async (_name, surface) => {
    const seen = await runSurface(surface);
    expect(seen.valid + seen['typed-error']).toBe(NUM_RUNS);
    // The generators reach both sides of the line: a suite that only ever errs (or never does) tests little.
    expect(seen.valid).toBeGreaterThan(NUM_RUNS * 0.02);
    expect(seen['typed-error']).toBeGreaterThan(NUM_RUNS * 0.2);
  });
});

// Found by bench/bad-input.ts (10,000 runs): a Conv with a stride of 0 gave a profile of NaN MACs, one with a
// negative stride and pads -1400 MACs. Both are now refused, naming the node.
test.each([
  [
    {
      strides: [0, 0, 2 ** 31],
      pads: [100, 2 ** 31],
      dilations: [1],
      group: 1,
      weight: [4, 3, 2, 0],
      size: 7,
    },
  ],
  [{ strides: [-1, 1], pads: [-1, 0, 0, -5], dilations: [1], group: 1, weight: [4, 3, 4, 1], size: 11 }],
  [{ strides: [1, 1], pads: [], dilations: [0, 1], group: 1, weight: [4, 3, 3, 3], size: 8 }],
])('an ONNX Conv with out-of-range attributes is a typed error naming the node: %j', async (attrs) => {
  const file = path.join(tempDir('ap-property-conv-'), 'conv.onnx');
  fs.writeFileSync(file, oddConv(attrs).bytes);
  await expect(profileOnnx(file)).rejects.toThrow(
    /cannot infer shapes for op Conv \(node "\/conv\/Conv", opset 17\): (kernel_shape|strides|pads|dilations) \[/,
  );
});

// Found by the YAML surface: a map used as a key made yaml print a Node warning beside the one-line error.
test('a campaign file with a map as a key: one ConfigFileError naming the key, no Node warning', () => {
  const file = path.join(tempDir('ap-property-yaml-'), 'campaign.yaml');
  fs.writeFileSync(
    file,
    '? { fraction: 0.5 }\n: 1\nmodel: { name: democnn }\ntargets: [{ fraction: 0.5 }]\n',
  );
  const warn = jest.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
  try {
    expect(() => loadCampaignFile(file)).toThrow(ConfigFileError);
    expect(() => loadCampaignFile(file)).toThrow(
      `${file}:\n  - (root) (line 1): unknown key "{ fraction: 0.5 }"`,
    );
    expect(warn).not.toHaveBeenCalled();
  } finally {
    warn.mockRestore();
  }
});
