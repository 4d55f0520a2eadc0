import { campaignRuns, campaignSearch, campaignSearchError, parseRescore } from '../../bench/accuracy-search';
import { finalistsPlan } from '../../src/core/attempt-selection';
import { modeLabel } from '../../bench/accuracy-verdicts';
import { CampaignConfigSchema } from '../../src/core/campaign-config';

// The search block bench/accuracy starts its campaigns with, and the check that refuses it before any work.
const options = {
  candidates: 6,
  maxIterations: 60,
  recovery: { steps: 40, batchSize: 32, lr: 0.002 },
  rankBy: 'top1' as const,
  scoreImages: 1000 as number | undefined,
  sensitivity: [0.5] as number[] | null,
};

describe('bench/accuracy campaign search block', () => {
  test('carries the options it was given, recovery only for the recovery mode', () => {
    expect(campaignSearch('recovery', options)).toEqual({
      agent: 'solver',
      fallbackAgent: 'solver',
      maxIterations: 60,
      scoring: 'recovery',
      candidates: 6,
      recovery: { steps: 40, batchSize: 32, lr: 0.002 },
      scoreImages: 1000,
      sensitivity: { ratios: [0.5] },
    });
    const zeroShot = campaignSearch('zero-shot', { ...options, rankBy: 'loss', scoreImages: undefined });
    expect(zeroShot).not.toHaveProperty('recovery');
    expect(zeroShot).not.toHaveProperty('scoreImages');
    expect(zeroShot).toMatchObject({ scoring: 'zero-shot', rankBy: 'loss' });
  });

  test('a valid block passes; a bad one is refused naming the field', () => {
    expect(campaignSearchError('recovery', options)).toBeUndefined();
    expect(campaignSearchError('recovery', { ...options, scoreImages: 0 })).toMatch(/^search\.scoreImages: /);
    expect(campaignSearchError('recovery', { ...options, scoreImages: Number('many') })).toMatch(
      /^search\.scoreImages: /,
    );
    expect(
      campaignSearchError('recovery', { ...options, recovery: { ...options.recovery, steps: 0 } }),
    ).toMatch(/^search\.recovery\.steps: /);
  });

  test('default and older-default: the search block a user leaves to the tool, with and without the older knob', () => {
    const rescore = parseRescore('3:40');
    const parsed = (mode: 'default' | 'older-default') =>
      CampaignConfigSchema.parse({
        model: { name: 'democnn' },
        targets: [{ fraction: 0.5 }],
        search: campaignSearch(mode, { ...options, rescore }),
        dataset: { root: '/data/shapes' },
      }).search;
    // The bench's candidates, sensitivity and rescore do not reach these blocks; the tool's defaults fill them.
    expect(campaignSearch('default', { ...options, rescore })).toEqual({
      agent: 'solver',
      fallbackAgent: 'solver',
      maxIterations: 60,
      scoreImages: 1000,
    });
    expect(parsed('default')).toMatchObject({
      candidates: 6,
      sensitivity: { ratios: [0.5] },
      recovery: { batchSize: 32, lr: 0.002, rescore: { top: 3, steps: 40, maxShare: 0.1 } },
    });
    expect(parsed('default').scoring).toBeUndefined();
    // The bench's campaigns carry no `finetune` (it fine-tunes every candidate itself), so the cap is not
    // planned there; at its 2,442-step fine-tune (3.9072 epochs of 625 steps) the cap leaves 3 x 40 as they are,
    // so the benched search is what a user with that fine-tune gets.
    expect(finalistsPlan(0.1, 2442, 6, { top: 3, steps: 40 }).rescore).toEqual({ top: 3, steps: 40 });
    const older = parsed('older-default');
    expect(older.extendedSearch).toBe(3);
    for (const field of ['candidates', 'sensitivity', 'recovery', 'scoring'] as const)
      expect(older[field]).toBeUndefined();
    expect(campaignRuns(['default', 'older-default'], [40], rescore)).toEqual([
      { mode: 'default', label: 'default' },
      { mode: 'older-default', label: 'older-default' },
    ]);
    expect(() => campaignRuns(['zero-shot', 'defaults'], [40])).toThrow(
      '--modes: expected some of zero-shot, recovery, default, older-default; got "defaults"',
    );
  });

  test('--recovery-steps with several lengths: one recovery campaign per length, named by it', () => {
    expect(campaignRuns(['zero-shot', 'recovery'], [40])).toEqual([
      { mode: 'zero-shot', label: 'zero-shot' },
      { mode: 'recovery', recoverySteps: 40, label: 'recovery' },
    ]);
    expect(campaignRuns(['recovery', 'zero-shot'], [10, 160])).toEqual([
      { mode: 'recovery', recoverySteps: 10, label: 'recovery 10 steps' },
      { mode: 'recovery', recoverySteps: 160, label: 'recovery 160 steps' },
      { mode: 'zero-shot', label: 'zero-shot' },
    ]);
    expect(campaignRuns([], [40])).toEqual([]);
    expect(() => campaignRuns(['recovery'], [10, 0])).toThrow(
      '--recovery-steps: expected whole numbers of at least 1, got 10,0',
    );
    expect(() => campaignRuns(['recovery'], [Number('x')])).toThrow(
      '--recovery-steps: expected whole numbers',
    );
    expect(() => campaignRuns(['recovery'], [])).toThrow(
      '--recovery-steps: expected one or more step counts',
    );
  });

  test('--rescore: the campaigns score their finalists again, and are named apart from one-stage ones', () => {
    const rescore = parseRescore('3:40');
    expect(rescore).toEqual({ top: 3, steps: 40 });
    expect(
      campaignSearch('recovery', { ...options, recovery: { ...options.recovery, steps: 10 }, rescore }),
    ).toMatchObject({
      recovery: { steps: 10, batchSize: 32, lr: 0.002, rescore: { top: 3, steps: 40 } },
    });
    // A zero-shot first stage: the recovery is the finalists' alone (no first steps), and the config takes it.
    const zeroShotFirst = campaignSearch('zero-shot', { ...options, rescore });
    expect(zeroShotFirst).toMatchObject({
      scoring: 'zero-shot',
      recovery: { batchSize: 32, lr: 0.002, rescore: { top: 3, steps: 40 } },
    });
    expect(zeroShotFirst?.recovery).not.toHaveProperty('steps');
    expect(campaignSearchError('zero-shot', { ...options, rescore })).toBeUndefined();
    expect(campaignSearch('zero-shot', options)).not.toHaveProperty('recovery');
    expect(campaignRuns(['recovery', 'zero-shot'], [10], rescore)).toEqual([
      { mode: 'recovery', recoverySteps: 10, label: 'recovery 10 steps, top 3 again at 40' },
      { mode: 'zero-shot', label: 'zero-shot, top 3 again at 40' },
    ]);
    expect(modeLabel({ mode: 'zero-shot', scoreSteps: 0, rescore })).toBe('zero-shot, top 3 again at 40');
    expect(modeLabel({ mode: 'zero-shot', scoreSteps: 0 })).toBe('zero-shot');
    // Its rows are judged and pooled under that name, never with a one-stage 10-step campaign's.
    expect(modeLabel({ mode: 'recovery', scoreSteps: 10, rescore })).toBe(
      'recovery 10 steps, top 3 again at 40',
    );
    expect(modeLabel({ mode: 'recovery', scoreSteps: 10 })).toBe('recovery 10 steps');
    // The campaign config refuses a bad second stage before any work: as many finalists as candidates, or a
    // second score no longer than the first.
    expect(campaignSearchError('recovery', { ...options, rescore: { top: 6, steps: 80 } })).toMatch(
      /^search\.recovery\.rescore\.top: 6 finalists of 6 candidates/,
    );
    expect(campaignSearchError('recovery', { ...options, rescore: { top: 3, steps: 40 } })).toMatch(
      /^search\.recovery\.rescore\.steps: /,
    );
    for (const bad of ['3', '1:40', '3:0', 'a:b', '3:40:2'])
      expect(() => parseRescore(bad)).toThrow(`--rescore: expected TOP:STEPS`);
  });
});
