import { Context } from '@temporalio/activity';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { ArtifactRef } from '../core/artifact-ref';
import type { ModelSpec } from '../core/model-spec';
import { measureLatency, runInference } from '../onnx';
import { deploymentOnnxKey } from '../storage/keys';
import type { ActivityDeps } from './deps';
import { toActivityFailure } from './failures';
import { keepHeartbeating } from './heartbeat';
import { downloadModelDir, localizeModelSpec } from './model-files';

/** Input of {@link DeploymentActivities.deploymentCheck}. */
export interface DeploymentCheckInput {
  campaignId: string;
  targetLabel: string;
  dense: ModelSpec;
  /** Manifest of the pruned (or fine-tuned) model. */
  pruned: ArtifactRef;
  /** Validation folder for the PyTorch vs ONNX Runtime agreement check. */
  dataset?: { root: string };
  batchSizes: number[];
  latencyRuns: number;
  agreementSamples: number;
}

/** Latency of one model at one batch size on one execution provider. */
export interface LatencyRow {
  batchSize: number;
  provider: 'cpu' | 'cuda';
  p50Ms: number;
  p90Ms: number;
  fallbackReason?: string;
}

/** What a deployment check measured: the numbers users care about. */
export interface DeploymentCheckResult {
  dense: { macs: number; params: number; onnx: ArtifactRef; latency: LatencyRow[] };
  pruned: { macs: number; params: number; onnx: ArtifactRef; latency: LatencyRow[] };
  /** dense p50 / pruned p50 per batch size and provider. */
  speedup: { batchSize: number; provider: 'cpu' | 'cuda'; ratio: number }[];
  /** dense MACs / pruned MACs: what the speedup would be if latency followed MACs. */
  macRatio: number;
  agreement?: { top1Agreement: number; count: number; torchTop1: number; onnxTop1: number };
}

interface ExportResult {
  onnx: { path: string; sha256: string };
  macs: number;
  params: number;
}

function argmaxRows(logits: Float32Array, rows: number): number[] {
  const cols = logits.length / rows;
  const out: number[] = [];
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let c = 1; c < cols; c++) if (logits[r * cols + c]! > logits[r * cols + best]!) best = c;
    out.push(best);
  }
  return out;
}

/** The deployment check: ONNX export of dense and pruned, onnxruntime latency, agreement, speedups. */
export function createDeploymentActivities(deps: ActivityDeps) {
  async function deploymentCheckNow(input: DeploymentCheckInput): Promise<DeploymentCheckResult> {
    const ctx = Context.current();
    const dir = path.join(deps.workDir, input.campaignId, input.targetLabel, `deploy-${ctx.info.attempt}`);
    await fs.rm(dir, { recursive: true, force: true });
    await fs.mkdir(dir, { recursive: true });
    try {
      const dense = await localizeModelSpec(deps.store, input.dense, deps.workDir);
      const pruned = await downloadModelDir(deps.store, input.pruned, path.join(dir, 'pruned-model'));
      const opts = { signal: ctx.cancellationSignal, onProgress: () => ctx.heartbeat() };
      const exp = async (model: ModelSpec, name: string) => {
        const r = await deps.oneShotEngine.run<ExportResult>(
          'export',
          { model, out: path.join(dir, `${name}.onnx`) },
          opts,
        );
        const ref = await deps.store.put(deploymentOnnxKey(input.campaignId, input.targetLabel, name), {
          file: r.onnx.path,
        });
        return { ...r, ref, file: r.onnx.path };
      };
      const d = await exp(dense, 'dense');
      const p = await exp(pruned, 'pruned');

      const latency = async (file: string): Promise<LatencyRow[]> => {
        const rows: LatencyRow[] = [];
        for (const batchSize of input.batchSizes) {
          ctx.heartbeat();
          // onnxruntime runs on a thread of its own: keepHeartbeating's timer keeps beating meanwhile.
          const m = await measureLatency(file, {
            batchSize,
            runs: input.latencyRuns,
            executionProvider: 'auto',
            signal: ctx.cancellationSignal,
          });
          rows.push({
            batchSize,
            provider: m.provider,
            p50Ms: m.p50Ms,
            p90Ms: m.p90Ms,
            ...(m.fallbackReason ? { fallbackReason: m.fallbackReason } : {}),
          });
        }
        return rows;
      };
      const denseLatency = await latency(d.file);
      const prunedLatency = await latency(p.file);
      const speedup = denseLatency.map((row, i) => ({
        batchSize: row.batchSize,
        provider: row.provider,
        ratio: row.p50Ms / (prunedLatency[i]?.p50Ms ?? row.p50Ms),
      }));

      let agreement: DeploymentCheckResult['agreement'];
      if (input.dataset) {
        const pred = await deps.oneShotEngine.run<{ shape: number[]; top1: number[]; labels: number[] }>(
          'predict',
          {
            model: pruned,
            dataset: { root: input.dataset.root },
            count: input.agreementSamples,
            out: path.join(dir, 'inputs.f32'),
          },
          opts,
        );
        const bytes = await fs.readFile(path.join(dir, 'inputs.f32'));
        const x = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
        const out = await runInference(p.file, x, pred.shape, { signal: ctx.cancellationSignal });
        const onnxTop1 = argmaxRows(out.logits, pred.shape[0]!);
        const n = pred.top1.length;
        const same = onnxTop1.filter((c, i) => c === pred.top1[i]).length;
        agreement = {
          top1Agreement: same / n,
          count: n,
          torchTop1: pred.top1.filter((c, i) => c === pred.labels[i]).length / n,
          onnxTop1: onnxTop1.filter((c, i) => c === pred.labels[i]).length / n,
        };
      }
      return {
        dense: { macs: d.macs, params: d.params, onnx: d.ref, latency: denseLatency },
        pruned: { macs: p.macs, params: p.params, onnx: p.ref, latency: prunedLatency },
        speedup,
        macRatio: d.macs / p.macs,
        ...(agreement ? { agreement } : {}),
      };
    } catch (err) {
      throw toActivityFailure(err);
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  }

  return {
    async deploymentCheck(input: DeploymentCheckInput): Promise<DeploymentCheckResult> {
      return keepHeartbeating(() => deploymentCheckNow(input));
    },
  };
}

export type DeploymentActivities = ReturnType<typeof createDeploymentActivities>;
