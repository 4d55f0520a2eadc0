import { z } from 'zod';

/** One layer row of a profile. MACs per the project convention (conv, linear, attention matmuls). */
export const LayerRowSchema = z.object({
  name: z.string(),
  type: z.string(),
  inChannels: z.number().int().nullable().optional(),
  outChannels: z.number().int().nullable().optional(),
  groups: z.number().int().nullable().optional(),
  kernel: z.array(z.number().int()).nullable().optional(),
  outputSize: z.array(z.number().int()).nullable().optional(),
  macs: z.number().min(0),
  params: z.number().min(0),
});
export type LayerRow = z.infer<typeof LayerRowSchema>;

export const StageRowSchema = z.object({
  name: z.string(),
  macs: z.number().min(0),
  params: z.number().min(0),
  share: z.number().min(0).max(1.000001),
});
export type StageRow = z.infer<typeof StageRowSchema>;

export const PruningGroupSchema = z.object({
  id: z.number().int(),
  rootLayer: z.string(),
  channels: z.number().int().min(0),
  layers: z.array(z.string()),
  isomorphicKey: z.string(),
  prunable: z.boolean(),
});

export const IsomorphicClassSchema = z.object({
  key: z.string(),
  groupIds: z.array(z.number().int()),
  channels: z.number().int().min(0),
  macs: z.number().min(0).optional(),
});

export const ProtectedLayerSchema = z.object({ layer: z.string(), reason: z.string() });

/**
 * What the Profiling Agent knows about a model: total MACs and params, per-layer rows, the MAC
 * distribution per stage, the prunable dependency groups (and which are isomorphic: same structure,
 * ranked together) and the layers that must not be pruned.
 *
 * @example
 * // ResNet-50 at 1x3x224x224 (abbreviated):
 * { model: 'resnet50', inputShape: [1, 3, 224, 224], macs: 4.089e9, params: 25.557e6,
 *   stages: [{ name: 'conv1', macs: 118e6, ... }, { name: 'layer3', macs: 1.47e9, share: 0.36, ... }],
 *   groups: [{ id: 3, rootLayer: 'layer1.0.conv1', channels: 64, layers: ['layer1.0.conv1', 'layer1.0.bn1',
 *   'layer1.0.conv2'], isomorphicKey: '...', prunable: true }, ...],
 *   protected: [{ layer: 'conv1', reason: 'stem' }, { layer: 'fc', reason: 'classifier' }] }
 */
export const ProfileSchema = z.object({
  model: z.string(),
  inputShape: z.array(z.number().int().positive()),
  macs: z.number().positive(),
  params: z.number().positive(),
  layers: z.array(LayerRowSchema),
  stages: z.array(StageRowSchema),
  groups: z.array(PruningGroupSchema),
  isomorphicClasses: z.array(IsomorphicClassSchema),
  protected: z.array(ProtectedLayerSchema),
  onnx: z.object({ path: z.string(), sha256: z.string(), sizeBytes: z.number() }).optional(),
});
export type Profile = z.infer<typeof ProfileSchema>;

/**
 * The part of a profile small enough for workflow history and prompts: totals, stages, isomorphic
 * classes (without per-layer lists) and protected layers. The full profile stays in the artifact store.
 */
export interface ProfileSummary {
  model: string;
  inputShape: number[];
  macs: number;
  params: number;
  stages: StageRow[];
  isomorphicClasses: { key: string; groupCount: number; channels: number; macs?: number }[];
  protected: { layer: string; reason: string }[];
  /** MACs the pruner cannot remove: protected layers' own MACs (a floor for any target). */
  protectedMacs: number;
  layerCount: number;
}

/** Reduce a full profile to its {@link ProfileSummary}. */
export function summarizeProfile(profile: Profile): ProfileSummary {
  const protectedNames = new Set(profile.protected.map((p) => p.layer));
  const protectedMacs = profile.layers
    .filter((l) => protectedNames.has(l.name))
    .reduce((sum, l) => sum + l.macs, 0);
  return {
    model: profile.model,
    inputShape: profile.inputShape,
    macs: profile.macs,
    params: profile.params,
    stages: profile.stages,
    isomorphicClasses: profile.isomorphicClasses.map((c) => ({
      key: c.key,
      groupCount: c.groupIds.length,
      channels: c.channels,
      ...(c.macs !== undefined ? { macs: c.macs } : {}),
    })),
    protected: profile.protected,
    protectedMacs,
    layerCount: profile.layers.length,
  };
}
