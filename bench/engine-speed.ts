/**
 * Engine speed: profile and prune trials, cold (a fresh `python -m agentic_engine` process per job:
 * interpreter, torch import, model build, graph tracing) vs warm (the long-lived `serve` process with the
 * dense model cached). Median of N runs each. Prints a JSON line per case and a markdown table last.
 *
 * Usage: node dist/bench/engine-speed.js [--runs 5] [--prune resnet50,convnext_small,deit_small]
 *                                        [--profile resnet50,deit_base] [--ratio 0.4]
 */
import { Command } from 'commander';
import * as os from 'node:os';
import * as path from 'node:path';
import { defaultEngineLocation } from '../src/engine/engine-paths';
import { OneShotEngine, WarmEngine } from '../src/engine/engine-process';
import { median } from './accuracy-stats';

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = process.hrtime.bigint();
  await fn();
  return Number(process.hrtime.bigint() - t) / 1e6;
}

async function main(): Promise<void> {
  const o = new Command('bench/engine-speed')
    .option('--runs <n>', 'runs per case', '5')
    .option('--prune <list>', 'models for prune trials', 'resnet50,convnext_small,deit_small')
    .option('--profile <list>', 'models for profile', 'resnet50,deit_base')
    .option('--ratio <r>', 'global pruning ratio of the trial', '0.4')
    .parse(process.argv)
    .opts<{ runs: string; prune: string; profile: string; ratio: string }>();
  const runs = Number(o.runs);
  const location = defaultEngineLocation(process.env.AP_ENGINE_PYTHON);
  const cold = new OneShotEngine(location);
  const rows: { job: string; model: string; coldMs: number; warmMs: number; engineWarmMs: number | null }[] =
    [];
  const strategy = {
    pruningRatio: Number(o.ratio),
    importance: 'l2',
    globalPruning: true,
    isomorphic: true,
    roundTo: 8,
  };
  const outDir = path.join(os.tmpdir(), 'ap-bench-prune');

  const cases: { job: 'profile' | 'prune'; model: string }[] = [
    ...o.profile
      .split(',')
      .filter(Boolean)
      .map((model) => ({ job: 'profile' as const, model })),
    ...o.prune
      .split(',')
      .filter(Boolean)
      .map((model) => ({ job: 'prune' as const, model })),
  ];
  for (const c of cases) {
    const request =
      c.job === 'prune' ? { model: { name: c.model }, strategy, outDir } : { model: { name: c.model } };
    const coldTimes: number[] = [];
    for (let i = 0; i < runs; i++) coldTimes.push(await timed(() => cold.run(c.job, request)));
    const warm = new WarmEngine(location);
    await warm.run(c.job, request); // fills the cache: imports, dense model, analysis
    const warmTimes: number[] = [];
    const engineTimes: number[] = [];
    for (let i = 0; i < runs; i++) {
      warmTimes.push(
        await timed(async () => {
          const r = await warm.run<{ wallMs?: number }>(c.job, request);
          if (typeof r.wallMs === 'number') engineTimes.push(r.wallMs);
        }),
      );
    }
    await warm.close();
    const row = {
      job: c.job,
      model: c.model,
      coldMs: Math.round(median(coldTimes)),
      warmMs: Math.round(median(warmTimes)),
      engineWarmMs: engineTimes.length ? Math.round(median(engineTimes)) : null,
    };
    rows.push(row);
    console.log(JSON.stringify(row));
  }
  const load = os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
  console.log(
    `\nmachine: ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, load ${load}; median of ${runs}\n`,
  );
  console.log('| job | model | cold process (ms) | warm engine (ms) | of which engine job (ms) |');
  console.log('|---|---|---|---|---|');
  for (const r of rows)
    console.log(`| ${r.job} | ${r.model} | ${r.coldMs} | ${r.warmMs} | ${r.engineWarmMs ?? '-'} |`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
