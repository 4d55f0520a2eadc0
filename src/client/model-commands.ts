import type { Command } from 'commander';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ModelSpecSchema, type ModelSpec } from '../core/model-spec';
import { parseWith } from '../core/errors';
import { ProfileSchema } from '../core/profile';
import { baseStrategy, StrategySchema, type Strategy } from '../core/strategy';
import { formatMacs } from '../core/units';
import { defaultEngineLocation } from '../engine/engine-paths';
import { OneShotEngine } from '../engine/engine-process';
import { measureLatency, profileOnnx, type LatencyResult } from '../onnx';
import { readWorkerEnv } from '../workers/worker-config';
import { UsageError } from './errors';
import { bar, table } from './format';

interface StageLine {
  name: string;
  macs: number;
  params: number;
  share: number;
}

function stageTable(stages: readonly StageLine[]): string {
  return table(
    ['stage', 'MACs', 'share', '', 'params'],
    stages.map((s) => [
      s.name,
      formatMacs(s.macs),
      `${(s.share * 100).toFixed(1)}%`,
      bar(s.share, 30),
      formatMacs(s.params),
    ]),
  );
}

/**
 * One readable latency line, e.g. `latency (cpu, batch 1, 30 runs, 2 threads): p50 1.84 ms, p90 2.01 ms, p99 2.30 ms`.
 */
export function latencyLine(l: LatencyResult): string {
  const ms = (v: number) => `${v.toFixed(2)} ms`;
  return (
    `latency (${l.provider}, batch ${l.batchSize}, ${l.runs} runs, ${l.threads} threads): ` +
    `p50 ${ms(l.p50Ms)}, p90 ${ms(l.p90Ms)}, p99 ${ms(l.p99Ms)}` +
    (l.fallbackReason ? ` (CUDA not used: ${l.fallbackReason.split('\n')[0]})` : '')
  );
}

function modelSpecFrom(name: string, opts: { weights?: string; inputSize?: string }): ModelSpec {
  return parseWith(
    ModelSpecSchema,
    {
      name,
      ...(opts.weights ? { weights: opts.weights } : {}),
      ...(opts.inputSize ? { inputSize: Number(opts.inputSize) } : {}),
    },
    'model',
  );
}

function engine(): OneShotEngine {
  return new OneShotEngine(defaultEngineLocation(readWorkerEnv().AP_ENGINE_PYTHON));
}

/** `profile` and `prune`: one model, locally, without Temporal. */
export function registerModelCommands(program: Command): void {
  program
    .command('profile')
    .description(
      'the Profiling Agent: MACs, params and the MAC distribution per stage of a model or an ONNX file',
    )
    .argument(
      '<model>',
      'a zoo model name (resnet50, convnext_small, deit_small...), file:path.py:fn, or a .onnx file',
    )
    .option('--json', 'machine-readable output: totals as macs and params, stages and layers')
    .option('--latency', 'also measure onnxruntime latency (p50/p90/p99)')
    .option('--batch-size <n>', 'batch size for --latency', '1')
    .option('--export-onnx <out>', 'write the model ONNX export here (zoo models)')
    .option('--weights <file>', 'state_dict file for the model (random init otherwise)')
    .option('--input-size <px>', "input resolution (default: the model's own)")
    .addHelpText(
      'after',
      '\nExamples:\n  $ agentic-pruner profile resnet50\n  $ agentic-pruner profile model.onnx --json --latency',
    )
    .action(
      async (
        model: string,
        opts: {
          json?: boolean;
          latency?: boolean;
          batchSize: string;
          exportOnnx?: string;
          weights?: string;
          inputSize?: string;
        },
      ) => {
        let onnxFile: string | undefined;
        let out: {
          model: string;
          macs: number;
          params: number;
          stages: readonly StageLine[];
          layers: readonly unknown[];
          source: 'engine' | 'onnx';
          latency?: LatencyResult;
        };
        if (model.endsWith('.onnx')) {
          const p = await profileOnnx(model);
          onnxFile = model;
          out = { model, macs: p.macs, params: p.params, stages: p.byStage, layers: p.nodes, source: 'onnx' };
        } else {
          const spec = modelSpecFrom(model, opts);
          const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ap-profile-'));
          const exportPath = opts.exportOnnx ?? (opts.latency ? path.join(tmp, 'model.onnx') : undefined);
          const raw = await engine().run(
            'profile',
            { model: spec, ...(exportPath ? { exportOnnx: path.resolve(exportPath) } : {}) },
            {
              onProgress: (ev) => !opts.json && process.stderr.write(`  ${ev.stage}...\n`),
            },
          );
          const p = parseWith(ProfileSchema, raw, 'engine profile');
          onnxFile = exportPath;
          out = {
            model: p.model,
            macs: p.macs,
            params: p.params,
            stages: p.stages,
            layers: p.layers,
            source: 'engine',
          };
        }
        if (opts.latency && onnxFile)
          out.latency = await measureLatency(onnxFile, { batchSize: Number(opts.batchSize) });
        if (opts.json) {
          console.log(JSON.stringify(out, null, 2));
          return;
        }
        console.log(
          `${out.model}: ${formatMacs(out.macs)} MACs, ${formatMacs(out.params)} params (${out.source})\n`,
        );
        console.log(stageTable(out.stages));
        if (out.latency) console.log(`\n${latencyLine(out.latency)}`);
        if (opts.exportOnnx) console.log(`\nONNX written to ${opts.exportOnnx}`);
      },
    );

  program
    .command('prune')
    .description(
      'one prune trial by hand, without Temporal: apply a strategy, measure, save (and export ONNX)',
    )
    .argument('<model>', 'a zoo model name or file:path.py:fn')
    .option('--ratio <r>', 'global pruning ratio in [0, 0.95)')
    .option('--strategy <file>', 'a Strategy JSON file')
    .option('--export-onnx <out>', 'also write the pruned model as ONNX')
    .option('--out <dir>', 'where the pruned model goes', 'pruned')
    .option('--weights <file>', 'state_dict file for the dense model')
    .option('--input-size <px>', 'input resolution')
    .option('--json', 'machine-readable output')
    .addHelpText(
      'after',
      '\nExamples:\n  $ agentic-pruner prune resnet50 --ratio 0.4 --json\n  $ agentic-pruner prune deit_small --strategy s.json --export-onnx small.onnx',
    )
    .action(
      async (
        model: string,
        opts: {
          ratio?: string;
          strategy?: string;
          exportOnnx?: string;
          out: string;
          weights?: string;
          inputSize?: string;
          json?: boolean;
        },
      ) => {
        if ((opts.ratio === undefined) === (opts.strategy === undefined)) {
          throw new UsageError('give exactly one of --ratio R or --strategy file.json');
        }
        let strategy: Strategy;
        if (opts.strategy) {
          strategy = parseWith(
            StrategySchema,
            JSON.parse(fs.readFileSync(opts.strategy, 'utf8')) as unknown,
            opts.strategy,
          );
        } else {
          strategy = parseWith(StrategySchema, baseStrategy(Number(opts.ratio)), '--ratio');
        }
        const spec = modelSpecFrom(model, opts);
        const outDir = path.resolve(opts.out);
        const res = await engine().run<Record<string, unknown>>(
          'prune',
          { model: spec, strategy, outDir, ...(opts.exportOnnx ? { exportOnnx: true } : {}) },
          { onProgress: (ev) => !opts.json && process.stderr.write(`  ${ev.stage}...\n`) },
        );
        const onnx = res.onnx as { path: string } | undefined;
        if (opts.exportOnnx && onnx) fs.copyFileSync(onnx.path, opts.exportOnnx);
        if (opts.json) {
          console.log(JSON.stringify(res, null, 2));
          return;
        }
        const dense = res.denseMacs as number;
        const macs = res.macs as number;
        console.log(
          `${model}: ${formatMacs(dense)} -> ${formatMacs(macs)} MACs (${((macs / dense) * 100).toFixed(1)}%), ` +
            `${formatMacs(res.denseParams as number)} -> ${formatMacs(res.params as number)} params`,
        );
        console.log(stageTable(res.stages as StageLine[]));
        console.log(`\nsaved to ${outDir}${opts.exportOnnx ? `; ONNX at ${opts.exportOnnx}` : ''}`);
      },
    );
}
