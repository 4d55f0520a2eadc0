// A put cut short mid-upload, on both stores (the local filesystem and a real versitygw): a store failpoint
// (AP_STORE_FAILPOINTS) holds the upload half done, as a SIGKILL would leave it; the store then shows it as
// an incomplete upload (an S3 multipart upload holding its parts, a local temp file), never as an object,
// and discardIncompleteUploads removes it. A put whose upload was discarded fails: no reference, no object.
import { ListMultipartUploadsCommand, ListPartsCommand, type S3Client } from '@aws-sdk/client-s3';
import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  ArtifactStoreError,
  LocalArtifactStore,
  S3ArtifactStore,
  type ArtifactStore,
  type StoreFailpoint,
} from '../../src/storage';
import type { TestServices } from '../setup/services';
import { rawS3Client, runId, s3Service, scratchDir, sha256 } from './storage-env';

const PART_SIZE_BYTES = 5 * 1024 * 1024; // S3's minimum part size
/** Larger than a part: on S3 it goes up in two parts, the pause in the second. */
const BIG_BYTES = PART_SIZE_BYTES + 300 * 1024;

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A store under test, armed by `failpoints`, and what the test sees of it from outside. */
interface Armed {
  store: ArtifactStore;
  lines: string[];
  /** Bytes the incomplete upload of `key` holds so far, seen behind the store's back. */
  heldBytes(key: string): Promise<number>;
  close(): void;
}

let s3: TestServices['s3'];
let raw: S3Client;
beforeAll(async () => {
  s3 = await s3Service();
  raw = rawS3Client(s3);
});
afterAll(() => raw.destroy());

const kinds: { name: string; make(failpoints: StoreFailpoint[], prefix: string): Armed }[] = [
  {
    name: 'local filesystem',
    make: (failpoints) => {
      const lines: string[] = [];
      const store = new LocalArtifactStore(scratchDir('ap-incomplete-'), {
        failpoints,
        failpointLog: (l) => lines.push(l),
      });
      const temps = () =>
        fs
          .readdirSync(store.root, { recursive: true })
          .map(String)
          .filter((f) => path.basename(f).startsWith('.ap-tmp-'));
      return {
        store,
        lines,
        heldBytes: async (key) => {
          const dir = path.join(store.root, path.dirname(key));
          const mine = temps().filter((f) => path.join(store.root, f).startsWith(dir));
          return mine.reduce((n, f) => n + fs.statSync(path.join(store.root, f)).size, 0);
        },
        close: () => undefined,
      };
    },
  },
  {
    name: 'S3 (versitygw)',
    make: (failpoints, prefix) => {
      const lines: string[] = [];
      const store = new S3ArtifactStore({
        ...s3,
        prefix,
        partSizeBytes: PART_SIZE_BYTES,
        failpoints,
        failpointLog: (l) => lines.push(l),
      });
      return {
        store,
        lines,
        heldBytes: async (key) => {
          const listed = await raw.send(
            new ListMultipartUploadsCommand({ Bucket: s3.bucket, Prefix: `${store.prefix}${key}` }),
          );
          const uploadId = listed.Uploads?.[0]?.UploadId;
          if (!uploadId) return 0;
          const parts = await raw.send(
            new ListPartsCommand({ Bucket: s3.bucket, Key: `${store.prefix}${key}`, UploadId: uploadId }),
          );
          return (parts.Parts ?? []).reduce((n, p) => n + (p.Size ?? 0), 0);
        },
        close: () => store.destroy(),
      };
    },
  },
];

describe.each(kinds)('$name store', ({ name, make }) => {
  const prefix = `${runId}/incomplete/${name.startsWith('S3') ? 's3' : 'local'}`;
  const opened: Armed[] = [];
  const open = (failpoints: StoreFailpoint[]) => {
    const a = make(failpoints, prefix);
    opened.push(a);
    return a;
  };
  afterAll(() => opened.forEach((a) => a.close()));

  test('a put paused mid-upload is an incomplete upload, not an object; discarded, it is gone and the put fails', async () => {
    const { store, lines, heldBytes } = open([{ keyContains: 'paused/', seconds: 4 }]);
    const file = path.join(scratchDir(), 'big.bin');
    fs.writeFileSync(file, Buffer.alloc(BIG_BYTES, 7));
    const key = 'c-1/t/checkpoints/paused/ckpt-10.pt';
    const put = store.put(key, { file });
    const failed = put.then(
      () => undefined,
      (e: unknown) => e,
    );

    await until('the failpoint to say it paused', async () => lines[0]);
    expect(lines[0]).toMatch(
      new RegExp(
        `^store failpoint: put ${key} paused for 4 s after \\d+( of ${BIG_BYTES})? bytes \\(AP_STORE_FAILPOINTS\\)$`,
      ),
    );
    // What a SIGKILL here leaves behind: the bytes that went before the pause, held where no list shows them.
    const held = await until('the upload to hold its first bytes', async () =>
      (await heldBytes(key)) > 0 ? heldBytes(key) : undefined,
    );
    expect(held).toBeGreaterThanOrEqual(name.startsWith('S3') ? PART_SIZE_BYTES : 64 * 1024);
    expect(held).toBeLessThan(BIG_BYTES);
    expect(await store.list('c-1/')).toEqual([]);
    expect(await store.exists(key)).toBe(false);
    const incomplete = await store.listIncompleteUploads('c-1/t/checkpoints/');
    expect(incomplete.map((u) => u.key)).toEqual([key]);
    expect(Math.abs(incomplete[0]!.startedMs - Date.now())).toBeLessThan(60_000);
    expect(await store.listIncompleteUploads('c-1/t/other/')).toEqual([]);

    // Someone alive cleans up: the incomplete upload and the bytes it held are gone.
    const discarded = await store.discardIncompleteUploads('c-1/t/checkpoints/');
    expect(discarded.map((u) => u.key)).toEqual([key]);
    expect(await store.listIncompleteUploads('c-1/')).toEqual([]);
    expect(await heldBytes(key)).toBe(0);
    expect(await store.discardIncompleteUploads('c-1/')).toEqual([]); // nothing left: not an error

    // The put it cut short (a zombie attempt's) fails when it wakes, and leaves nothing.
    const err = await failed;
    expect(err).toBeInstanceOf(ArtifactStoreError);
    expect(await store.exists(key)).toBe(false);
    expect(await store.list('c-1/')).toEqual([]);
    expect(await store.listIncompleteUploads('c-1/')).toEqual([]);
  }, 60_000);

  test('a put paused and let go completes with the same bytes; unarmed keys never pause', async () => {
    const { store, lines } = open([{ keyContains: 'slow/', seconds: 0.5 }]);
    const small = Buffer.alloc(200 * 1024, 3);
    const big = Buffer.alloc(BIG_BYTES, 5);
    for (const [key, bytes] of [
      ['c-2/slow/small.bin', small],
      ['c-2/slow/big.bin', big],
      ['c-2/fast/small.bin', small],
    ] as const) {
      const ref = await store.put(key, { bytes });
      expect(ref).toMatchObject({ key, sha256: sha256(bytes), sizeBytes: bytes.length });
      expect(Buffer.from(await store.getBytes(ref)).equals(bytes)).toBe(true);
    }
    expect(lines).toHaveLength(2);
    expect(lines.join('\n')).not.toContain('fast/');
    expect(await store.listIncompleteUploads('c-2/')).toEqual([]);
    for (const o of await store.list('c-2/')) await store.delete(o.key);
  }, 60_000);
});

test('local: temp files beside objects and beside sidecars are incomplete uploads, matched by the key they would have had', async () => {
  const store = new LocalArtifactStore(scratchDir('ap-incomplete-'));
  await store.put('a/keep.bin', { bytes: Buffer.from('kept') });
  const put = (rel: string, text: string) => {
    fs.mkdirSync(path.dirname(path.join(store.root, rel)), { recursive: true });
    fs.writeFileSync(path.join(store.root, rel), text);
  };
  put('a/.ap-tmp-0123456789ab-keep.bin', 'half of a new version'); // a put of a/keep.bin killed mid-write
  put('.ap-meta/a/.ap-tmp-ba9876543210-x.bin.json', '{"sha256"'); // one killed writing its sidecar
  put('b/.ap-tmp-00112233aabb-y.bin', 'elsewhere');
  expect((await store.listIncompleteUploads('a/')).map((u) => u.key)).toEqual(['a/keep.bin', 'a/x.bin']);
  expect((await store.listIncompleteUploads('')).map((u) => u.key)).toEqual([
    'a/keep.bin',
    'a/x.bin',
    'b/y.bin',
  ]);
  expect((await store.listIncompleteUploads('a/k')).map((u) => u.key)).toEqual(['a/keep.bin']);
  expect(await store.list('')).toEqual([{ key: 'a/keep.bin', sizeBytes: 4 }]);

  expect((await store.discardIncompleteUploads('a/')).map((u) => u.key)).toEqual(['a/keep.bin', 'a/x.bin']);
  expect((await store.listIncompleteUploads('')).map((u) => u.key)).toEqual(['b/y.bin']);
  // The object the killed put would have replaced is untouched.
  expect(Buffer.from(await store.getBytes('a/keep.bin')).toString()).toBe('kept');
});
