import { CampaignConfigSchema, type CampaignConfigInput } from '../../src/core/campaign-config';
import { formatZodIssues } from '../../src/core/errors';

const BASE: CampaignConfigInput = { model: { name: 'democnn' }, targets: [{ fraction: 0.5 }] };
const DATASET = { root: '/data/shapes' };

function problems(config: unknown): string {
  const r = CampaignConfigSchema.safeParse(config);
  return r.success ? '' : formatZodIssues(r.error.issues);
}

describe('campaign config: search scoring fields', () => {
  test('defaults with a dataset: six candidates, a sensitivity table at 0.5, the best 3 again after 40 steps', () => {
    const c = CampaignConfigSchema.parse({ ...BASE, dataset: DATASET });
    expect(c.search).toMatchObject({
      candidates: 6,
      sensitivity: { ratios: [0.5] },
      recovery: { batchSize: 32, lr: 0.002, rescore: { top: 3, steps: 40, maxShare: 0.1 } },
      extendedSearch: 3,
    });
    // zero-shot, the default, is the first stage: the recovery is the finalists' alone.
    expect(c.search.scoring).toBeUndefined();
    expect(c.search.recovery?.steps).toBeUndefined();
    // A stored config parses to itself again: the filled extendedSearch keeps later parses from filling more.
    expect(CampaignConfigSchema.parse(c)).toEqual(c);
  });

  test('without a dataset, or with extendedSearch (the older knob), nothing is filled in', () => {
    for (const config of [BASE, { ...BASE, dataset: DATASET, search: { extendedSearch: 3 } }]) {
      const c = CampaignConfigSchema.parse(config);
      expect(c.search.candidates).toBeUndefined();
      expect(c.search.sensitivity).toBeUndefined();
      expect(c.search.recovery).toBeUndefined();
      expect(c.search.extendedSearch).toBe(3);
    }
    // A config parsed before these defaults (extendedSearch filled, no scoring) parses unchanged: a retry
    // with --set on an older campaign does not change its search.
    const older = { ...BASE, dataset: DATASET, search: CampaignConfigSchema.parse(BASE).search };
    expect(CampaignConfigSchema.parse(older).search).toEqual(older.search);
  });

  test.each<[string, Record<string, unknown>, Record<string, unknown>]>([
    [
      'scoring zero-shot alone',
      { scoring: 'zero-shot' },
      { scoring: 'zero-shot', candidates: 6, recovery: undefined },
    ],
    [
      'scoring recovery',
      { scoring: 'recovery' },
      { scoring: 'recovery', candidates: 6, sensitivity: { ratios: [0.5] }, recovery: undefined },
    ],
    [
      'four candidates',
      { candidates: 4 },
      {
        candidates: 4,
        sensitivity: { ratios: [0.5] },
        recovery: { batchSize: 32, lr: 0.002, rescore: { top: 3, steps: 40, maxShare: 0.1 } },
      },
    ],
    [
      'three candidates: two finalists',
      { candidates: 3 },
      {
        candidates: 3,
        recovery: { batchSize: 32, lr: 0.002, rescore: { top: 2, steps: 40, maxShare: 0.1 } },
      },
    ],
    [
      'two candidates: no finalists',
      { candidates: 2 },
      { candidates: 2, sensitivity: { ratios: [0.5] }, recovery: undefined },
    ],
    [
      'one candidate: no table, no finalists',
      { candidates: 1 },
      { candidates: 1, sensitivity: undefined, recovery: undefined },
    ],
    ['sensitivity off', { sensitivity: false }, { candidates: 6, sensitivity: false }],
    ['another table', { sensitivity: { ratios: [0.3, 0.6] } }, { sensitivity: { ratios: [0.3, 0.6] } }],
    [
      'other finalists',
      { recovery: { rescore: { top: 2, steps: 80 }, lr: 0.002 } },
      { scoring: undefined, recovery: { batchSize: 32, lr: 0.002, rescore: { top: 2, steps: 80 } } },
    ],
  ])('with a dataset, what the search gives wins: %s', (_label, search, expected) => {
    const c = CampaignConfigSchema.parse({ ...BASE, dataset: DATASET, search });
    for (const [field, value] of Object.entries(expected))
      expect(c.search[field as keyof typeof c.search]).toEqual(value);
  });

  test('a full scored search parses, with the recovery defaults filled in', () => {
    const c = CampaignConfigSchema.parse({
      ...BASE,
      dataset: DATASET,
      search: {
        scoring: 'recovery',
        recovery: {},
        candidates: 3,
        sensitivity: { ratios: [0.3, 0.6] },
        scoreImages: 128,
      },
    });
    expect(c.search).toMatchObject({
      scoring: 'recovery',
      recovery: { steps: 50, batchSize: 32, lr: 1e-3 },
      candidates: 3,
      sensitivity: { ratios: [0.3, 0.6] },
      scoreImages: 128,
    });
  });

  /** `search.recovery` as parsed from a recovery-scored search with a dataset and a fine-tune. */
  const recoveryOf = (recovery: Record<string, unknown>, search: Record<string, unknown> = {}) =>
    CampaignConfigSchema.parse({
      ...BASE,
      dataset: DATASET,
      finetune: { epochs: 1 },
      search: { scoring: 'recovery', recovery, ...search },
    }).search.recovery;

  test('a two-stage recovery parses, with steps or with a share', () => {
    const parse = (recovery: Record<string, unknown>) => recoveryOf(recovery, { candidates: 6 });
    expect(parse({ steps: 10, rescore: { top: 3, steps: 40 } })).toEqual({
      steps: 10,
      batchSize: 32,
      lr: 1e-3,
      rescore: { top: 3, steps: 40 },
    });
    // The default 50 first steps are below the finalists' 80.
    expect(parse({ rescore: { top: 2, steps: 80 } })?.steps).toBe(50);
    expect(parse({ share: 0.1, rescore: { top: 3, steps: 40 } })).toEqual({
      share: 0.1,
      batchSize: 32,
      lr: 1e-3,
      rescore: { top: 3, steps: 40 },
    });
  });

  test("a zero-shot first stage parses without first steps: the recovery is the finalists' alone", () => {
    const c = CampaignConfigSchema.parse({
      ...BASE,
      dataset: DATASET,
      search: {
        scoring: 'zero-shot',
        candidates: 6,
        recovery: { lr: 0.002, rescore: { top: 3, steps: 40 } },
      },
    });
    expect(c.search.scoring).toBe('zero-shot');
    expect(c.search.recovery).toEqual({ batchSize: 32, lr: 0.002, rescore: { top: 3, steps: 40 } });
  });

  test('a recovery share parses without steps (the campaign sets them); without a share steps default to 50', () => {
    const parse = (recovery: Record<string, unknown>) => recoveryOf(recovery);
    expect(parse({ share: 0.1 })).toEqual({ share: 0.1, batchSize: 32, lr: 1e-3 });
    expect(parse({ lr: 0.002 })).toEqual({ steps: 50, batchSize: 32, lr: 0.002 });
    expect(parse({ steps: 160 })).toEqual({ steps: 160, batchSize: 32, lr: 1e-3 });
    // epochs of train/ per candidate: steps too are the campaign's to set, and no finetune section is needed
    expect(parse({ epochs: 0.25 })).toEqual({ epochs: 0.25, batchSize: 32, lr: 1e-3 });
    const noFinetune = CampaignConfigSchema.parse({
      ...BASE,
      dataset: DATASET,
      search: {
        scoring: 'recovery',
        candidates: 6,
        recovery: { epochs: 0.5, rescore: { top: 3, steps: 400 } },
      },
    }).search.recovery;
    expect(noFinetune).toEqual({ epochs: 0.5, batchSize: 32, lr: 1e-3, rescore: { top: 3, steps: 400 } });
  });

  // [label, search section, dataset?, the field the error names, words of the message]
  test.each<[string, Record<string, unknown>, boolean, string, string]>([
    [
      'recovery.steps 0',
      { scoring: 'recovery', recovery: { steps: 0 } },
      true,
      'search.recovery.steps',
      '>=1',
    ],
    [
      'recovery.steps huge',
      { scoring: 'recovery', recovery: { steps: 1e6 } },
      true,
      'search.recovery.steps',
      '<=10000',
    ],
    ['recovery.lr 0', { scoring: 'recovery', recovery: { lr: 0 } }, true, 'search.recovery.lr', '>0'],
    [
      'recovery batchSize 0',
      { scoring: 'recovery', recovery: { batchSize: 0 } },
      true,
      'search.recovery.batchSize',
      '>=1',
    ],
    [
      'recovery without a scoring mode',
      { recovery: { steps: 5 } },
      true,
      'search.recovery',
      "the recovery fine-tune is used with scoring: 'recovery', or with scoring: 'zero-shot' for the finalists",
    ],
    [
      'a zero-shot first stage without finalists',
      { scoring: 'zero-shot', recovery: { lr: 0.002 } },
      true,
      'search.recovery.rescore',
      'set recovery.rescore: { top, steps }',
    ],
    [
      'a zero-shot first stage with recovery steps',
      { scoring: 'zero-shot', candidates: 6, recovery: { steps: 10, rescore: { top: 3, steps: 40 } } },
      true,
      'search.recovery.steps',
      "with scoring: 'zero-shot' the first scores have no recovery: remove recovery.steps",
    ],
    [
      'a zero-shot first stage with a share',
      { scoring: 'zero-shot', candidates: 6, recovery: { share: 0.1, rescore: { top: 3, steps: 40 } } },
      true,
      'search.recovery.share',
      'remove recovery.share',
    ],
    [
      'a cap on the finalists of a recovery-scored search',
      {
        scoring: 'recovery',
        candidates: 6,
        recovery: { steps: 10, rescore: { top: 3, steps: 40, maxShare: 0.1 } },
      },
      true,
      'search.recovery.rescore.maxShare',
      "caps the finalists of a zero-shot first stage: with scoring: 'recovery' set the whole scoring's budget as recovery.share instead",
    ],
    [
      'a cap above the whole fine-tune',
      { candidates: 6, recovery: { rescore: { top: 3, steps: 40, maxShare: 1.5 } } },
      true,
      'search.recovery.rescore.maxShare',
      '1',
    ],
    [
      'a zero-shot first stage rescoring every candidate',
      { scoring: 'zero-shot', extendedSearch: 3, recovery: { rescore: { top: 4, steps: 40 } } },
      true,
      'search.recovery.rescore.top',
      '4 finalists of 4 candidates',
    ],
    ['a typo in recovery', { scoring: 'recovery', recovery: { step: 5 } }, true, 'search.recovery', 'step'],
    [
      'recovery.share 0',
      { scoring: 'recovery', recovery: { share: 0 } },
      true,
      'search.recovery.share',
      '>0',
    ],
    [
      'recovery.share over 1',
      { scoring: 'recovery', recovery: { share: 1.5 } },
      true,
      'search.recovery.share',
      '<=1',
    ],
    [
      'recovery steps and share',
      { scoring: 'recovery', recovery: { steps: 40, share: 0.1 } },
      true,
      'search.recovery.share',
      'set the recovery length one way: steps (per candidate), share (of the final fine-tune) or epochs (of train/ per candidate), not steps and share',
    ],
    [
      'recovery steps and epochs',
      { scoring: 'recovery', recovery: { steps: 40, epochs: 0.25 } },
      true,
      'search.recovery.epochs',
      'not steps and epochs',
    ],
    [
      'recovery.epochs 0',
      { scoring: 'recovery', recovery: { epochs: 0 } },
      true,
      'search.recovery.epochs',
      '>0',
    ],
    [
      'recovery.epochs over 100',
      { scoring: 'recovery', recovery: { epochs: 101 } },
      true,
      'search.recovery.epochs',
      '<=100',
    ],
    [
      'a zero-shot first stage with recovery.epochs',
      { scoring: 'zero-shot', candidates: 6, recovery: { epochs: 0.25, rescore: { top: 3, steps: 40 } } },
      true,
      'search.recovery.epochs',
      "with scoring: 'zero-shot' the first scores have no recovery: remove recovery.epochs",
    ],
    [
      'recovery.share without a fine-tune',
      { scoring: 'recovery', recovery: { share: 0.1 } },
      true,
      'search.recovery.share',
      'needs a finetune section',
    ],
    [
      'rescore with one finalist',
      { scoring: 'recovery', recovery: { steps: 10, rescore: { top: 1, steps: 40 } } },
      true,
      'search.recovery.rescore.top',
      '>=2',
    ],
    [
      'rescore no longer than the first scores',
      { scoring: 'recovery', candidates: 6, recovery: { steps: 40, rescore: { top: 3, steps: 40 } } },
      true,
      'search.recovery.rescore.steps',
      'set rescore.steps above steps',
    ],
    [
      'rescore of every candidate',
      { scoring: 'recovery', candidates: 3, recovery: { steps: 10, rescore: { top: 3, steps: 40 } } },
      true,
      'search.recovery.rescore.top',
      '3 finalists of 3 candidates (search.candidates, else 1 + extendedSearch) rescores every one: set top below 3',
    ],
    [
      'rescore of every candidate of the extended search',
      { scoring: 'recovery', extendedSearch: 3, recovery: { rescore: { top: 4, steps: 400 } } },
      true,
      'search.recovery.rescore.top',
      '4 finalists of 4 candidates',
    ],
    [
      'a typo in rescore',
      { scoring: 'recovery', recovery: { rescore: { top: 2, step: 40 } } },
      true,
      'search.recovery.rescore',
      'step',
    ],
    ['an unknown scoring mode', { scoring: 'few-shot' }, true, 'search.scoring', 'zero-shot'],
    [
      'scoring recovery without a dataset',
      { scoring: 'recovery' },
      false,
      'search.scoring',
      'needs a dataset',
    ],
    [
      'sensitivity without a dataset',
      { sensitivity: { ratios: [0.5] }, candidates: 3 },
      false,
      'search.sensitivity',
      'needs a dataset',
    ],
    ['scoreImages without a dataset', { scoreImages: 64 }, false, 'search.scoreImages', 'needs a dataset'],
    [
      'sensitivity with extendedSearch instead of candidates',
      { sensitivity: { ratios: [0.5] }, extendedSearch: 3 },
      true,
      'search.sensitivity',
      'search.candidates',
    ],
    [
      'a sensitivity ratio of 1',
      { sensitivity: { ratios: [1] }, candidates: 2 },
      true,
      'search.sensitivity.ratios.0',
      '<=0.95',
    ],
    ['rankBy without a dataset', { rankBy: 'loss' }, false, 'search.rankBy', 'needs a dataset'],
    ['an unknown rankBy', { rankBy: 'top5' }, true, 'search.rankBy', '"top1"|"loss"'],
    ['candidates 0', { candidates: 0 }, true, 'search.candidates', '>=1'],
    ['scoreImages 0', { scoreImages: 0 }, true, 'search.scoreImages', '>=1'],
  ])('%s: one error naming the field', (_label, search, withDataset, field, words) => {
    const p = problems({ ...BASE, search, ...(withDataset ? { dataset: DATASET } : {}) });
    expect(p).toContain(`${field}:`);
    expect(p).toContain(words);
  });

  test('rankBy loss with a dataset is accepted, and absent it stays absent (top-1, as before)', () => {
    expect(problems({ ...BASE, search: { scoring: 'recovery', rankBy: 'loss' }, dataset: DATASET })).toBe('');
    expect(CampaignConfigSchema.parse({ ...BASE, dataset: DATASET }).search.rankBy).toBeUndefined();
  });

  test('sensitivity: false and candidates without a dataset are accepted (nothing to score)', () => {
    expect(problems({ ...BASE, search: { sensitivity: false, candidates: 3 } })).toBe('');
  });
});
