/**
 * Bad-input figures (issue 16, item 5): the generators of the property suite (tests/property/surfaces.ts,
 * engine/tests/test_properties.py) with more runs, counting per surface how many cases were tried, how many
 * were handled cleanly (a valid result, or the typed error naming the culprit) and how many failed (anything
 * else: an untyped error, a message naming no field or file, a wrong accepted value). Unlike the tests it
 * does not stop at the first failure. Prints a JSON line per surface and a markdown table last.
 *
 * Usage: node dist/bench/bad-input.js [--runs 20000] [--seed 16] [--engine-examples 10000]
 */
import { Command } from 'commander';
import { spawnSync } from 'node:child_process';
import * as fc from 'fast-check';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { defaultEngineLocation } from '../src/engine/engine-paths';
import { PROFILE, proposeInput } from '../tests/agents/claude-fixtures';
import {
  artifactKeys,
  campaignConfigObjects,
  campaignIds,
  campaignYamlFiles,
  llmReplies,
  onnxFiles,
  type Surface,
} from '../tests/property/surfaces';

interface Row {
  surface: string;
  tried: number;
  valid: number;
  typedError: number;
  failed: number;
  wallMs: number;
  firstFailures: string[];
}

async function measure<T>(surface: Surface<T>, runs: number, seed: number): Promise<Row> {
  const row: Row = {
    surface: surface.name,
    tried: 0,
    valid: 0,
    typedError: 0,
    failed: 0,
    wallMs: 0,
    firstFailures: [],
  };
  const cases = fc.sample(surface.arbitrary, { numRuns: runs, seed });
  const t0 = process.hrtime.bigint();
  for (const input of cases) {
    row.tried++;
    try {
      const outcome = await surface.check(input);
      if (outcome === 'valid') row.valid++;
      else row.typedError++;
    } catch (err) {
      row.failed++;
      if (row.firstFailures.length < 3) row.firstFailures.push((err as Error).message.split('\n')[0] ?? '');
    }
  }
  row.wallMs = Math.round(Number(process.hrtime.bigint() - t0) / 1e6);
  return row;
}

async function main(): Promise<void> {
  const o = new Command('bench/bad-input')
    .option('--runs <n>', 'cases per TS surface', '20000')
    .option('--seed <n>', 'fast-check and hypothesis seed', '16')
    .option('--engine-examples <n>', 'hypothesis examples per engine job', '10000')
    .parse(process.argv)
    .opts<{ runs: string; seed: string; engineExamples: string }>();
  const runs = Number(o.runs);
  const seed = Number(o.seed);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ap-bench-bad-input-'));
  const llmBase = proposeInput([], {
    baseStrategy: {
      importance: 'l2',
      globalPruning: true,
      isomorphic: true,
      roundTo: 8,
      ignoredLayers: ['conv1'],
    },
  });
  const surfaces = [
    campaignConfigObjects,
    campaignYamlFiles(dir),
    onnxFiles(dir),
    llmReplies(
      llmBase,
      PROFILE.stages.map((s) => s.name),
    ),
    artifactKeys,
    campaignIds,
  ] as Surface<unknown>[];
  const rows: Row[] = [];
  for (const s of surfaces) {
    const row = await measure(s, runs, seed);
    rows.push(row);
    console.log(JSON.stringify(row));
  }

  // The engine's requests: the same hypothesis generators, run by the engine's Python.
  const location = defaultEngineLocation(process.env.AP_ENGINE_PYTHON);
  const engine = spawnSync(
    location.python,
    [
      path.join(location.cwd, '..', 'bench', 'bad-input-engine.py'),
      '--examples',
      o.engineExamples,
      '--seed',
      String(seed),
    ],
    // PYTHONPATH: this checkout's engine code, whichever checkout the venv was installed from.
    { encoding: 'utf8', maxBuffer: 1 << 26, env: { ...process.env, PYTHONPATH: location.cwd } },
  );
  if (engine.status !== 0) throw new Error(`bench/bad-input-engine.py failed:\n${engine.stderr}`);
  for (const line of engine.stdout.split('\n').filter((l) => l.startsWith('{'))) {
    const row = JSON.parse(line) as Row;
    rows.push(row);
    console.log(line);
  }
  fs.rmSync(dir, { recursive: true, force: true });

  console.log('\n| surface | cases tried | handled cleanly (valid + typed error) | failed | wall |');
  console.log('|---|---:|---:|---:|---:|');
  for (const r of rows)
    console.log(
      `| ${r.surface} | ${r.tried} | ${r.valid + r.typedError} (${r.valid} + ${r.typedError}) | ${r.failed} | ${(r.wallMs / 1000).toFixed(1)} s |`,
    );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
