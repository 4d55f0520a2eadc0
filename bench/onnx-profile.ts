/**
 * TS ONNX profiler benchmark: wall time to read an ONNX file (protobuf decode), infer shapes and count
 * MACs/params, median of N runs (default 5) after one untimed warm-up. Prints one JSON line and one
 * markdown table row (for bench/RESULTS.md) on stdout.
 *
 * Usage (the model defaults to resnet50 from the test cache; the engine exports it when missing):
 *   npx tsc --ignoreConfig --ignoreDeprecations 6.0 --target ES2022 --module commonjs --moduleResolution node10 --esModuleInterop \
 *     --skipLibCheck --types node --rootDir . --outDir dist/bench-onnx bench/onnx-profile.ts
 *   node dist/bench-onnx/bench/onnx-profile.js [model.onnx] [--runs 5]
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { performance } from 'node:perf_hooks';

import { defaultEngineLocation, repoRoot } from '../src/engine/engine-paths';
import { OneShotEngine } from '../src/engine/engine-process';
import { loadOnnxModel, profileModel } from '../src/onnx';
import { median } from './accuracy-stats';

async function defaultModel(): Promise<string> {
  const file = path.join(repoRoot(), '.state', 'test-cache', 'onnx', 'resnet50-opset17.onnx');
  if (fs.existsSync(file)) return file;
  const engine = new OneShotEngine(defaultEngineLocation(process.env.AP_ENGINE_PYTHON));
  await engine.run('export', { model: { name: 'resnet50' }, out: file, opset: 17 }, { timeoutMs: 300_000 });
  return file;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const runsAt = args.indexOf('--runs');
  const runs = runsAt >= 0 ? Number(args[runsAt + 1]) : 5;
  if (!Number.isInteger(runs) || runs < 1)
    throw new Error(`--runs must be a positive integer, got ${args[runsAt + 1]}`);
  const positional = args.filter((a, i) => !a.startsWith('--') && (runsAt < 0 || i !== runsAt + 1));
  const file = positional[0] ?? (await defaultModel());

  const parseMs: number[] = [];
  const profileMs: number[] = [];
  const totalMs: number[] = [];
  let result: ReturnType<typeof profileModel> | undefined;
  for (let i = 0; i <= runs; i++) {
    const t0 = performance.now();
    const model = await loadOnnxModel(file);
    const t1 = performance.now();
    result = profileModel(model);
    const t2 = performance.now();
    if (i === 0) continue; // warm-up: JIT and page cache
    parseMs.push(t1 - t0);
    profileMs.push(t2 - t1);
    totalMs.push(t2 - t0);
  }
  if (!result) throw new Error('no run completed');
  const row = {
    bench: 'onnx-profile',
    model: path.basename(file),
    sizeBytes: fs.statSync(file).size,
    nodes: result.nodes.length,
    macs: result.macs,
    params: result.params,
    runs,
    parseMsMedian: Number(median(parseMs).toFixed(1)),
    shapesAndMacsMsMedian: Number(median(profileMs).toFixed(1)),
    totalMsMedian: Number(median(totalMs).toFixed(1)),
    node: process.version,
    cpus: os.cpus().length,
  };
  console.log(JSON.stringify(row));
  console.log(
    `| ${row.model} | ${(row.sizeBytes / 1e6).toFixed(1)} MB | ${row.nodes} | ${(row.macs / 1e9).toFixed(3)} G | ` +
      `${(row.params / 1e6).toFixed(3)} M | ${row.parseMsMedian} | ${row.shapesAndMacsMsMedian} | ${row.totalMsMedian} | ` +
      `${row.runs} | node ${row.node}, ${row.cpus} CPUs |`,
  );
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
