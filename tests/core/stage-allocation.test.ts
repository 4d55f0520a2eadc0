import { allocateStages, type SensitivityTable } from '../../src/core/stage-allocation';

// A three-stage model, dense 20 M MACs, baseline loss 0.40. Each stage pruned alone at 0.3 and 0.6 (whole-model
// MACs after pruning only that stage, and the scoring loss then):
//   s1 (4 M):  0.3 -> 18.0 M saved 2.0 M, loss 1.40 (+1.00)   0.6 -> 16.5 M saved 3.5 M, loss 2.40
//   s2 (8 M):  0.3 -> 16.0 M saved 4.0 M, loss 0.60 (+0.20)   0.6 -> 13.0 M saved 7.0 M, loss 1.00
//   s3 (8 M):  0.3 -> 16.0 M saved 4.0 M, loss 0.44 (+0.04)   0.6 -> 13.0 M saved 7.0 M, loss 0.56
// Loss per M saved, first segment: s1 0.50, s2 0.05, s3 0.01; second: s1 0.67, s2 0.133, s3 0.04.
const TABLE: SensitivityTable = {
  baseline: { top1: 0.9, loss: 0.4 },
  stages: [
    {
      stage: 's1',
      macs: 4e6,
      points: [
        { ratio: 0.3, macs: 18e6, top1: 0.5, loss: 1.4 },
        { ratio: 0.6, macs: 16.5e6, top1: 0.2, loss: 2.4 },
      ],
    },
    {
      stage: 's2',
      macs: 8e6,
      points: [
        { ratio: 0.3, macs: 16e6, top1: 0.85, loss: 0.6 },
        { ratio: 0.6, macs: 13e6, top1: 0.7, loss: 1.0 },
      ],
    },
    {
      stage: 's3',
      macs: 8e6,
      points: [
        { ratio: 0.3, macs: 16e6, top1: 0.89, loss: 0.44 },
        { ratio: 0.6, macs: 13e6, top1: 0.86, loss: 0.56 },
      ],
    },
  ],
};

describe('allocateStages', () => {
  test('a small cut goes to the least sensitive stage alone, and the prediction lands on the aim', () => {
    // 5 M to cut: s3 saves 4 M for +0.04 by 0.3 and the next 1 M at 0.04/M (still the cheapest): r = 0.4.
    const a = allocateStages(TABLE, { denseMacs: 20e6, aimMacs: 15e6 })!;
    expect(a.stageRatios).toEqual({ s1: 0, s2: 0, s3: 0.4 });
    expect(a.freeStage).toBe('s3');
    expect(a.predictedMacs).toBeCloseTo(15e6, -2);
    expect(a.predictedLossIncrease).toBeCloseTo(0.04 + 0.04, 6);
  });

  test('a larger cut: the stage with the lowest loss gets the largest ratio, the most sensitive none', () => {
    // 12 M to cut. s3 to 0.6 first (7 M at 0.01 and 0.04 per M), then s2's first segment (0.05 per M: 4 M by
    // 0.3), then s3 past its last point (loss +0.4 per unit ratio, MACs saved 7 M x (1 - (1 - r)^2) / 0.84:
    // 0.06 per M at 0.6, 0.12 at 0.8, still below s2's 0.133): the last 1 M takes s3 to 0.8.
    const a = allocateStages(TABLE, { denseMacs: 20e6, aimMacs: 8e6, maxRatio: 0.9 })!;
    expect(a.stageRatios).toEqual({ s1: 0, s2: 0.3, s3: 0.8 });
    expect(a.freeStage).toBe('s3');
    expect(a.predictedMacs).toBeCloseTo(8e6, -2);
  });

  test('no stage is cut past maxRatio (0.75 by default): the rest of the cut goes to the next cheapest', () => {
    // As above, but s3 stops at 0.75 (7 M x (1 - 0.0625) / 0.84 = 7.81 M saved); s2 covers the rest past 0.3.
    const a = allocateStages(TABLE, { denseMacs: 20e6, aimMacs: 8e6 })!;
    expect(a.stageRatios.s3).toBe(0.75);
    expect(a.stageRatios.s2).toBeGreaterThan(0.3);
    expect(a.stageRatios.s1).toBe(0);
    // Within the 4-decimal rounding of the ratios.
    expect(Math.abs(a.predictedMacs - 8e6)).toBeLessThan(8e6 * 1e-3);
  });

  test('stages to skip keep ratio 0 and are not in the allocation', () => {
    const a = allocateStages(TABLE, { denseMacs: 20e6, aimMacs: 15e6, skip: ['s3'] })!;
    expect(Object.keys(a.stageRatios).sort()).toEqual(['s1', 's2']);
    // s2 takes the cut: 4 M by 0.3, the last 1 M at 3 M per 0.3 -> 0.4.
    expect(a.stageRatios).toEqual({ s1: 0, s2: 0.4 });
    expect(a.predictedMacs).toBeCloseTo(15e6, -2);
  });

  test('a cut no allocation reaches, or a table without points, gives none', () => {
    // At 0.9 each: s1 saves 5 M, s2 and s3 10 M each: 25 M at most of... 20 M dense, aim 0 unreachable.
    expect(allocateStages(TABLE, { denseMacs: 20e6, aimMacs: -10e6 })).toBeUndefined();
    expect(
      allocateStages(
        { baseline: TABLE.baseline, stages: [{ stage: 's1', macs: 4e6, points: [] }] },
        {
          denseMacs: 20e6,
          aimMacs: 15e6,
        },
      ),
    ).toBeUndefined();
  });

  test('a loss that falls with more pruning (noise) never makes a stage look free', () => {
    const noisy: SensitivityTable = {
      baseline: { top1: 0.9, loss: 0.4 },
      stages: [
        { stage: 'a', macs: 8e6, points: [{ ratio: 0.3, macs: 16e6, top1: 0.9, loss: 0.3 }] },
        { stage: 'b', macs: 8e6, points: [{ ratio: 0.3, macs: 16e6, top1: 0.9, loss: 0.5 }] },
      ],
    };
    const a = allocateStages(noisy, { denseMacs: 20e6, aimMacs: 18e6 })!;
    // 'a' measured below the baseline: its cost counts as 0, so it takes the cut.
    expect(a.stageRatios).toEqual({ a: 0.15, b: 0 });
  });
});
