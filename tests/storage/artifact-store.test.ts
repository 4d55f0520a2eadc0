import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import {
  ArtifactIntegrityError,
  ArtifactKeyError,
  ArtifactNotFoundError,
  ArtifactStoreError,
  LocalArtifactStore,
  S3ArtifactStore,
  artifactKey,
  createArtifactStore,
  storeConfigFromEnv,
  validateKey,
  type ArtifactStore,
} from '../../src/storage';
import { tempDir, testServices } from '../support/test-env';

const { s3 } = testServices();
const sha = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');
const rawS3 = new S3Client({
  endpoint: s3.endpoint,
  region: 'us-east-1',
  forcePathStyle: true,
  credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  requestChecksumCalculation: 'WHEN_REQUIRED',
  responseChecksumValidation: 'WHEN_REQUIRED',
});
afterAll(() => rawS3.destroy());

interface Case {
  name: string;
  make(): ArtifactStore;
  /** Replace an object's bytes behind the store's back, keeping its recorded sha256. */
  corrupt(store: ArtifactStore, key: string): Promise<void>;
}

const runPrefix = `test-${Date.now().toString(36)}`;
const cases: Case[] = [
  {
    name: 'local filesystem',
    make: () => new LocalArtifactStore(tempDir('ap-local-store-')),
    corrupt: async (store, key) => {
      fs.writeFileSync(path.join((store as LocalArtifactStore).root, key), 'tampered');
    },
  },
  {
    name: 'S3 (versitygw)',
    make: () => new S3ArtifactStore({ ...s3, prefix: runPrefix, partSizeBytes: 5 * 1024 * 1024 }),
    corrupt: async (store, key) => {
      const ref = { sha: '' };
      void ref;
      // Overwrite the bytes but keep stale sha256 metadata, as a broken writer or bit rot would.
      const meta = await (store as S3ArtifactStore).getBytes(key).then((b) => sha(b));
      await rawS3.send(
        new PutObjectCommand({ Bucket: s3.bucket, Key: `${runPrefix}/${key}`, Body: 'tampered', Metadata: { sha256: meta } }),
      );
    },
  },
];

describe.each(cases)('$name artifact store', ({ make, corrupt }) => {
  const store = make();
  const dir = tempDir();
  afterAll(() => (store instanceof S3ArtifactStore ? store.destroy() : undefined));

  test('put a file, get it back verified, with the sha256 in the ref', async () => {
    const src = path.join(dir, 'a.bin');
    fs.writeFileSync(src, Buffer.alloc(100_000, 7));
    const ref = await store.put('campaigns/c1/t1/weights/a.bin', { file: src });
    expect(ref).toMatchObject({ key: 'campaigns/c1/t1/weights/a.bin', sha256: sha(fs.readFileSync(src)), sizeBytes: 100_000 });
    expect(ref.uri).toBe(store.uriFor(ref.key));
    expect(store.keyOf(ref.uri)).toBe(ref.key);
    const dest = path.join(dir, 'out', 'a.bin');
    await store.get(ref, dest);
    expect(sha(fs.readFileSync(dest))).toBe(ref.sha256);
  });

  test('put bytes and a stream; getBytes verifies', async () => {
    const r1 = await store.put('x/bytes.json', { bytes: Buffer.from('{"a":1}') });
    const r2 = await store.put('x/stream.txt', { stream: Readable.from([Buffer.from('hello '), Buffer.from('world')]) });
    expect(Buffer.from(await store.getBytes(r1)).toString()).toBe('{"a":1}');
    expect(Buffer.from(await store.getBytes('x/stream.txt')).toString()).toBe('hello world');
    expect(r2.sha256).toBe(sha('hello world'));
  });

  test('a corrupted object is detected on get and nothing is left at the destination', async () => {
    const ref = await store.put('y/ckpt.pt', { bytes: Buffer.from('good checkpoint') });
    await corrupt(store, 'y/ckpt.pt');
    const dest = path.join(dir, 'corrupt.pt');
    await expect(store.get(ref, dest)).rejects.toBeInstanceOf(ArtifactIntegrityError);
    expect(fs.existsSync(dest)).toBe(false);
    await expect(store.getBytes('y/ckpt.pt')).rejects.toBeInstanceOf(ArtifactIntegrityError);
  });

  test('a ref whose sha256 differs from the object is refused', async () => {
    const ref = await store.put('y/other.bin', { bytes: Buffer.from('v1') });
    await expect(store.getBytes({ ...ref, sha256: sha('v0') })).rejects.toBeInstanceOf(ArtifactIntegrityError);
  });

  test('exists, list, delete', async () => {
    await store.put('z/1.txt', { bytes: Buffer.from('1') });
    await store.put('z/2.txt', { bytes: Buffer.from('22') });
    expect(await store.exists('z/1.txt')).toBe(true);
    expect((await store.list('z/')).map((o) => [o.key, o.sizeBytes])).toEqual([
      ['z/1.txt', 1],
      ['z/2.txt', 2],
    ]);
    await store.delete('z/1.txt');
    expect(await store.exists('z/1.txt')).toBe(false);
    await expect(store.getBytes('z/1.txt')).rejects.toBeInstanceOf(ArtifactNotFoundError);
  });

  test('multipart: an object larger than the part size round-trips', async () => {
    const big = path.join(dir, 'big.bin');
    const bytes = Buffer.alloc(12 * 1024 * 1024);
    for (let i = 0; i < bytes.length; i += 4096) bytes[i] = i % 251;
    fs.writeFileSync(big, bytes);
    const ref = await store.put('big/big.bin', { file: big });
    const dest = path.join(dir, 'big-out.bin');
    await store.get(ref, dest);
    expect(sha(fs.readFileSync(dest))).toBe(sha(bytes));
  });

  test.each([
    ['../escape', '".." segments'],
    ['/abs/path', 'relative'],
    ['a//b', 'empty segments'],
    ['a\\b', 'backslashes'],
    ['a/./b', '"." segments'],
    ['', 'non-empty'],
  ])('key %j is rejected (%s)', async (key, reason) => {
    await expect(store.put(key, { bytes: Buffer.from('x') })).rejects.toThrow(ArtifactKeyError);
    expect(() => validateKey(key)).toThrow(reason);
  });
});

describe('S3 errors', () => {
  test('a missing bucket names the bucket and key and the server message, without credentials', async () => {
    const store = new S3ArtifactStore({ ...s3, bucket: 'no-such-bucket-ap' });
    const err = (await store.put('k/v.txt', { bytes: Buffer.from('x') }).catch((e: unknown) => e)) as ArtifactStoreError;
    store.destroy();
    expect(err).toBeInstanceOf(ArtifactStoreError);
    expect(err.message).toContain('s3://no-such-bucket-ap/k/v.txt');
    expect(err.message).toMatch(/NoSuchBucket|bucket/i);
    expect(err.message).not.toContain(s3.secretAccessKey);
    expect(err.message).not.toContain(s3.accessKeyId);
  });

  test('a server that is down is a retryable error', async () => {
    const store = new S3ArtifactStore({ ...s3, endpoint: 'http://127.0.0.1:9', maxAttempts: 1 });
    const err = (await store.put('k/v.txt', { bytes: Buffer.from('x') }).catch((e: unknown) => e)) as ArtifactStoreError;
    store.destroy();
    expect(err).toBeInstanceOf(ArtifactStoreError);
    expect(err.retryable).toBe(true);
  });
});

describe('store config from the environment', () => {
  test('local by default, s3 with every variable named when missing', () => {
    expect(storeConfigFromEnv({ AP_STORE_ROOT: '/tmp/x' })).toEqual({ kind: 'local', root: '/tmp/x' });
    expect(() => storeConfigFromEnv({ AP_STORE: 's3', AP_S3_ENDPOINT: s3.endpoint, AP_S3_BUCKET: '' })).toThrow('AP_S3_BUCKET');
    expect(() => storeConfigFromEnv({ AP_STORE: 'ftp' })).toThrow('AP_STORE');
    const store = createArtifactStore(
      storeConfigFromEnv({
        AP_STORE: 's3',
        AP_S3_ENDPOINT: s3.endpoint,
        AP_S3_BUCKET: s3.bucket,
        AP_S3_ACCESS_KEY: s3.accessKeyId,
        AP_S3_SECRET_KEY: s3.secretAccessKey,
      }),
    );
    expect(store.uriFor('a/b')).toBe(`s3://${s3.bucket}/a/b`);
    (store as S3ArtifactStore).destroy();
    expect(artifactKey('c', 't', 'kind', 'n.pt')).toBe('campaigns/c/t/kind/n.pt');
  });
});
