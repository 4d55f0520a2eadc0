import { baseStrategy, StrategySchema } from '../../src/core/strategy';
import { EngineJobError } from '../../src/engine/errors';
import { realEngines, tempDir } from '../support/test-env';

// One range for pruningRatio in both schemas (issue 14): 0 <= r <= 0.95, inclusive, in src/core/strategy.ts
// and in the engine's request validation — checked on both sides of the boundary, with the real engine.
describe('pruningRatio at the boundary, TS schema and real engine', () => {
  const { engine } = realEngines();
  afterAll(() => engine.close());

  const prune = (strategy: unknown) =>
    engine.run<{ macs: number; denseMacs: number }>('prune', {
      model: { name: 'democnn' },
      strategy,
      outDir: tempDir('ap-range-'),
    });

  test('0.95 is accepted by both', async () => {
    const s = baseStrategy(0.95, { roundTo: 1 });
    expect(StrategySchema.safeParse(s).success).toBe(true);
    const r = await prune(s);
    expect(r.macs).toBeGreaterThan(0);
    expect(r.macs).toBeLessThan(r.denseMacs);
  }, 120_000);

  test.each([
    [0.9500001, 'less than or equal to 0.95'],
    [-0.0000001, 'greater than or equal to 0'],
  ])('%s is rejected by both, naming strategy.pruningRatio', async (ratio, message) => {
    const s = baseStrategy(ratio);
    const ts = StrategySchema.safeParse(s);
    expect(ts.success).toBe(false);
    expect(ts.error?.issues[0]?.path).toEqual(['pruningRatio']);
    const err = await prune(s).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineJobError);
    expect(err).toMatchObject({ type: 'RequestError', field: 'strategy.pruningRatio' });
    expect((err as Error).message).toContain(message);
  });

  test.each([
    // JSON.stringify(NaN) is null: the engine sees null, not a number
    ['NaN', Number.NaN, 'valid number'],
    ['true', true, 'valid number'],
    ['"0.3"', '0.3', 'valid number'],
  ])('%s is rejected by both, never as "less than 0.95"', async (_what, ratio, message) => {
    const s = { ...baseStrategy(0.3), pruningRatio: ratio };
    expect(StrategySchema.safeParse(s).success).toBe(false);
    const err = await prune(s).catch((e: unknown) => e);
    expect(err).toMatchObject({ type: 'RequestError', field: 'strategy.pruningRatio' });
    expect((err as Error).message).toContain(message);
    expect((err as Error).message).not.toContain('less than');
  });
});
