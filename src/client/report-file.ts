import * as fs from 'node:fs';
import * as path from 'node:path';
import type { LatencyRow } from '../activities';
import type { ProfileSchema } from '../core/profile';
import { renderReport, type LatencyByDevice, type ReportData, type TargetReport } from '../report';
import { reportKey, type ArtifactStore } from '../storage';
import type { z } from 'zod';
import type { CampaignClient } from './campaign-client';

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

/**
 * Gather a campaign's report data: its result (from the workflow), the strategy logs (rebuilt from
 * history) and the dense profile's stages (from the artifact store).
 */
export async function buildReportData(
  client: CampaignClient,
  store: ArtifactStore,
  campaignId: string,
): Promise<ReportData> {
  const result = await client.result(campaignId);
  const logs = await client.log(campaignId);
  const profile = JSON.parse(Buffer.from(await store.getBytes(result.profile)).toString('utf8')) as z.infer<
    typeof ProfileSchema
  >;
  let inputTokens = 0;
  let outputTokens = 0;
  let costUsd = 0;
  const targets: TargetReport[] = result.targets.map((t) => {
    const attempts = logs.find((l) => l.targetLabel === t.targetLabel)?.attempts ?? [];
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
      status: t.status,
      reason: t.reason,
      attempts,
      chosenIndex: chosen?.index ?? null,
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
