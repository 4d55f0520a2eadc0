// The bad-input property suite (issue 16, item 2): for each surface, 2,000 generated inputs with a fixed
// seed through the real code (the campaign-file loader and CampaignConfigSchema, the ONNX reader and
// profiler, the Claude agent's reply check, artifact keys, campaign ids). Each input must end in a valid
// result or in the typed error naming the culprit field or file (tests/property/surfaces.ts says how each
// is judged); bench/bad-input.ts runs the same generators with more runs and counts the outcomes.
import * as fc from 'fast-check';
import { PROFILE, proposeInput } from '../agents/claude-fixtures';
import { tempDir } from '../support/test-env';
import {
  artifactKeys,
  campaignConfigObjects,
  campaignIds,
  campaignYamlFiles,
  llmReplies,
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
