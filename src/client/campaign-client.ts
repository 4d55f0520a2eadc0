import { WorkflowNotFoundError, type Client, type WorkflowExecutionInfo } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { FineTuneHeartbeat } from '../activities';
import { CampaignConfigSchema, type CampaignConfig, type CampaignConfigInput } from '../core/campaign-config';
import type { Attempt } from '../core/attempt';
import { parseWith } from '../core/errors';
import type { CampaignResult } from '../workflows/campaign';
import {
  campaignProgressQuery,
  strategyLogQuery,
  type CampaignProgress,
  type StrategyLog,
} from '../workflows/definitions';
import { TaskQueues } from '../workflows/presets';
import { ClientError } from './errors';
import { rebuildSearchLog, searchChildrenOf, type RebuiltLog } from './history-log';

/** Thrown when a campaign id names no workflow (exit 2). */
export class CampaignNotFoundError extends ClientError {
  override readonly name = 'CampaignNotFoundError';
  constructor(readonly campaignId: string) {
    super(`campaign "${campaignId}" does not exist (see \`agentic-pruner campaign list\`)`);
  }
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
  return `${config.name ?? config.model.name.replace(/[^A-Za-z0-9._-]/g, '_')}-${stamp}-${rand}`;
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

  /** Validate a config (zod; errors name the field) and start its campaign workflow. */
  async start(
    config: CampaignConfigInput | CampaignConfig,
    opts: { campaignId?: string } = {},
  ): Promise<{ campaignId: string }> {
    const parsed = parseWith(CampaignConfigSchema, config, 'campaign config');
    const campaignId = opts.campaignId ?? newCampaignId(parsed);
    await this.temporal.workflow.start('campaign', {
      taskQueue: TaskQueues.control,
      workflowId: campaignId,
      args: [{ campaignId, config: parsed }],
    });
    return { campaignId };
  }

  /** Wait for a campaign's result. */
  async result(campaignId: string): Promise<CampaignResult> {
    return this.guard(
      campaignId,
      () => this.temporal.workflow.getHandle(campaignId).result() as Promise<CampaignResult>,
    );
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
      const children = await searchChildrenOf(this.temporal, campaignId);
      const logs: RebuiltLog[] = [];
      for (const id of children) logs.push(await rebuildSearchLog(this.temporal, id));
      return logs;
    });
  }

  /** Campaign and search workflows, filtered by a visibility query over the Ap* search attributes. */
  async list(query?: string): Promise<CampaignListRow[]> {
    const base = `WorkflowType = 'campaign' OR WorkflowType = 'macTargetSearch'`;
    const q = query ? `(${base}) AND (${query})` : base;
    const rows: CampaignListRow[] = [];
    for await (const wf of this.temporal.workflow.list({ query: q })) rows.push(listRow(wf));
    return rows;
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

  /** Rows of every attempt of every target: for `export`. */
  async exportRows(campaignId: string): Promise<(Attempt & { target: string; targetMacs: number })[]> {
    const logs = await this.log(campaignId);
    return logs.flatMap((l) =>
      l.attempts.map((a) => ({ target: l.targetLabel, targetMacs: l.targetMacs, ...a })),
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
