import { z } from 'zod';

/**
 * Which model the engine builds: a zoo name (`resnet50`, `convnext_small`, `deit_small_patch16_224`,
 * `democnn`), or a user factory `file:path/to/file.py:function`; optional weights (a state_dict file or
 * a saved pruned-model directory) — random init when absent, nothing is downloaded.
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
