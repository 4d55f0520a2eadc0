import * as path from 'node:path';
import { z } from 'zod';
import { parseWith } from '../core/errors';
import type { ArtifactStore } from './artifact-store';
import { LocalArtifactStore } from './local-artifact-store';
import { S3ArtifactStore } from './s3-artifact-store';

/** Which artifact store to use. Secrets stay in this object; never log it. */
export const StoreConfigSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('local'), root: z.string().min(1) }).strict(),
  z
    .object({
      kind: z.literal('s3'),
      endpoint: z.string().url(),
      bucket: z.string().min(3),
      region: z.string().default('us-east-1'),
      accessKeyId: z.string().min(1),
      secretAccessKey: z.string().min(1),
      prefix: z.string().optional(),
    })
    .strict(),
]);
export type StoreConfig = z.infer<typeof StoreConfigSchema>;

const blank = (v: string | undefined) => (v === undefined || v === '' ? undefined : v);

/**
 * Read the store config from the environment: `AP_STORE=local|s3` (default local), `AP_STORE_ROOT`;
 * for s3 `AP_S3_ENDPOINT`, `AP_S3_BUCKET`, `AP_S3_ACCESS_KEY`, `AP_S3_SECRET_KEY`, `AP_S3_REGION`,
 * `AP_S3_PREFIX`. Empty strings count as unset; errors name the variable.
 */
export function storeConfigFromEnv(env: Readonly<Record<string, string | undefined>>): StoreConfig {
  const kind = blank(env.AP_STORE) ?? 'local';
  if (kind === 'local') {
    return parseWith(StoreConfigSchema, { kind, root: blank(env.AP_STORE_ROOT) ?? path.resolve('.state', 'artifacts') }, 'AP_STORE_ROOT');
  }
  if (kind !== 's3') throw new Error(`AP_STORE: expected "local" or "s3", got ${JSON.stringify(kind)}`);
  const need = (name: string) => {
    const v = blank(env[name]);
    if (!v) throw new Error(`${name} is not set: AP_STORE=s3 needs it`);
    return v;
  };
  return parseWith(
    StoreConfigSchema,
    {
      kind,
      endpoint: need('AP_S3_ENDPOINT'),
      bucket: need('AP_S3_BUCKET'),
      accessKeyId: need('AP_S3_ACCESS_KEY'),
      secretAccessKey: need('AP_S3_SECRET_KEY'),
      ...(blank(env.AP_S3_REGION) ? { region: env.AP_S3_REGION } : {}),
      ...(blank(env.AP_S3_PREFIX) ? { prefix: env.AP_S3_PREFIX } : {}),
    },
    'AP_S3_* environment',
  );
}

/** Build the store a config names. */
export function createArtifactStore(config: StoreConfig): ArtifactStore {
  return config.kind === 'local'
    ? new LocalArtifactStore(config.root)
    : new S3ArtifactStore({
        endpoint: config.endpoint,
        bucket: config.bucket,
        region: config.region,
        accessKeyId: config.accessKeyId,
        secretAccessKey: config.secretAccessKey,
        forcePathStyle: true,
        ...(config.prefix !== undefined ? { prefix: config.prefix } : {}),
      });
}
