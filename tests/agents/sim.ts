/**
 * Simulation harness for strategy agents: synthetic "engines" whose measured MACs mimic what
 * torch-pruning does to real models, and a loop that drives an agent against one of them the way
 * macTargetSearch does (propose -> measure -> band check), without Temporal.
 *
 * The curves deliberately differ from the MAC model the agents use (uneven global ranking across
 * stages, exponents other than 2, extra linear terms), so agents must calibrate on measurements.
 */
import type { StrategyAgent } from '../../src/agents/agent';
import type { Attempt, StageMacs } from '../../src/core/attempt';
import { assessSearch } from '../../src/core/divergence-monitor';
import { stageRatioOf } from '../../src/core/mac-model';
import type { ProfileSummary } from '../../src/core/profile';
import type { Strategy } from '../../src/core/strategy';
import { strategyKey } from '../../src/core/strategy';
import type { Band } from '../../src/core/tolerance-band';
import { deviation, inBand } from '../../src/core/tolerance-band';

/** What the engine reports for one strategy; `stages` are measured MACs per stage when it reports them. */
export type Measurement = { macs: number; stages?: StageMacs[] } | { error: string };

export interface Curve {
  name: string;
  profile: ProfileSummary;
  baseStrategy: Partial<Strategy>;
  measure(strategy: Strategy): Measurement;
}

/** Any ratio above this makes the engine fail (a layer would lose every channel). */
const ENGINE_MAX_RATIO = 0.85;

/** Deterministic noise in [-1, 1]. */
function noise(n: number, salt: number): number {
  const s = Math.sin(n * 12.9898 + salt * 78.233) * 43758.5453;
  return 2 * (s - Math.floor(s)) - 1;
}

const RESNET_STAGES = [
  { name: 'conv1', macs: 118.0e6 },
  { name: 'layer1', macs: 0.68e9 },
  { name: 'layer2', macs: 1.03e9 },
  { name: 'layer3', macs: 1.47e9 },
  { name: 'layer4', macs: 0.789e9 },
  { name: 'fc', macs: 2.05e6 },
];

/** A ResNet-50-like profile summary: 4.089 GMACs, protected stem and classifier. */
export function resnetProfile(): ProfileSummary {
  const macs = RESNET_STAGES.reduce((s, x) => s + x.macs, 0);
  return {
    model: 'resnet50',
    inputShape: [1, 3, 224, 224],
    macs,
    params: 25.557e6,
    stages: RESNET_STAGES.map((s) => ({ ...s, params: 0, share: s.macs / macs })),
    isomorphicClasses: [],
    protected: [
      { layer: 'conv1', reason: 'stem' },
      { layer: 'fc', reason: 'classifier' },
    ],
    protectedMacs: 118.0e6 + 2.05e6,
    layerCount: 161,
  };
}

// How global ranking spreads a global ratio over the stages (deeper stages lose more), and each
// stage's MAC exponent in its kept fraction.
const RESNET_TRUTH: Record<string, { bias: number; exponent: number }> = {
  layer1: { bias: 0.6, exponent: 1.8 },
  layer2: { bias: 0.85, exponent: 1.95 },
  layer3: { bias: 1.05, exponent: 2.05 },
  layer4: { bias: 1.3, exponent: 2.15 },
};

type ResnetKind = 'smooth' | 'staircase' | 'wiggle';

/**
 * ResNet-like engines.
 * - smooth: continuous, (1 - r_s)^k per stage with uneven global ranking;
 * - staircase: the ratio takes effect in steps of 0.02 at roundTo 8 (0.01 at 4, 0.005 at 2, 0.0025 at 1),
 *   each level jittered by +-0.4 % (global ranking noise: slightly non-monotone);
 * - wiggle: smooth x (1 + 1.5 % sin(2 pi r / 0.02)): non-monotone in r.
 */
export function resnetCurve(kind: ResnetKind): Curve {
  const profile = resnetProfile();
  return {
    name: kind,
    profile,
    baseStrategy: { importance: 'l2', roundTo: 8 },
    measure(strategy) {
      const step = kind === 'staircase' ? (0.02 * strategy.roundTo) / 8 : 0;
      const quant = (r: number) => (step > 0 ? Math.floor(r / step + 1e-9) * step : r);
      const r = quant(strategy.pruningRatio);
      let macs = 118.0e6 + 2.05e6 * (1 - Math.min(r * 1.25, 0.97));
      const stages: StageMacs[] = [];
      for (const [name, t] of Object.entries(RESNET_TRUTH)) {
        const own = strategy.stageRatios?.[name];
        const rs = own !== undefined ? quant(own) : Math.min(0.85 * r * t.bias, 0.97);
        if (rs > ENGINE_MAX_RATIO + 1e-9 || strategy.pruningRatio > ENGINE_MAX_RATIO + 1e-9) {
          return { error: `PruningError: ${name} would lose every channel at ratio ${rs.toFixed(3)}` };
        }
        const stage = RESNET_STAGES.find((s) => s.name === name);
        const stageMacs = (stage?.macs ?? 0) * Math.pow(1 - rs, t.exponent);
        stages.push({ name, macs: Math.round(stageMacs), params: 0, share: 0 });
        macs += stageMacs;
      }
      if (kind === 'staircase') {
        const level = Math.round(r / (step || 1));
        macs *=
          1 + 0.004 * noise(level, strategy.roundTo + 17 * Object.keys(strategy.stageRatios ?? {}).length);
      }
      if (kind === 'wiggle') macs *= 1 + 0.015 * Math.sin((2 * Math.PI * strategy.pruningRatio) / 0.02 + 1.3);
      return { macs: Math.round(macs), stages };
    },
  };
}

const VIT_BLOCK_MACS = 1.453e9;

/** A ViT-B/16-like profile summary: 12 equal blocks, protected patch embedding and head. */
export function vitProfile(): ProfileSummary {
  const stages = [
    { name: 'patch_embed', macs: 0.116e9 },
    ...Array.from({ length: 12 }, (_, i) => ({ name: `blocks.${i}`, macs: VIT_BLOCK_MACS })),
    { name: 'head', macs: 0.77e6 },
  ];
  const macs = stages.reduce((s, x) => s + x.macs, 0);
  return {
    model: 'vit_b_16',
    inputShape: [1, 3, 224, 224],
    macs,
    params: 86.6e6,
    stages: stages.map((s) => ({ ...s, params: 0, share: s.macs / macs })),
    isomorphicClasses: [],
    protected: [
      { layer: 'patch_embed', reason: 'stem' },
      { layer: 'head', reason: 'classifier' },
    ],
    protectedMacs: 0.116e9 + 0.77e6,
    layerCount: 150,
  };
}

/**
 * A ViT-like engine: isomorphic pruning treats the 12 blocks alike, and a block keeps whole heads
 * (12 of them) unless roundTo is 1 (then head dims: 1/64 steps). So the global ratio moves MACs in
 * head-sized steps of ~1/12 of r; stageRatios move one block at a time.
 */
export function vitCurve(): Curve {
  const profile = vitProfile();
  return {
    name: 'vit',
    profile,
    baseStrategy: { importance: 'l2', roundTo: 8, vit: { pruneHeads: true, pruneHeadDims: false } },
    measure(strategy) {
      const units = strategy.roundTo === 1 ? 64 : 12;
      let macs = 0.116e9;
      let lastKeep = 1;
      for (let i = 0; i < 12; i++) {
        const rs = stageRatioOf(`blocks.${i}`, strategy);
        if (rs > ENGINE_MAX_RATIO + 1e-9) return { error: `PruningError: blocks.${i} would lose every head` };
        const keep = 1 - Math.floor(rs * units + 1e-9) / units;
        macs += VIT_BLOCK_MACS * (0.1 * keep + 0.9 * Math.pow(keep, 1.9));
        lastKeep = keep;
      }
      macs += 0.77e6 * lastKeep;
      return { macs: Math.round(macs) };
    },
  };
}

/** The four curves of the convergence table. */
export function allCurves(): Curve[] {
  return [resnetCurve('smooth'), resnetCurve('staircase'), resnetCurve('wiggle'), vitCurve()];
}

export interface SearchResult {
  success: boolean;
  /** Attempts made (the in-band one included). */
  attempts: number;
  /** A proposal repeated an earlier strategy. */
  repeated: boolean;
  exhausted: boolean;
  history: Attempt[];
}

/** Drive `agent` against `curve` like macTargetSearch does, until in band, exhausted or `maxIterations`. */
export async function runSearch(
  agent: StrategyAgent,
  curve: Curve,
  targetMacs: number,
  band: Band,
  opts: { maxIterations?: number; gridStep?: number } = {},
): Promise<SearchResult> {
  const maxIterations = opts.maxIterations ?? 10;
  const history: Attempt[] = [];
  const seen = new Set<string>();
  let repeated = false;
  let exhausted = false;
  for (let i = 1; i <= maxIterations; i++) {
    const proposal = await agent.propose({
      agent: agent.name,
      profile: curve.profile,
      targetMacs,
      band,
      history: history.map((a) => ({ ...a })),
      baseStrategy: curve.baseStrategy,
      ...(opts.gridStep !== undefined ? { gridStep: opts.gridStep } : {}),
    });
    if (proposal.exhausted) {
      exhausted = true;
      break;
    }
    const key = strategyKey(proposal.strategy);
    if (seen.has(key)) repeated = true;
    seen.add(key);
    const m = curve.measure(proposal.strategy);
    const base = { index: i, agent: proposal.agent, strategy: proposal.strategy, wallMs: 0 };
    if ('error' in m) {
      history.push({ ...base, macs: 0, params: 0, deviation: -1, inBand: false, error: m.error });
      continue;
    }
    const d = deviation(m.macs, targetMacs);
    const hit = inBand(d, band);
    history.push({
      ...base,
      macs: m.macs,
      params: 0,
      deviation: d,
      inBand: hit,
      ...(m.stages ? { stages: m.stages } : {}),
    });
    if (hit) return { success: true, attempts: i, repeated, exhausted, history };
  }
  return { success: false, attempts: history.length, repeated, exhausted, history };
}

export const TARGET_FRACTIONS = [0.25, 0.35, 0.43, 0.55, 0.7, 0.85];
export const BANDS: Band[] = [
  { lo: -0.01, hi: 0.01 },
  { lo: -0.05, hi: 0.01 },
  { lo: -0.1, hi: 0.03 },
  { lo: -0.15, hi: 0.05 },
];

export interface CurveStats {
  curve: string;
  cases: number;
  successes: number;
  successRate: number;
  medianAttempts: number;
  p90Attempts: number;
  repeats: number;
  failures: string[];
}

/** Run every target x band on one curve; attempts of failed cases count as `maxIterations`. */
export async function sweep(
  agentFactory: () => StrategyAgent,
  curve: Curve,
  opts: { maxIterations?: number; gridStep?: number } = {},
): Promise<CurveStats> {
  const maxIterations = opts.maxIterations ?? 10;
  const attempts: number[] = [];
  const failures: string[] = [];
  let successes = 0;
  let repeats = 0;
  for (const fraction of TARGET_FRACTIONS) {
    for (const band of BANDS) {
      const result = await runSearch(agentFactory(), curve, fraction * curve.profile.macs, band, opts);
      if (result.success) successes++;
      else
        failures.push(
          `${fraction} ${band.lo}..${band.hi}: ${result.history.map((a) => (a.error ? 'err' : (a.deviation * 100).toFixed(1))).join(' ')}${result.exhausted ? ' (exhausted)' : ''}`,
        );
      if (result.repeated) repeats++;
      attempts.push(result.success ? result.attempts : maxIterations + 1);
    }
  }
  const sorted = [...attempts].sort((a, b) => a - b);
  const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)] ?? NaN;
  return {
    curve: curve.name,
    cases: attempts.length,
    successes,
    successRate: successes / attempts.length,
    medianAttempts: q(0.5),
    p90Attempts: q(0.9),
    repeats,
    failures,
  };
}

/**
 * Like {@link runSearch}, with the divergence monitor in the loop the way macTargetSearch uses it:
 * `switch-agent` toggles between `primary` and `fallback`, `stop` ends the search, an exhausted
 * primary hands over to the fallback.
 */
export async function runMonitoredSearch(
  primary: StrategyAgent,
  fallback: StrategyAgent,
  curve: Curve,
  targetMacs: number,
  band: Band,
  opts: { maxIterations?: number; stagnationWindow?: number } = {},
): Promise<SearchResult & { events: string[] }> {
  const maxIterations = opts.maxIterations ?? 12;
  const history: Attempt[] = [];
  const events: string[] = [];
  let agent = primary;
  let exhausted = false;
  for (let proposals = 0; history.length < maxIterations && proposals < 3 * maxIterations; proposals++) {
    const proposal = await agent.propose({
      agent: agent.name,
      profile: curve.profile,
      targetMacs,
      band,
      history: history.map((a) => ({ ...a })),
      baseStrategy: curve.baseStrategy,
    });
    if (proposal.exhausted) {
      if (agent === fallback) {
        exhausted = true;
        break;
      }
      agent = fallback;
      continue;
    }
    const m = curve.measure(proposal.strategy);
    const base = { index: history.length + 1, agent: proposal.agent, strategy: proposal.strategy, wallMs: 0 };
    if ('error' in m)
      history.push({ ...base, macs: 0, params: 0, deviation: -1, inBand: false, error: m.error });
    else {
      const d = deviation(m.macs, targetMacs);
      history.push({
        ...base,
        macs: m.macs,
        params: 0,
        deviation: d,
        inBand: inBand(d, band),
        ...(m.stages ? { stages: m.stages } : {}),
      });
      if (inBand(d, band))
        return { success: true, attempts: history.length, repeated: false, exhausted, history, events };
    }
    const verdict = assessSearch(history, {
      band,
      targetMacs,
      stagnationWindow: opts.stagnationWindow ?? 3,
      maxIterations,
      floorMacs: curve.profile.protectedMacs,
      ceilingMacs: curve.profile.macs,
    });
    if (verdict.action !== 'continue')
      events.push(`after ${history.length}: ${verdict.action} (${verdict.reason ?? ''})`);
    if (verdict.action === 'switch-agent') agent = agent === primary ? fallback : primary;
    if (verdict.action === 'stop') break;
  }
  return { success: false, attempts: history.length, repeated: false, exhausted, history, events };
}
