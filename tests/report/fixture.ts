import type { Attempt, StageMacs } from '../../src/core/attempt';
import type { ReportData } from '../../src/report';

/** The `<script>` an LLM might write into a rationale: it must reach the page as text. */
export const HOSTILE_RATIONALE =
  'layer4 holds 20 % of MACs but 59 % of params; prune it harder. <script>alert("pwned")</script> & keep layer1 "light"';
export const HOSTILE_FALLBACK =
  "claude reply failed validation: pruningRatio: must be <= 0.95 (reply began '<script>steal()</script>')";

// ResNet-50 at 224x224: 4.11 GMACs, 25.6 M params, split by torchvision stage.
const denseStages: StageMacs[] = [
  { name: 'conv1', macs: 118_013_952, params: 9_536, share: 0.0287 },
  { name: 'layer1', macs: 680_525_824, params: 215_808, share: 0.1655 },
  { name: 'layer2', macs: 1_029_668_864, params: 1_219_584, share: 0.2505 },
  { name: 'layer3', macs: 1_469_931_520, params: 7_098_368, share: 0.3576 },
  { name: 'layer4', macs: 811_073_536, params: 14_964_736, share: 0.1973 },
  { name: 'fc', macs: 2_048_000, params: 2_049_000, share: 0.0005 },
];
const denseMacs = denseStages.reduce((n, s) => n + s.macs, 0);
const denseParams = denseStages.reduce((n, s) => n + s.params, 0);

function scaledStages(keep: Record<string, number>, paramKeep: Record<string, number>): StageMacs[] {
  const stages = denseStages.map((s) => ({
    ...s,
    macs: Math.round(s.macs * (keep[s.name] ?? 1)),
    params: Math.round(s.params * (paramKeep[s.name] ?? 1)),
  }));
  const total = stages.reduce((n, s) => n + s.macs, 0);
  return stages.map((s) => ({ ...s, share: s.macs / total }));
}

const keptStages = scaledStages(
  { conv1: 0.62, layer1: 0.47, layer2: 0.44, layer3: 0.41, layer4: 0.37, fc: 0.62 },
  { conv1: 0.62, layer1: 0.45, layer2: 0.43, layer3: 0.47, layer4: 0.54, fc: 0.62 },
);
const keptMacs = keptStages.reduce((n, s) => n + s.macs, 0);
const keptParams = keptStages.reduce((n, s) => n + s.params, 0);

const targetA = 1.77e9;
const dev = (m: number, t: number) => (m - t) / t;

const attemptsA: Attempt[] = [
  {
    index: 1,
    agent: 'solver',
    strategy: {
      pruningRatio: 0.3,
      importance: 'l2',
      globalPruning: true,
      isomorphic: true,
      roundTo: 8,
      rationale: 'first probe: MAC model predicts 2.3 G at ratio 0.30',
    },
    macs: 2.31e9,
    params: 17.9e6,
    deviation: dev(2.31e9, targetA),
    inBand: false,
    wallMs: 4_210,
    stages: scaledStages({ layer1: 0.62, layer2: 0.58, layer3: 0.55, layer4: 0.5 }, {}),
  },
  {
    index: 2,
    agent: 'claude',
    strategy: {
      pruningRatio: 0.46,
      importance: 'taylor',
      globalPruning: true,
      isomorphic: true,
      roundTo: 8,
      stageRatios: { layer4: 0.62 },
      rationale:
        'Attempt 1 overshot by 30 %; raise the ratio and prune layer4 harder since it carries most parameters.',
    },
    macs: 0,
    params: 0,
    deviation: -1,
    inBand: false,
    wallMs: 1_180,
    error: 'engine prune: taylor importance needs calibration data (calibration.batches = 0)',
    llm: {
      model: 'claude-sonnet-4-5',
      inputTokens: 6_412,
      outputTokens: 388,
      cacheReadTokens: 0,
      cacheWriteTokens: 0,
      costUsd: 0.0251,
      repairs: 0,
    },
  },
  {
    index: 3,
    agent: 'claude',
    strategy: {
      pruningRatio: 0.4,
      importance: 'l2',
      globalPruning: true,
      isomorphic: true,
      roundTo: 8,
      stageRatios: { layer4: 0.5 },
      rationale: HOSTILE_RATIONALE,
    },
    macs: 1.93e9,
    params: 14.2e6,
    deviation: dev(1.93e9, targetA),
    inBand: false,
    wallMs: 4_020,
    accuracyProxy: { top1: 0.412, top5: 0.671, count: 512 },
    llm: {
      model: 'claude-sonnet-4-5',
      inputTokens: 7_105,
      outputTokens: 512,
      cacheReadTokens: 5_900,
      cacheWriteTokens: 0,
      costUsd: 0.0197,
      repairs: 1,
    },
  },
  {
    index: 4,
    agent: 'solver',
    strategy: {
      pruningRatio: 0.435,
      importance: 'l2',
      globalPruning: true,
      isomorphic: true,
      roundTo: 8,
      stageRatios: { layer4: 0.5 },
      rationale: 'interpolated between attempts 1 and 3 on the measured ratio-to-MACs curve',
    },
    macs: keptMacs,
    params: keptParams,
    deviation: dev(keptMacs, targetA),
    inBand: true,
    wallMs: 3_960,
    stages: keptStages,
    accuracyProxy: { top1: 0.438, top5: 0.694, count: 512 },
    fallbackReason: HOSTILE_FALLBACK,
  },
];

const targetB = 0.9e9;
const attemptsB: Attempt[] = [
  {
    index: 1,
    agent: 'solver',
    strategy: { pruningRatio: 0.6, importance: 'l2', globalPruning: true, isomorphic: true, roundTo: 8 },
    macs: 1.02e9,
    params: 8.4e6,
    deviation: dev(1.02e9, targetB),
    inBand: false,
    wallMs: 4_400,
  },
  {
    index: 2,
    agent: 'grid',
    strategy: { pruningRatio: 0.7, importance: 'l2', globalPruning: true, isomorphic: true, roundTo: 8 },
    macs: 0.84e9,
    params: 6.1e6,
    deviation: dev(0.84e9, targetB),
    inBand: false,
    wallMs: 4_150,
  },
  {
    index: 3,
    agent: 'solver',
    strategy: {
      pruningRatio: 0.65,
      importance: 'l2',
      globalPruning: true,
      isomorphic: true,
      roundTo: 32,
      rationale: 'roundTo 8 -> 32 to stabilise channel counts',
    },
    macs: 0.97e9,
    params: 7.2e6,
    deviation: dev(0.97e9, targetB),
    inBand: false,
    wallMs: 4_080,
  },
];

// A deterministic, noisy, decaying loss curve with a crash/resume at step 8000.
const lossCurve = Array.from({ length: 200 }, (_, k) => {
  const step = k * 100;
  const loss = 1.25 + 1.6 * Math.exp(-step / 4000) + 0.06 * Math.sin(k * 1.7) + 0.04 * Math.sin(k * 0.37);
  return { step, loss: Number(loss.toFixed(4)) };
});

/** A realistic two-target ResNet-50 campaign: one target converged (with an error and a fallback), one diverged. */
export const reportFixture: ReportData = {
  campaignId: 'c-20240611-r50-demo',
  model: 'resnet50',
  createdAt: '2024-06-11T09:30:00.000Z',
  dense: {
    macs: denseMacs,
    params: denseParams,
    stages: denseStages,
    accuracy: { top1: 0.7613, top5: 0.9286 },
    latency: {
      cpu: [
        { batch: 1, p50Ms: 38.4, p90Ms: 41.9 },
        { batch: 8, p50Ms: 251.0, p90Ms: 268.3 },
        { batch: 32, p50Ms: 968.5, p90Ms: 1_012.0 },
      ],
      cuda: [
        { batch: 1, p50Ms: 2.61, p90Ms: 2.83 },
        { batch: 32, p50Ms: 21.4, p90Ms: 22.9 },
      ],
    },
  },
  targets: [
    {
      label: '1.77G',
      targetMacs: targetA,
      band: { lo: -0.05, hi: 0.01 },
      status: 'converged',
      reason: 'in band after 4 attempts',
      attempts: attemptsA,
      chosenIndex: 4,
      pruned: {
        macs: keptMacs,
        params: keptParams,
        stages: keptStages,
        accuracy: { top1: 0.7482, top5: 0.9231 },
        latency: {
          cpu: [
            { batch: 1, p50Ms: 20.5, p90Ms: 22.8 },
            { batch: 8, p50Ms: 128.7, p90Ms: 139.0 },
            { batch: 32, p50Ms: 489.1, p90Ms: 515.4 },
          ],
          cuda: [
            { batch: 1, p50Ms: 1.72, p90Ms: 1.9 },
            { batch: 32, p50Ms: 12.9, p90Ms: 13.8 },
          ],
        },
        speedup: { cpu: 38.4 / 20.5, cuda: 2.61 / 1.72 },
        macRatio: denseMacs / keptMacs,
      },
      finetune: { lossCurve, steps: 20_000, imagesPerSec: 1_840, resumedFromStep: 8_000 },
    },
    {
      label: '0.9G',
      targetMacs: targetB,
      band: { lo: -0.05, hi: 0.01 },
      status: 'diverged',
      reason:
        'divergence monitor: oscillating around the target (+13.3%, -6.7%, +7.8%) with no attempt in band',
      attempts: attemptsB,
      chosenIndex: null,
    },
  ],
  llmTotals: { inputTokens: 13_517, outputTokens: 900, costUsd: 0.0448 },
};

/** A campaign where almost nothing is known: one target with no attempts, no accuracy, latency, stages or fine-tuning. */
export const emptyFixture: ReportData = {
  campaignId: 'c-empty',
  model: 'vit_b_16',
  createdAt: '2024-06-12T00:00:00.000Z',
  dense: { macs: 17.56e9, params: 86.6e6, stages: [] },
  targets: [
    {
      label: '8G',
      targetMacs: 8e9,
      band: { lo: -0.05, hi: 0.01 },
      status: 'diverged',
      reason: 'engine unavailable',
      attempts: [],
      chosenIndex: null,
    },
  ],
};
