import {
  BandSchema,
  bandBounds,
  bandCenter,
  deviation,
  formatBand,
  inBand,
  parseBand,
} from '../../src/core/tolerance-band';

describe('parseBand', () => {
  test.each([
    ['-5%..+1%', -0.05, 0.01],
    ['-1%..+1%', -0.01, 0.01],
    ['-10%..+3%', -0.1, 0.03],
    ['-15%..5%', -0.15, 0.05],
    ['  -2.5 % .. +0.5 %  ', -0.025, 0.005],
    ['-0.1%..0%', -0.001, 0],
    ['-50%..+50%', -0.5, 0.5],
  ])('%j -> lo %d, hi %d', (text, lo, hi) => {
    const band = parseBand(text);
    expect(band.lo).toBeCloseTo(lo, 12);
    expect(band.hi).toBeCloseTo(hi, 12);
  });

  test.each([
    ['-5..+1', /expected the form/],
    ['-5%-+1%', /expected the form/],
    ['', /expected the form/],
    ['five%..one%', /expected the form/],
    ['-5%..+1%..+2%', /expected the form/],
    ['+5%..+1%', /lower bound must be <= 0%/],
    ['-5%..-1%', /upper bound must be >= 0%/],
    // Never converges: MACs move in channel-sized steps.
    ['0%..0%', /at least 0.1% wide/],
    ['-0%..+0%', /at least 0.1% wide/],
    ['-0.05%..+0.04%', /at least 0.1% wide/],
    // Admits models far from the target (the unpruned one, at +900 %).
    ['-500%..+900%', /lower bound must be >= -50%/],
    ['-5%..+900%', /upper bound must be <= \+50%/],
  ])('%j is rejected', (text, message) => {
    expect(() => parseBand(text)).toThrow(message);
  });

  test('formatBand round-trips', () => {
    for (const text of ['-5%..+1%', '-1%..+1%', '-2.5%..+0.5%'])
      expect(formatBand(parseBand(text))).toBe(text);
  });
});

describe('deviation and band membership', () => {
  const band = { lo: -0.05, hi: 0.01 };
  test.each([
    // macs, target, deviation, in band
    [1.77e9, 1.77e9, 0, true],
    [1.7877e9, 1.77e9, 0.01, true],
    [1.79e9, 1.77e9, 0.0112994, false],
    [1.6815e9, 1.77e9, -0.05, true],
    [1.68e9, 1.77e9, -0.0508475, false],
  ])('%d MACs vs %d', (macs, target, d, hit) => {
    expect(deviation(macs, target)).toBeCloseTo(d, 6);
    expect(inBand(deviation(macs, target), band)).toBe(hit);
  });

  test('bounds and centre', () => {
    const [lo, hi] = bandBounds(1e9, band);
    expect(lo).toBeCloseTo(0.95e9, 0);
    expect(hi).toBeCloseTo(1.01e9, 0);
    expect(bandCenter(band)).toBeCloseTo(-0.02, 12);
    expect(bandCenter({ lo: -0.01, hi: 0.01 })).toBe(0);
  });
});

describe('BandSchema (the band a user sets on a running search)', () => {
  test.each([
    [{ lo: -0.05, hi: 0.01 }, true],
    [{ lo: 0, hi: 0 }, false],
    [{ lo: -5, hi: 9 }, false],
    [{ lo: 0.1, hi: 0.05 }, false],
    [{ lo: Number.NaN, hi: 0.01 }, false],
  ])('%j accepted: %s', (band, ok) => {
    expect(BandSchema.safeParse(band).success).toBe(ok);
  });
});
