import type { Attempt } from '../../src/core/attempt';
import { assessSearch } from '../../src/core/divergence-monitor';
import { baseStrategy, shapeParts, shapeText, strategyKey, type Strategy } from '../../src/core/strategy';

const key = (over: Partial<Strategy> = {}) => strategyKey(baseStrategy(0.3, over));

describe('strategyKey: two strategies that prune alike key alike', () => {
  test.each<[string, Partial<Strategy>]>([
    ['a rationale', { rationale: 'why not' }],
    ['iterativeSteps 1 (the engine default)', { iterativeSteps: 1 }],
    ['maxLayerRatio 1 (the engine default)', { maxLayerRatio: 1 }],
    ['an empty stageRatios', { stageRatios: {} }],
    ['an empty layerRatios', { layerRatios: {} }],
    ['an empty ignoredLayers', { ignoredLayers: [] }],
  ])('%s keys as left out', (_name, over) => {
    expect(key(over)).toBe(key());
  });

  test('ignoredLayers is a set: order and repeats do not count', () => {
    expect(key({ ignoredLayers: ['fc', 'conv1'] })).toBe(key({ ignoredLayers: ['conv1', 'fc', 'fc'] }));
    expect(key({ ignoredLayers: ['fc'] })).not.toBe(key({ ignoredLayers: ['conv1'] }));
  });

  test.each<[string, Partial<Strategy>]>([
    ['iterativeSteps 2', { iterativeSteps: 2 }],
    ['maxLayerRatio 0.9', { maxLayerRatio: 0.9 }],
    ['a stage ratio', { stageRatios: { layer4: 0.4 } }],
    ['a layer ratio', { layerRatios: { 'layer4.0.conv1': 0.4 } }],
    ['an ignored layer', { ignoredLayers: ['fc'] }],
    ['another criterion', { importance: 'taylor' }],
    ['another rounding', { roundTo: 1 }],
  ])('%s keys apart', (_name, over) => {
    expect(key(over)).not.toBe(key());
  });

  test('the field order and ratio noise beyond 6 decimals do not count', () => {
    const a = {
      roundTo: 8,
      isomorphic: true,
      globalPruning: true,
      importance: 'l2',
      pruningRatio: 0.3,
    } as Strategy;
    expect(strategyKey(a)).toBe(key());
    expect(strategyKey(baseStrategy(0.3 + 1e-9))).toBe(key());
    expect(strategyKey(baseStrategy(0.3001))).not.toBe(key());
  });
});

describe('the divergence monitor sees a repeat stated with the engine defaults', () => {
  const attempt = (index: number, strategy: Strategy, deviation: number): Attempt => ({
    index,
    agent: 'claude',
    strategy,
    macs: 1e9 * (1 + deviation),
    params: 0,
    deviation,
    inBand: false,
    wallMs: 0,
  });

  test('attempt 3 repeats attempt 1 with iterativeSteps 1: switch agent, repeated-strategy', () => {
    const history = [
      attempt(1, baseStrategy(0.2), 0.3),
      attempt(2, baseStrategy(0.3), 0.1),
      attempt(3, baseStrategy(0.2, { iterativeSteps: 1, rationale: 'again' }), 0.3),
    ];
    const verdict = assessSearch(history, {
      band: { lo: -0.01, hi: 0.01 },
      targetMacs: 1e9,
      stagnationWindow: 3,
      maxIterations: 20,
      floorMacs: 0.05e9,
      ceilingMacs: 4e9,
    });
    expect(verdict.action).toBe('switch-agent');
    expect(verdict.reason).toBe('repeated-strategy');
    expect(verdict.detail).toMatch(/attempt #?1\b/);
  });
});

describe('shapeParts / shapeText: what a strategy changes of global isomorphic pruning, in words', () => {
  test("each candidate shape of a scored search reads apart from the base's", () => {
    expect(shapeParts(baseStrategy(0.3))).toEqual([]);
    expect(shapeText(baseStrategy(0.3))).toBe('-');
    // The extended search's shapes: isomorphic off, per-layer uniform L1, a stage allocation.
    expect(shapeText(baseStrategy(0.24, { isomorphic: false }))).toBe('non-isomorphic');
    expect(
      shapeText(
        baseStrategy(0.32, { importance: 'l1', globalPruning: false, isomorphic: false, roundTo: 1 }),
      ),
    ).toBe('local; non-isomorphic');
    expect(shapeText(baseStrategy(0.27, { stageRatios: { stage1: 0, stage3: 0.5412 } }))).toBe(
      'stage1=0.000; stage3=0.541',
    );
  });

  test('layer ratios name three then count; ignored layers name three then count; the rest in order', () => {
    const s = baseStrategy(0.3, {
      layerRatios: { a: 0.1, b: 0.2, c: 0.3, d: 0.4, e: 0.5 },
      maxLayerRatio: 0.8,
      ignoredLayers: ['fc', 'conv1', 'x', 'y'],
      iterativeSteps: 3,
      vit: { pruneHeads: true, pruneHeadDims: false, headRatio: 0.25 },
    });
    expect(shapeParts(s)).toEqual([
      'a=0.100',
      'b=0.200',
      'c=0.300',
      '+2 layer ratios',
      'maxLayer=0.8',
      'ignore fc,conv1,x +1',
      'steps=3',
      'vit heads=y dims=n headRatio=0.25',
    ]);
    // Whole (the report, the export): every layer ratio and ignored layer, no counts.
    expect(shapeParts(s, { whole: true }).slice(0, 7)).toEqual([
      'a=0.100',
      'b=0.200',
      'c=0.300',
      'd=0.400',
      'e=0.500',
      'maxLayer=0.8',
      'ignore fc,conv1,x,y',
    ]);
    expect(shapeText(baseStrategy(0.3, { ignoredLayers: ['fc', 'conv1', 'x'] }))).toBe('ignore fc,conv1,x');
  });
});
