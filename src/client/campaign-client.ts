import {
  WorkflowFailedError,
  WorkflowNotFoundError,
  type Client,
  type WorkflowExecutionInfo,
} from '@temporalio/client';
import { defaultPayloadConverter, WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { temporal } from '@temporalio/proto';
import type { FineTuneHeartbeat } from '../activities';
import {
  campaignIdProblem,
  CampaignConfigSchema,
  resolveTargets,
  type CampaignConfig,
  type CampaignConfigInput,
} from '../core/campaign-config';
import { attemptRole } from '../core/search-state';
import { parseWith } from '../core/errors';
import { parseRevisionId, revisionId } from '../storage/keys';
import type { CampaignInput, CampaignResult } from '../workflows/campaign';
import {
  campaignProgressQuery,
  parseSearchWorkflowId,
  strategyLogQuery,
  type CampaignProgress,
  type StrategyLog,
} from '../workflows/definitions';
import { TaskQueues, trainQueueFor } from '../workflows/presets';
import type { ExportRow } from './format';
import { CampaignFailedError, ClientError, ServerRejectedError, UsageError } from './errors';
import { closeReason, failureReason } from './failure-reason';
import { rebuildSearchLog, type RebuiltLog } from './history-log';
import { preflight, type PreflightOptions } from './preflight';
import { planRevision, previousRevision, workflowExists, type ResetRequest } from './reset';
import {
  campaignQueuePollers,
  missingWorkers,
  queueWorkers,
  pendingJobs,
  scheduledTarget,
  type History,
  startHint,
  isServed,
  lastHeartbeat,
  type PendingActivity,
  type RetryingJob,
  type RunningJob,
  type WaitingJob,
} from './worker-presence';

export type { ExportRow };

/** Thrown when a campaign id names no workflow (exit 2). */
export class CampaignNotFoundError extends ClientError {
  override readonly name = 'CampaignNotFoundError';
  constructor(readonly campaignId: string) {
    super(`campaign "${campaignId}" does not exist (see \`agentic-pruner campaign list\`)`);
  }
}

/** Thrown when `--id` names a campaign that already ran (or runs): its artifacts are never overwritten. Exit 2. */
export class CampaignIdTakenError extends ClientError {
  override readonly name = 'CampaignIdTakenError';
  constructor(readonly campaignId: string) {
    super(
      `campaign id "${campaignId}" is already used by an earlier campaign (see \`agentic-pruner campaign show ${campaignId}\`); ` +
        'pick another --id, or leave it out for a generated one',
    );
  }
}

/**
 * Which run of a campaign a command is about: a campaign id names its newest revision (`c-42` after a reset
 * is `c-42~r2`); `c-42~r1`, `c-42~r2` name one revision exactly.
 */
export interface CampaignRevisionRef {
  /** The campaign (revision 1's id). */
  campaignId: string;
  revision: number;
  /** The revision's workflow id (and artifact folder): `revisionId(campaignId, revision)`. */
  workflowId: string;
}

/** One search a campaign revision counts on: its own, or one an earlier revision ran that it reuses. */
export interface RevisionSearch {
  targetLabel: string;
  searchWorkflowId: string;
  reused: boolean;
}

/** What a revision carries, as `show`/`status` say it. */
export interface RevisionInfo {
  number: number;
  /** The revision it continues (its workflow id). */
  previousId: string;
  reason: string;
}

/** Where a campaign stands, from its workflow description and history alone (no worker needed). */
export interface CampaignDescription {
  campaignId: string;
  /** The revision described (the newest unless one was named), when it is not the first. */
  revision?: RevisionInfo;
  /** Its workflow id (the campaign id for revision 1). */
  workflowId: string;
  /** The workflow status: RUNNING, COMPLETED, FAILED, CANCELLED, TERMINATED, TIMED_OUT. */
  status: string;
  /** The campaign's stage (ApStage): profile, search, finetune, evaluate, deploy, done, failed. */
  stage: string | undefined;
  /** Why the campaign ended without a result, in one line; `undefined` while it runs or when it completed. */
  reason: string | undefined;
  /** The result, when the campaign completed. */
  result: CampaignResult | undefined;
  /** Each target's search: its status (running, converged, diverged, FAILED...) and why. */
  targets: { label: string; searchWorkflowId: string; status: string; reason: string | undefined }[];
  /** For a running campaign: why it may not move (no worker polls a queue it needs), one line each. */
  warnings: string[];
  /** For a running campaign: its jobs (and its searches') that wait on a task queue for a free slot. */
  waiting: WaitingJob[];
  /** For a running campaign: its jobs (and its searches') being retried, each with why the last try failed. */
  retrying: RetryingJob[];
  /** For a running campaign: its searches' engine jobs in progress (the sensitivity table, scores). */
  running: RunningJob[];
}

/** One row of `campaign list`. */
export interface CampaignListRow {
  workflowId: string;
  type: string;
  status: string;
  startTime: string;
  model?: string;
  stage?: string;
  targetMacs?: number;
  iteration?: number;
  bestDeviation?: number;
  converged?: boolean;
  /** How many runs of this workflow id matched (more than one after a reset or continue-as-new). */
  runs: number;
  /** The campaign revision the row is of (1 unless a reset or retry made a later one). */
  revision: number;
}

/**
 * What rows of one campaign or one target share across revisions: the campaign id, and for a search its
 * target label (`c-42~r2--t1` and `c-42--t1` are the same target of the same campaign).
 */
function lineageKey(row: CampaignListRow): string {
  const search = row.type === 'macTargetSearch' ? parseSearchWorkflowId(row.workflowId) : undefined;
  const campaign = parseRevisionId(search?.campaignId ?? row.workflowId).campaignId;
  return search ? `${campaign}\n${search.targetLabel}` : campaign;
}

/**
 * One row per campaign and per target: the newest run of the newest revision. A campaign row is named by
 * the campaign id (which every command resolves to its newest revision); a search row by the workflow id
 * of the search that counts. `runs` counts the runs of that workflow id.
 */
function newestOfEach(rows: readonly CampaignListRow[]): CampaignListRow[] {
  const byKey = new Map<string, CampaignListRow>();
  for (const r of rows) {
    const key = lineageKey(r);
    const seen = byKey.get(key);
    const newer =
      !seen || r.revision > seen.revision || (r.revision === seen.revision && r.startTime > seen.startTime);
    const sameId = seen?.workflowId === r.workflowId;
    const runs = sameId ? seen.runs + 1 : 1;
    if (newer) byKey.set(key, { ...r, runs });
    else if (sameId) byKey.set(key, { ...seen, runs });
  }
  return [...byKey.values()].map((r) =>
    r.type === 'campaign' ? { ...r, workflowId: parseRevisionId(r.workflowId).campaignId } : r,
  );
}

/** A frame of `watch`: where the campaign stands and each target's live log. */
export interface WatchFrame {
  progress: CampaignProgress;
  logs: StrategyLog[];
  /** The first running fine-tune's last heartbeat (step, total, loss, ETA), read from the pending activity. */
  finetune?: FineTuneHeartbeat;
  /** Every running fine-tune (targets fine-tune in parallel), with its target. */
  finetunes: { targetLabel: string | undefined; heartbeat: FineTuneHeartbeat }[];
  /**
   * Why the campaign may not move, one line each, as `campaign status` prints them: a queue no worker polls
   * (`no worker is polling task queue "control" (workflows): start one with ...`), a progress query that failed.
   */
  warnings: string[];
  /** Jobs of the campaign and its searches that wait on a task queue for a free slot. */
  waiting: WaitingJob[];
  /** Jobs of the campaign and its searches being retried, each with why the last try failed. */
  retrying: RetryingJob[];
  /** The searches' engine jobs in progress (the sensitivity table, scores), with their progress. */
  running: RunningJob[];
  done: boolean;
  status: string;
}

/** A campaign's input, from the first event of its history (`undefined` when the history does not start it). */
function campaignInputOf(
  events: readonly temporal.api.history.v1.IHistoryEvent[],
): CampaignInput | undefined {
  const payload = events[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
  return payload ? (defaultPayloadConverter.fromPayload(payload) as CampaignInput) : undefined;
}

function newCampaignId(config: CampaignConfig): string {
  const stamp = new Date().toISOString().replace(/[-:T]/g, '').slice(0, 14);
  const rand = Math.random().toString(36).slice(2, 6);
  const head = (config.name ?? config.model.name.replace(/[^A-Za-z0-9._-]/g, '_'))
    .replace(/-{2,}|\.{2,}/g, '_')
    .slice(0, 60);
  const id = `${head}-${stamp}-${rand}`;
  return campaignIdProblem(id) === undefined ? id : `campaign-${stamp}-${rand}`;
}

/**
 * The typed client for scripts and notebooks: start campaigns, watch them, read their strategy logs,
 * list and cancel them.
 *
 * @example
 * const client = new CampaignClient(await connectClient('127.0.0.1:7233', 'default'));
 * const { campaignId } = await client.start({ model: { name: 'resnet50' }, targets: [{ macs: '1.77G' }] });
 * for await (const frame of client.watch(campaignId)) console.log(frame.progress.stage);
 * const logs = await client.log(campaignId);
 */
export class CampaignClient {
  constructor(readonly temporal: Client) {}

  /**
   * Validate a config (zod, then {@link preflight}: model name, paths; errors name the field) and start its
   * campaign workflow. A campaign id is used once: an id that names an earlier campaign, running or closed,
   * is refused ({@link CampaignIdTakenError}), and one that is not a safe path segment
   * ({@link campaignIdProblem}) is refused before anything starts.
   */
  async start(
    config: CampaignConfigInput | CampaignConfig,
    opts: { campaignId?: string } & PreflightOptions = {},
  ): Promise<{ campaignId: string }> {
    const { campaignId: wantedId, ...checks } = opts;
    if (wantedId !== undefined) {
      const problem = campaignIdProblem(wantedId);
      if (problem) throw new UsageError(`--id: "${wantedId}" ${problem}`);
    }
    const parsed = preflight(parseWith(CampaignConfigSchema, config, 'campaign config'), checks);
    await this.checkTrainSlots(parsed);
    const campaignId = wantedId ?? newCampaignId(parsed);
    try {
      await this.temporal.workflow.start('campaign', {
        taskQueue: TaskQueues.control,
        workflowId: campaignId,
        // Never a second run under an old id: it would overwrite the first run's artifacts.
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        args: [{ campaignId, config: parsed }],
      });
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError) throw new CampaignIdTakenError(campaignId);
      throw err;
    }
    return { campaignId };
  }

  /**
   * A multi-GPU fine-tune (`finetune.gpus: N > 1`) runs only on a worker with slots of N devices, which
   * serves the task queue `train-gpus-N`: when workers serve `train` but none serves that queue, no
   * worker can take the fine-tune and the campaign would wait at its end forever, so it is refused now.
   * With no device worker up at all (hosts still starting), nothing is known yet and it starts.
   */
  private async checkTrainSlots(config: CampaignConfig): Promise<void> {
    const gpus = config.finetune?.gpus ?? 1;
    if (gpus <= 1) return;
    const queue = trainQueueFor(gpus);
    const now = Date.now();
    const [wanted, single] = await Promise.all([
      queueWorkers(this.temporal, queue),
      queueWorkers(this.temporal, TaskQueues.train),
    ]);
    if (isServed(wanted, now) || !isServed(single, now)) return;
    throw new UsageError(
      `finetune.gpus: ${gpus}: no worker can take a ${gpus}-GPU fine-tune (none serves task queue "${queue}"; ` +
        `the device workers up have slots of 1 device); start one with \`${startHint(queue)}\``,
    );
  }

  /**
   * Wait for a campaign's result. A campaign that ends without one throws a {@link CampaignFailedError}
   * whose message is the one-line reason (`unknown model 'resnet19'; ...`), not the SDK's wrapper.
   */
  async result(campaignId: string): Promise<CampaignResult> {
    return this.guard(campaignId, async () => {
      const { workflowId } = await this.current(campaignId);
      try {
        return (await this.temporal.workflow.getHandle(workflowId).result()) as CampaignResult;
      } catch (err) {
        if (!(err instanceof WorkflowFailedError)) throw err;
        const desc = await this.temporal.workflow.getHandle(workflowId).describe();
        throw new CampaignFailedError(campaignId, desc.status.name, failureReason(err.cause ?? err));
      }
    });
  }

  /**
   * The revision `id` names: a campaign id names its newest revision (a reset or retry starts revision
   * 2, 3, ... under `c-42~r2`, ...); `c-42~r1` or `c-42~r2` name one exactly. Throws
   * {@link CampaignNotFoundError} when there is none.
   */
  async current(id: string): Promise<CampaignRevisionRef> {
    const { campaignId, revision } = parseRevisionId(id);
    const pinned = campaignId !== id;
    let n = revision;
    if (!(await workflowExists(this.temporal, revisionId(campaignId, n))))
      throw new CampaignNotFoundError(id);
    // Revisions are numbered without gaps, each started once (REJECT_DUPLICATE): the newest is the last that exists.
    if (!pinned) while (await workflowExists(this.temporal, revisionId(campaignId, n + 1))) n++;
    return { campaignId, revision: n, workflowId: revisionId(campaignId, n) };
  }

  /**
   * The searches a campaign revision counts on, in target order: the ones it reuses from earlier revisions
   * and the ones it started, read from its history.
   */
  async searchesOf(workflowId: string, history?: NonNullable<History['events']>): Promise<RevisionSearch[]> {
    // Callers that already read the campaign's history pass it: one fetch per command, not two.
    const events =
      history ?? (await this.temporal.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
    const input = campaignInputOf(events);
    const out: RevisionSearch[] = Object.entries(input?.revision?.reuse ?? {}).map(([label, kept]) => ({
      targetLabel: label,
      searchWorkflowId: kept.row.searchWorkflowId,
      reused: true,
    }));
    for (const ev of events) {
      const a = ev.startChildWorkflowExecutionInitiatedEventAttributes;
      if (a?.workflowId && a.workflowType?.name === 'macTargetSearch')
        out.push({
          targetLabel: parseSearchWorkflowId(a.workflowId, workflowId)?.targetLabel ?? a.workflowId,
          searchWorkflowId: a.workflowId,
          reused: false,
        });
    }
    // Reuse needs the reused profile: with it the labels resolve, and the searches sort in target order.
    const profile = input?.revision?.profile;
    if (!profile || !input) return out;
    const order = resolveTargets(input.config.targets, profile.macs, profile.summary.protectedMacs).map(
      (t) => t.label,
    );
    return out.sort((x, y) => order.indexOf(x.targetLabel) - order.indexOf(y.targetLabel));
  }

  /**
   * Start the next revision of a campaign: `reset` re-runs one target's search from an attempt (then its
   * fine-tune, evaluation and deployment check); without it, a retry under `config` (default: the same
   * config) re-runs what the change affects and what did not finish, reusing the rest (see
   * {@link planRevision}). The new revision is its own campaign workflow, `c-42~r<n>`, started once
   * (REJECT_DUPLICATE) with a memo naming what it continues; the earlier revisions stay as history.
   */
  async revise(
    id: string,
    change: {
      reset?: { targetLabel: string; fromAttempt: number };
      /** The retry's config, or how to make it from the previous revision's. @default the previous config */
      config?: CampaignConfig | ((previous: CampaignConfig) => CampaignConfig);
    } = {},
  ): Promise<{ workflowId: string; campaignId: string; revision: number; reason: string; rerun: string[] }> {
    const at = await this.current(id);
    const handle = this.temporal.workflow.getHandle(at.workflowId);
    const desc = await handle.describe();
    if (desc.status.name === 'RUNNING')
      throw new UsageError(
        `campaign ${id} (${at.workflowId}) is still running: wait for it or cancel it (\`agentic-pruner campaign cancel ${id}\`) first`,
      );
    const previous = previousRevision(
      at.workflowId,
      desc.status.name,
      (await handle.fetchHistory()).events ?? [],
    );
    let reset: ResetRequest | undefined;
    if (change.reset) {
      const { targetLabel, fromAttempt } = change.reset;
      const row = previous.rows.get(targetLabel);
      if (!row) {
        throw new UsageError(
          `--target: ${at.workflowId} has no finished search for "${targetLabel}" (targets: ${[...previous.rows.keys()].join(', ') || 'none'})`,
        );
      }
      const log = await rebuildSearchLog(this.temporal, row.row.searchWorkflowId);
      if (fromAttempt > log.attempts.length)
        throw new UsageError(
          `--to-attempt: ${targetLabel} has ${log.attempts.length} attempts; reset to one of 1..${log.attempts.length}`,
        );
      reset = { targetLabel, fromAttempt, log };
    }
    const config =
      typeof change.config === 'function'
        ? change.config(previous.input.config)
        : (change.config ?? previous.input.config);
    const number = at.revision + 1;
    const { revision, rerun } = planRevision(previous, config, number, reset);
    if (!reset && rerun.length === 0 && previous.status === 'COMPLETED')
      throw new UsageError(
        `campaign ${id}: nothing changed and every step finished; change the config (-c or --set) to retry`,
      );
    const workflowId = revisionId(at.campaignId, number);
    try {
      await this.temporal.workflow.start('campaign', {
        taskQueue: TaskQueues.control,
        workflowId,
        // Each revision number is taken once: two resets at once cannot both become revision n.
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        args: [{ campaignId: workflowId, config, revision }],
        memo: {
          revisionOf: at.campaignId,
          revision: number,
          previousId: at.workflowId,
          reason: revision.reason,
        },
      });
    } catch (err) {
      if (err instanceof WorkflowExecutionAlreadyStartedError)
        throw new UsageError(
          `campaign ${id}: revision ${number} was started meanwhile by someone else; look at it and retry`,
        );
      throw err;
    }
    return { workflowId, campaignId: at.campaignId, revision: number, reason: revision.reason, rerun };
  }

  /**
   * Where a campaign stands, read from its description and history (no worker needed): status, stage,
   * the reason it failed, its result when it completed, and each target's status and reason.
   */
  async describe(campaignId: string): Promise<CampaignDescription> {
    return this.guard(campaignId, async () => {
      const at = await this.current(campaignId);
      const handle = this.temporal.workflow.getHandle(at.workflowId);
      const desc = await handle.describe();
      const events = (await handle.fetchHistory()).events ?? [];
      const input = campaignInputOf(events);
      const stage = desc.searchAttributes?.ApStage?.[0];
      const completed = events.at(-1)?.workflowExecutionCompletedEventAttributes;
      const result = completed
        ? (defaultPayloadConverter.fromPayload(completed.result?.payloads?.[0] as never) as CampaignResult)
        : undefined;
      const targets: CampaignDescription['targets'] = [];
      const children = (await this.searchesOf(at.workflowId, events)).map((s) => s.searchWorkflowId);
      for (const id of children) {
        const log = await rebuildSearchLog(this.temporal, id);
        targets.push({
          label: log.targetLabel,
          searchWorkflowId: id,
          status: log.result?.status ?? (log.status === 'RUNNING' ? 'running' : log.status),
          reason: log.result?.reason ?? log.reason,
        });
      }
      const running = desc.status.name === 'RUNNING';
      const warnings = running
        ? missingWorkers(await campaignQueuePollers(this.temporal, input?.config.finetune?.gpus), Date.now())
        : [];
      const jobs = running
        ? await pendingJobs(
            this.temporal,
            [at.workflowId, ...children],
            Date.now(),
            new Map([[at.workflowId, { history: { events }, description: desc }]]),
          )
        : { waiting: [], retrying: [], running: [] };
      const r = input?.revision;
      return {
        campaignId: at.campaignId,
        workflowId: at.workflowId,
        ...(r ? { revision: { number: r.number, previousId: r.previousId, reason: r.reason } } : {}),
        status: desc.status.name,
        stage: typeof stage === 'string' ? stage : undefined,
        reason: closeReason(events),
        result,
        targets,
        warnings,
        waiting: jobs.waiting,
        retrying: jobs.retrying,
        running: jobs.running,
      };
    });
  }

  /** The campaign workflow's status name (RUNNING, COMPLETED, FAILED...). */
  async status(campaignId: string): Promise<string> {
    return this.guard(campaignId, async () => {
      const { workflowId } = await this.current(campaignId);
      return (await this.temporal.workflow.getHandle(workflowId).describe()).status.name;
    });
  }

  /** Where a running campaign stands (needs a worker to answer the query). */
  async progress(campaignId: string): Promise<CampaignProgress> {
    return this.guard(campaignId, async () =>
      this.temporal.workflow
        .getHandle((await this.current(campaignId)).workflowId)
        .query(campaignProgressQuery),
    );
  }

  /** The live strategy log of one search (needs a worker to answer the query). */
  async liveLog(searchWorkflowId: string): Promise<StrategyLog> {
    return this.temporal.workflow.getHandle(searchWorkflowId).query(strategyLogQuery);
  }

  /**
   * The strategy log of every target, rebuilt from workflow history: works for running, completed and
   * failed campaigns, with no worker running.
   */
  async log(campaignId: string): Promise<RebuiltLog[]> {
    return this.guard(campaignId, async () => {
      // A search workflow id (`<campaign>--<target>`) is its own log.
      if (parseSearchWorkflowId(campaignId)) return [await rebuildSearchLog(this.temporal, campaignId)];
      const at = await this.current(campaignId);
      const events = (await this.temporal.workflow.getHandle(at.workflowId).fetchHistory()).events ?? [];
      const input = campaignInputOf(events);
      const revision = input?.revision;
      const logs: RebuiltLog[] = [];
      for (const s of await this.searchesOf(at.workflowId, events)) {
        const log = await rebuildSearchLog(this.temporal, s.searchWorkflowId);
        const resume = revision?.resume[s.targetLabel];
        logs.push(
          revision
            ? {
                ...log,
                revision: {
                  number: revision.number,
                  search: s.reused ? 'reused' : 'rerun',
                  ...(resume
                    ? {
                        reset: {
                          fromAttempt: resume.fromAttempt,
                          replacedSearchId: resume.replaces.searchWorkflowId,
                          replacedAttempts: resume.replaces.attempts,
                        },
                      }
                    : {}),
                },
              }
            : log,
        );
      }
      return logs;
    });
  }

  /**
   * Campaign and search workflows, filtered by a visibility query over the Ap* search attributes: one row
   * per campaign (its newest revision) and per target (the search that counts; `runs` counts its runs).
   */
  async list(query?: string): Promise<CampaignListRow[]> {
    const base = `WorkflowType = 'campaign' OR WorkflowType = 'macTargetSearch'`;
    const q = query ? `(${base}) AND (${query})` : base;
    const rows: CampaignListRow[] = [];
    try {
      for await (const wf of this.temporal.workflow.list({ query: q })) rows.push(listRow(wf));
    } catch (err) {
      // The server says why a query is bad in the gRPC cause's details; the SDK's message does not.
      const cause = (err as { cause?: { details?: unknown; message?: unknown } }).cause;
      const reason = typeof cause?.details === 'string' && cause.details ? cause.details : undefined;
      if (query !== undefined && reason)
        throw new ServerRejectedError(`--query ${JSON.stringify(query)}`, reason);
      throw err;
    }
    return newestOfEach(rows);
  }

  /**
   * Live frames until the campaign finishes (queries every `intervalMs`). While no worker serves its
   * workflows, or its progress query fails, the frame keeps the last progress it had (at first, the stage
   * its search attribute names) and says why in `warnings`, as `campaign status` does: a watch started
   * before any worker, or whose worker died, says so instead of failing.
   */
  async *watch(campaignId: string, intervalMs = 1000): AsyncGenerator<WatchFrame> {
    const { workflowId } = await this.guard(campaignId, () => this.current(campaignId));
    const handle = this.temporal.workflow.getHandle(workflowId);
    // Only its first event (the input): a long campaign's whole history is not read to start watching it.
    const first = await this.guard(campaignId, () =>
      this.temporal.workflowService.getWorkflowExecutionHistory({
        namespace: this.temporal.options.namespace,
        execution: { workflowId },
        maximumPageSize: 1,
      }),
    );
    const input = campaignInputOf(first.history?.events ?? []);
    let last: CampaignProgress | undefined;
    for (;;) {
      // One describe per frame gives both the status and the running fine-tune's heartbeat.
      const desc = await this.guard(campaignId, () => handle.describe());
      const status = desc.status.name;
      const done = status !== 'RUNNING';
      const pollers = done ? [] : await campaignQueuePollers(this.temporal, input?.config.finetune?.gpus);
      const warnings = missingWorkers(pollers, Date.now());
      // A query waits for a worker to answer it: without one on the workflows' queue it would hang ~30 s a frame.
      const answered = done || pollers.length === 0 || isServed(pollers[0]!, Date.now());
      let progress: CampaignProgress | undefined;
      if (answered) {
        try {
          progress = await handle.query(campaignProgressQuery);
        } catch (err) {
          // A closed campaign that no worker can replay still gets its last frame (its status), from what is known.
          if (!done)
            warnings.push(
              `the campaign's progress could not be read: ${err instanceof Error ? failureReason(err) : String(err)}`,
            );
        }
      }
      const stage = desc.searchAttributes?.ApStage?.[0];
      progress ??= last ?? {
        campaignId,
        stage: (typeof stage === 'string' ? stage : 'profile') as CampaignProgress['stage'],
        model: input?.config.model.name ?? '',
        denseMacs: null,
        targets: [],
        results: [],
      };
      last = progress;
      const logs: StrategyLog[] = [];
      for (const t of progress.targets) {
        try {
          logs.push(await this.liveLog(t.searchWorkflowId));
        } catch {
          // the child may not have started yet
        }
      }
      const pending = desc.raw.pendingActivities ?? [];
      let finetunes: WatchFrame['finetunes'] = [];
      let waiting: WaitingJob[] = [];
      let retrying: RetryingJob[] = [];
      let running: RunningJob[] = [];
      if (!done) {
        // The campaign's history names the target of each of its jobs: read only while it has some (not
        // while its searches run their own).
        const history = pending.length > 0 ? await handle.fetchHistory() : undefined;
        if (history) finetunes = fineTunesOf(pending, history);
        ({ waiting, retrying, running } = await pendingJobs(
          this.temporal,
          [workflowId, ...progress.targets.map((t) => t.searchWorkflowId)],
          Date.now(),
          new Map([[workflowId, { history, description: desc }]]),
        ));
      }
      const finetune = finetunes[0]?.heartbeat;
      yield {
        progress,
        logs,
        done,
        status,
        warnings,
        waiting,
        retrying,
        running,
        finetunes,
        ...(finetune ? { finetune } : {}),
      };
      if (done) return;
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  }

  /** Request cancellation of a campaign (its searches and jobs are cancelled with it). */
  async cancel(campaignId: string): Promise<void> {
    await this.guard(campaignId, async () =>
      this.temporal.workflow.getHandle((await this.current(campaignId)).workflowId).cancel(),
    );
  }

  /**
   * Rows of every attempt of every target, `kept` marking the attempt kept for fine-tuning and `role` what
   * it was for (candidate / scaling / failed): for `export`.
   */
  async exportRows(campaignId: string): Promise<ExportRow[]> {
    const logs = await this.log(campaignId);
    return logs.flatMap((l) =>
      l.attempts.map((a) => ({
        target: l.targetLabel,
        targetMacs: l.targetMacs,
        ...a,
        role: attemptRole(a),
        kept: a.index === l.chosenIndex,
      })),
    );
  }

  private async guard<T>(campaignId: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof WorkflowNotFoundError || (err instanceof Error && /not found/i.test(err.message))) {
        throw new CampaignNotFoundError(campaignId);
      }
      throw err;
    }
  }
}

function fineTunesOf(pending: readonly PendingActivity[], history: History): WatchFrame['finetunes'] {
  return pending.flatMap((a) => {
    const heartbeat = a.activityType?.name === 'fineTune' ? lastHeartbeat(a) : undefined;
    if (heartbeat === undefined) return [];
    return [
      {
        targetLabel: scheduledTarget(history, a.activityId ?? ''),
        heartbeat: heartbeat as FineTuneHeartbeat,
      },
    ];
  });
}

function listRow(wf: WorkflowExecutionInfo): CampaignListRow {
  const sa = wf.typedSearchAttributes;
  const get = (name: string): unknown => sa.getAll().find((p) => p.key.name === name)?.value;
  const row: CampaignListRow = {
    workflowId: wf.workflowId,
    type: wf.type,
    status: wf.status.name,
    startTime: wf.startTime.toISOString(),
    runs: 1,
    revision: parseRevisionId(parseSearchWorkflowId(wf.workflowId)?.campaignId ?? wf.workflowId).revision,
  };
  const model = get('ApModel');
  const stage = get('ApStage');
  const target = get('ApTargetMacs');
  const iteration = get('ApIteration');
  const best = get('ApBestDeviation');
  const converged = get('ApConverged');
  if (typeof model === 'string') row.model = model;
  if (typeof stage === 'string') row.stage = stage;
  if (typeof target === 'number') row.targetMacs = target;
  if (typeof iteration === 'number') row.iteration = iteration;
  if (typeof best === 'number') row.bestDeviation = best;
  if (typeof converged === 'boolean') row.converged = converged;
  return row;
}
