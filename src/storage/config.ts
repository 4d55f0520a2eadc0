import * as path from 'node:path';
import { z } from 'zod';
import { ConfigError, parseWith } from '../core/errors';
import type { ArtifactStore } from './artifact-store';
import { STORE_FAILPOINTS_ENV, parseStoreFailpoints } from './failpoints';
import { LocalArtifactStore } from './local-artifact-store';
import { S3ArtifactStore } from './s3-artifact-store';

/**
 * Which artifact store to use. Holds secrets: never log it.
 *
 * @example
 * ```ts
 * { kind: 'local', root: '.state/artifacts' }
 * { kind: 's3', endpoint: 'http://127.0.0.1:7070', bucket: 'agentic-pruner', accessKeyId, secretAccessKey }
 * ```
 */
const FailpointsSchema = z
  .array(z.object({ keyContains: z.string().min(1), seconds: z.number().finite().nonnegative() }).strict())
  .min(1)
  .optional();

export const StoreConfigSchema = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('local'),
      root: z.string().min(1),
      /** Test-only pauses mid-upload (failpoints.ts). @default none */
      failpoints: FailpointsSchema,
    })
    .strict(),
  z
    .object({
      kind: z.literal('s3'),
      endpoint: z.url({ protocol: /^https?$/ }),
      /** S3 bucket naming rules: 3-63 lowercase letters, digits, dots, hyphens. */
      bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be a valid S3 bucket name'),
      /** @default 'us-east-1' */
      region: z.string().min(1).default('us-east-1'),
      accessKeyId: z.string().min(1),
      secretAccessKey: z.string().min(1),
      /** Key prefix inside the bucket. @default none */
      prefix: z.string().min(1).optional(),
      /** Test-only pauses mid-upload (failpoints.ts). @default none */
      failpoints: FailpointsSchema,
    })
    .strict(),
]);
export type StoreConfig = z.infer<typeof StoreConfigSchema>;

/** The environment variable behind each config field, so errors name what the user sets. */
const ENV_OF: Record<string, string> = {
  kind: 'AP_STORE',
  root: 'AP_STORE_ROOT',
  endpoint: 'AP_S3_ENDPOINT',
  bucket: 'AP_S3_BUCKET',
  region: 'AP_S3_REGION',
  accessKeyId: 'AP_S3_ACCESS_KEY',
  secretAccessKey: 'AP_S3_SECRET_KEY',
  prefix: 'AP_S3_PREFIX',
};

/** Empty strings count as unset (t3-env's rule). */
const blank = (v: string | undefined): string | undefined => (v === undefined || v === '' ? undefined : v);

/**
 * Read the store config from the environment, once, in an entry point:
 * - `AP_STORE` = `local` (default) or `s3`;
 * - local: `AP_STORE_ROOT` @default `$AP_STATE_DIR/artifacts`, `AP_STATE_DIR` @default `.state`;
 * - s3: `AP_S3_ENDPOINT`, `AP_S3_BUCKET`, `AP_S3_ACCESS_KEY`, `AP_S3_SECRET_KEY` (all required),
 *   `AP_S3_REGION` @default `us-east-1`, `AP_S3_PREFIX` @default none;
 * - either: `AP_STORE_FAILPOINTS`, test-only pauses mid-upload (failpoints.ts) @default none.
 *
 * Throws a {@link ConfigError} whose lines name the variables (`AP_S3_BUCKET: required ...`); never
 * echoes a secret's value.
 */
export function storeConfigFromEnv(env: Readonly<Record<string, string | undefined>>): StoreConfig {
  const kind = blank(env.AP_STORE) ?? 'local';
  const raw: Record<string, string | undefined> =
    kind === 'local'
      ? {
          kind,
          root: blank(env.AP_STORE_ROOT) ?? path.resolve(blank(env.AP_STATE_DIR) ?? '.state', 'artifacts'),
        }
      : {
          kind,
          endpoint: blank(env.AP_S3_ENDPOINT),
          bucket: blank(env.AP_S3_BUCKET),
          region: blank(env.AP_S3_REGION),
          accessKeyId: blank(env.AP_S3_ACCESS_KEY),
          secretAccessKey: blank(env.AP_S3_SECRET_KEY),
          prefix: blank(env.AP_S3_PREFIX),
        };
  const defined = Object.fromEntries(Object.entries(raw).filter(([, v]) => v !== undefined));
  const failpointsRaw = blank(env[STORE_FAILPOINTS_ENV]);
  const failpoints = failpointsRaw === undefined ? undefined : parseStoreFailpoints(failpointsRaw);
  const result = StoreConfigSchema.safeParse({
    ...defined,
    ...(failpoints !== undefined ? { failpoints } : {}),
  });
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue) => {
    const field = String(issue.path[0] ?? 'kind');
    const missing = defined[field] === undefined && field !== 'kind';
    const message =
      field === 'kind'
        ? `expected "local" or "s3", got ${JSON.stringify(kind)}`
        : missing
          ? `required when AP_STORE=${kind}`
          : issue.message;
    return { ...issue, path: [ENV_OF[field] ?? field], message };
  });
  throw new ConfigError('artifact store environment', issues);
}

/** Build the store a config names (validated again, so a hand-built config gets the same checks). */
export function createArtifactStore(config: StoreConfig): ArtifactStore {
  const c = parseWith(StoreConfigSchema, config, 'artifact store config');
  const failpoints = c.failpoints !== undefined ? { failpoints: c.failpoints } : {};
  return c.kind === 'local'
    ? new LocalArtifactStore(c.root, failpoints)
    : new S3ArtifactStore({
        ...failpoints,
        endpoint: c.endpoint,
        bucket: c.bucket,
        region: c.region,
        accessKeyId: c.accessKeyId,
        secretAccessKey: c.secretAccessKey,
        forcePathStyle: true,
        ...(c.prefix !== undefined ? { prefix: c.prefix } : {}),
      });
}
