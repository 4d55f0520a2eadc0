/**
 * The convergence benchmark: real campaigns through the real workflows on the real dev server, with the
 * warm engine, for every model x target x band x agent. Prints a progress line per case on stderr and a
 * JSON summary last on stdout.
 *
 * Usage: bench/convergence [--models a,b] [--targets 0.25,0.5] [--bands "-1%..+1%,-5%..+1%"]
 *                          [--agents grid,solver] [--max-iterations 10] [--input-size 224]
 */
import { Command } from 'commander';
import * as fs from 'node:fs';
import * as os from 'node:os';
import { CampaignClient } from '../src/client/campaign-client';
import { startLocalRuntime } from '../src/client/local-runtime';
import { resolveClientConfig } from '../src/client/client-config';
import { quantile } from './accuracy-stats';
import { extendedStats, type ExtendedStats } from './extended-stats';

interface CaseRow {
  model: string;
  target: number;
  band: string;
  agent: string;
  converged: boolean;
  attempts: number;
  attemptsToConverge: number | null;
  finalDeviation: number | null;
  reason: string;
  wallSec: number;
  /** With --extended-search: what the extended search did after the first in-band attempt. */
  extended?: ExtendedStats;
}

async function main(): Promise<void> {
  const program = new Command('bench/convergence')
    .option('--models <list>', 'models', 'resnet50,resnet101,convnext_small,deit_small,deit_base')
    .option('--targets <list>', 'target fractions of dense MACs', '0.25,0.35,0.43,0.55,0.70,0.85')
    .option('--bands <list>', 'bands', '-1%..+1%,-5%..+1%,-10%..+3%,-15%..+5%')
    .option('--agents <list>', 'agents', 'grid,solver')
    .option('--max-iterations <n>', 'max attempts per target', '10')
    .option('--input-size <px>', "input resolution (default: the model's own)")
    .option('--rows-out <file>', 'append each finished case as a JSON line to this file')
    .option(
      '--extended-search <n>',
      'in-band candidates to look for after the first (0: stop at the band)',
      '0',
    )
    .parse(process.argv);
  const o = program.opts<{
    models: string;
    targets: string;
    bands: string;
    agents: string;
    maxIterations: string;
    inputSize?: string;
    rowsOut?: string;
    extendedSearch: string;
  }>();
  const extendedSearch = Number(o.extendedSearch);
  const models = o.models.split(',');
  const targets = o.targets.split(',').map(Number);
  const bands = o.bands.split(',');
  const agents = o.agents.split(',') as ('grid' | 'solver' | 'claude' | 'hybrid')[];
  if (agents.some((a) => a === 'claude' || a === 'hybrid') && !process.env.ANTHROPIC_API_KEY) {
    console.error('ANTHROPIC_API_KEY is not set: skipping agents claude and hybrid (never faked)');
  }
  const runAgents = agents.filter((a) => (a !== 'claude' && a !== 'hybrid') || process.env.ANTHROPIC_API_KEY);

  // The CLI's configuration resolution: AP_TEMPORAL_PORT, TEMPORAL_ADDRESS and the store as everywhere.
  const { env, processEnv } = resolveClientConfig();
  const runtime = await startLocalRuntime({
    env,
    processEnv,
    queues: ['control', 'trials', 'train'],
    startServer: !process.env.TEMPORAL_ADDRESS,
  });
  const client = new CampaignClient(runtime.client);
  const rows: CaseRow[] = [];
  const t0 = Date.now();
  try {
    for (const model of models) {
      for (const agent of runAgents) {
        const started = Date.now();
        const cases = targets.flatMap((fraction) => bands.map((band) => ({ fraction, band })));
        const { campaignId } = await client.start({
          name: `bench-${model}-${agent}`.replace(/[^A-Za-z0-9._-]/g, '_'),
          model: { name: model, ...(o.inputSize ? { inputSize: Number(o.inputSize) } : {}) },
          targets: cases.map((c, i) => ({ fraction: c.fraction, band: c.band, label: `c${i + 1}` })),
          search: { agent, fallbackAgent: agent, maxIterations: Number(o.maxIterations), extendedSearch },
        });
        const result = await client.result(campaignId);
        const logs = extendedSearch > 0 ? await client.log(campaignId) : [];
        // Every candidate model of every attempt is stored; the bench needs only the numbers, and
        // 24 cases x 10 attempts of a large model fill a disk.
        for (const o of await runtime.deps.store.list(`campaigns/${campaignId}/`))
          await runtime.deps.store.delete(o.key);
        const wallSec = (Date.now() - started) / 1000;
        for (const t of result.targets) {
          const c = cases[Number(t.targetLabel.slice(1)) - 1]!;
          const row: CaseRow = {
            model,
            target: c.fraction,
            band: c.band,
            agent,
            converged: t.status === 'converged',
            attempts: t.attemptCount,
            attemptsToConverge: t.attemptsToConverge,
            finalDeviation: t.chosen ? t.chosen.deviation : null,
            reason: t.reason,
            wallSec: wallSec / result.targets.length,
          };
          const log = logs.find((l) => l.targetLabel === t.targetLabel);
          if (log && t.attemptsToConverge !== null)
            row.extended = extendedStats(log.attempts, t.attemptsToConverge);
          rows.push(row);
        }
        const mine = rows.filter((r) => r.model === model && r.agent === agent);
        // One line per (model, agent) as it finishes, so an interrupted run keeps what it measured.
        if (o.rowsOut) fs.appendFileSync(o.rowsOut, mine.map((r) => JSON.stringify(r)).join('\n') + '\n');
        console.error(
          `${model} ${agent}: ${mine.filter((r) => r.converged).length}/${mine.length} converged, ${wallSec.toFixed(0)} s (${campaignId})`,
        );
      }
    }
  } finally {
    await runtime.stop();
  }
  const perAgent = Object.fromEntries(
    runAgents.map((agent) => {
      const mine = rows.filter((r) => r.agent === agent);
      const ok = mine.filter((r) => r.converged);
      const toBand = ok.map((r) => r.attemptsToConverge ?? r.attempts);
      return [
        agent,
        {
          cases: mine.length,
          successRate: mine.length ? ok.length / mine.length : null,
          medianAttempts: quantile(toBand, 0.5),
          p90Attempts: quantile(toBand, 0.9),
          wallSec: mine.reduce((s, r) => s + r.wallSec, 0),
          ...(extendedSearch > 0
            ? {
                extended: Object.fromEntries(
                  (['attempts', 'shapes', 'firstTryInBand', 'candidates'] as const).map((k) => [
                    k,
                    mine.reduce((s, r) => s + (r.extended?.[k] ?? 0), 0),
                  ]),
                ),
              }
            : {}),
          failures: mine
            .filter((r) => !r.converged)
            .map((r) => ({
              model: r.model,
              target: r.target,
              band: r.band,
              reason: r.reason,
              finalDeviation: r.finalDeviation,
            })),
        },
      ];
    }),
  );
  console.log(
    JSON.stringify(
      {
        machine: `${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB`,
        wallSec: (Date.now() - t0) / 1000,
        perAgent,
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
