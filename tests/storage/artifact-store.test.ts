// One table of behaviours, run against both stores: the local filesystem and S3 (a real versitygw).
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
  type ArtifactRef,
  type ArtifactStore,
} from '../../src/storage';
import { overwriteKeepingStaleSha, rawS3Client, runId, s3Service, scratchDir, sha256 } from './storage-env';

/** A store under test, and how to damage one of its objects behind its back. */
interface StoreUnderTest {
  store: ArtifactStore;
  /** Replace the object's bytes, leaving the sha256 recorded at upload as it was. */
  corrupt(ref: ArtifactRef, bytes: string): Promise<void>;
  close(): void;
}

const PART_SIZE_BYTES = 5 * 1024 * 1024; // S3's minimum part size

const stores: { name: string; make(): Promise<StoreUnderTest> }[] = [
  {
    name: 'local filesystem',
    make: async () => {
      const store = new LocalArtifactStore(scratchDir('ap-local-store-'));
      return {
        store,
        corrupt: async (ref, bytes) => fs.promises.writeFile(path.join(store.root, ref.key), bytes),
        close: () => undefined,
      };
    },
  },
  {
    name: 'S3 (versitygw)',
    make: async () => {
      const s3 = await s3Service();
      const store = new S3ArtifactStore({ ...s3, prefix: `${runId}/shared`, partSizeBytes: PART_SIZE_BYTES });
      const raw = rawS3Client(s3);
      return {
        store,
        corrupt: (ref, bytes) =>
          overwriteKeepingStaleSha(raw, s3.bucket, `${store.prefix}${ref.key}`, ref.sha256, bytes),
        close: () => {
          store.destroy();
          raw.destroy();
        },
      };
    },
  },
];

describe.each(stores)('$name artifact store', ({ make }) => {
  let sut: StoreUnderTest;
  let store: ArtifactStore;
  const dir = scratchDir();
  beforeAll(async () => {
    sut = await make();
    store = sut.store;
  });
  afterAll(() => sut.close());

  test('put a file: the ref carries key, uri, sha256 and size; get verifies and returns the same ref', async () => {
    const src = path.join(dir, 'weights.bin');
    fs.writeFileSync(src, Buffer.alloc(100_000, 7));
    const key = artifactKey('c1', '1.77G', 'weights', 'pruned.pt');
    const ref = await store.put(key, { file: src });
    expect(ref).toEqual({
      key,
      uri: store.uriFor(key),
      sha256: sha256(fs.readFileSync(src)),
      sizeBytes: 100_000,
    });
    expect(store.keyOf(ref.uri)).toBe(key);
    const dest = path.join(dir, 'nested', 'new', 'dir', 'pruned.pt'); // the folders do not exist yet
    expect(await store.get(ref, dest)).toEqual(ref);
    expect(fs.readFileSync(dest).equals(fs.readFileSync(src))).toBe(true);
  });

  test('put a stream and bytes (a view into a larger buffer); getBytes by key and by ref', async () => {
    const streamRef = await store.put('x/stream.txt', {
      stream: Readable.from([Buffer.from('hello '), Buffer.from('world')]),
    });
    expect(streamRef).toMatchObject({ sha256: sha256('hello world'), sizeBytes: 11 });
    const backing = Buffer.from('XX{"a":1}YY');
    const bytesRef = await store.put(
      'x/bytes.json',
      { bytes: backing.subarray(2, 9) },
      { contentType: 'application/json' },
    );
    expect(bytesRef).toMatchObject({ sha256: sha256('{"a":1}'), sizeBytes: 7 });
    expect(Buffer.from(await store.getBytes('x/stream.txt')).toString()).toBe('hello world');
    expect(Buffer.from(await store.getBytes(bytesRef)).toString()).toBe('{"a":1}');
  });

  test('an overwrite replaces the object; a ref to the old bytes is refused', async () => {
    const v1 = await store.put('x/latest.json', { bytes: Buffer.from('v1') });
    const v2 = await store.put('x/latest.json', { bytes: Buffer.from('v2') });
    expect(Buffer.from(await store.getBytes('x/latest.json')).toString()).toBe('v2');
    expect(Buffer.from(await store.getBytes(v2)).toString()).toBe('v2');
    await expect(store.getBytes(v1)).rejects.toBeInstanceOf(ArtifactIntegrityError);
  });

  test('a corrupted object is detected by get (nothing left at the destination) and by getBytes', async () => {
    const ref = await store.put('y/ckpt.pt', { bytes: Buffer.from('good checkpoint') });
    await sut.corrupt(ref, 'tampered');
    const outDir = scratchDir();
    const dest = path.join(outDir, 'ckpt.pt');
    const err = (await store.get(ref, dest).catch((e: unknown) => e)) as ArtifactIntegrityError;
    expect(err).toBeInstanceOf(ArtifactIntegrityError);
    expect(err).toMatchObject({ key: 'y/ckpt.pt', expected: ref.sha256, actual: sha256('tampered') });
    expect(fs.readdirSync(outDir)).toEqual([]); // no file, no temp file
    await expect(store.get('y/ckpt.pt', dest)).rejects.toBeInstanceOf(ArtifactIntegrityError);
    await expect(store.getBytes('y/ckpt.pt')).rejects.toBeInstanceOf(ArtifactIntegrityError);
  });

  test('a ref whose sha256 differs from the object is refused', async () => {
    const ref = await store.put('y/other.bin', { bytes: Buffer.from('v1') });
    await expect(store.getBytes({ ...ref, sha256: sha256('v0') })).rejects.toThrow(ArtifactIntegrityError);
    await expect(store.get({ ...ref, sha256: sha256('v0') }, path.join(dir, 'other.bin'))).rejects.toThrow(
      ArtifactIntegrityError,
    );
  });

  test('exists, list (string prefix, sorted), delete (idempotent), then not found', async () => {
    await store.put('z/2.txt', { bytes: Buffer.from('22') });
    await store.put('z/1.txt', { bytes: Buffer.from('1') });
    await store.put('z/sub/3.txt', { bytes: Buffer.from('333') });
    await store.put('z2/other.txt', { bytes: Buffer.from('x') });
    expect(await store.exists('z/1.txt')).toBe(true);
    expect(await store.exists('z/missing.txt')).toBe(false);
    expect(await store.list('z/')).toEqual([
      { key: 'z/1.txt', sizeBytes: 1 },
      { key: 'z/2.txt', sizeBytes: 2 },
      { key: 'z/sub/3.txt', sizeBytes: 3 },
    ]);
    expect((await store.list('z')).map((o) => o.key)).toEqual([
      'z/1.txt',
      'z/2.txt',
      'z/sub/3.txt',
      'z2/other.txt',
    ]);
    expect((await store.list('z/s')).map((o) => o.key)).toEqual(['z/sub/3.txt']);
    expect(await store.list('nothing/here/')).toEqual([]);
    expect((await store.list('')).map((o) => o.key)).toContain('z2/other.txt');
    await store.delete('z/1.txt');
    await store.delete('z/1.txt');
    expect(await store.exists('z/1.txt')).toBe(false);
    await expect(store.getBytes('z/1.txt')).rejects.toBeInstanceOf(ArtifactNotFoundError);
    await expect(store.get('z/1.txt', path.join(dir, 'gone.txt'))).rejects.toBeInstanceOf(
      ArtifactNotFoundError,
    );
    expect(fs.existsSync(path.join(dir, 'gone.txt'))).toBe(false);
  });

  test('an object larger than the multipart part size round-trips (file and stream)', async () => {
    const big = path.join(dir, 'big.bin');
    const bytes = Buffer.alloc(2 * PART_SIZE_BYTES + 123_457);
    for (let i = 0; i < bytes.length; i += 997) bytes[i] = i % 251;
    fs.writeFileSync(big, bytes);
    const fromFile = await store.put('big/from-file.bin', { file: big });
    const fromStream = await store.put('big/from-stream.bin', { stream: fs.createReadStream(big) });
    expect(fromFile).toMatchObject({ sha256: sha256(bytes), sizeBytes: bytes.length });
    expect(fromStream).toMatchObject({ sha256: sha256(bytes), sizeBytes: bytes.length });
    const dest = path.join(dir, 'big-out.bin');
    await store.get(fromStream, dest);
    expect(sha256(fs.readFileSync(dest))).toBe(sha256(bytes));
  });

  test('a source file that does not exist is a non-retryable store error naming the key', async () => {
    const err = (await store
      .put('q/missing.bin', { file: path.join(dir, 'no-such-file') })
      .catch((e: unknown) => e)) as ArtifactStoreError;
    expect(err).toBeInstanceOf(ArtifactStoreError);
    expect(err.retryable).toBe(false);
    expect(err.message).toContain('q/missing.bin');
    expect(err.message).toContain('no-such-file');
    expect(await store.exists('q/missing.bin')).toBe(false);
  });

  test.each([
    ['..', '../escape', '".." segments'],
    ['.. inside', 'a/../../b', '".." segments'],
    ['absolute', '/abs/path', 'relative'],
    ['empty segment', 'a//b', 'empty segments'],
    ['trailing /', 'a/b/', 'empty segments'],
    ['backslash', 'a\\b', 'backslashes'],
    ['.', 'a/./b', '"." segments'],
    ['empty', '', 'non-empty'],
    ['NUL', 'a/\u0000b', 'control characters'],
    ['902 bytes', 'k/' + 'x'.repeat(900), 'longer than'],
  ])('a key with %s is refused by put, get, exists and delete', async (_label, key, reason) => {
    await expect(store.put(key, { bytes: Buffer.from('x') })).rejects.toThrow(reason);
    await expect(store.put(key, { bytes: Buffer.from('x') })).rejects.toBeInstanceOf(ArtifactKeyError);
    await expect(store.get(key, path.join(dir, 'k'))).rejects.toBeInstanceOf(ArtifactKeyError);
    await expect(store.exists(key)).rejects.toBeInstanceOf(ArtifactKeyError);
    await expect(store.delete(key)).rejects.toBeInstanceOf(ArtifactKeyError);
  });

  test('keyOf refuses URIs of other stores', () => {
    expect(() => store.keyOf('s3://some-other-bucket/a/b')).toThrow(ArtifactKeyError);
    expect(() => store.keyOf('file:///etc/passwd')).toThrow(ArtifactKeyError);
  });
});
