import * as fs from 'node:fs';
import * as path from 'node:path';
import type { LatencyRow } from '../activities';
import type { ProfileSchema } from '../core/profile';
import { recoveryPlanNote } from '../core/attempt-selection';
import {
  renderReport,
  type LatencyByDevice,
  type ReportData,
  type TargetReport,
  type TargetStatus,
} from '../report';
import { reportKey, type ArtifactStore } from '../storage';
import type { CampaignResult, CampaignTargetResult } from '../workflows/campaign';
import type { z } from 'zod';
import type { CampaignClient, CampaignDescription } from './campaign-client';
import type { RebuiltLog } from './history-log';
import { previousRevision } from './reset';

function latencyByDevice(rows: LatencyRow[] | undefined): LatencyByDevice | undefined {
  if (!rows || rows.length === 0) return undefined;
  const pick = (provider: 'cpu' | 'cuda') =>
    rows
      .filter((r) => r.provider === provider)
      .map((r) => ({ batch: r.batchSize, p50Ms: r.p50Ms, p90Ms: r.p90Ms }));
  const cpu = pick('cpu');
  const cuda = pick('cuda');
  return { ...(cpu.length ? { cpu } : {}), ...(cuda.length ? { cuda } : {}) };
}

/** How a search that has no result is shown: by why its campaign has none. */
function unfinishedStatus(log: RebuiltLog): TargetStatus {
  if (log.status === 'RUNNING') return 'running';
  return log.status === 'CANCELLED' ? 'cancelled' : 'failed';
}

/**
 * What exists of a campaign that did not complete, in the shape of its result: the dense model's profile
 * (profiled, or reused from an earlier revision) from its current revision's history, and each target's
 * search as far as it got.
 */
async function partialResult(
  client: CampaignClient,
  description: CampaignDescription,
  logs: readonly RebuiltLog[],
): Promise<CampaignResult> {
  const { workflowId, status } = description;
  const events = (await client.temporal.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
  const { input, profile: profiled } = previousRevision(workflowId, status, events);
  const targets: CampaignTargetResult[] = logs.map((l) => ({
    targetLabel: l.targetLabel,
    targetMacs: l.targetMacs,
    band: l.band,
    searchWorkflowId: l.workflowId,
    notes: [],
    ...(l.result ?? {
      status: unfinishedStatus(l) as 'diverged',
      reason: l.reason ?? (l.status === 'RUNNING' ? 'still running' : l.status.toLowerCase()),
      chosen: null,
      attemptCount: l.attempts.length,
      attemptsToConverge: null,
      agentsUsed: [],
    }),
  }));
  return {
    campaignId: description.campaignId,
    model: input.config.model.name,
    denseMacs: profiled?.macs ?? 0,
    denseParams: profiled?.params ?? 0,
    // A profile that never ran has no artifact: the report shows no stages.
    profile: profiled?.profile ?? { uri: '', key: '', sha256: '', sizeBytes: 0 },
    targets,
  };
}

/**
 * Gather a campaign's report data: its result (from the workflow), the strategy logs (rebuilt from
 * history) and the dense profile's stages (from the artifact store). A campaign that failed, was cancelled
 * or still runs is reported with what exists (the profile, each search as far as it got) and why
 * (`outcome`), never with a stack.
 */
export async function buildReportData(
  client: CampaignClient,
  store: ArtifactStore,
  campaignId: string,
): Promise<ReportData> {
  const description: CampaignDescription = await client.describe(campaignId);
  const logs = await client.log(campaignId);
  const result = description.result ?? (await partialResult(client, description, logs));
  const profile = result.profile.uri
    ? (JSON.parse(Buffer.from(await store.getBytes(result.profile)).toString('utf8')) as z.infer<
        typeof ProfileSchema
      >)
    : { stages: [] };
  let inputTokens = 0;
  let outputTokens = 0;
  let costUsd = 0;
  const targets: TargetReport[] = result.targets.map((t) => {
    const log = logs.find((l) => l.targetLabel === t.targetLabel);
    const attempts = log?.attempts ?? [];
    for (const a of attempts) {
      inputTokens += a.llm?.inputTokens ?? 0;
      outputTokens += a.llm?.outputTokens ?? 0;
      costUsd += a.llm?.costUsd ?? 0;
    }
    const chosen = t.chosen;
    const d = t.deployment;
    const speed = (p: 'cpu' | 'cuda') => d?.speedup.find((s) => s.provider === p && s.batchSize === 1)?.ratio;
    const cpu = speed('cpu');
    const cuda = speed('cuda');
    const prunedLatency = latencyByDevice(d?.pruned.latency);
    return {
      label: t.targetLabel,
      targetMacs: t.targetMacs,
      band: t.band,
      status: t.status as TargetStatus,
      reason: t.reason,
      attempts,
      chosenIndex: chosen?.index ?? null,
      ...(t.rankBy ? { rankBy: t.rankBy } : {}),
      ...(log?.recoveryPlan ? { scoringPlan: recoveryPlanNote(log.recoveryPlan) } : {}),
      ...(chosen
        ? {
            pruned: {
              macs: chosen.macs,
              params: chosen.params,
              stages: chosen.stages ?? [],
              ...(t.accuracy ? { accuracy: { top1: t.accuracy.top1, top5: t.accuracy.top5 } } : {}),
              ...(prunedLatency ? { latency: prunedLatency } : {}),
              ...(cpu !== undefined || cuda !== undefined
                ? {
                    speedup: {
                      ...(cpu !== undefined ? { cpu } : {}),
                      ...(cuda !== undefined ? { cuda } : {}),
                    },
                  }
                : {}),
              macRatio: result.denseMacs / chosen.macs,
            },
          }
        : {}),
      ...(t.finetune
        ? {
            finetune: {
              lossCurve: t.finetune.lossCurve,
              steps: t.finetune.steps,
              // ReportData types it as a number; its int() already renders null as missing.
              imagesPerSec: t.finetune.imagesPerSec as number,
              resumedFromStep: t.finetune.resumedFromStep,
            },
          }
        : {}),
    };
  });
  const denseLatency = latencyByDevice(result.targets.find((t) => t.deployment)?.deployment?.dense.latency);
  return {
    campaignId,
    model: result.model,
    createdAt: new Date().toISOString(),
    dense: {
      macs: result.denseMacs,
      params: result.denseParams,
      stages: profile.stages,
      ...(result.denseAccuracy
        ? { accuracy: { top1: result.denseAccuracy.top1, top5: result.denseAccuracy.top5 } }
        : {}),
      ...(denseLatency ? { latency: denseLatency } : {}),
    },
    targets,
    ...(inputTokens > 0 ? { llmTotals: { inputTokens, outputTokens, costUsd } } : {}),
    ...(description.result
      ? {}
      : {
          outcome: {
            status: description.status,
            reason: description.reason ?? (description.status === 'RUNNING' ? 'still running' : 'no result'),
          },
        }),
  };
}

/**
 * Render a campaign's report, store it (HTML + JSON) in the artifact store under
 * `campaigns/<id>/_report/` ({@link reportKey}), and write the HTML to `outDir/<id>.html`. Returns the local path.
 */
export async function writeCampaignReport(
  client: CampaignClient,
  store: ArtifactStore,
  campaignId: string,
  outDir: string,
): Promise<string> {
  const data = await buildReportData(client, store, campaignId);
  const html = renderReport(data);
  await store.put(
    reportKey(campaignId, 'report.html'),
    { bytes: Buffer.from(html) },
    { contentType: 'text/html' },
  );
  await store.put(reportKey(campaignId, 'report.json'), {
    bytes: Buffer.from(JSON.stringify(data, null, 2)),
  });
  fs.mkdirSync(outDir, { recursive: true });
  const file = path.join(outDir, `${campaignId}.html`);
  fs.writeFileSync(file, html);
  return file;
}
