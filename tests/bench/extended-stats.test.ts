import { extendedStats } from '../../bench/extended-stats';
import { baseStrategy, type Strategy } from '../../src/core/strategy';

const l1 = (r: number): Strategy => ({ ...baseStrategy(r), importance: 'l1' });
const stage = (r: number, s: number): Strategy => ({ ...baseStrategy(r), stageRatios: { layer4: s } });

describe('extendedStats (the numbers bench/RESULTS.md reports for --extended-search)', () => {
  test('a known log: first hit at 2, then three shapes (stage-ratio steps stay in one), one given up', () => {
    const log = [
      { index: 1, inBand: false, strategy: baseStrategy(0.3) },
      { index: 2, inBand: true, strategy: baseStrategy(0.33) }, // first hit
      { index: 3, inBand: false, strategy: l1(0.33) }, // shape 1: first try misses
      { index: 4, inBand: true, strategy: l1(0.34) }, //   scaled in
      { index: 5, inBand: true, strategy: { ...stage(0.34, 0.5), roundTo: 4 } }, // shape 2: in band at once
      { index: 6, inBand: false, strategy: { ...l1(0.34), isomorphic: false } }, // shape 3: misses...
      {
        index: 7,
        inBand: false,
        strategy: { ...stage(0.36, 0.6), importance: 'l1' as const, isomorphic: false },
      }, //   ...a stage step of the same shape, given up
    ];
    expect(extendedStats(log, 2)).toEqual({ attempts: 5, shapes: 3, firstTryInBand: 1, candidates: 2 });
  });

  test('no extended attempts: all zero', () => {
    expect(extendedStats([{ index: 1, inBand: true, strategy: baseStrategy(0.3) }], 1)).toEqual({
      attempts: 0,
      shapes: 0,
      firstTryInBand: 0,
      candidates: 0,
    });
  });
});
