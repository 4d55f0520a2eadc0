/**
 * @jest-environment ./tests/onnx/ort-environment.ts
 */
// `profile model.onnx --latency`: latency as one readable line, not raw JSON floats.
import { GraphBuilder } from '../onnx/onnx-builder';
import { tempDir } from '../support/test-env';
import { cli } from './run-cli';

test('profile <onnx> --latency prints p50/p90/p99 in ms with the provider, batch and runs', async () => {
  const model = new GraphBuilder()
    .input('x', [1, 3, 16, 16])
    .init('w', [8, 3, 3, 3])
    .node('Conv', 'y', ['x', 'w'], { pads: [1, 1, 1, 1] })
    .output('y')
    .save(tempDir('ap-latency-'));
  const r = await cli('profile', model, '--latency');
  expect(r.err).toBe('');
  expect(r.code).toBe(0);
  expect(r.out).toMatch(
    /^latency \((cpu|cuda), batch 1, 30 runs, \d+ threads\): p50 \d+\.\d\d ms, p90 \d+\.\d\d ms, p99 \d+\.\d\d ms/m,
  );
  expect(r.out).not.toContain('"p50Ms"');
});
