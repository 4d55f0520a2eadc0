// Store config from the environment (AP_STORE, AP_STORE_ROOT, AP_S3_*): one case per variable that can be wrong.
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigError } from '../../src/core/errors';
import {
  LocalArtifactStore,
  S3ArtifactStore,
  createArtifactStore,
  storeConfigFromEnv,
  type StoreConfig,
} from '../../src/storage';

const s3Env = {
  AP_STORE: 's3',
  AP_S3_ENDPOINT: 'http://127.0.0.1:7070',
  AP_S3_BUCKET: 'agentic-pruner',
  AP_S3_ACCESS_KEY: 'access-key-value',
  AP_S3_SECRET_KEY: 'secret-key-value',
};

test.each<[string, Record<string, string>, StoreConfig]>([
  ['local with a root', { AP_STORE_ROOT: '/tmp/x' }, { kind: 'local', root: '/tmp/x' }],
  [
    'local by default, under AP_STATE_DIR',
    { AP_STORE: '', AP_STATE_DIR: '/srv/ap' },
    { kind: 'local', root: '/srv/ap/artifacts' },
  ],
  ['local by default, under .state', {}, { kind: 'local', root: path.resolve('.state', 'artifacts') }],
  [
    's3 with defaults',
    s3Env,
    {
      kind: 's3',
      endpoint: 'http://127.0.0.1:7070',
      bucket: 'agentic-pruner',
      region: 'us-east-1',
      accessKeyId: 'access-key-value',
      secretAccessKey: 'secret-key-value',
    },
  ],
  [
    's3 with region and prefix; empty strings are unset',
    { ...s3Env, AP_S3_REGION: 'eu-west-1', AP_S3_PREFIX: 'team-a', AP_STORE_ROOT: '' },
    {
      kind: 's3',
      endpoint: 'http://127.0.0.1:7070',
      bucket: 'agentic-pruner',
      region: 'eu-west-1',
      accessKeyId: 'access-key-value',
      secretAccessKey: 'secret-key-value',
      prefix: 'team-a',
    },
  ],
])('%s', (_name, env, expected) => {
  expect(storeConfigFromEnv(env)).toEqual(expected);
});

test.each<[string, Record<string, string>, RegExp]>([
  ['unknown store', { AP_STORE: 'ftp' }, /AP_STORE: expected "local" or "s3", got "ftp"/],
  ['missing endpoint', { ...s3Env, AP_S3_ENDPOINT: '' }, /AP_S3_ENDPOINT: required when AP_STORE=s3/],
  ['endpoint not a URL', { ...s3Env, AP_S3_ENDPOINT: '127.0.0.1:7070' }, /AP_S3_ENDPOINT: /],
  ['endpoint not http(s)', { ...s3Env, AP_S3_ENDPOINT: 'ftp://host' }, /AP_S3_ENDPOINT: /],
  ['missing bucket', { ...s3Env, AP_S3_BUCKET: '' }, /AP_S3_BUCKET: required/],
  [
    'bad bucket name',
    { ...s3Env, AP_S3_BUCKET: 'Bad_Bucket' },
    /AP_S3_BUCKET: must be a valid S3 bucket name/,
  ],
  ['missing access key', { ...s3Env, AP_S3_ACCESS_KEY: '' }, /AP_S3_ACCESS_KEY: required/],
  ['missing secret key', { ...s3Env, AP_S3_SECRET_KEY: '' }, /AP_S3_SECRET_KEY: required/],
])('%s is an error naming the variable', (_name, env, message) => {
  const err = (() => {
    try {
      storeConfigFromEnv(env);
    } catch (e) {
      return e as Error;
    }
    throw new Error('expected storeConfigFromEnv to throw');
  })();
  expect(err).toBeInstanceOf(ConfigError);
  expect(err.message).toMatch(message);
  expect(err.message).not.toContain('secret-key-value');
});

test('every missing s3 variable is named at once', () => {
  expect(() => storeConfigFromEnv({ AP_STORE: 's3' })).toThrow(
    /AP_S3_ENDPOINT[\s\S]*AP_S3_BUCKET[\s\S]*AP_S3_ACCESS_KEY[\s\S]*AP_S3_SECRET_KEY/,
  );
});

test('createArtifactStore builds the store the config names, and checks a hand-built config', () => {
  expect(createArtifactStore({ kind: 'local', root: path.join(os.tmpdir(), 'ap-cfg') })).toBeInstanceOf(
    LocalArtifactStore,
  );
  const s3 = createArtifactStore(storeConfigFromEnv({ ...s3Env, AP_S3_PREFIX: 'p' }));
  expect(s3).toBeInstanceOf(S3ArtifactStore);
  expect(s3.uriFor('a/b')).toBe('s3://agentic-pruner/p/a/b');
  (s3 as S3ArtifactStore).destroy();
  expect(() => createArtifactStore({ kind: 'local', root: '' })).toThrow(ConfigError);
});
