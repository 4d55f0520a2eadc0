import { formatMacs, formatPercent, parseMacs, truncate } from '../../src/core/units';

describe('parseMacs', () => {
  test.each([
    ['1.77G', 1_770_000_000],
    ['1.77g', 1_770_000_000],
    ['1.77 GMACs', 1_770_000_000],
    ['850M', 850_000_000],
    ['850 MMACs', 850_000_000],
    // A bare "MACs" unit is not a mega suffix: 850 MACs is 850.
    ['850 MACs', 850],
    ['850 MAC', 850],
    ['4.1e9', 4_100_000_000],
    ['301.2M', 301_200_000],
    ['12k', 12_000],
    ['2T', 2e12],
    ['123456', 123_456],
    [' 1.5G ', 1_500_000_000],
  ])('%j -> %d', (text, macs) => {
    expect(parseMacs(text)).toBe(macs);
  });

  test('numbers pass through', () => {
    expect(parseMacs(1.77e9)).toBe(1.77e9);
  });

  test.each([['abc'], [''], ['-5G'], ['1.77X'], ['G'], ['1.77 GFLOPs'], ['0'], ['0G']])(
    '%j is rejected',
    (text) => {
      expect(() => parseMacs(text)).toThrow(/MACs/);
    },
  );

  test.each([[0], [-1], [Number.NaN], [Number.POSITIVE_INFINITY]])('number %d is rejected', (n) => {
    expect(() => parseMacs(n)).toThrow(/positive/);
  });
});

describe('formatting', () => {
  test.each([
    [1.77e9, '1.77 G'],
    [301.2e6, '301 M'],
    [4.089e9, '4.09 G'],
    [12_000, '12.0 K'],
    [2e12, '2.00 T'],
    [512, '512'],
  ])('formatMacs(%d) = %s', (macs, text) => {
    expect(formatMacs(macs)).toBe(text);
  });

  test.each([
    [0.0042, '+0.42%'],
    [-0.05, '-5.00%'],
    [0, '+0.00%'],
  ])('formatPercent(%d) = %s', (d, text) => {
    expect(formatPercent(d)).toBe(text);
  });
});

describe('truncate: one cut for log cells, prompt cells and one-line reasons', () => {
  test('a text of max characters or fewer stays whole; a longer one is cut to max, ending in …', () => {
    expect(truncate('local; non-isomorphic', 32)).toBe('local; non-isomorphic');
    expect(truncate('x'.repeat(32), 32)).toBe('x'.repeat(32));
    const cut = truncate('stage1=0.000; stage3=0.540; stage2=0.310; stem=0.050', 32);
    expect(cut).toBe('stage1=0.000; stage3=0.540; sta…');
    expect(cut).toHaveLength(32);
  });
});
