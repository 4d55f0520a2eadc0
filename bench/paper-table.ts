/**
 * The paper's table on what a CPU can measure: for each of the seed's published runs, a real campaign
 * (solver, default band -5%..+1%) to the paper's own MAC target, then the deployment check (ONNX export,
 * onnxruntime CPU latency, dense and pruned with the same threads) at batch 1 and 32. Prints a progress line
 * per model on stderr and a JSON summary last on stdout, each row beside the paper's figures.
 *
 * Usage: bench/paper-table [--models resnet50,resnet101,convnext_small,deit_tiny] [--latency-runs 20]
 *                          [--batch-sizes 1,32] [--quick]
 * --quick: deit_tiny only, 10 latency runs (the full table is hours of CPU on a shared 2-core host).
 */
import { Command } from 'commander';
import * as os from 'node:os';
import { CampaignClient } from '../src/client/campaign-client';
import { resolveClientConfig } from '../src/client/client-config';
import { startLocalRuntime } from '../src/client/local-runtime';

/** The seed's published runs (its public code's logs): dense -> target -> reached, in MACs. */
const PAPER: Record<string, { denseMacs: number; targetMacs: number; reachedMacs: number; note: string }> = {
  resnet50: { denseMacs: 4.1e9, targetMacs: 2.06e9, reachedMacs: 1.81e9, note: '12 % under its own target' },
  resnet101: { denseMacs: 7.8e9, targetMacs: 4.48e9, reachedMacs: 4.17e9, note: '' },
  convnext_small: {
    denseMacs: 8.7e9,
    targetMacs: 8.48e9,
    reachedMacs: 8.17e9,
    note: '45 % fewer parameters; 1.41x GPU, 1.07x CPU speedup',
  },
  deit_tiny: { denseMacs: 1.3e9, targetMacs: 0.62e9, reachedMacs: 0.61e9, note: '2.90 M parameters' },
};

interface Row {
  model: string;
  paper: (typeof PAPER)[string];
  status: string;
  denseMacs: number;
  targetMacs: number;
  macs: number | null;
  deviation: number | null;
  attempts: number;
  denseParams: number;
  params: number | null;
  /** dense p50 / pruned p50 on onnxruntime CPU, per batch size. */
  speedup: { batchSize: number; provider: string; ratio: number; denseP50Ms: number; prunedP50Ms: number }[];
  macRatio: number | null;
  wallSec: number;
}

async function main(): Promise<void> {
  const program = new Command('bench/paper-table')
    .option('--models <list>', 'models (of the paper table)', Object.keys(PAPER).join(','))
    .option('--latency-runs <n>', 'onnxruntime runs per model and batch size (median of them)', '20')
    .option('--batch-sizes <list>', 'batch sizes', '1,32')
    .option('--quick', 'deit_tiny only, 10 latency runs')
    .parse(process.argv);
  const o = program.opts<{ models: string; latencyRuns: string; batchSizes: string; quick?: boolean }>();
  const models = o.quick ? ['deit_tiny'] : o.models.split(',');
  const latencyRuns = o.quick ? 10 : Number(o.latencyRuns);
  const batchSizes = o.batchSizes.split(',').map(Number);
  for (const m of models) if (!PAPER[m]) throw new Error(`--models: ${m} is not in the paper table`);

  const { env, processEnv } = resolveClientConfig();
  const runtime = await startLocalRuntime({
    env,
    processEnv,
    queues: ['control', 'trials', 'train'],
    startServer: !process.env.TEMPORAL_ADDRESS,
  });
  const client = new CampaignClient(runtime.client);
  const rows: Row[] = [];
  const t0 = Date.now();
  try {
    for (const model of models) {
      const paper = PAPER[model]!;
      const started = Date.now();
      const { campaignId } = await client.start({
        name: `paper-${model}`,
        model: { name: model },
        targets: [{ macs: paper.targetMacs, band: '-5%..+1%', label: 't1' }],
        search: { agent: 'solver', fallbackAgent: 'solver', maxIterations: 10, extendedSearch: 0 },
        deployment: { enabled: true, batchSizes, latencyRuns, agreementSamples: 1 },
      });
      const result = await client.result(campaignId);
      const t = result.targets[0]!;
      const d = t.deployment;
      const row: Row = {
        model,
        paper,
        status: t.status,
        denseMacs: result.denseMacs,
        targetMacs: t.targetMacs,
        macs: t.chosen?.macs ?? null,
        deviation: t.chosen?.deviation ?? null,
        attempts: t.attemptCount,
        denseParams: result.denseParams,
        params: d?.pruned.params ?? null,
        speedup: (d?.speedup ?? []).map((s, i) => ({
          ...s,
          denseP50Ms: d!.dense.latency[i]!.p50Ms,
          prunedP50Ms: d!.pruned.latency[i]!.p50Ms,
        })),
        macRatio: d?.macRatio ?? null,
        wallSec: (Date.now() - started) / 1000,
      };
      rows.push(row);
      for (const obj of await runtime.deps.store.list(`campaigns/${campaignId}/`))
        await runtime.deps.store.delete(obj.key);
      console.error(
        `${model}: ${row.status} ${row.macs ?? '-'} MACs (target ${row.targetMacs}), ${row.attempts} attempts, ` +
          `speedup ${row.speedup.map((s) => `b${s.batchSize} ${s.ratio.toFixed(2)}x`).join(' ')}, ${row.wallSec.toFixed(0)} s`,
      );
    }
  } finally {
    await runtime.stop();
  }
  console.log(
    JSON.stringify(
      {
        machine: `${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB`,
        loadAverage: os.loadavg(),
        latencyRuns,
        wallSec: (Date.now() - t0) / 1000,
        rows,
      },
      null,
      2,
    ),
  );
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
