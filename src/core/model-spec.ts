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
