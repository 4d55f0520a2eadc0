/**
 * The fleet benchmark: N small campaigns (democnn, search + a short fine-tune + evaluation) on one control
 * worker and two device workers (`--devices 1` each), every worker its own process started by the built
 * CLI on the real Temporal dev server and the real S3 server. Runs them all at once, then the same N one
 * after another, and reports: every campaign completed, the most engine processes seen below each device
 * worker (sampled from /proc every 200 ms), peak RSS of each worker and engine process, and the wall times.
 * Progress on stderr, a JSON summary last on stdout.
 *
 * Usage: bench/fleet [--campaigns 20] [--max-steps 40] [--mode both|concurrent|sequential]
 */
import { Command } from 'commander';
import * as os from 'node:os';
import { CampaignClient } from '../src/client/campaign-client';
import { resolveClientConfig } from '../src/client/client-config';
import { connectClient } from '../src/client/connect';
import { OneShotEngine } from '../src/engine/engine-process';
import { defaultEngineLocation } from '../src/engine/engine-paths';
import type { CampaignConfigInput } from '../src/core/campaign-config';
import { descendantsOf, processTable, sleep, WorkerProcess } from '../tests/support/worker-process';
import { smallShapes } from '../tests/support/test-env';

interface Peak {
  /** Most engine processes at once: warm trial engines (`serve`) and one-shot long jobs. */
  serve: number;
  jobs: number;
  workerRssMb: number;
  engineRssMb: number;
}

async function main(): Promise<void> {
  const opts = new Command('bench/fleet')
    .option('--campaigns <n>', 'how many campaigns', '20')
    .option('--max-steps <n>', 'fine-tune steps per campaign', '40')
    .option('--mode <m>', 'both | concurrent | sequential', 'both')
    .parse()
    .opts<{ campaigns: string; maxSteps: string; mode: string }>();
  const n = Number(opts.campaigns);
  const maxSteps = Number(opts.maxSteps);
  const { env, processEnv } = resolveClientConfig({ ...process.env, AP_STORE: 's3' });
  const services = {
    temporalAddress: env.TEMPORAL_ADDRESS,
    s3: {
      endpoint: processEnv.AP_S3_ENDPOINT!,
      bucket: processEnv.AP_S3_BUCKET!,
      accessKeyId: processEnv.AP_S3_ACCESS_KEY!,
      secretAccessKey: processEnv.AP_S3_SECRET_KEY!,
    },
  };
  const log = (m: string) => process.stderr.write(`[fleet ${new Date().toISOString().slice(11, 19)}] ${m}\n`);

  const engine = new OneShotEngine(defaultEngineLocation(env.AP_ENGINE_PYTHON));
  const dataset = await smallShapes(engine, 'ap-bench-fleet-');
  const config: CampaignConfigInput = {
    model: { name: 'democnn', numClasses: 4 },
    targets: [{ fraction: 0.5, band: '-5%..+1%', label: 't50' }],
    search: { agent: 'solver', maxIterations: 10, extendedSearch: 0 },
    dataset: { root: dataset, calibrationBatches: 1, calibrationBatchSize: 8 },
    finetune: { epochs: 100, batchSize: 8, maxSteps, checkpointEverySteps: maxSteps, workers: 0 },
  };

  const control = new WorkerProcess('control', ['--queues', 'control'], {}, services);
  const devices = [
    new WorkerProcess('dev-a', ['--devices', '1'], {}, services),
    new WorkerProcess('dev-b', ['--devices', '1'], {}, services),
  ];
  const workers = [control, ...devices];
  const peaks = new Map<string, Peak>(
    workers.map((w) => [w.name, { serve: 0, jobs: 0, workerRssMb: 0, engineRssMb: 0 }]),
  );
  let sampling = true;
  let samples = 0;
  const sampler = (async () => {
    while (sampling) {
      const table = processTable();
      for (const w of workers) {
        if (!w.running) continue;
        const self = table.find((r) => r.pid === w.pid);
        const engines = descendantsOf(w.pid, table).filter((r) => /-m agentic_engine /.test(r.cmdline));
        const p = peaks.get(w.name)!;
        p.serve = Math.max(p.serve, engines.filter((r) => r.cmdline.includes('agentic_engine serve')).length);
        p.jobs = Math.max(p.jobs, engines.filter((r) => !r.cmdline.includes('agentic_engine serve')).length);
        p.workerRssMb = Math.max(p.workerRssMb, (self?.rssBytes ?? 0) / 2 ** 20);
        for (const e of engines) p.engineRssMb = Math.max(p.engineRssMb, e.rssBytes / 2 ** 20);
      }
      samples++;
      await sleep(200);
    }
  })();

  const results: Record<string, { wallSec: number; completed: number; perCampaignSec: number[] }> = {};
  try {
    await Promise.all(workers.map((w) => w.ready()));
    log(`workers up: ${workers.map((w) => w.name).join(', ')}`);
    const client = new CampaignClient(await connectClient(env.TEMPORAL_ADDRESS, env.TEMPORAL_NAMESPACE));
    const stamp = Date.now().toString(36);
    const runOne = async (id: string): Promise<number> => {
      const t0 = Date.now();
      const { campaignId } = await client.start(config, { campaignId: id });
      const r = await client.result(campaignId);
      if (r.targets[0]?.status !== 'converged' || r.targets[0].finetune?.steps !== maxSteps)
        throw new Error(
          `${campaignId}: ${r.targets[0]?.status}, fine-tune ${r.targets[0]?.finetune?.steps ?? 'none'}`,
        );
      return (Date.now() - t0) / 1000;
    };
    const modes = opts.mode === 'both' ? ['concurrent', 'sequential'] : [opts.mode];
    for (const mode of modes) {
      const t0 = Date.now();
      const ids = Array.from({ length: n }, (_, i) => `bench-fleet-${stamp}-${mode}-${i}`);
      let per: number[];
      if (mode === 'concurrent') per = await Promise.all(ids.map(runOne));
      else {
        per = [];
        for (const id of ids) per.push(await runOne(id));
      }
      const wallSec = (Date.now() - t0) / 1000;
      results[mode] = {
        wallSec,
        completed: per.length,
        perCampaignSec: per.map((s) => Math.round(s * 10) / 10),
      };
      log(`${mode}: ${per.length}/${n} completed in ${wallSec.toFixed(1)} s`);
    }
    await client.temporal.connection.close();
  } finally {
    sampling = false;
    await sampler;
    for (const w of workers) await w.stop();
  }
  const round = (x: number) => Math.round(x);
  console.log(
    JSON.stringify(
      {
        host: { cpus: os.cpus().length, loadavg: os.loadavg().map((l) => Math.round(l * 100) / 100) },
        campaigns: n,
        maxSteps,
        results,
        speedup:
          results.concurrent && results.sequential
            ? results.sequential.wallSec / results.concurrent.wallSec
            : null,
        samples,
        peaks: Object.fromEntries(
          [...peaks].map(([k, p]) => [
            k,
            { ...p, workerRssMb: round(p.workerRssMb), engineRssMb: round(p.engineRssMb) },
          ]),
        ),
      },
      null,
      2,
    ),
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`bench/fleet: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
