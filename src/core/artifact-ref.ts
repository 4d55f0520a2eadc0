import { z } from 'zod';

/**
 * A reference to a complete object in the artifact store: what history carries instead of bytes.
 * `uri` is `file://...` or `s3://bucket/key`; `sha256` is verified on every download.
 */
export const ArtifactRefSchema = z
  .object({
    uri: z.string().min(1),
    key: z.string().min(1),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    sizeBytes: z.number().int().min(0),
  })
  .strict();
export type ArtifactRef = z.infer<typeof ArtifactRefSchema>;
