import { dryRunStrategies, EngineJobError, EngineProtocolError, parseEngineResult } from '../../src/engine';
import { DryRunResultSchema } from '../../src/engine/protocol';
import type { EngineRunner } from '../../src/engine';
import type { Strategy } from '../../src/core/strategy';
import { realEngines } from '../support/test-env';

// The TS side of prune-dry-run against the real engine: each dry-run answer equals a real prune of the
// same strategy on democnn, a refused strategy is answered in place, bad requests name the field.
const strategy = (pruningRatio: number, roundTo: number): Strategy => ({
  pruningRatio,
  importance: 'l2',
  globalPruning: true,
  isomorphic: true,
  roundTo,
});

describe('prune-dry-run', () => {
  const { engine } = realEngines();
  afterAll(() => engine.close());

  test('each answer equals what prune measures for that strategy', async () => {
    const strategies = [strategy(0.3, 8), strategy(0.5, 1), strategy(0.5, 32)];
    const dry = await dryRunStrategies(engine, { model: { name: 'democnn' }, strategies });
    expect(dry.results).toHaveLength(3);
    for (const [i, s] of strategies.slice(0, 2).entries()) {
      const real = await engine.run<{ macs: number; params: number }>('prune', {
        model: { name: 'democnn' },
        strategy: s,
        outDir: `${process.env.TMPDIR ?? '/tmp'}/ap-dry-run-test-${process.pid}-${i}`,
      });
      expect(dry.results[i]).toMatchObject({ macs: real.macs, params: real.params, method: 'plan' });
    }
    expect(dry.results[2]).toMatchObject({ error: { field: 'strategies.2.pruningRatio' } });
  });

  test('no strategies is a request error naming the field', async () => {
    const err = await dryRunStrategies(engine, { model: { name: 'democnn' }, strategies: [] }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(EngineJobError);
    expect(err).toMatchObject({ type: 'RequestError', field: 'strategies' });
  });

  test('a result with fewer entries than strategies is a protocol error', async () => {
    const liar: EngineRunner = {
      run: <T>() => Promise.resolve({ denseMacs: 1, denseParams: 1, results: [], wallMs: 1 } as unknown as T),
      close: () => Promise.resolve(),
    };
    await expect(
      dryRunStrategies(liar, { model: { name: 'democnn' }, strategies: [strategy(0.3, 8)] }),
    ).rejects.toThrow(EngineProtocolError);
  });

  test('an entry is either a measurement or an error', () => {
    const base = { denseMacs: 10, denseParams: 5, wallMs: 3 };
    expect(() =>
      parseEngineResult('prune-dry-run', DryRunResultSchema, { ...base, results: [{ macs: 1 }] }),
    ).toThrow('results.0');
    const ok = { macs: 1, params: 2, stages: [], keptChannels: [3], method: 'plan' };
    expect(
      parseEngineResult('prune-dry-run', DryRunResultSchema, {
        ...base,
        results: [ok, { error: { field: 'strategies.1', message: 'no' } }],
      }).results,
    ).toHaveLength(2);
  });
});
