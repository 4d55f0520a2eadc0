import {
  fitPowerLaw,
  macModelTerms,
  powerLawMacs,
  powerLawRatio,
  predictMacs,
  ratioForTarget,
  stageRatioOf,
} from '../../src/core/mac-model';
import type { ProfileSummary } from '../../src/core/profile';
import type { Strategy } from '../../src/core/strategy';
import { baseStrategy } from '../../src/core/strategy';
import { resnetProfile } from '../agents/sim';

/** A toy model: 1000 MACs = stem 100 (fixed) + A 480 + B 400 (quadratic) + fc 20 (linear). */
function toy(stageScale = 1): ProfileSummary {
  const stages = [
    { name: 'stem', macs: 100 },
    { name: 'A', macs: 480 * stageScale },
    { name: 'B', macs: 400 * stageScale },
    { name: 'fc', macs: 20 },
  ];
  return {
    model: 'toy',
    inputShape: [1, 3, 8, 8],
    macs: 1000,
    params: 1,
    stages: stages.map((s) => ({ ...s, params: 0, share: s.macs / 1000 })),
    isomorphicClasses: [],
    protected: [
      { layer: 'stem', reason: 'stem' },
      { layer: 'fc', reason: 'classifier' },
    ],
    protectedMacs: 120,
    layerCount: 4,
  };
}

describe('macModelTerms', () => {
  test('splits fixed, linear and per-stage quadratic MACs', () => {
    expect(macModelTerms(toy())).toEqual({
      denseMacs: 1000,
      fixedMacs: 100,
      linearMacs: 20,
      stages: [
        { name: 'A', macs: 480 },
        { name: 'B', macs: 400 },
      ],
    });
  });

  test('rescales stage MACs that do not add up to the prunable MACs', () => {
    const terms = macModelTerms(toy(0.5));
    expect(terms.stages.map((s) => s.macs)).toEqual([480, 400]);
  });

  test('a summary without stages gets one pseudo stage', () => {
    const terms = macModelTerms({ ...toy(), stages: [] });
    expect(terms).toMatchObject({ fixedMacs: 120, linearMacs: 0, stages: [{ name: '*', macs: 880 }] });
  });
});

describe('predictMacs (hand-computed)', () => {
  const s = (r: number, extra: Partial<Strategy> = {}) => baseStrategy(r, extra);
  test.each<[string, Strategy, number]>([
    // 100 + 20 x 1 + 880 x 1
    ['r = 0: dense', s(0), 1000],
    // 100 + 20 x 0.5 + 480 x 0.25 + 400 x 0.25
    ['r = 0.5', s(0.5), 330],
    // 100 + 20 x 0.8 + 880 x 0.64
    ['r = 0.2', s(0.2), 679.2],
    // 100 + 10 + 480 x 0.25 + 400 x 1
    ['r = 0.5, stageRatios B: 0', s(0.5, { stageRatios: { B: 0 } }), 630],
    // 100 + 10 + 480 x 0.09 + 400 x 0.25
    ['r = 0.5, stageRatios A: 0.7', s(0.5, { stageRatios: { A: 0.7 } }), 253.2],
    // 100 + 10 + 480 x 1 + 400 x 0.25
    ['r = 0.5, ignoredLayers [A]', s(0.5, { ignoredLayers: ['A'] }), 690],
    // 100 + 10 + 880 x 0.75^2
    ['r = 0.5, maxLayerRatio 0.25', s(0.5, { maxLayerRatio: 0.25 }), 605],
  ])('%s -> %d', (_label, strategy, macs) => {
    expect(predictMacs(toy(), strategy)).toBeCloseTo(macs, 9);
  });

  test('the ResNet-50 worked example of the TSDoc', () => {
    const summary = resnetProfile();
    expect(predictMacs(summary, baseStrategy(0.35)) / 1e9).toBeCloseTo(1.796, 3);
    expect(predictMacs(summary, baseStrategy(0.35, { stageRatios: { layer4: 0.5 } })) / 1e9).toBeCloseTo(
      1.66,
      3,
    );
    expect(ratioForTarget(summary, 1.77e9)).toBeCloseTo(0.355, 3);
  });

  test('stage ratio keys match the stage or a parent prefix, longest first', () => {
    const strategy = baseStrategy(0.3, { stageRatios: { blocks: 0.4, 'blocks.3': 0.6 } });
    expect(stageRatioOf('blocks.3', strategy)).toBe(0.6);
    expect(stageRatioOf('blocks.2', strategy)).toBe(0.4);
    expect(stageRatioOf('blocks3', strategy)).toBe(0.3);
    expect(stageRatioOf('head', strategy)).toBe(0.3);
  });
});

describe('ratioForTarget', () => {
  test.each([
    [330, 0.5],
    [679.2, 0.2],
    [1000, 0],
    [1200, 0],
    [100, 0.95],
    [50, 0.95],
  ])('target %d -> r %d', (target, r) => {
    expect(ratioForTarget(toy(), target)).toBeCloseTo(r, 9);
  });

  test('inverts predictMacs, with pinned stages held', () => {
    for (const strategy of [
      baseStrategy(0),
      baseStrategy(0, { stageRatios: { B: 0 } }),
      baseStrategy(0, { ignoredLayers: ['A'] }),
    ]) {
      for (const r of [0.1, 0.33, 0.5, 0.7]) {
        const macs = predictMacs(toy(), { ...strategy, pruningRatio: r });
        expect(ratioForTarget(toy(), macs, strategy)).toBeCloseTo(r, 9);
      }
    }
  });

  test('honours maxRatio', () => {
    expect(ratioForTarget(toy(), 10, undefined, 0.9)).toBe(0.9);
  });
});

describe('fitPowerLaw', () => {
  const floorMacs = 100;
  const anchorMacs = 1000;
  const curve = (k: number) => (r: number) => floorMacs + (anchorMacs - floorMacs) * Math.pow(1 - r, k);

  test.each([[1.7], [2], [2.3]])('recovers exponent %d from exact points', (k) => {
    const points = [0.2, 0.4, 0.6].map((ratio) => ({ ratio, macs: curve(k)(ratio) }));
    const fit = fitPowerLaw(points, { floorMacs, anchorMacs });
    expect(fit.exponent).toBeCloseTo(k, 9);
    expect(fit.scale).toBe(1);
    expect(powerLawMacs(fit, 0.5)).toBeCloseTo(curve(k)(0.5), 6);
    expect(powerLawRatio(fit, curve(k)(0.45))).toBeCloseTo(0.45, 9);
  });

  test('fits scale and exponent with fitScale', () => {
    const truth = (r: number) => floorMacs + (anchorMacs - floorMacs) * 0.8 * Math.pow(1 - r, 2.2);
    const points = [0.2, 0.4, 0.6].map((ratio) => ({ ratio, macs: truth(ratio) }));
    const fit = fitPowerLaw(points, { floorMacs, anchorMacs, fitScale: true });
    // The anchor (r = 0 -> 1000, off this curve) is one point of four: close, not exact.
    expect(fit.exponent).toBeGreaterThan(1.9);
    expect(fit.exponent).toBeLessThan(2.6);
    expect(Math.abs(powerLawMacs(fit, 0.5) - truth(0.5)) / truth(0.5)).toBeLessThan(0.05);
  });

  test('the one-point worked example of the TSDoc', () => {
    const fit = fitPowerLaw([{ ratio: 0.3, macs: 2.1e9 }], { floorMacs: 0.12e9, anchorMacs: 4.0e9 });
    expect(fit.exponent).toBeCloseTo(1.886, 3);
    expect(powerLawRatio(fit, 1.5e9)).toBeCloseTo(0.422, 3);
  });

  test('falls back to the default exponent without usable points', () => {
    expect(fitPowerLaw([], { floorMacs, anchorMacs }).exponent).toBe(2);
    expect(
      fitPowerLaw(
        [
          { ratio: 0, macs: 1000 },
          { ratio: 0.5, macs: 50 },
        ],
        { floorMacs, anchorMacs, defaultExponent: 1.5 },
      ).exponent,
    ).toBe(1.5);
  });

  test('powerLawRatio clamps at the ends', () => {
    const fit = fitPowerLaw([], { floorMacs, anchorMacs });
    expect(powerLawRatio(fit, 2000)).toBe(0);
    expect(powerLawRatio(fit, 50)).toBeGreaterThan(0.999);
  });
});
