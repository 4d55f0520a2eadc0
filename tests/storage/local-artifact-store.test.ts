// What only the local store does: its on-disk layout, and how a put stays atomic across two files
// (object + sidecar) — including the state a crash between the two renames leaves behind.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ArtifactIntegrityError, ArtifactKeyError, LocalArtifactStore } from '../../src/storage';
import { scratchDir, sha256 } from './storage-env';

test('layout: the bytes at <root>/<key> (the file:// URI is the object), the sha256 in .ap-meta/<key>.json', async () => {
  const store = new LocalArtifactStore(scratchDir());
  const ref = await store.put('campaigns/c/t/onnx/model.onnx', { bytes: Buffer.from('onnx bytes') });
  expect(fs.readFileSync(fileURLToPath(ref.uri), 'utf8')).toBe('onnx bytes');
  const sidecar = JSON.parse(
    fs.readFileSync(path.join(store.root, '.ap-meta', 'campaigns/c/t/onnx/model.onnx.json'), 'utf8'),
  ) as unknown;
  expect(sidecar).toEqual({ sha256: sha256('onnx bytes'), sizeBytes: 10 });
  expect(await store.list('')).toEqual([{ key: 'campaigns/c/t/onnx/model.onnx', sizeBytes: 10 }]);
});

test('a crash after the sidecar rename and before the object rename: the old object is still served, intact', async () => {
  const store = new LocalArtifactStore(scratchDir());
  const v1 = await store.put('ckpt/latest.pt', { bytes: Buffer.from('checkpoint v1') });
  const v2 = await store.put('ckpt/latest.pt', { bytes: Buffer.from('checkpoint v2') });
  // Put the object file back to v1: exactly what a crash between step 2 (sidecar) and 3 (object) leaves.
  fs.writeFileSync(path.join(store.root, 'ckpt/latest.pt'), 'checkpoint v1');
  expect(Buffer.from(await store.getBytes('ckpt/latest.pt')).toString()).toBe('checkpoint v1');
  expect(Buffer.from(await store.getBytes(v1)).toString()).toBe('checkpoint v1');
  await expect(store.getBytes(v2)).rejects.toBeInstanceOf(ArtifactIntegrityError); // v2 was never committed
  // ...while bytes that no put ever wrote are still corruption.
  fs.writeFileSync(path.join(store.root, 'ckpt/latest.pt'), 'checkpoint v0?');
  await expect(store.getBytes('ckpt/latest.pt')).rejects.toBeInstanceOf(ArtifactIntegrityError);
});

test('readers racing a writer that overwrites the same key see whole objects only, never an integrity error', async () => {
  const store = new LocalArtifactStore(scratchDir());
  const versions = Array.from({ length: 20 }, (_, i) => Buffer.alloc(200_000 + i * 1000, i + 1));
  await store.put('race/obj.bin', { bytes: versions[0] ?? Buffer.alloc(0) });
  const writer = (async () => {
    for (const v of versions) await store.put('race/obj.bin', { bytes: v });
  })();
  const readers = Array.from({ length: 4 }, async (_, r) => {
    const seen: string[] = [];
    for (let i = 0; i < 20; i++) {
      const got = Buffer.from(await store.getBytes('race/obj.bin'));
      seen.push(sha256(got));
      await store.get('race/obj.bin', path.join(scratchDir(), `r${r}-${i}.bin`));
    }
    return seen;
  });
  const [, ...seen] = await Promise.all([writer, ...readers]);
  const valid = new Set(versions.map((v) => sha256(v)));
  for (const s of seen.flat()) expect(valid.has(s)).toBe(true);
});

test('temp files of an interrupted put are never listed, and the store does not accept reserved keys', async () => {
  const store = new LocalArtifactStore(scratchDir());
  await store.put('a/kept.bin', { bytes: Buffer.from('k') });
  fs.writeFileSync(path.join(store.root, 'a', '.ap-tmp-0123abcd-half.bin'), 'half written');
  expect(await store.list('a/')).toEqual([{ key: 'a/kept.bin', sizeBytes: 1 }]);
  await expect(store.put('.ap-meta/x.json', { bytes: Buffer.from('x') })).rejects.toBeInstanceOf(
    ArtifactKeyError,
  );
  await expect(store.put('a/.ap-tmp-x', { bytes: Buffer.from('x') })).rejects.toBeInstanceOf(
    ArtifactKeyError,
  );
});

test('keyOf maps a file:// URI under the root back to its key and refuses one outside', async () => {
  const store = new LocalArtifactStore(scratchDir());
  const ref = await store.put('dir with space/ü.txt', { bytes: Buffer.from('u') });
  expect(store.keyOf(ref.uri)).toBe('dir with space/ü.txt');
  expect(() => store.keyOf(new URL(`file://${path.dirname(store.root)}/elsewhere.txt`).href)).toThrow(
    /not under/,
  );
});
