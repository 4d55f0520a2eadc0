import {
  WorkflowFailedError,
  WorkflowNotFoundError,
  type Client,
  type WorkflowExecutionInfo,
} from '@temporalio/client';
import { defaultPayloadConverter, WorkflowExecutionAlreadyStartedError } from '@temporalio/common';
import type { FineTuneHeartbeat } from '../activities';
import {
  campaignIdProblem,
  CampaignConfigSchema,
  type CampaignConfig,
  type CampaignConfigInput,
} from '../core/campaign-config';
import type { Attempt } from '../core/attempt';
import { attemptRole, type AttemptRole } from '../core/search-state';
import { parseWith } from '../core/errors';
import type { CampaignResult } from '../workflows/campaign';
import {
  campaignProgressQuery,
  parseSearchWorkflowId,
  strategyLogQuery,
  type CampaignProgress,
  type StrategyLog,
} from '../workflows/definitions';
import { TaskQueues } from '../workflows/presets';
import { CampaignFailedError, ClientError, ServerRejectedError, UsageError } from './errors';
import { closeReason, failureReason } from './failure-reason';
import { rebuildSearchLog, searchChildrenOf, type RebuiltLog } from './history-log';
import { preflight, type PreflightOptions } from './preflight';
import { campaignQueuePollers, missingWorkers } from './worker-presence';

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

/** Where a campaign stands, from its workflow description and history alone (no worker needed). */
export interface CampaignDescription {
  campaignId: string;
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
}

/** One row per workflow id: its newest run, with how many runs it has. */
function newestRunOfEach(rows: readonly CampaignListRow[]): CampaignListRow[] {
  const byId = new Map<string, CampaignListRow>();
  for (const r of rows) {
    const seen = byId.get(r.workflowId);
    if (!seen) byId.set(r.workflowId, { ...r });
    else {
      const runs = seen.runs + 1;
      byId.set(r.workflowId, r.startTime > seen.startTime ? { ...r, runs } : { ...seen, runs });
    }
  }
  return [...byId.values()];
}

/** A frame of `watch`: where the campaign stands and each target's live log. */
export interface WatchFrame {
  progress: CampaignProgress;
  logs: StrategyLog[];
  /** The running fine-tune's last heartbeat (step, total, loss, ETA), read from the pending activity. */
  finetune?: FineTuneHeartbeat;
  done: boolean;
  status: string;
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
/** One exported attempt: the attempt as logged, its target, its role, and whether it was kept. */
export type ExportRow = Attempt & { target: string; targetMacs: number; role: AttemptRole; kept: boolean };

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
   * Wait for a campaign's result. A campaign that ends without one throws a {@link CampaignFailedError}
   * whose message is the one-line reason (`unknown model 'resnet19'; ...`), not the SDK's wrapper.
   */
  async result(campaignId: string): Promise<CampaignResult> {
    return this.guard(campaignId, async () => {
      try {
        return (await this.temporal.workflow.getHandle(campaignId).result()) as CampaignResult;
      } catch (err) {
        if (!(err instanceof WorkflowFailedError)) throw err;
        const desc = await this.temporal.workflow.getHandle(campaignId).describe();
        throw new CampaignFailedError(campaignId, desc.status.name, failureReason(err.cause ?? err));
      }
    });
  }

  /**
   * Where a campaign stands, read from its description and history (no worker needed): status, stage,
   * the reason it failed, its result when it completed, and each target's status and reason.
   */
  async describe(campaignId: string): Promise<CampaignDescription> {
    return this.guard(campaignId, async () => {
      const handle = this.temporal.workflow.getHandle(campaignId);
      const desc = await handle.describe();
      const events = (await handle.fetchHistory()).events ?? [];
      const stage = desc.searchAttributes?.ApStage?.[0];
      const completed = events.at(-1)?.workflowExecutionCompletedEventAttributes;
      const result = completed
        ? (defaultPayloadConverter.fromPayload(completed.result?.payloads?.[0] as never) as CampaignResult)
        : undefined;
      const targets: CampaignDescription['targets'] = [];
      for (const id of await searchChildrenOf(this.temporal, campaignId)) {
        const log = await rebuildSearchLog(this.temporal, id);
        targets.push({
          label: log.targetLabel,
          searchWorkflowId: id,
          status: log.result?.status ?? (log.status === 'RUNNING' ? 'running' : log.status),
          reason: log.result?.reason ?? log.reason,
        });
      }
      const warnings =
        desc.status.name === 'RUNNING'
          ? missingWorkers(await campaignQueuePollers(this.temporal), Date.now())
          : [];
      return {
        campaignId,
        status: desc.status.name,
        stage: typeof stage === 'string' ? stage : undefined,
        reason: closeReason(events),
        result,
        targets,
        warnings,
      };
    });
  }

  /** The campaign workflow's status name (RUNNING, COMPLETED, FAILED...). */
  async status(campaignId: string): Promise<string> {
    return this.guard(
      campaignId,
      async () => (await this.temporal.workflow.getHandle(campaignId).describe()).status.name,
    );
  }

  /** Where a running campaign stands (needs a worker to answer the query). */
  async progress(campaignId: string): Promise<CampaignProgress> {
    return this.guard(campaignId, () =>
      this.temporal.workflow.getHandle(campaignId).query(campaignProgressQuery),
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
      const children = await searchChildrenOf(this.temporal, campaignId);
      const logs: RebuiltLog[] = [];
      for (const id of children) logs.push(await rebuildSearchLog(this.temporal, id));
      return logs;
    });
  }

  /**
   * Campaign and search workflows, filtered by a visibility query over the Ap* search attributes: one row
   * per workflow id, its newest run (a reset or continue-as-new adds runs; `runs` counts them).
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
    return newestRunOfEach(rows);
  }

  /** Live frames until the campaign finishes (queries every `intervalMs`). */
  async *watch(campaignId: string, intervalMs = 1000): AsyncGenerator<WatchFrame> {
    const handle = this.temporal.workflow.getHandle(campaignId);
    for (;;) {
      // One describe per frame gives both the status and the running fine-tune's heartbeat.
      const desc = await this.guard(campaignId, () => handle.describe());
      const status = desc.status.name;
      const done = status !== 'RUNNING';
      let progress: CampaignProgress;
      try {
        progress = await handle.query(campaignProgressQuery);
      } catch (err) {
        if (done) return;
        throw err;
      }
      const logs: StrategyLog[] = [];
      for (const t of progress.targets) {
        try {
          logs.push(await this.liveLog(t.searchWorkflowId));
        } catch {
          // the child may not have started yet
        }
      }
      const finetune = fineTuneHeartbeatOf(desc.raw.pendingActivities ?? []);
      yield { progress, logs, done, status, ...(finetune ? { finetune } : {}) };
      if (done) return;
      await new Promise((r) => setTimeout(r, intervalMs));
    }
  }

  /** The last heartbeat of a campaign's running fine-tune, if one is running. */
  async fineTuneHeartbeat(campaignId: string): Promise<FineTuneHeartbeat | undefined> {
    const desc = await this.guard(campaignId, () => this.temporal.workflow.getHandle(campaignId).describe());
    return fineTuneHeartbeatOf(desc.raw.pendingActivities ?? []);
  }

  /** Request cancellation of a campaign (its searches and jobs are cancelled with it). */
  async cancel(campaignId: string): Promise<void> {
    await this.guard(campaignId, () => this.temporal.workflow.getHandle(campaignId).cancel());
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

type PendingActivity = NonNullable<
  Awaited<ReturnType<ReturnType<Client['workflow']['getHandle']>['describe']>>['raw']['pendingActivities']
>[number];

function fineTuneHeartbeatOf(pending: readonly PendingActivity[]): FineTuneHeartbeat | undefined {
  for (const a of pending) {
    if (a.activityType?.name !== 'fineTune') continue;
    const p = a.heartbeatDetails?.payloads?.[0];
    if (p) return defaultPayloadConverter.fromPayload(p) as FineTuneHeartbeat;
  }
  return undefined;
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
