import type { Command } from 'commander';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { baseStrategy } from '../core/strategy';
import { formatBand, parseBand, type Band } from '../core/tolerance-band';
import {
  overrideStrategyUpdate,
  parseSearchWorkflowId,
  pauseSignal,
  resumeSignal,
  setBandUpdate,
} from '../workflows/definitions';
import { CampaignConfigSchema, type CampaignConfig } from '../core/campaign-config';
import { parseWith } from '../core/errors';
import type { CampaignClient } from './campaign-client';
import { loadCampaignFile } from './config-file';
import { UsageError } from './errors';
import { failureReason } from './failure-reason';
import type { RebuiltLog } from './history-log';
import { preflight } from './preflight';
import { applySet } from './reset';
import { printProgress } from './watch-view';

/**
 * The search workflow of `id`'s target `target`: `id` itself when it is a search id
 * (`<campaign>--<target>`), else the search that counts in the campaign's newest revision (its own, or
 * one it reuses): the only one, or the one whose label is `target`.
 */
export async function resolveSearchId(
  client: CampaignClient,
  id: string,
  target: string | undefined,
): Promise<string> {
  if (parseSearchWorkflowId(id)) return id;
  return (await resolveTarget(client, id, target)).searchWorkflowId;
}

/** The target `target` (default: the only one) of `id`'s newest revision: its label and its search. */
async function resolveTarget(
  client: CampaignClient,
  id: string,
  target: string | undefined,
): Promise<{ targetLabel: string; searchWorkflowId: string }> {
  const { workflowId } = await client.current(id);
  const searches = await client.searchesOf(workflowId);
  if (searches.length === 0) throw new UsageError(`campaign ${id} has started no search yet`);
  const pick = target !== undefined ? searches.filter((s) => s.targetLabel === target) : searches;
  if (pick.length !== 1) {
    throw new UsageError(
      `--target: campaign ${id} has targets ${searches.map((s) => s.targetLabel).join(', ')}; ${target === undefined ? 'name one' : `not "${target}"`}`,
    );
  }
  return pick[0]!;
}

/** A signal or update the search refused, or one sent to a search that has finished: exit 2 with why. */
function refused(searchId: string, err: unknown): never {
  if (err instanceof WorkflowUpdateFailedError) throw new UsageError(failureReason(err.cause ?? err));
  const message = err instanceof Error ? err.message : String(err);
  if (/already completed|not found/i.test(message))
    throw new UsageError(`search ${searchId} is not running (it has finished or does not exist)`);
  throw err;
}

/** The strategy an override sends: a Strategy JSON file or inline JSON, or `--ratio R` on the default base. */
function overrideStrategy(opts: { strategy?: string; ratio?: string; rationale?: string }): unknown {
  if ((opts.strategy === undefined) === (opts.ratio === undefined))
    throw new UsageError('give exactly one of --ratio R or --strategy <file.json | JSON>');
  let strategy: unknown;
  if (opts.strategy !== undefined) {
    const text = opts.strategy.trim().startsWith('{') ? opts.strategy : readText(opts.strategy);
    try {
      strategy = JSON.parse(text);
    } catch (err) {
      throw new UsageError(`--strategy: not JSON: ${(err as Error).message}`);
    }
  } else {
    const ratio = Number(opts.ratio);
    if (!Number.isFinite(ratio)) throw new UsageError(`--ratio: expected a number, got ${opts.ratio}`);
    strategy = baseStrategy(ratio);
  }
  if (opts.rationale !== undefined && strategy && typeof strategy === 'object')
    strategy = { ...strategy, rationale: opts.rationale };
  return strategy;
}

function readText(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new UsageError(`--strategy: cannot read ${file}: ${(err as Error).message}`);
  }
}

/**
 * `campaign pause|resume|override|band <id> [--target T]`: human control of a running search over its
 * signals and updates. The search validates overrides and bands itself (the same validators); a refused one
 * prints the validator's message and exits 2, and never enters history.
 */
export function registerControlCommands(
  campaign: Command,
  connect: () => Promise<CampaignClient>,
  printLogs: (logs: RebuiltLog[]) => void,
): void {
  const targetOption = ['--target <label>', 'which target of the campaign (default: the only one)'] as const;
  // pause and resume: one signal each, same shape.
  const signals = [
    [
      'pause',
      'campaign id, or a search workflow id (<campaign>--<target>)',
      'pause a search before its next attempt',
      pauseSignal,
      'pause requested (takes effect before the next attempt)',
    ],
    ['resume', 'campaign id, or a search workflow id', 'resume a paused search', resumeSignal, 'resumed'],
  ] as const;
  for (const [name, idHelp, description, signal, said] of signals) {
    campaign
      .command(name)
      .argument('<id>', idHelp)
      .option(...targetOption)
      .description(description)
      .action(async (id: string, opts: { target?: string }) => {
        const client = await connect();
        const searchId = await resolveSearchId(client, id, opts.target);
        await client.temporal.workflow
          .getHandle(searchId)
          .signal(signal)
          .catch((e) => refused(searchId, e));
        console.log(`${searchId}: ${said}`);
      });
  }
  campaign
    .command('override')
    .argument('<id>', 'campaign id, or a search workflow id')
    .option(...targetOption)
    .option('--ratio <r>', 'try this global pruning ratio next (on the default base strategy)')
    .option('--strategy <file|json>', 'try this Strategy next (a JSON file, or inline JSON)')
    .option('--rationale <text>', 'why, for the strategy log')
    .option(
      '--scale-to-band',
      'treat it as a shape: the solver then scales that shape (all but the ratio) into the band before it counts',
    )
    .description(
      'try this strategy as the next attempt (validated by the search; a bad one never enters history)',
    )
    .addHelpText(
      'after',
      '\nExamples:\n  $ agentic-pruner campaign override resnet50-20261128 --ratio 0.42 --rationale "closer to the band"\n' +
        '  $ agentic-pruner campaign override resnet50-20261128 --target t1 --strategy s.json\n' +
        '  $ agentic-pruner campaign override resnet50-20261128 --strategy \'{"pruningRatio":0.3,"importance":"lamp","globalPruning":true,"isomorphic":true,"roundTo":4}\' --scale-to-band',
    )
    .action(
      async (
        id: string,
        opts: {
          target?: string;
          ratio?: string;
          strategy?: string;
          rationale?: string;
          scaleToBand?: boolean;
        },
      ) => {
        const strategy = overrideStrategy(opts);
        const client = await connect();
        const searchId = await resolveSearchId(client, id, opts.target);
        const position = await client.temporal.workflow
          .getHandle(searchId)
          .executeUpdate(overrideStrategyUpdate, {
            args: opts.scaleToBand ? [strategy as never, { scaleToBand: true }] : [strategy as never],
          })
          .catch((e) => refused(searchId, e));
        console.log(
          `${searchId}: override queued at position ${position}${opts.scaleToBand ? ' (its shape is scaled into the band)' : ''}`,
        );
      },
    );
  campaign
    .command('band')
    .argument('<id>', 'campaign id, or a search workflow id')
    .requiredOption('--to <band>', 'the new tolerance band, e.g. "-3%..+1%" (3 % under .. 1 % over)')
    .option(...targetOption)
    .description('change the tolerance band of a running search')
    .addHelpText('after', '\nExample:\n  $ agentic-pruner campaign band resnet50-20261128 --to "-3%..+1%"')
    .action(async (id: string, opts: { to: string; target?: string }) => {
      let band: Band;
      try {
        band = parseBand(opts.to);
      } catch (err) {
        throw new UsageError(`--to: ${(err as Error).message}`);
      }
      const client = await connect();
      const searchId = await resolveSearchId(client, id, opts.target);
      const now = await client.temporal.workflow
        .getHandle(searchId)
        .executeUpdate(setBandUpdate, { args: [band] })
        .catch((e) => refused(searchId, e));
      console.log(`${searchId}: band is now ${formatBand(now)}`);
    });
  registerRevisionCommands(campaign, connect, printLogs);
}

/** What `reset` and `retry` print: the revision started, why, and what runs again. */
function printRevision(
  id: string,
  r: { workflowId: string; revision: number; reason: string; rerun: string[] },
): void {
  console.log(`${id}: revision ${r.revision} started as ${r.workflowId}: ${r.reason}`);
  for (const line of r.rerun) console.log(`  runs again: ${line}`);
  console.log(`follow it: agentic-pruner campaign watch ${id}`);
}

/**
 * `campaign reset` and `campaign retry`: each starts the campaign's next revision (`<id>~r<n>`, see
 * `CampaignClient.revise`), which re-runs what changed and reuses the rest; `--wait` prints its log and
 * result as `start --wait` does.
 */
function registerRevisionCommands(
  campaign: Command,
  connect: () => Promise<CampaignClient>,
  printLogs: (logs: RebuiltLog[]) => void,
): void {
  const waitFor = async (client: CampaignClient, id: string) => {
    await printProgress(client.watch(id), (line) => console.error(line));
    await client.result(id);
    printLogs(await client.log(id));
  };
  campaign
    .command('reset')
    .argument('<id>', 'campaign id')
    .requiredOption(
      '--to-attempt <n>',
      're-run the search from this attempt (the attempts before it are kept)',
    )
    .option('--target <label>', 'which target of the campaign (default: the only one)')
    .option('--wait', 'wait for the new revision and print its log (meanwhile, its progress on stderr)')
    .description(
      "re-run a target's search from attempt N, then its fine-tune, evaluation and deployment check, as the campaign's next revision (the other targets' results are reused)",
    )
    .addHelpText(
      'after',
      '\nThe earlier revision stays as history; `campaign show|log|export|report <id>` show the newest.\n\n' +
        'Example:\n  $ agentic-pruner campaign reset resnet50-20261128 --to-attempt 3 --target t1-1770.0M',
    )
    .action(async (id: string, opts: { toAttempt: string; target?: string; wait?: boolean }) => {
      const n = Number(opts.toAttempt);
      if (!Number.isInteger(n) || n < 1)
        throw new UsageError(`--to-attempt: expected an attempt number >= 1, got ${opts.toAttempt}`);
      if (parseSearchWorkflowId(id))
        throw new UsageError(
          `reset takes the campaign id, not a search id: agentic-pruner campaign reset ${parseSearchWorkflowId(id)!.campaignId} --to-attempt ${n} --target ${parseSearchWorkflowId(id)!.targetLabel}`,
        );
      const client = await connect();
      const { targetLabel } = await resolveTarget(client, id, opts.target);
      printRevision(id, await client.revise(id, { reset: { targetLabel, fromAttempt: n } }));
      if (opts.wait) await waitFor(client, id);
    });
  campaign
    .command('retry')
    .argument('<id>', 'campaign id')
    .option('-c, --config <file>', 'the changed campaign file (default: the config the campaign ran with)')
    .option(
      '--set <path=value>',
      'change one setting (repeatable), e.g. finetune.batchSize=128 or targets.1.band="-3%..+1%"',
      (v: string, all: string[]) => [...all, v],
      [] as string[],
    )
    .option('--no-path-checks', 'do not check that the weights and dataset paths exist here')
    .option('--wait', 'wait for the new revision and print its log (meanwhile, its progress on stderr)')
    .description(
      "run a campaign again as its next revision: what a changed config affects (or what did not finish) runs again, the rest (the profile, unchanged targets' searches) is reused",
    )
    .addHelpText(
      'after',
      '\nExamples:\n  $ agentic-pruner campaign retry resnet50-20261128 --set finetune.batchSize=128\n' +
        '  $ agentic-pruner campaign retry resnet50-20261128 -c resnet50-narrower-band.yaml',
    )
    .action(
      async (id: string, opts: { config?: string; set: string[]; pathChecks: boolean; wait?: boolean }) => {
        if (parseSearchWorkflowId(id))
          throw new UsageError(`retry takes the campaign id, not a search id (${id})`);
        const checks = {
          baseDir: opts.config ? path.dirname(path.resolve(opts.config)) : process.cwd(),
          checkPaths: opts.pathChecks,
          source: opts.config ?? '--set',
        };
        // A changed file is checked before connecting, as `start` checks it.
        const file = opts.config !== undefined ? preflight(loadCampaignFile(opts.config), checks) : undefined;
        const changed = (previous: CampaignConfig): CampaignConfig => {
          const base = file ?? previous;
          if (opts.set.length === 0) return base;
          const edited = opts.set.reduce<unknown>((c, a) => applySet(c, a), base);
          return preflight(parseWith(CampaignConfigSchema, edited, '--set'), checks);
        };
        const client = await connect();
        printRevision(id, await client.revise(id, { config: changed }));
        if (opts.wait) await waitFor(client, id);
      },
    );
}
