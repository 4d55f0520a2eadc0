// What only the S3 store does: multipart uploads, object metadata, prefixes, and its failures
// (missing bucket, bad credentials, server down, a body cut short), against a real versitygw.
import { DeleteObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import {
  ArtifactIntegrityError,
  ArtifactStoreError,
  S3ArtifactStore,
  SHA256_METADATA,
  type S3StoreOptions,
} from '../../src/storage';
import type { TestServices } from '../setup/services';
import { rawS3Client, runId, s3Service, scratchDir, sha256 } from './storage-env';

let s3: TestServices['s3'];
let raw: S3Client;
const opened: S3ArtifactStore[] = [];
const open = (opts: Partial<S3StoreOptions> = {}): S3ArtifactStore => {
  const store = new S3ArtifactStore({ ...s3, prefix: `${runId}/s3`, ...opts });
  opened.push(store);
  return store;
};

beforeAll(async () => {
  s3 = await s3Service();
  raw = rawS3Client(s3);
});
afterAll(() => {
  for (const store of opened) store.destroy();
  raw.destroy();
});

/** A TCP port on loopback that nothing listens on (bound, then closed). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

test('an object larger than the part size goes up in parts, with its sha256 and content type as metadata', async () => {
  const partSizeBytes = 5 * 1024 * 1024;
  const store = open({ partSizeBytes });
  const file = path.join(scratchDir(), 'big.bin');
  const bytes = Buffer.alloc(2 * partSizeBytes + 1000, 3);
  fs.writeFileSync(file, bytes);
  const ref = await store.put('mp/big.bin', { file }, { contentType: 'application/octet-stream' });
  const head = await raw.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: `${runId}/s3/mp/big.bin` }));
  expect(head.ETag).toMatch(/-3"$/); // a multipart ETag names its part count: 5 MiB + 5 MiB + 1000 B
  expect(head.Metadata?.[SHA256_METADATA]).toBe(sha256(bytes));
  expect(head.ContentType).toBe('application/octet-stream');
  expect(head.ContentLength).toBe(bytes.length);
  expect(ref.sizeBytes).toBe(bytes.length);
});

test('a small object is one PUT', async () => {
  const store = open();
  await store.put('mp/small.bin', { bytes: Buffer.from('small') });
  const head = await raw.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: `${runId}/s3/mp/small.bin` }));
  expect(head.ETag).not.toMatch(/-\d+"$/);
});

test('the prefix is part of the URI and the object key, and not of the store keys', async () => {
  const store = open({ prefix: `${runId}/prefixed/` });
  const ref = await store.put('a/b.txt', { bytes: Buffer.from('b') });
  expect(ref.uri).toBe(`s3://${s3.bucket}/${runId}/prefixed/a/b.txt`);
  expect(store.keyOf(ref.uri)).toBe('a/b.txt');
  expect(await store.list('')).toEqual([{ key: 'a/b.txt', sizeBytes: 1 }]);
});

test('an object without recorded sha256 is refused by key, and accepted only by a ref that matches', async () => {
  const store = open();
  await raw.send(
    new PutObjectCommand({ Bucket: s3.bucket, Key: `${runId}/s3/foreign/x.txt`, Body: 'foreign' }),
  );
  await expect(store.getBytes('foreign/x.txt')).rejects.toThrow(/no sha256 recorded/);
  const ref = {
    key: 'foreign/x.txt',
    uri: store.uriFor('foreign/x.txt'),
    sha256: sha256('foreign'),
    sizeBytes: 7,
  };
  expect(Buffer.from(await store.getBytes(ref)).toString()).toBe('foreign');
  await expect(store.getBytes({ ...ref, sha256: sha256('other') })).rejects.toBeInstanceOf(
    ArtifactIntegrityError,
  );
});

describe('failures', () => {
  test('a missing bucket: the error names bucket, key and the server message; not retryable; no credentials', async () => {
    const store = open({ bucket: 'no-such-bucket-ap' });
    for (const op of [
      () => store.put('k/v.txt', { bytes: Buffer.from('x') }),
      () => store.getBytes('k/v.txt'),
      () => store.list('k/'),
    ]) {
      const err = (await op().catch((e: unknown) => e)) as ArtifactStoreError;
      expect(err).toBeInstanceOf(ArtifactStoreError);
      expect(err.message).toContain('s3://no-such-bucket-ap/');
      expect(err.message).toContain(`${runId}/s3/k/`);
      expect(err.serverMessage).toMatch(/NoSuchBucket/);
      expect(err.retryable).toBe(false);
      expect(err.message).not.toContain(s3.secretAccessKey);
      expect(err.message).not.toContain(s3.accessKeyId);
    }
  });

  test.each([
    [
      'an unknown access key',
      {
        accessKeyId: 'wrong-access-key-must-not-leak-0815',
        secretAccessKey: 'wrong-secret-must-not-leak-4711',
      },
    ],
    ['a wrong secret', { secretAccessKey: 'wrong-secret-must-not-leak-4711' }],
  ])('%s: a non-retryable error that never shows the keys', async (_name, credentials) => {
    const store = open(credentials);
    const err = (await store
      .put('k/v.txt', { bytes: Buffer.from('x') })
      .catch((e: unknown) => e)) as ArtifactStoreError;
    expect(err).toBeInstanceOf(ArtifactStoreError);
    expect(err.retryable).toBe(false);
    expect(err.message).toMatch(/HTTP 40[34]/); // versitygw: 404 XAdminUserNotFound, 403 SignatureDoesNotMatch
    expect(`${err.message} ${err.stack ?? ''} ${JSON.stringify(err)}`).not.toMatch(/must-not-leak/);
    expect(err.message).not.toContain(s3.secretAccessKey);
  });

  test('a server that is down: a retryable error naming bucket and key', async () => {
    const store = open({ endpoint: `http://127.0.0.1:${await closedPort()}`, maxAttempts: 1 });
    for (const op of [
      () => store.put('k/v.txt', { bytes: Buffer.from('x') }),
      () => store.get('k/v.txt', path.join(scratchDir(), 'v')),
      () => store.exists('k/v.txt'),
    ]) {
      const err = (await op().catch((e: unknown) => e)) as ArtifactStoreError;
      expect(err).toBeInstanceOf(ArtifactStoreError);
      expect(err.retryable).toBe(true);
      expect(err.message).toContain(`s3://${s3.bucket}/${runId}/s3/k/v.txt`);
      expect(err.serverMessage).toMatch(/ECONNREFUSED/);
    }
  });
});

describe('a put cut short mid-body (its sender gone, as a SIGKILL leaves it)', () => {
  const cut = 'cut/ckpt.pt';
  const bytes = Buffer.alloc(1024 * 1024, 9); // below one part: one PutObject

  test('control: versitygw stores a PutObject cut short as a truncated object, when nothing tells it the checksum', async () => {
    const client = rawS3Client(s3);
    const objectKey = `${runId}/s3/cut/raw.bin`;
    async function* stalled() {
      yield bytes.subarray(0, 64 * 1024);
      await new Promise((r) => setTimeout(r, 1500));
    }
    const sent = client
      .send(
        new PutObjectCommand({
          Bucket: s3.bucket,
          Key: objectKey,
          Body: Readable.from(stalled(), { objectMode: false }),
          ContentLength: bytes.length,
        }),
      )
      .catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 500));
    client.destroy(); // the sockets go, as a killed process's do
    expect(await sent).toBeInstanceOf(Error);
    const head = await waitForHead(objectKey);
    expect(head.ContentLength).toBe(64 * 1024); // the gateway committed what it got
    await raw.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: objectKey }));
  });

  test('the store sends the sha256 with it: the server refuses the truncated body and the key stays as it was', async () => {
    const before = await open().put(cut, { bytes: Buffer.from('the previous checkpoint') });
    const lines: string[] = [];
    const store = open({
      maxAttempts: 1,
      failpoints: [{ keyContains: 'cut/', seconds: 1.5 }],
      failpointLog: (l) => lines.push(l),
    });
    const file = path.join(scratchDir(), 'ckpt.pt');
    fs.writeFileSync(file, bytes);
    const put = store.put(cut, { file }).catch((e: unknown) => e);
    while (lines.length === 0) await new Promise((r) => setTimeout(r, 20));
    expect(lines[0]).toMatch(
      /^store failpoint: put cut\/ckpt\.pt paused for 1\.5 s after 65536 of 1048576 bytes/,
    );
    await new Promise((r) => setTimeout(r, 500)); // the first bytes reach the server
    store.destroy();
    expect(await put).toBeInstanceOf(ArtifactStoreError);
    await new Promise((r) => setTimeout(r, 500)); // give the server the time it took to commit the control's
    const reader = open();
    expect(Buffer.from(await reader.getBytes(before)).toString()).toBe('the previous checkpoint');
    expect(await reader.listIncompleteUploads('cut/')).toEqual([]);
  });
});

async function waitForHead(objectKey: string) {
  for (let i = 0; ; i++) {
    try {
      return await raw.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: objectKey }));
    } catch (err) {
      if (i > 40) throw err;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}
