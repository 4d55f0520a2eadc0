import { Command, CommanderError, Option } from 'commander';
import { ExitCode, PrunerError } from '../core/errors';
import { UsageError } from './errors';
import { formatMacs, formatPercent } from '../core/units';
import { campaignIdProblem } from '../core/campaign-config';
import { finalistsNote, recoveryPlanNote } from '../core/attempt-selection';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from '../engine/engine-paths';
import { CampaignClient } from './campaign-client';
import { resolveClientConfig, type ResolvedClientConfig } from './client-config';
import { loadCampaignFile } from './config-file';
import { connectClient } from './connect';
import { registerControlCommands } from './control-commands';
import { registerDatasetCommand } from './dataset-command';
import { CampaignFailedError } from './errors';
import {
  attemptsTable,
  exportCsv,
  finalistsLine,
  logHeading,
  resultTable,
  scoringPlanLine,
  searchPlanLine,
  table,
} from './format';
import { preflight, preflightTargets } from './preflight';
import type { CampaignConfig } from '../core/campaign-config';
import { readWorkerEnv } from '../workers/worker-config';
import { runServices, startLocalRuntime } from './local-runtime';
import { registerDemoCommand } from './demo';
import { registerModelCommands } from './model-commands';
import { writeCampaignReport } from './report-file';
import { storeFromEnv } from '../workers/default-deps';
import { QUEUE_NAMES, trainQueueFor, type QueueName } from '../workflows/presets';
import { deviceSlots, slotLabel, visibleDevices } from '../workers/device-slots';
import { retryingLine, runningLine, waitingLine } from './worker-presence';
import { printProgress, watchPrinter } from './watch-view';

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
    console.log(`\n${logHeading(l)}`);
    console.log(attemptsTable(l.attempts, l.chosenIndex));
    // How the scoring was planned before the search, in the report's words (`scoring plan`).
    const plan = scoringPlanLine(l);
    if (plan) console.log(plan);
    const finalists = finalistsLine(l);
    if (finalists) console.log(finalists);
    // The plan and the finalists line say what their change notes say (the finalists with their second
    // scores): the notes are not repeated.
    const said = [
      l.recoveryPlan ? recoveryPlanNote(l.recoveryPlan) : undefined,
      l.finalists ? finalistsNote(l.finalists) : undefined,
    ];
    for (const c of l.changes)
      if (!said.includes(c.note)) console.log(`after attempt ${c.afterAttempt}: ${c.note}`);
    for (const r of l.supersededRuns)
      console.log(`earlier run ${r.runId} (replaced by a reset): ${r.attempts} attempts, kept in history`);
    const rev = l.revision;
    if (rev?.reset)
      console.log(
        `revision ${rev.number}: re-run from attempt ${rev.reset.fromAttempt}; attempts ${rev.reset.fromAttempt}..${rev.reset.replacedAttempts} of ${rev.reset.replacedSearchId} replaced (kept in history: campaign log ${rev.reset.replacedSearchId})`,
      );
    else if (rev?.search === 'reused')
      console.log(`revision ${rev.number}: search reused from ${l.workflowId}`);
    const why = reasonLines([l])[0];
    if (why) console.log(`reason: ${why.slice(l.targetLabel.length + 2)}`);
  }
}

/**
 * Absolute targets against a quick profile on this host's engine, before anything starts; without an engine
 * here, say so on stderr and leave the check to the campaign.
 */
async function checkTargets(config: CampaignConfig, source: string): Promise<void> {
  const pythonOverride = readWorkerEnv().AP_ENGINE_PYTHON;
  const check = await preflightTargets(config, { source, ...(pythonOverride ? { pythonOverride } : {}) });
  if (!check.checked && config.targets.some((t) => t.macs !== undefined))
    console.error(
      `note: targets not checked against the dense model here (${check.why}); the campaign checks them when it starts`,
    );
}

/** The line `status` and `show` print for a later revision: which one, why, and what it continues. */
function revisionLine(workflowId: string, r: { number: number; previousId: string; reason: string }): string {
  return `revision ${r.number} (${workflowId}): ${r.reason}; continues ${r.previousId}, kept as history`;
}

/**
 * The queues of `worker --queues`: known names, each once. A typo is one line naming the valid ones; the
 * `gpu` queue of earlier versions says what replaced it.
 */
export function parseQueues(list: string): QueueName[] {
  const queues = list
    .split(',')
    .map((q) => q.trim())
    .filter((q) => q !== '');
  if (queues.length === 0)
    throw new UsageError(`--queues: expected one or more of ${QUEUE_NAMES.join(', ')}`);
  for (const q of queues) {
    if ((QUEUE_NAMES as string[]).includes(q)) continue;
    const hint = q === 'gpu' ? '; gpu was split into trials,train (see docs/upgrades.md)' : '';
    throw new UsageError(`--queues: unknown queue "${q}" (valid: ${QUEUE_NAMES.join(', ')})${hint}`);
  }
  return [...new Set(queues)] as QueueName[];
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
    .description(
      'run workers for the given task queues until interrupted (a laptop: all of them; a GPU host: --devices 0,1,2,3)',
    )
    .option(
      '--queues <list>',
      `comma-separated, of ${QUEUE_NAMES.join(', ')} (default: all; with --devices: trials,train)`,
    )
    .option(
      '--devices <n|list>',
      'device slots: a count (2; on a CPU host nothing is pinned) or GPU indices (0,1,2,3; one: 3,); one trials and one train job per slot, each engine pinned to its slot (default: 1, unpinned)',
    )
    .option(
      '--gpus-per-job <k>',
      'devices per train slot, for campaigns with finetune.gpus: k (polls train-gpus-k)',
      '1',
    )
    .option('--verbose', 'print the stack of every activity failure (one line each by default)')
    .addHelpText(
      'after',
      '\nExamples:\n  $ agentic-pruner worker                                   # a laptop: control, trials and train in one process\n' +
        '  $ agentic-pruner worker --queues control                  # a CPU host: workflows, the LLM, reports\n' +
        '  $ AP_STORE=s3 agentic-pruner worker --devices 0,1,2,3     # a GPU host: trials and train, one job per GPU\n' +
        '  $ agentic-pruner worker --devices 0,1,2,3 --gpus-per-job 4  # one 4-GPU fine-tune at a time (torchrun)',
    )
    .action(async (opts: { queues?: string; devices?: string; gpusPerJob: string; verbose?: boolean }) => {
      const queues = parseQueues(
        opts.queues ?? (opts.devices !== undefined ? 'trials,train' : QUEUE_NAMES.join(',')),
      );
      if (!/^\d+$/.test(opts.gpusPerJob) || Number(opts.gpusPerJob) < 1)
        throw new UsageError(`--gpus-per-job: expected an integer >= 1, got "${opts.gpusPerJob}"`);
      const gpusPerJob = Number(opts.gpusPerJob);
      const slots =
        opts.devices !== undefined || gpusPerJob !== 1
          ? deviceSlots(opts.devices ?? String(gpusPerJob), gpusPerJob, visibleDevices(process.env))
          : undefined;
      const config = clientConfig();
      const runtime = await startLocalRuntime({
        env: config.env,
        processEnv: config.processEnv,
        queues,
        startServer: false,
        ...(slots ? { slots } : {}),
        gpusPerJob,
        verbose: opts.verbose === true,
      });
      const engineQueues = queues.filter((q) => q !== 'control');
      const slotText =
        slots && engineQueues.length > 0
          ? ` (${slots.length} device slot${slots.length === 1 ? '' : 's'}: ${slots.map(slotLabel).join(', ')})`
          : '';
      const names = queues.map((q) => (q === 'train' ? trainQueueFor(gpusPerJob) : q));
      console.error(`worker running on ${names.join(', ')}${slotText}; Ctrl-C to stop`);
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
    .option(
      '--wait',
      'wait for the result and print it with the strategy log (meanwhile, each attempt, score, stage and job on stderr)',
    )
    .option(
      '--no-path-checks',
      'do not check that the weights and dataset paths exist here (they live on the worker hosts only)',
    )
    .option(
      '--no-target-check',
      'do not profile the model here to check absolute targets (a one-shot engine run; the campaign checks them when it starts)',
    )
    .addHelpText(
      'after',
      '\nRelative paths in the campaign file (model.weights, dataset.root, file: factories) resolve against the\n' +
        "file's folder. Example campaign files are in examples/.\n\nExamples:\n" +
        '  $ agentic-pruner campaign start -c examples/resnet50-1.77g.yaml --wait\n' +
        '  $ agentic-pruner campaign start -c examples/deit-tiny-0.62g.yaml --id deit-tiny-try1',
    )
    .action(
      async (opts: {
        config: string;
        id?: string;
        wait?: boolean;
        pathChecks: boolean;
        targetCheck: boolean;
      }) => {
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
        // The instant checks above first: the target check profiles the model (seconds to minutes).
        if (opts.targetCheck) await checkTargets(config, opts.config);
        const client = await campaignClient();
        const { campaignId } = await client.start(config, {
          ...checks,
          ...(opts.id ? { campaignId: opts.id } : {}),
        });
        // The search it started, defaults filled in: on stderr, so stdout stays the campaign id.
        console.error(searchPlanLine(config));
        console.log(campaignId);
        if (!opts.wait) return;
        // What happens while it runs, on stderr (stdout stays the id, then the logs and the result).
        await printProgress(client.watch(campaignId), (line) => console.error(line));
        const result = await client.result(campaignId);
        printLogs(await client.log(campaignId));
        console.log('\n' + resultTable(result));
        if (result.targets.some((t) => t.status !== 'converged')) process.exitCode = ExitCode.failed;
      },
    );
  campaign
    .command('status')
    .argument('<id>', 'campaign id')
    .description('where the campaign stands: status, stage, each target and why it failed (no worker needed)')
    .action(async (id: string) => {
      const d = await (await campaignClient()).describe(id);
      console.log(`${id}: ${d.status}, stage ${d.stage ?? '-'}`);
      if (d.revision) console.log(revisionLine(d.workflowId, d.revision));
      if (d.reason) console.log(`reason: ${d.reason}`);
      for (const w of d.warnings) console.log(`warning: ${w}`);
      for (const j of d.waiting) console.log(`waiting: ${waitingLine(j)}`);
      for (const j of d.retrying) console.log(`retrying: ${retryingLine(j)}`);
      for (const j of d.running) console.log(`running: ${runningLine(j)}`);
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
      if (d.revision) console.log(revisionLine(d.workflowId, d.revision));
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
      for (const w of d.warnings) console.log(`warning: ${w}`);
      for (const j of d.waiting) console.log(`waiting: ${waitingLine(j)}`);
      for (const j of d.retrying) console.log(`retrying: ${retryingLine(j)}`);
      for (const j of d.running) console.log(`running: ${runningLine(j)}`);
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
      else if (logs.length === 0) {
        // Before its first search (profiling, or no worker yet): say so rather than print nothing.
        console.log(`${id}: ${d.status}${d.stage ? ` (stage ${d.stage})` : ''}: no search has started yet`);
        for (const w of d.warnings) console.log(`warning: ${w}`);
      }
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
          ['workflow', 'rev', 'type', 'status', 'model', 'stage', 'target', 'iter', 'best dev', 'conv'],
          rows.map((r) => [
            r.workflowId,
            r.revision,
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
    .description(
      'live view: attempts with MACs against the band, until the campaign ends (to a file or pipe: a frame stamped with its time each time something changes)',
    )
    .action(async (id: string) => {
      const client = await campaignClient();
      const print = watchPrinter(id, { terminal: process.stdout.isTTY === true });
      for await (const frame of client.watch(id)) {
        const text = print(frame);
        if (text !== undefined) process.stdout.write(text);
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
      // A campaign id names its newest revision: its report is stored under that revision's id.
      const { workflowId } = await client.current(id);
      console.log(await writeCampaignReport(client, store, workflowId, opts.out));
    });

  registerControlCommands(campaign, campaignClient, printLogs);
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
