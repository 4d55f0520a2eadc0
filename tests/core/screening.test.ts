import {
  pickInBand,
  refineLadder,
  refusalOf,
  refusedText,
  heldKey,
  heldText,
  SCREEN_LADDER,
  SCREEN_REFINE,
  screenedStrategy,
  screenLadder,
  screenScaleOf,
} from '../../src/core/screening';
import { screenText } from '../../src/core/attempt';
import { baseStrategy, StrategySchema } from '../../src/core/strategy';

const BAND = { lo: -0.05, hi: 0.01 };

describe('screening (the pure half of the dry-run screen)', () => {
  test('pickInBand: the in-band value nearest the band centre, else the bracket', () => {
    const target = 100;
    // deviations: +20 %, +0.5 %, -1.5 %, -4 %, -10 %; centre -2 % -> -1.5 % (index 2)
    const macs = [120, 100.5, 98.5, 96, 90].map((m) => ({ macs: m }));
    expect(pickInBand([0.1, 0.2, 0.3, 0.4, 0.5], macs, target, BAND)).toEqual({ index: 2 });
    // a refused entry is skipped; nothing in band: the bracket is (0.2, 0.3)
    const gap = [{ macs: 120 }, { macs: 102 }, { error: {} }, { macs: 90 }];
    expect(pickInBand([0.1, 0.2, 0.25, 0.3], gap, target, BAND)).toEqual({ bracket: [0.2, 0.3] });
    // all above the band: no bracket
    expect(pickInBand([0.1, 0.2], [{ macs: 150 }, { macs: 140 }], target, BAND)).toEqual({ bracket: null });
  });

  test('refusalOf: the band lies past what the engine accepts, or not', () => {
    const target = 100;
    const empties = (i: number, field = 'stageRatios.features.13') => ({
      error: {
        field: `strategies.${i}.${field}`,
        message: "the strategy would remove every channel of the group at 'f13'",
      },
    });
    // Accepted values all above the band (+40 %, +20 %); 0.8 and 1.0 refused: the smallest above them is 0.8.
    expect(
      refusalOf(
        [0.4, 0.6, 0.8, 1.0],
        [{ macs: 140 }, { macs: 120 }, empties(2), empties(3, 'pruningRatio')],
        target,
        BAND,
      ),
    ).toEqual({
      value: 0.8,
      reason: "stageRatios.features.13: the strategy would remove every channel of the group at 'f13'",
      field: 'stageRatios.features.13',
      accepted: 0.6,
    });
    // A refused value below an accepted one does not count: the refusal past the last accepted value does.
    expect(
      refusalOf(
        [0.2, 0.4, 0.6, 0.8],
        [empties(0, 'pruningRatio'), { macs: 130 }, { macs: 115 }, empties(3)],
        target,
        BAND,
      )!.value,
    ).toBe(0.8);
    // The band's upper edge is reachable (+1 % is in it): not a refusal, whatever comes after.
    expect(
      refusalOf([0.4, 0.6, 0.8], [{ macs: 120 }, { macs: 101 }, empties(2)], target, BAND),
    ).toBeUndefined();
    // A step over the band (+20 %, then -20 %): not a refusal.
    expect(
      refusalOf([0.4, 0.6, 0.8], [{ macs: 120 }, { macs: 80 }, empties(2)], target, BAND),
    ).toBeUndefined();
    // Nothing refused: above the band up to the largest value, not a refusal.
    expect(refusalOf([0.4, 0.6], [{ macs: 140 }, { macs: 120 }], target, BAND)).toBeUndefined();
    // Every value refused: the smallest, and an error without a strategy field keeps the message alone.
    expect(
      refusalOf([0.1, 0.2], [{ error: { field: 'strategies.0', message: 'no' } }, empties(1)], target, BAND),
    ).toEqual({ value: 0.1, reason: 'no', field: '' });
  });

  test('a factor screen holds a refused ratio and scales the rest; which fields can be held', () => {
    const s = baseStrategy(0.4, { stageRatios: { b3: 0.6, b1: 0.2 } });
    // Held: b3 stays at 0.6 past factor 1, the others scale on; below it b3 scales down like the rest.
    expect(screenedStrategy(s, 'factor', 1.5, { b3: 0.6 })).toMatchObject({
      pruningRatio: 0.6,
      stageRatios: { b3: 0.6, b1: 0.3 },
    });
    expect(screenedStrategy(s, 'factor', 0.5, { b3: 0.6 })).toMatchObject({
      pruningRatio: 0.2,
      stageRatios: { b3: 0.3, b1: 0.1 },
    });
    // The ladder reaches the factor that brings the largest ratio not held to 0.95: 0.4 here, not b3's 0.6.
    expect(screenLadder(s, 'factor', { b3: 0.6 }).at(-1)).toBeCloseTo(0.95 / 0.4, 4);
    expect(screenLadder(s, 'factor').at(-1)).toBeCloseTo(0.95 / 0.6, 4);
    // pruningRatio held (the stages a shape does not name): the ladder follows b3.
    expect(screenedStrategy(s, 'factor', 1.5, { pruningRatio: 0.4 }).pruningRatio).toBe(0.4);
    expect(heldKey('stageRatios.features.13')).toBe('features.13');
    expect(heldKey('pruningRatio')).toBe('pruningRatio');
    expect(heldKey('layerRatios.fc1')).toBeUndefined();
    expect(heldKey('')).toBeUndefined();
  });

  test('a refusal and the held ratios in words, on the mobilenet_v2 cases', () => {
    const reason =
      "stageRatios.features.16: the strategy would remove every channel of the group at 'features.16.conv.2'";
    // The refused strategy's largest ratio, not its global one: 0.93 on features.16 over a pruningRatio of 0.9.
    const at = baseStrategy(0.9, {
      stageRatios: { 'features.16': 0.93, 'features.13': 0.83, 'features.1': 0 },
    });
    expect(refusedText(at, 'factor', reason)).toBe(`refused from largest ratio 0.930: ${reason}`);
    expect(refusedText(at, 'factor', reason, { 'features.13': 0.83, 'features.16': 0.92 })).toBe(
      `refused from largest ratio 0.930: ${reason} (held features.13 at 0.830, features.16 at 0.920: the rest reaches 0.95 above the band)`,
    );
    // A ratio screen says `ratio`, its pruningRatio.
    expect(refusedText(baseStrategy(0.875), 'ratio', 'pruningRatio: no')).toBe(
      'refused from ratio 0.875: pruningRatio: no',
    );
    expect(heldText({ 'features.13': 0.75, 'features.10': 0.7128 })).toBe(
      'features.13 at 0.750, features.10 at 0.713',
    );
    expect(heldText({})).toBe('');
  });

  test('a shape with its own stage ratios is scaled by one factor; anything else by its ratio', () => {
    expect(screenScaleOf({ pruningRatio: 0.5, stageRatios: { layer1: 0 } })).toBe('factor');
    expect(screenScaleOf({ importance: 'lamp' })).toBe('ratio');
    expect(screenScaleOf({ stageRatios: { layer4: 0.45 } })).toBe('ratio');
    expect(screenScaleOf({ pruningRatio: 0.3, stageRatios: {} })).toBe('ratio');
    expect(screenScaleOf({ pruningRatio: 0, stageRatios: { layer1: 0.4 } })).toBe('ratio');
  });

  test('the ratio ladder: 0 to 0.95 in steps of 0.01, every strategy valid', () => {
    const s = baseStrategy(0.3, { stageRatios: { layer4: 0.45 } });
    const values = screenLadder(s, 'ratio');
    expect(values).toHaveLength(SCREEN_LADDER);
    expect(values[0]).toBe(0);
    expect(values[1]).toBe(0.01);
    expect(values.at(-1)).toBe(0.95);
    for (const v of values) {
      const at = screenedStrategy(s, 'ratio', v);
      expect(at.pruningRatio).toBe(v);
      expect(at.stageRatios).toEqual({ layer4: 0.45 }); // pinned stage ratios stay
      expect(StrategySchema.safeParse(at).success).toBe(true);
    }
  });

  test('the factor ladder keeps the shape proportions and never passes 0.95', () => {
    const s = baseStrategy(0.4, { stageRatios: { b3: 0.6, b1: 0 } });
    const values = screenLadder(s, 'factor');
    // the largest ratio (0.6) reaches 0.95 at the top of the ladder
    expect(values.at(-1)).toBeCloseTo(0.95 / 0.6, 5);
    const half = screenedStrategy(s, 'factor', 0.5);
    expect(half.pruningRatio).toBe(0.2);
    expect(half.stageRatios).toEqual({ b3: 0.3, b1: 0 });
    for (const v of values)
      expect(StrategySchema.safeParse(screenedStrategy(s, 'factor', v)).success).toBe(true);
  });

  test('a narrowing ladder lies strictly inside its bracket, in order', () => {
    const values = refineLadder([0.2, 0.3]);
    expect(values).toHaveLength(SCREEN_REFINE);
    expect(values[0]).toBeCloseTo(0.204, 10);
    expect(values.at(-1)).toBeCloseTo(0.296, 10);
    for (let i = 1; i < values.length; i++) expect(values[i]!).toBeGreaterThan(values[i - 1]!);
  });

  test('what the log and the report say of a screen, on the three known cases', () => {
    const landed = {
      shapes: 120,
      proposedRatio: 0.31,
      landed: true,
      predictedMacs: 13_716_480,
      wallMs: 2410,
    };
    const at = (pruningRatio: number, roundTo = 8) => ({ pruningRatio, roundTo });
    expect(screenText(landed, at(0.2937))).toBe('screened 120 shapes by dry run: ratio 0.310 -> 0.294');
    expect(screenText({ ...landed, proposedRoundTo: 8 }, at(0.2937))).toBe(
      'screened 120 shapes by dry run: ratio 0.310 -> 0.294',
    );
    // No ratio landed at the proposal's roundTo 8; one did at 1 (the demo's per-layer L1 candidate).
    expect(
      screenText(
        { shapes: 216, proposedRatio: 0.2206, proposedRoundTo: 8, landed: true, wallMs: 1909 },
        at(0.32, 1),
      ),
    ).toBe('screened 216 shapes by dry run: ratio 0.221 -> 0.320, roundTo 8 -> 1');
    expect(screenText({ shapes: 288, proposedRatio: 0.31, landed: false, wallMs: 5100 }, at(0.31))).toBe(
      'screened 288 shapes by dry run: none in band; pruned as proposed',
    );
    // Landed after holding a stage where a larger ratio would empty a group.
    expect(
      screenText({ ...landed, proposedRatio: 0.75, held: { 'features.13': 0.75426 } }, at(0.81256)),
    ).toBe(
      'screened 120 shapes by dry run: ratio 0.750 -> 0.813; held features.13 at 0.754 (a larger ratio would empty a group)',
    );
    // Nothing landed because every value that reaches the band is refused: from where and why.
    const refused =
      "refused from largest ratio 0.794: stageRatios.features.13: the strategy would remove every channel of the group at 'features.13.conv.2' (96 channels; roundTo=1); lower the ratio or roundTo";
    expect(
      screenText({ shapes: 192, proposedRatio: 0.75, landed: false, wallMs: 11511, refused }, at(0.75)),
    ).toBe(
      `screened 192 shapes by dry run: none in band, every value that reaches it ${refused}; pruned as proposed`,
    );
    expect(
      screenText(
        { shapes: 0, proposedRatio: 0.31, landed: false, wallMs: 0, error: 'engine crashed' },
        at(0.31),
      ),
    ).toBe('dry-run screen failed (engine crashed); pruned as proposed');
  });
});
