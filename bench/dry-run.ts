/**
 * Dry-run speed (issue 12, item 5): the engine's `prune-dry-run` (exact MACs and params of many strategies
 * without pruning) beside a warm `prune` trial of the same model, on one warm `serve` process. Every run
 * of the dry run is a fresh request, so it pays its own graph trace and importances; per-shape time is the
 * request's engine time divided by its shape count. The pruned strategies are checked against the dry run
 * (their MACs and params must be equal). Prints JSON lines, then a markdown table.
 *
 * Usage: node dist/bench/dry-run.js [--model resnet50] [--size 224] [--runs 3] [--shapes 96] [--trials 3]
 */
import { Command } from 'commander';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Strategy } from '../src/core/strategy';
import { dryRunStrategies } from '../src/engine/dry-run';
import { defaultEngineLocation } from '../src/engine/engine-paths';
import { WarmEngine } from '../src/engine/engine-process';
import { median } from './accuracy-stats';

/** A grid of shapes a solver might screen: ratios x criteria x scopes x rounding. */
export function shapeGrid(count: number): Strategy[] {
  const shapes: Strategy[] = [];
  const scopes = [
    { globalPruning: true, isomorphic: true },
    { globalPruning: true, isomorphic: false },
    { globalPruning: false, isomorphic: false },
  ];
  for (let i = 0; shapes.length < count; i++) {
    const scope = scopes[i % scopes.length]!;
    shapes.push({
      pruningRatio: Math.round((0.1 + ((i * 0.37) % 0.6)) * 1000) / 1000,
      importance: (['l2', 'l1', 'lamp'] as const)[Math.floor(i / 3) % 3]!,
      ...scope,
      roundTo: i % 2 ? 8 : 1,
    });
  }
  return shapes;
}

function stats(xs: number[]): { median: number; min: number; max: number } {
  const s = [...xs].sort((a, b) => a - b);
  return { median: median(s), min: s[0]!, max: s[s.length - 1]! };
}

async function main(): Promise<void> {
  const o = new Command('bench/dry-run')
    .option('--model <name>', 'model', 'resnet50')
    .option('--size <px>', 'input side', '224')
    .option('--runs <n>', 'dry-run requests (and single-shape requests)', '3')
    .option('--shapes <n>', 'shapes per dry-run request', '96')
    .option('--trials <n>', 'warm prune trials', '3')
    .parse(process.argv)
    .opts<{ model: string; size: string; runs: string; shapes: string; trials: string }>();
  const model = { name: o.model };
  const inputShape = [1, 3, Number(o.size), Number(o.size)];
  const shapes = shapeGrid(Number(o.shapes));
  const engine = new WarmEngine(defaultEngineLocation(process.env.AP_ENGINE_PYTHON));
  const outDir = path.join(os.tmpdir(), `ap-bench-dry-run-${process.pid}`);
  try {
    const trial = (strategy: Strategy) =>
      engine.run<{ macs: number; params: number; wallMs: number }>('prune', {
        model,
        inputShape,
        strategy,
        outDir,
      });
    await trial(shapes[0]!); // fills the warm cache: imports, dense model, analysis
    const trialMs: number[] = [];
    let mismatches = 0;
    const pruned = shapes.slice(0, Number(o.trials));
    const reference = await dryRunStrategies(engine, { model, inputShape, strategies: pruned });
    for (const [i, s] of pruned.entries()) {
      const r = await trial(s);
      trialMs.push(r.wallMs);
      const d = reference.results[i]!;
      if (!('macs' in d) || d.macs !== r.macs || d.params !== r.params) mismatches++;
      console.log(
        JSON.stringify({
          case: 'prune',
          i,
          wallMs: r.wallMs,
          macs: r.macs,
          dryMacs: 'macs' in d ? d.macs : d,
        }),
      );
    }
    const perShapeMs: number[] = [];
    const singleMs: number[] = [];
    for (let run = 0; run < Number(o.runs); run++) {
      const batch = await dryRunStrategies(engine, { model, inputShape, strategies: shapes });
      perShapeMs.push(batch.wallMs / shapes.length);
      const errors = batch.results.filter((r) => 'error' in r).length;
      console.log(
        JSON.stringify({ case: 'dry-run', run, shapes: shapes.length, wallMs: batch.wallMs, errors }),
      );
      const one = await dryRunStrategies(engine, {
        model,
        inputShape,
        strategies: [shapes[run % shapes.length]!],
      });
      singleMs.push(one.wallMs);
      console.log(JSON.stringify({ case: 'dry-run-single', run, wallMs: one.wallMs }));
    }
    const t = stats(trialMs);
    const p = stats(perShapeMs);
    const s = stats(singleMs);
    const load = os
      .loadavg()
      .map((x) => x.toFixed(2))
      .join(' ');
    console.log(
      `\nmachine: ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, load ${load}; ${o.model} at ${o.size} px; ` +
        `dry run == prune on ${pruned.length - mismatches}/${pruned.length} pruned shapes\n`,
    );
    console.log('| case | median (ms) | min-max (ms) | runs |');
    console.log('|---|---|---|---|');
    console.log(`| warm prune trial (engine wallMs) | ${t.median} | ${t.min}-${t.max} | ${trialMs.length} |`);
    console.log(
      `| dry run, per shape, ${shapes.length} shapes per request | ${p.median.toFixed(1)} | ${p.min.toFixed(1)}-${p.max.toFixed(1)} | ${perShapeMs.length} |`,
    );
    console.log(`| dry run, one shape per request | ${s.median} | ${s.min}-${s.max} | ${singleMs.length} |`);
    if (mismatches) process.exitCode = 1;
  } finally {
    await engine.close();
  }
}

if (require.main === module) {
  main().then(
    () => process.exit(process.exitCode ?? 0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
