import { EngineCancelledError, EngineJobError, EngineProcessError } from '../../src/engine/errors';
import { realEngines } from '../support/test-env';

// The real engine process on the project venv: the protocol, warm reuse, crash recovery, cancellation.
describe('engine processes', () => {
  const { engine, oneShotEngine } = realEngines();
  afterAll(() => engine.close());

  test('one-shot job answers a result', async () => {
    const r = await oneShotEngine.run<{ protocol: number; echo: string }>('ping', { echo: 'hi' });
    expect(r).toMatchObject({ protocol: 1, echo: 'hi' });
  });

  test('a bad request is an EngineJobError naming the field', async () => {
    const err = await oneShotEngine.run('ping', { nope: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineJobError);
    expect(err).toMatchObject({ type: 'RequestError', field: 'nope', retryable: false });
  });

  test('an unknown job names the job field', async () => {
    const err = await engine.run('no-such-job', {}).catch((e: unknown) => e);
    expect(err).toMatchObject({ type: 'RequestError', field: 'job' });
  });

  test('the warm engine serves many jobs from one process and keeps serving after a bad request', async () => {
    const startsBefore = engine.starts;
    await engine.run('ping', {});
    await expect(engine.run('ping', { bad: true })).rejects.toBeInstanceOf(EngineJobError);
    const r = await engine.run<{ echo: string }>('ping', { echo: 'still here' });
    expect(r.echo).toBe('still here');
    expect(engine.starts - startsBefore).toBeLessThanOrEqual(1);
  });

  test('cancellation kills the process; the next job restarts it', async () => {
    await engine.run('ping', {});
    const starts = engine.starts;
    const ac = new AbortController();
    const p = engine.run('ping', { sleepMs: 60_000 }, { signal: ac.signal, onProgress: () => ac.abort() });
    await expect(p).rejects.toBeInstanceOf(EngineCancelledError);
    const r = await engine.run<{ protocol: number }>('ping', {});
    expect(r.protocol).toBe(1);
    expect(engine.starts).toBe(starts + 1);
  });

  test('a timeout kills a hung job with a clear message', async () => {
    const err = await engine.run('ping', { sleepMs: 60_000 }, { timeoutMs: 500 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineProcessError);
    expect((err as Error).message).toContain('timed out after 500 ms');
    expect((await engine.run<{ protocol: number }>('ping', {})).protocol).toBe(1);
  });

  test('a crash mid-job fails that job as a process error and the next job gets a fresh process', async () => {
    await engine.run('ping', {});
    const p = engine.run(
      'ping',
      { sleepMs: 60_000 },
      { onProgress: () => process.kill(-(engine as any).child.pid, 'SIGKILL') },
    );
    const err = await p.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineProcessError);
    expect((err as Error).message).toMatch(/exited/);
    expect((await engine.run<{ protocol: number }>('ping', {})).protocol).toBe(1);
  });

  test('a missing python is a clear process error', async () => {
    const { OneShotEngine } = await import('../../src/engine/engine-process');
    const broken = new OneShotEngine({ python: '/nonexistent/python', cwd: process.cwd() });
    const err = await broken.run('ping', {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineProcessError);
    expect((err as Error).message).toContain('/nonexistent/python');
  });
});
