import { z } from 'zod';

/**
 * Which model the engine builds: a zoo name (`resnet50`, `convnext_small`, `deit_small_patch16_224`,
 * `democnn`), or a user factory `file:path/to/file.py:function`; optional weights (a state_dict file, a saved
 * pruned-model directory, or pretrained weights by name, {@link NAMED_WEIGHTS}) — random init when absent,
 * nothing is downloaded.
 */
export const ModelSpecSchema = z
  .object({
    name: z.string().min(1),
    weights: z.string().min(1).optional(),
    numClasses: z.number().int().min(1).optional(),
    inputSize: z.number().int().min(8).max(4096).optional(),
    pruned: z.string().min(1).optional(),
  })
  .strict();
export type ModelSpec = z.infer<typeof ModelSpecSchema>;

/**
 * The zoo names the engine builds (engine/agentic_engine/models.py `KNOWN_MODELS`, in its order), so the
 * client can reject an unknown name before any workflow starts. tests/client/preflight.test.ts asks the
 * engine for its list and fails when the two differ.
 */
export const KNOWN_MODELS: readonly string[] = [
  'resnet18',
  'resnet34',
  'resnet50',
  'resnet101',
  'resnet152',
  'mobilenet_v2',
  'convnext_tiny',
  'convnext_small',
  'convnext_base',
  'vit_b_16',
  'vit_b_32',
  'deit_tiny_patch16_224',
  'deit_small_patch16_224',
  'deit_base_patch16_224',
  'deit_tiny',
  'deit_small',
  'deit_base',
  'democnn',
];

/** The prefix of a user factory model name: `file:<path.py>:<function>`. */
export const FILE_MODEL_PREFIX = 'file:';

/** The engine's short names for timm models (engine/agentic_engine/models.py `_ALIASES`). */
export const MODEL_ALIASES: Readonly<Record<string, string>> = {
  deit_tiny: 'deit_tiny_patch16_224',
  deit_small: 'deit_small_patch16_224',
  deit_base: 'deit_base_patch16_224',
};

/**
 * Pretrained weights by name in `weights`: `torchvision:<TAG>` (a torchvision weights enum member, e.g.
 * `IMAGENET1K_V2`) or `timm:<tag>` (a timm pretrained tag, e.g. `fb_in1k`). The engine reads them from the
 * libraries' local caches and never downloads (engine/agentic_engine/named_weights.py); anything else in
 * `weights` is a path or an artifact URI.
 */
export const NAMED_WEIGHTS = /^(torchvision|timm):([A-Za-z0-9_.-]+)$/;

/** Pretrained weights by name, parsed. */
export interface NamedWeights {
  library: 'torchvision' | 'timm';
  tag: string;
}

/**
 * `weights` as {@link NamedWeights}, or `undefined` when it is a path.
 *
 * @example parseNamedWeights('torchvision:IMAGENET1K_V2') // { library: 'torchvision', tag: 'IMAGENET1K_V2' }
 */
export function parseNamedWeights(weights: string): NamedWeights | undefined {
  const m = NAMED_WEIGHTS.exec(weights);
  if (!m) return undefined;
  return { library: m[1] as NamedWeights['library'], tag: m[2]! };
}

/**
 * torchvision's checkpoint file name for each zoo model and weights tag, as `torch.hub` stores a download in
 * `$TORCH_HOME/hub/checkpoints/` (the 8 hex digits begin the file's sha256). The engine's
 * `named_weights.torchvision_table` in its order; tests/client/preflight.test.ts fails when the two differ.
 */
export const TORCHVISION_WEIGHT_FILES: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  resnet18: { IMAGENET1K_V1: 'resnet18-f37072fd.pth' },
  resnet34: { IMAGENET1K_V1: 'resnet34-b627a593.pth' },
  resnet50: { IMAGENET1K_V1: 'resnet50-0676ba61.pth', IMAGENET1K_V2: 'resnet50-11ad3fa6.pth' },
  resnet101: { IMAGENET1K_V1: 'resnet101-63fe2227.pth', IMAGENET1K_V2: 'resnet101-cd907fc2.pth' },
  resnet152: { IMAGENET1K_V1: 'resnet152-394f9c45.pth', IMAGENET1K_V2: 'resnet152-f82ba261.pth' },
  mobilenet_v2: { IMAGENET1K_V1: 'mobilenet_v2-b0353104.pth', IMAGENET1K_V2: 'mobilenet_v2-7ebf99e0.pth' },
  convnext_tiny: { IMAGENET1K_V1: 'convnext_tiny-983f1562.pth' },
  convnext_small: { IMAGENET1K_V1: 'convnext_small-0c510722.pth' },
  convnext_base: { IMAGENET1K_V1: 'convnext_base-6075fbad.pth' },
  vit_b_16: {
    IMAGENET1K_V1: 'vit_b_16-c867db91.pth',
    IMAGENET1K_SWAG_E2E_V1: 'vit_b_16_swag-9ac1b537.pth',
    IMAGENET1K_SWAG_LINEAR_V1: 'vit_b_16_lc_swag-4e70ced5.pth',
  },
  vit_b_32: { IMAGENET1K_V1: 'vit_b_32-d86f8d99.pth' },
};

/**
 * timm's pretrained tags with a Hugging Face hub repo (`timm/<model>.<tag>`) for each zoo model: the
 * engine's `named_weights.timm_table`, checked by the same test.
 */
export const TIMM_PRETRAINED_TAGS: Readonly<Record<string, readonly string[]>> = {
  deit_tiny_patch16_224: ['fb_in1k'],
  deit_small_patch16_224: ['fb_in1k'],
  deit_base_patch16_224: ['fb_in1k'],
};

/**
 * The patch side of each zoo ViT (engine/agentic_engine/models.py `_VIT_PATCH`; timm DeiTs cut 16 x 16): its
 * `inputSize` must be a whole number of patches.
 */
export const VIT_PATCH_SIZES: Readonly<Record<string, number>> = {
  vit_b_16: 16,
  vit_b_32: 32,
  deit_tiny_patch16_224: 16,
  deit_small_patch16_224: 16,
  deit_base_patch16_224: 16,
};
