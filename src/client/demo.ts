import type { Command } from 'commander';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CampaignConfigInput } from '../core/campaign-config';
import { formatMacs, formatPercent } from '../core/units';
import { resolveClientConfig } from './client-config';
import { stateDir } from '../workers/default-deps';
import { CampaignClient } from './campaign-client';
import { attemptsTable, table } from './format';
import { progressBar } from './progress-bar';
import { attemptLine } from './watch-view';
import { startLocalRuntime } from './local-runtime';
import { writeCampaignReport } from './report-file';

interface DatasetResult {
  root: string;
  classes: string[];
  trainCount: number;
  valCount: number;
}

interface TrainResult {
  modelSpec: { name: string; weights?: string; numClasses?: number };
  steps: number;
  wallMs: number;
  trainLoss: { last: number };
}

const pct = (x: number | undefined) => (x === undefined ? '-' : `${(x * 100).toFixed(1)}%`);
const ms = (x: number | undefined) => (x === undefined ? '-' : `${x.toFixed(2)} ms`);

/**
 * How the demo trains its dense democnn from scratch (AdamW, cosine with a short warm-up, light label
 * smoothing, seed 0): the engine's `finetune` recipe, shared with `bench/accuracy`'s dense models.
 */
export function denseRecipe(epochs: number) {
  return {
    epochs,
    batchSize: 32,
    lr: 0.003,
    optimizer: 'adamw',
    weightDecay: 5e-4,
    warmupEpochs: 0.2,
    schedule: 'cosine',
    labelSmoothing: 0.05,
    seed: 0,
  } as const;
}

/**
 * Where the demo keeps its generated dataset and trained baseline, under the state dir: the paths
 * `examples/demo-accuracy.yaml` names (relative to itself) for the default state dir.
 *
 * @example
 * demoPaths({}) // { root: '<repo>/.state/demo', dataset: '<repo>/.state/demo/dataset', weights: '<repo>/.state/demo/baseline/model.pt' }
 */
export function demoPaths(env: Parameters<typeof stateDir>[0]): {
  root: string;
  dataset: string;
  weights: string;
} {
  const root = path.join(stateDir(env), 'demo');
  return { root, dataset: path.join(root, 'dataset'), weights: path.join(root, 'baseline', 'model.pt') };
}

/**
 * Whether an executable file `name` is in a folder of `pathVar` (a PATH value). `npm run demo` does not
 * put the package's own `agentic-pruner` on the PATH, so the demo's closing hint says how when it is not.
 * @example onPath('node', '/usr/local/bin:/usr/bin') // true where node is installed there
 */
export function onPath(name: string, pathVar: string): boolean {
  return pathVar
    .split(path.delimiter)
    .filter(Boolean)
    .some((dir) => {
      try {
        fs.accessSync(path.join(dir, name), fs.constants.X_OK);
        return fs.statSync(path.join(dir, name)).isFile();
      } catch {
        return false;
      }
    });
}

/** The demo's last line: what the demo left and the two commands that run the README's accuracy example. */
export function demoNextSteps(paths: { weights: string; dataset: string }, pathVar: string): string {
  const hint =
    `\nthe baseline (${paths.weights}) and its dataset (${paths.dataset}) stay for your own campaigns: ` +
    'examples/demo-accuracy.yaml runs the accuracy search on them ' +
    '(agentic-pruner worker, then agentic-pruner campaign start -c examples/demo-accuracy.yaml --wait)';
  return onPath('agentic-pruner', pathVar)
    ? hint
    : `${hint}\nagentic-pruner is not on your PATH: run it as \`npx agentic-pruner ...\` from this folder, ` +
        'or `npm link` here once to put it there';
}

/** `demo`: the whole system on embedded defaults, on a laptop CPU, in a few minutes. */
export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description(
      'end to end on embedded defaults: a generated dataset, a small baseline CNN trained for about a minute, ' +
        'a campaign to 50 % of its MACs, a short fine-tune, evaluation, the deployment check and a report',
    )
    .option('--fraction <f>', 'MAC target as a fraction of the dense model', '0.5')
    .option('--band <band>', 'tolerance band', '-5%..+1%')
    .option('--epochs <n>', 'baseline training epochs', '4')
    .option('--finetune-epochs <n>', 'fine-tune epochs of the pruned model', '2')
    .addHelpText(
      'after',
      '\nExample:\n  $ agentic-pruner demo\n  $ ANTHROPIC_API_KEY=... agentic-pruner demo   # Claude proposes the strategies',
    )
    .action(async (opts: { fraction: string; band: string; epochs: string; finetuneEpochs: string }) => {
      const t0 = Date.now();
      // The same resolution as every command: AP_TEMPORAL_PORT is the port the local server starts on.
      const { env, processEnv } = resolveClientConfig();
      const { root, dataset: datasetDir, weights } = demoPaths(env);
      fs.mkdirSync(root, { recursive: true });
      const log = (msg: string) =>
        console.error(`[demo ${((Date.now() - t0) / 1000).toFixed(0).padStart(3)}s] ${msg}`);

      log('starting the local Temporal dev server and in-process workers (control + gpu)');
      const runtime = await startLocalRuntime({
        env,
        processEnv,
        queues: ['control', 'trials', 'train'],
        startServer: !process.env.TEMPORAL_ADDRESS,
      });
      try {
        const engine = runtime.deps.oneShotEngine;
        log('generating the dataset (10 classes of 32x32 shapes, ImageFolder layout)');
        const dataset = await engine.run<DatasetResult>('make-dataset', {
          out: datasetDir,
          classes: 10,
          trainPerClass: 120,
          valPerClass: 30,
          imageSize: 32,
          seed: 0,
        });

        const baselineDir = path.dirname(weights);
        if (!fs.existsSync(weights)) {
          log(`training the baseline democnn for ${opts.epochs} epochs (about a minute on a laptop CPU)`);
          fs.rmSync(baselineDir, { recursive: true, force: true });
          const bar = progressBar('baseline');
          const trained = await engine.run<TrainResult>(
            'finetune',
            {
              model: { name: 'democnn' },
              dataset: { root: dataset.root },
              recipe: denseRecipe(Number(opts.epochs)),
              checkpointDir: path.join(baselineDir, 'checkpoints'),
              checkpointEverySteps: 1000,
              outDir: baselineDir,
            },
            { onProgress: bar.update },
          );
          bar.end();
          log(
            `baseline trained: ${trained.steps} steps in ${(trained.wallMs / 1000).toFixed(0)} s, loss ${trained.trainLoss.last.toFixed(3)}`,
          );
        } else {
          log(`reusing the baseline at ${weights}`);
        }

        const agent = process.env.ANTHROPIC_API_KEY ? 'claude' : 'solver';
        const config: CampaignConfigInput = {
          name: 'demo',
          model: { name: 'democnn', weights },
          targets: [{ fraction: Number(opts.fraction), band: opts.band }],
          search: { agent, maxIterations: 10, extendedSearch: 2 },
          dataset: { root: dataset.root, calibrationBatches: 2, calibrationBatchSize: 64 },
          finetune: {
            epochs: Number(opts.finetuneEpochs),
            batchSize: 32,
            lr: 0.002,
            optimizer: 'adamw',
            weightDecay: 5e-4,
            labelSmoothing: 0.05,
            kdAlpha: 0.5,
            checkpointEverySteps: 25,
            bf16: false,
            channelsLast: false,
            workers: 0,
          },
          deployment: { enabled: true, latencyRuns: 30, batchSizes: [1, 32], agreementSamples: 200 },
        };
        const client = new CampaignClient(runtime.client);
        const { campaignId } = await client.start(config);
        log(
          `campaign ${campaignId}: democnn -> ${Number(opts.fraction) * 100} % of its MACs, band ${opts.band}, agent ${agent}`,
        );
        let shown = 0;
        const bar = progressBar('fine-tune');
        for await (const frame of client.watch(campaignId, 500)) {
          const attempts = frame.logs.flatMap((l) => l.attempts);
          for (const a of attempts.slice(shown)) {
            log(attemptLine(a));
          }
          shown = Math.max(shown, attempts.length);
          if (frame.finetune)
            bar.update({
              step: frame.finetune.step,
              totalSteps: frame.finetune.totalSteps ?? undefined,
              loss: frame.finetune.loss ?? undefined,
              etaSec: frame.finetune.etaSec ?? undefined,
            });
        }
        bar.end();
        const result = await client.result(campaignId);
        const logs = await client.log(campaignId);
        const t = result.targets[0]!;
        console.log(`\nstrategy log (${t.targetLabel}):`);
        console.log(attemptsTable(logs[0]?.attempts ?? [], logs[0]?.chosenIndex ?? null));
        const dl = t.deployment?.dense.latency.find((r) => r.batchSize === 1);
        const pl = t.deployment?.pruned.latency.find((r) => r.batchSize === 1);
        const sp = t.deployment?.speedup.find((r) => r.batchSize === 1);
        const spBig = t.deployment?.speedup.find((r) => r.batchSize !== 1);
        console.log('\nsummary:');
        console.log(
          table(
            [
              '',
              'MACs',
              'params',
              'top-1',
              'latency b1 (p50)',
              'speedup b1',
              `speedup b${spBig?.batchSize ?? '-'}`,
              'attempts',
            ],
            [
              [
                'dense',
                formatMacs(result.denseMacs),
                formatMacs(result.denseParams),
                pct(result.denseAccuracy?.top1),
                ms(dl?.p50Ms),
                '1.00x',
                '1.00x',
                '-',
              ],
              [
                `pruned (${t.status})`,
                t.chosen ? `${formatMacs(t.chosen.macs)} (${formatPercent(t.chosen.deviation)})` : '-',
                t.chosen ? formatMacs(t.chosen.params) : '-',
                pct(t.accuracy?.top1),
                ms(pl?.p50Ms),
                sp ? `${sp.ratio.toFixed(2)}x` : '-',
                spBig ? `${spBig.ratio.toFixed(2)}x` : '-',
                `${t.attemptsToConverge ?? '-'} to band, ${t.attemptCount} total`,
              ],
            ],
          ),
        );
        if (t.deployment?.agreement) {
          console.log(
            `\nPyTorch vs ONNX Runtime top-1 agreement: ${pct(t.deployment.agreement.top1Agreement)} on ${t.deployment.agreement.count} images; MAC ratio ${t.deployment.macRatio.toFixed(2)}x`,
          );
        }
        const report = await writeCampaignReport(
          client,
          runtime.deps.store,
          campaignId,
          path.join(root, 'reports'),
        );
        console.log(`\nreport: ${report}`);
        console.log(`done in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
        console.log(demoNextSteps({ weights, dataset: datasetDir }, process.env.PATH ?? ''));
        if (t.status !== 'converged') process.exitCode = 1;
      } finally {
        await runtime.stop();
      }
    });
}
