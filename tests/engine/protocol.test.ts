// The engine's result JSON is parsed, not cast: a mismatch names the job and the field.
import {
  EngineProtocolError,
  FinetuneResultSchema,
  parseEngineResult,
  PruneResultSchema,
} from '../../src/engine';

const prune = {
  denseMacs: 4.1e9,
  macs: 1.77e9,
  params: 1.2e7,
  stages: [{ name: 'layer1', macs: 1e9, params: 2e5, share: 0.5 }],
  saved: { dir: '/tmp/out', stateDict: { path: '/tmp/out/model.pt' } },
  keptChannels: { conv1: 32 },
  wallMs: 812,
  warm: true,
};

test('a prune result parses, extra fields pass through', () => {
  const res = parseEngineResult('prune', PruneResultSchema, prune);
  expect(res).toEqual(prune);
});

test('a finetune result may have no loss curve and a null images/s', () => {
  const res = parseEngineResult('finetune', FinetuneResultSchema, {
    steps: 0,
    imagesPerSec: null,
    wallMs: 5,
  });
  expect(res).toMatchObject({ steps: 0, imagesPerSec: null, wallMs: 5 });
});

test.each([
  // [job, schema, result, field named in the message]
  ['prune', PruneResultSchema, { ...prune, saved: {} }, 'saved.dir'],
  ['prune', PruneResultSchema, { ...prune, macs: '1.77G' }, 'macs'],
  ['prune', PruneResultSchema, { ...prune, stages: [{ name: 'x', macs: 1 }] }, 'stages.0.params'],
  ['finetune', FinetuneResultSchema, { steps: 10, wallMs: 5 }, 'imagesPerSec'],
  [
    'finetune',
    FinetuneResultSchema,
    { steps: 10, imagesPerSec: 1, wallMs: 5, lossCurve: [{}] },
    'lossCurve.0.step',
  ],
] as const)('%s result (case %#) names the bad field', (job, schema, data, field) => {
  expect(() => parseEngineResult(job, schema, data)).toThrow(EngineProtocolError);
  expect(() => parseEngineResult(job, schema, data)).toThrow(
    `engine ${job}: result does not match the protocol`,
  );
  expect(() => parseEngineResult(job, schema, data)).toThrow(field);
});
