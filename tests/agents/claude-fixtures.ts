/**
 * Shared data for the Claude and hybrid agent tests: a ResNet-50-like profile summary, a target and
 * band, attempt builders, a trivial fallback agent and an in-memory transcript sink.
 */
import { createHash } from 'node:crypto';
import type { Proposal, ProposeInput, StrategyAgent } from '../../src/agents/agent';
import type { TranscriptSink } from '../../src/agents/claude';
import type { ArtifactRef } from '../../src/core/artifact-ref';
import type { Attempt } from '../../src/core/attempt';
import type { ProfileSummary } from '../../src/core/profile';
import { baseStrategy, type Strategy } from '../../src/core/strategy';
import type { Band } from '../../src/core/tolerance-band';

/** Shaped like a real key so the redaction regex would catch it too; tests scan for it. */
export const TEST_KEY = 'sk-ant-api03-TESTKEY-do-not-leak-0123456789abcdefghijklmnop';

export const DENSE_MACS = 4.089e9;
export const PROTECTED_MACS = 0.119e9;
export const TARGET_MACS = 1.77e9;
export const BAND: Band = { lo: -0.05, hi: 0.01 };

/** ResNet-50 at 224x224, abbreviated to its stages. */
export const PROFILE: ProfileSummary = {
  model: 'resnet50',
  inputShape: [1, 3, 224, 224],
  macs: DENSE_MACS,
  params: 25.557e6,
  stages: [
    { name: 'conv1', macs: 0.118e9, params: 9408, share: 0.029 },
    { name: 'layer1', macs: 0.68e9, params: 0.216e6, share: 0.166 },
    { name: 'layer2', macs: 1.03e9, params: 1.22e6, share: 0.252 },
    { name: 'layer3', macs: 1.47e9, params: 7.1e6, share: 0.36 },
    { name: 'layer4', macs: 0.81e9, params: 14.96e6, share: 0.198 },
    { name: 'fc', macs: 0.002e9, params: 2.05e6, share: 0.0005 },
  ],
  isomorphicClasses: [
    { key: 'conv3x3-bn-relu:64', groupCount: 3, channels: 192, macs: 0.35e9 },
    { key: 'conv3x3-bn-relu:128', groupCount: 4, channels: 512, macs: 0.46e9 },
    { key: 'residual-add:1024', groupCount: 1, channels: 1024, macs: 0.9e9 },
  ],
  protected: [
    { layer: 'conv1', reason: 'stem' },
    { layer: 'fc', reason: 'classifier' },
  ],
  protectedMacs: PROTECTED_MACS,
  layerCount: 161,
};

/** MACs the (1 - r)^2 model predicts, times a small bias so attempts do not sit exactly on it. */
export function modelMacs(ratio: number, bias = 1.02): number {
  return PROTECTED_MACS + (DENSE_MACS - PROTECTED_MACS) * (1 - ratio) ** 2 * bias;
}

/** A measured attempt at `ratio` (shape overrides optional). */
export function attempt(
  index: number,
  ratio: number,
  overrides: Partial<Strategy> = {},
  extra: Partial<Attempt> = {},
): Attempt {
  const macs = modelMacs(ratio);
  const deviation = (macs - TARGET_MACS) / TARGET_MACS;
  return {
    index,
    agent: 'solver',
    strategy: baseStrategy(Number(ratio.toFixed(4)), overrides),
    macs,
    params: 25.557e6 * (1 - ratio) ** 2,
    deviation,
    inBand: deviation >= BAND.lo && deviation <= BAND.hi,
    wallMs: 600,
    ...extra,
  };
}

/** `n` attempts that wander around the target, deterministic. */
export function longHistory(n: number): Attempt[] {
  return Array.from({ length: n }, (_, i) =>
    attempt(i + 1, 0.2 + ((i * 37) % 100) / 400, {}, { agent: i % 3 === 0 ? 'claude' : 'solver' }),
  );
}

export function proposeInput(history: Attempt[] = [], extra: Partial<ProposeInput> = {}): ProposeInput {
  return {
    agent: 'claude',
    profile: PROFILE,
    targetMacs: TARGET_MACS,
    band: BAND,
    history,
    baseStrategy: { importance: 'l2', globalPruning: true, isomorphic: true, roundTo: 8 },
    ...extra,
  };
}

/** A valid strategy as Claude would propose it. */
export function goodStrategy(overrides: Partial<Strategy> = {}): Strategy {
  return baseStrategy(0.352, { rationale: 'interpolated between #1 and #2 in sqrt-MAC space', ...overrides });
}

/** The trivial fallback: returns a fixed solver strategy and records what it was asked. */
export class RecordingSolver implements StrategyAgent {
  readonly name = 'solver' as const;
  readonly inputs: ProposeInput[] = [];

  constructor(private readonly ratio = 0.4) {}

  propose(input: ProposeInput): Promise<Proposal> {
    this.inputs.push(input);
    return Promise.resolve({
      strategy: {
        ...baseStrategy(this.ratio),
        ...input.baseStrategy,
        pruningRatio: this.ratio,
        rationale: 'solver: fitted (1-r)^2',
      },
      agent: 'solver',
      predictedMacs: modelMacs(this.ratio),
    });
  }
}

/** Keeps transcripts in memory, returning artifact references like the real store. */
export class MemorySink implements TranscriptSink {
  readonly objects = new Map<string, Uint8Array>();

  put(key: string, source: { bytes: Uint8Array }): Promise<ArtifactRef> {
    this.objects.set(key, source.bytes);
    return Promise.resolve({
      uri: `mem://transcripts/${key}`,
      key,
      sha256: createHash('sha256').update(source.bytes).digest('hex'),
      sizeBytes: source.bytes.byteLength,
    });
  }

  text(key: string): string {
    const bytes = this.objects.get(key);
    if (bytes === undefined) throw new Error(`no object ${key}`);
    return new TextDecoder().decode(bytes);
  }
}
