import { Command, CommanderError, Option } from 'commander';
import { ExitCode, PrunerError } from '../core/errors';
import { UsageError } from './errors';
import { formatBand } from '../core/tolerance-band';
import { formatMacs, formatPercent } from '../core/units';
import { campaignIdProblem } from '../core/campaign-config';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from '../engine/engine-paths';
import { CampaignClient } from './campaign-client';
import { resolveClientConfig, type ResolvedClientConfig } from './client-config';
import { loadCampaignFile } from './config-file';
import { connectClient } from './connect';
import { registerControlCommands, resolveSearchId } from './control-commands';
import { registerDatasetCommand } from './dataset-command';
import { CampaignFailedError } from './errors';
import { attemptsTable, bar, exportCsv, resultTable, table } from './format';
import { preflight } from './preflight';
import { runServices, startLocalRuntime } from './local-runtime';
import { registerDemoCommand } from './demo';
import { registerModelCommands } from './model-commands';
import { writeCampaignReport } from './report-file';
import { resetToAttempt } from './reset';
import { storeFromEnv } from '../workers/default-deps';
import { TaskQueues, type QueueName } from '../workflows/presets';

export { ExitCode, UsageError, resultTable };

/** The package version (package.json at the repository root; the same from src/ and from dist/). */
function packageVersion(): string {
  const pkg = JSON.parse(fs.readFileSync(path.join(repoRoot(), 'package.json'), 'utf8')) as {
    version: string;
  };
  return pkg.version;
}

/** The global flags every command may be given before its name. */
interface GlobalFlags {
  address?: string;
  namespace?: string;
}

let globalFlags: GlobalFlags = {};

/** The CLI's configuration: environment and global flags, resolved once per command. */
function clientConfig(): ResolvedClientConfig {
  return resolveClientConfig(process.env, globalFlags);
}

async function campaignClient(): Promise<CampaignClient> {
  const { env } = clientConfig();
  return new CampaignClient(await connectClient(env.TEMPORAL_ADDRESS, env.TEMPORAL_NAMESPACE));
}

/** One line per target that did not converge or whose search ended without a result: why. */
function reasonLines(logs: Awaited<ReturnType<CampaignClient['log']>>): string[] {
  return logs.flatMap((l) => {
    const why = l.reason ?? (l.result && l.result.status !== 'converged' ? l.result.reason : undefined);
    return why ? [`${l.targetLabel}: ${l.result?.status ?? l.status.toLowerCase()}: ${why}`] : [];
  });
}

function printLogs(logs: Awaited<ReturnType<CampaignClient['log']>>): void {
  for (const l of logs) {
    const status = l.result?.status ?? l.status;
    console.log(
      `\n${l.targetLabel}: ${l.model} -> ${formatMacs(l.targetMacs)} MACs, band ${formatBand(l.band)} (${status}, ${l.attempts.length} attempts${l.chosenIndex !== null ? `, kept #${l.chosenIndex}` : ''})`,
    );
    console.log(attemptsTable(l.attempts, l.chosenIndex));
    for (const c of l.changes) console.log(`after attempt ${c.afterAttempt}: ${c.note}`);
    for (const r of l.supersededRuns)
      console.log(`earlier run ${r.runId} (replaced by a reset): ${r.attempts} attempts, kept in history`);
    const why = reasonLines([l])[0];
    if (why) console.log(`reason: ${why.slice(l.targetLabel.length + 2)}`);
  }
}

function buildProgram(): Command {
  const program = new Command('agentic-pruner')
    .description(
      'MAC-constrained structured pruning of vision models, driven by a strategy search, run as durable Temporal workflows.',
    )
    .showSuggestionAfterError(true)
    .showHelpAfterError('(run with --help for usage)')
    .version(packageVersion(), '-V, --version', 'print the version')
    .option(
      '--address <host:port>',
      'Temporal server (default: $TEMPORAL_ADDRESS, else 127.0.0.1:$AP_TEMPORAL_PORT, else 127.0.0.1:7233)',
    )
    .option('--namespace <ns>', 'Temporal namespace (default: $TEMPORAL_NAMESPACE, else default)')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) })
    .hook('preAction', (cmd) => {
      globalFlags = cmd.optsWithGlobals<GlobalFlags>();
    });

  const server = program
    .command('server')
    .description('start, stop or check the local Temporal and S3 servers (infra/services.sh)');
  for (const action of ['start', 'stop', 'status', 'restart'] as const) {
    server
      .command(action)
      .argument('[service]', 'temporal | s3 | all', 'all')
      .description(`${action} the local services`)
      .action((service: string) => {
        process.exitCode = runServices(action, service) === 0 ? ExitCode.ok : ExitCode.failed;
      });
  }

  program
    .command('worker')
    .description('run workers for the given task queues until interrupted (on each GPU host: --queues gpu)')
    .addOption(new Option('--queues <list>', 'comma-separated: control,gpu').default('control,gpu'))
    .option('--concurrency <n>', 'concurrent activities on the gpu queue', '1')
    .option('--verbose', 'print the stack of every activity failure (one line each by default)')
    .addHelpText(
      'after',
      '\nExamples:\n  $ agentic-pruner worker --queues control,gpu\n  $ TEMPORAL_ADDRESS=temporal.lab:7233 AP_STORE=s3 agentic-pruner worker --queues gpu',
    )
    .action(async (opts: { queues: string; concurrency: string; verbose?: boolean }) => {
      const queues = opts.queues.split(',').map((q) => q.trim());
      const known = Object.keys(TaskQueues);
      for (const q of queues)
        if (!known.includes(q))
          throw new UsageError(`--queues: unknown queue "${q}" (expected ${known.join(', ')})`);
      const config = clientConfig();
      const runtime = await startLocalRuntime({
        env: config.env,
        processEnv: config.processEnv,
        queues: queues as QueueName[],
        startServer: false,
        concurrency: { gpu: Number(opts.concurrency) },
        verbose: opts.verbose === true,
      });
      console.error(`worker running on ${queues.join(', ')}; Ctrl-C to stop`);
      const stop = () => void runtime.stop();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      await runtime.running;
    });

  const campaign = program.command('campaign').description('start, watch and inspect pruning campaigns');
  campaign
    .command('start')
    .description('validate a campaign file and start it')
    .requiredOption('-c, --config <file>', 'campaign file (YAML or JSON)')
    .option('--id <id>', 'campaign id, used once (default: generated)')
    .option('--wait', 'wait for the result and print it with the strategy log')
    .option(
      '--no-path-checks',
      'do not check that the weights and dataset paths exist here (they live on the worker hosts only)',
    )
    .addHelpText(
      'after',
      '\nRelative paths in the campaign file (model.weights, dataset.root, file: factories) resolve against the\n' +
        "file's folder. Example campaign files are in examples/.\n\nExamples:\n" +
        '  $ agentic-pruner campaign start -c examples/resnet50-1.77g.yaml --wait\n' +
        '  $ agentic-pruner campaign start -c examples/deit-tiny-0.62g.yaml --id deit-tiny-try1',
    )
    .action(async (opts: { config: string; id?: string; wait?: boolean; pathChecks: boolean }) => {
      if (opts.id !== undefined) {
        const problem = campaignIdProblem(opts.id);
        if (problem) throw new UsageError(`--id: "${opts.id}" ${problem}`);
      }
      const checks = {
        baseDir: path.dirname(path.resolve(opts.config)),
        checkPaths: opts.pathChecks,
        source: opts.config,
      };
      // Everything this host can check, before connecting: a bad file never needs a server to be refused.
      const config = preflight(loadCampaignFile(opts.config), checks);
      if (
        (config.search.agent === 'claude' || config.search.agent === 'hybrid') &&
        !process.env.ANTHROPIC_API_KEY
      ) {
        throw new UsageError(
          `search.agent "${config.search.agent}" needs ANTHROPIC_API_KEY in the environment; set it or use agent "solver"`,
        );
      }
      const client = await campaignClient();
      const { campaignId } = await client.start(config, {
        ...checks,
        ...(opts.id ? { campaignId: opts.id } : {}),
      });
      console.log(campaignId);
      if (!opts.wait) return;
      const result = await client.result(campaignId);
      printLogs(await client.log(campaignId));
      console.log('\n' + resultTable(result));
      if (result.targets.some((t) => t.status !== 'converged')) process.exitCode = ExitCode.failed;
    });
  campaign
    .command('status')
    .argument('<id>', 'campaign id')
    .description('where the campaign stands: status, stage, each target and why it failed (no worker needed)')
    .action(async (id: string) => {
      const d = await (await campaignClient()).describe(id);
      console.log(`${id}: ${d.status}, stage ${d.stage ?? '-'}`);
      if (d.reason) console.log(`reason: ${d.reason}`);
      for (const w of d.warnings) console.log(`warning: ${w}`);
      for (const t of d.targets)
        console.log(
          `  ${t.label}: ${t.status}${t.reason && t.status !== 'converged' ? ` (${t.reason})` : ''}`,
        );
      if (d.reason) process.exitCode = ExitCode.failed;
    });
  campaign
    .command('show')
    .argument('<id>', 'campaign id')
    .description(
      "a campaign's results: the per-target table (kept attempt, MACs, deviation, params, accuracy, latency) and failure reasons",
    )
    .action(async (id: string) => {
      const client = await campaignClient();
      const d = await client.describe(id);
      console.log(`${id}: ${d.status}, stage ${d.stage ?? '-'}`);
      if (d.result) {
        console.log(
          `dense: ${formatMacs(d.result.denseMacs)} MACs, ${formatMacs(d.result.denseParams)} params` +
            (d.result.denseAccuracy ? `, top-1 ${(d.result.denseAccuracy.top1 * 100).toFixed(1)}%` : ''),
        );
        console.log('\n' + resultTable(d.result));
        const notes = d.result.targets.flatMap((t) => t.notes.map((n) => `${t.targetLabel}: ${n}`));
        for (const n of notes) console.log(`note: ${n}`);
      } else {
        const logs = await client.log(id);
        const rows = logs.map((l) => {
          const chosen = l.attempts.find((a) => a.index === l.chosenIndex) ?? null;
          return {
            targetLabel: l.targetLabel,
            targetMacs: l.targetMacs,
            status: l.result?.status ?? l.status.toLowerCase(),
            attemptCount: l.attempts.length,
            attemptsToConverge: l.result?.attemptsToConverge ?? null,
            chosen,
          };
        });
        if (rows.length > 0) console.log('\n' + resultTable({ targets: rows }));
        for (const line of reasonLines(logs)) console.log(`reason: ${line}`);
      }
      if (d.reason) console.log(`reason: ${d.reason}`);
      if (d.reason) process.exitCode = ExitCode.failed;
    });
  campaign
    .command('log')
    .argument('<id>', 'campaign id')
    .option('--json', 'print JSON')
    .description('the strategy log, rebuilt from workflow history (no worker needed)')
    .action(async (id: string, opts: { json?: boolean }) => {
      const client = await campaignClient();
      const logs = await client.log(id);
      if (opts.json) return console.log(JSON.stringify(logs, null, 2));
      printLogs(logs);
      const d = await client.describe(id);
      if (d.reason) console.log(`\n${id}: ${d.status}: ${d.reason}`);
    });
  campaign
    .command('list')
    .option(
      '--query <q>',
      `visibility query, e.g. 'ApStage="search"' or 'ApModel="resnet50" AND ApConverged=true'`,
    )
    .option('--json', 'print JSON')
    .description('list campaigns and searches, filtered by search attributes')
    .action(async (opts: { query?: string; json?: boolean }) => {
      const rows = await (await campaignClient()).list(opts.query);
      if (opts.json) return console.log(JSON.stringify(rows, null, 2));
      console.log(
        table(
          ['workflow', 'type', 'status', 'model', 'stage', 'target', 'iter', 'best dev', 'conv'],
          rows.map((r) => [
            r.workflowId,
            r.type,
            r.status,
            r.model ?? '',
            r.stage ?? '',
            r.targetMacs !== undefined ? formatMacs(r.targetMacs) : '',
            r.iteration ?? '',
            r.bestDeviation !== undefined ? formatPercent(r.bestDeviation) : '',
            r.converged === undefined ? '' : r.converged ? 'yes' : 'no',
          ]),
        ),
      );
    });
  campaign
    .command('watch')
    .argument('<id>', 'campaign id')
    .description('live view: attempts with MACs against the band, until the campaign ends')
    .action(async (id: string) => {
      const client = await campaignClient();
      for await (const frame of client.watch(id)) {
        if (process.stdout.isTTY) process.stdout.write('\x1b[2J\x1b[H');
        console.log(`${id}  stage: ${frame.progress.stage}  status: ${frame.status}`);
        for (const l of frame.logs) {
          console.log(
            `\n${l.targetLabel} -> ${formatMacs(l.targetMacs)} ${formatBand(l.band)} [${l.status}] agent ${l.agent}`,
          );
          console.log(attemptsTable(l.attempts));
        }
        const ft = frame.finetune;
        if (ft) {
          const total = ft.totalSteps ?? 0;
          const share = total > 0 ? ft.step / total : 0;
          const eta = ft.etaSec !== null ? `, ETA ${Math.round(ft.etaSec)} s` : '';
          const loss = ft.loss !== null ? `, loss ${ft.loss.toFixed(3)}` : '';
          console.log(
            `\nfine-tune ${bar(share, 40)} ${ft.step}/${total || '?'}${loss}${eta}; last checkpoint step ${ft.checkpoints.at(-1)?.step ?? '-'}`,
          );
        }
      }
      const d = await client.describe(id);
      if (d.reason) throw new CampaignFailedError(id, d.status, d.reason);
      console.log(`${id}: ${d.status}`);
      if (d.result?.targets.some((t) => t.status !== 'converged')) process.exitCode = ExitCode.failed;
    });
  campaign
    .command('cancel')
    .argument('<id>', 'campaign id')
    .description('cancel a running campaign')
    .action(async (id: string) => {
      await (await campaignClient()).cancel(id);
      console.log(`cancellation requested for ${id}`);
    });
  campaign
    .command('export')
    .argument('<id>', 'campaign id')
    .addOption(new Option('--format <f>', 'output format').choices(['jsonl', 'csv']).default('jsonl'))
    .description('export every attempt of every target')
    .action(async (id: string, opts: { format: 'jsonl' | 'csv' }) => {
      const rows = await (await campaignClient()).exportRows(id);
      if (opts.format === 'jsonl') {
        for (const r of rows) console.log(JSON.stringify(r));
        return;
      }
      console.log(exportCsv(rows));
    });

  campaign
    .command('reset')
    .argument('<id>', 'campaign id, or a search workflow id (<campaign>--<target>)')
    .requiredOption('--to-attempt <n>', 're-run the search from this attempt (earlier attempts are kept)')
    .option('--target <label>', 'which target of the campaign (default: the only one)')
    .description(
      'Temporal reset: re-run a search from attempt N (after an override or a band change, or to retry)',
    )
    .addHelpText('after', '\nExample:\n  $ agentic-pruner campaign reset resnet50-20261128 --to-attempt 3')
    .action(async (id: string, opts: { toAttempt: string; target?: string }) => {
      const n = Number(opts.toAttempt);
      if (!Number.isInteger(n) || n < 1)
        throw new UsageError(`--to-attempt: expected an attempt number >= 1, got ${opts.toAttempt}`);
      const client = await campaignClient();
      const workflowId = await resolveSearchId(client, id, opts.target);
      const runId = await resetToAttempt(
        client.temporal,
        workflowId,
        n,
        `agentic-pruner reset --to-attempt ${n}`,
      );
      console.log(`${workflowId} reset to attempt ${n}: new run ${runId}`);
    });

  program
    .command('report')
    .argument('<id>', 'campaign id')
    .option('--out <dir>', 'where to write the HTML', 'reports')
    .description(
      'render the campaign report (HTML with charts), store it with the campaign and write it locally',
    )
    .action(async (id: string, opts: { out: string }) => {
      const client = await campaignClient();
      const config = clientConfig();
      const store = storeFromEnv(config.env, config.processEnv);
      console.log(await writeCampaignReport(client, store, id, opts.out));
    });

  registerControlCommands(campaign, campaignClient);
  registerModelCommands(program);
  registerDatasetCommand(program);
  registerDemoCommand(program);
  return program;
}

/** Run the CLI; resolves to the process exit code. User errors print one clear message, no stack. */
export async function main(argv: string[]): Promise<number> {
  const program = buildProgram();
  globalFlags = {};
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : ExitCode.ok;
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode === 0 || err.code === 'commander.helpDisplayed' || err.code === 'commander.version'
        ? ExitCode.ok
        : ExitCode.usage;
    }
    // Each layer's root error says what to exit with and whether its message says it all.
    const known = err instanceof PrunerError ? err : undefined;
    if (known?.messageOnly) {
      process.stderr.write(`agentic-pruner: ${known.message}\n`);
      return known.exitCode;
    }
    process.stderr.write(
      `agentic-pruner: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
    );
    return known?.exitCode ?? ExitCode.failed;
  }
}
