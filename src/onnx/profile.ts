/**
 * The ONNX profile: per-node MACs and parameters (see mac-counter.ts and param-counter.ts for the
 * conventions), aggregated per module path, per stage and per op type. This is the TS cross-check
 * of the engine's profile and the input of the MAC distribution the strategy agents read.
 */
import { loadOnnxModel } from './onnx-model';
import type { OnnxModel } from './onnx-model';
import { nodeMacs } from './mac-counter';
import { nodeParams } from './param-counter';
import { inferShapes } from './shape-inference';
import { autoStageRoots, stageTable } from './stages';
import type { StageCost } from './stages';
import type { GraphTensor, InferOptions } from './shape-inference';

/** Options of {@link profileOnnx}. */
export interface ProfileOptions extends InferOptions {
  /** Value for the symbolic batch dimension; MACs scale with it, parameters do not. @default 1 */
  readonly batchSize?: number;
  /**
   * Module paths whose children are stages (the engine's `stage_roots`, e.g. `['features']` for
   * convnext). @default decided from the MAC distribution ({@link autoStageRoots})
   */
  readonly stageRoots?: readonly string[];
}

/** One node of the graph with its cost. */
export interface NodeProfile {
  readonly name: string;
  readonly opType: string;
  /** PyTorch module path the node came from (`layer1.0.conv1`); `''` for top-level glue ops. */
  readonly modulePath: string;
  readonly macs: number;
  /** Parameters attributed to this node (each initializer counted once, at its first consumer). */
  readonly params: number;
  /** Shape of the first output. */
  readonly outputShape: readonly number[];
}

/** Totals of the nodes sharing one module path. */
export interface ModuleProfile {
  readonly path: string;
  readonly macs: number;
  readonly params: number;
}

/** Totals of one stage (see stages.ts), with its share of the model's MACs. */
export type StageProfile = StageCost;

/** MACs and node count of one op type. */
export interface OpTypeProfile {
  readonly opType: string;
  readonly macs: number;
  readonly count: number;
}

/**
 * The MAC and parameter profile of an ONNX model at one batch size.
 *
 * @example
 * // torchvision resnet50, opset 17, batch 1:
 * // { macs: 4_089_184_256, params: 25_530_472, opset: 17, batchSize: 1,
 * //   nodes: [{ name: '/conv1/Conv', opType: 'Conv', modulePath: 'conv1', macs: 118_013_952,
 * //             params: 9_472, outputShape: [1, 64, 112, 112] }, ...],
 * //   byStage: [{ name: 'conv1', macs: 118_013_952, params: 9_472, share: 0.0289 },
 * //             { name: 'layer1', ... }, ..., { name: 'fc', macs: 2_048_000, ... }],
 * //   byOpType: [{ opType: 'Conv', macs: 4_087_136_256, count: 53 }, { opType: 'Gemm', ... }, ...] }
 */
export interface OnnxProfile {
  /** Total MACs at `batchSize`. */
  readonly macs: number;
  /** Total parameters (see param-counter.ts for the rule). */
  readonly params: number;
  /** Default-domain opset. */
  readonly opset: number;
  readonly batchSize: number;
  /** Every node, in graph order. */
  readonly nodes: readonly NodeProfile[];
  /** Per module path, in order of first appearance. */
  readonly byModule: readonly ModuleProfile[];
  /** Per stage, in order of first appearance; MAC-less stages folded into their neighbour (see stages.ts). */
  readonly byStage: readonly StageProfile[];
  /** The stage roots used (given, or decided from the MAC distribution). */
  readonly stageRoots: readonly string[];
  /** Per op type, most MACs first. */
  readonly byOpType: readonly OpTypeProfile[];
  readonly inputs: readonly GraphTensor[];
  readonly outputs: readonly GraphTensor[];
}

/**
 * Read an ONNX file and profile it: parse, infer shapes at `batchSize`, count MACs and parameters.
 * Throws `OnnxFormatError` for an unreadable file and `UnsupportedOpError` for an op it cannot infer.
 * @example
 * const p = await profileOnnx('.state/resnet50.onnx');
 * formatMacs(p.macs); // '4.09 G'
 */
export async function profileOnnx(path: string, opts: ProfileOptions = {}): Promise<OnnxProfile> {
  return profileModel(await loadOnnxModel(path), opts);
}

/** {@link profileOnnx} for a model already loaded with `loadOnnxModel`. */
export function profileModel(model: OnnxModel, opts: ProfileOptions = {}): OnnxProfile {
  const graph = inferShapes(model, opts);
  const params = nodeParams(graph);
  const nodes: NodeProfile[] = graph.nodes.map((n, i) => ({
    name: n.name,
    opType: n.opType,
    modulePath: modulePathOf(n.name),
    macs: nodeMacs(n),
    params: params[i] ?? 0,
    outputShape: n.outputs[0]?.shape ?? [],
  }));
  const totalMacs = sum(nodes.map((n) => n.macs));

  const byModule = groupBy(nodes, (n) => n.modulePath).map(([path, ns]) => ({
    path,
    macs: sum(ns.map((n) => n.macs)),
    params: sum(ns.map((n) => n.params)),
  }));
  const stageRoots = opts.stageRoots ?? autoStageRoots(byModule);
  const byStage = stageTable(byModule, stageRoots);
  const byOpType = groupBy(nodes, (n) => n.opType)
    .map(([opType, ns]) => ({ opType, macs: sum(ns.map((n) => n.macs)), count: ns.length }))
    .sort((a, b) => b.macs - a.macs || b.count - a.count);

  return {
    macs: totalMacs,
    params: sum(params),
    opset: model.opset,
    batchSize: opts.batchSize ?? 1,
    nodes,
    byModule,
    byStage,
    stageRoots,
    byOpType,
    inputs: graph.inputs,
    outputs: graph.outputs,
  };
}

/**
 * The PyTorch module path of a node, from the scope-style names torch.onnx gives nodes: the last
 * segment is the op, each earlier one a module — either a child name (`conv1`) or a name that
 * extends the previous segment (`layer1` then `layer1.0`).
 * @example
 * modulePathOf('/layer1/layer1.0/conv1/Conv')                        // 'layer1.0.conv1'
 * modulePathOf('/features/features.1/features.1.0/block/block.0/Conv') // 'features.1.0.block.0'
 * modulePathOf('/Flatten')                                             // ''
 */
export function modulePathOf(nodeName: string): string {
  if (!nodeName.startsWith('/')) return '';
  const segments = nodeName
    .split('/')
    .slice(1, -1)
    .filter((s) => s !== '');
  const parts: string[] = [];
  for (const seg of segments) {
    const last = parts[parts.length - 1];
    if (last !== undefined && seg.startsWith(`${last}.`)) parts[parts.length - 1] = seg;
    else parts.push(seg);
  }
  return parts.join('.');
}

function sum(xs: readonly number[]): number {
  return xs.reduce((s, v) => s + v, 0);
}

function groupBy<T>(items: readonly T[], key: (item: T) => string): [string, T[]][] {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const g = groups.get(k);
    if (g) g.push(item);
    else groups.set(k, [item]);
  }
  return [...groups];
}
