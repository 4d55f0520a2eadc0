import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { ArtifactRef } from '../core/artifact-ref';
import { keyFrom, validateKey, type ArtifactListing, type ArtifactSource, type ArtifactStore } from './artifact-store';
import { ArtifactIntegrityError, ArtifactKeyError, ArtifactNotFoundError } from './errors';
import { hashBytes, hashFile, streamToFile } from './hashing';

const META_DIR = '.ap-meta';

/**
 * Artifacts on the local filesystem (the embedded default): `<root>/<key>`, with the sha256 in
 * `<root>/.ap-meta/<key>.json`. A put writes a temp file in the target folder, fsyncs it, writes the
 * metadata, then renames the object into place: a reader sees the whole object or none, and an object
 * that is visible always has its metadata.
 */
export class LocalArtifactStore implements ArtifactStore {
  readonly root: string;

  constructor(root: string) {
    this.root = path.resolve(root);
    fs.mkdirSync(this.root, { recursive: true });
  }

  private fileOf(key: string): string {
    return path.join(this.root, validateKey(key));
  }

  private metaOf(key: string): string {
    return path.join(this.root, META_DIR, `${validateKey(key)}.json`);
  }

  uriFor(key: string): string {
    return pathToFileURL(this.fileOf(key)).href;
  }

  keyOf(uri: string): string {
    if (!uri.startsWith('file://')) throw new ArtifactKeyError(uri, `not a file:// URI of ${this.root}`);
    const rel = path.relative(this.root, fileURLToPath(uri));
    if (rel.startsWith('..') || path.isAbsolute(rel)) throw new ArtifactKeyError(uri, `not under ${this.root}`);
    return validateKey(rel.split(path.sep).join('/'));
  }

  async put(key: string, source: ArtifactSource): Promise<ArtifactRef> {
    const file = this.fileOf(key);
    await fsp.mkdir(path.dirname(file), { recursive: true });
    const tmp = `${file}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
    let digest: { sha256: string; sizeBytes: number };
    try {
      if ('file' in source) {
        await fsp.copyFile(source.file, tmp);
        digest = await hashFile(tmp);
      } else if ('bytes' in source) {
        await fsp.writeFile(tmp, source.bytes);
        digest = { sha256: hashBytes(source.bytes), sizeBytes: source.bytes.length };
      } else {
        digest = await streamToFile(source.stream, tmp);
      }
      const fh = await fsp.open(tmp, 'r');
      await fh.sync();
      await fh.close();
      const ref: ArtifactRef = { uri: this.uriFor(key), key, ...digest };
      const meta = this.metaOf(key);
      await fsp.mkdir(path.dirname(meta), { recursive: true });
      await fsp.writeFile(`${meta}.tmp`, JSON.stringify(ref));
      await fsp.rename(`${meta}.tmp`, meta);
      await fsp.rename(tmp, file);
      return ref;
    } catch (err) {
      await fsp.rm(tmp, { force: true });
      throw err;
    }
  }

  private async recorded(key: string): Promise<ArtifactRef> {
    try {
      return JSON.parse(await fsp.readFile(this.metaOf(key), 'utf8')) as ArtifactRef;
    } catch {
      throw new ArtifactNotFoundError(this.root, key);
    }
  }

  async get(keyOrRef: string | ArtifactRef, destFile: string): Promise<ArtifactRef> {
    const key = keyFrom(keyOrRef);
    const rec = await this.recorded(key);
    const tmp = `${destFile}.tmp-${process.pid}`;
    await fsp.mkdir(path.dirname(destFile), { recursive: true });
    try {
      await fsp.copyFile(this.fileOf(key), tmp);
    } catch {
      throw new ArtifactNotFoundError(this.root, key);
    }
    const actual = await hashFile(tmp);
    const expected = typeof keyOrRef === 'string' ? rec.sha256 : keyOrRef.sha256;
    if (actual.sha256 !== rec.sha256 || actual.sha256 !== expected) {
      await fsp.rm(tmp, { force: true });
      throw new ArtifactIntegrityError(key, expected, actual.sha256);
    }
    await fsp.rename(tmp, destFile);
    return rec;
  }

  async getBytes(keyOrRef: string | ArtifactRef): Promise<Uint8Array> {
    const key = keyFrom(keyOrRef);
    const rec = await this.recorded(key);
    const bytes = await fsp.readFile(this.fileOf(key)).catch(() => {
      throw new ArtifactNotFoundError(this.root, key);
    });
    const actual = hashBytes(bytes);
    const expected = typeof keyOrRef === 'string' ? rec.sha256 : keyOrRef.sha256;
    if (actual !== rec.sha256 || actual !== expected) throw new ArtifactIntegrityError(key, expected, actual);
    return bytes;
  }

  async exists(key: string): Promise<boolean> {
    return fs.existsSync(this.fileOf(key)) && fs.existsSync(this.metaOf(key));
  }

  async list(prefix: string): Promise<ArtifactListing[]> {
    const out: ArtifactListing[] = [];
    const walk = async (dir: string): Promise<void> => {
      let entries: fs.Dirent[];
      try {
        entries = await fsp.readdir(dir, { withFileTypes: true });
      } catch {
        return;
      }
      for (const e of entries) {
        const full = path.join(dir, e.name);
        const rel = path.relative(this.root, full).split(path.sep).join('/');
        if (rel === META_DIR) continue;
        if (e.isDirectory()) await walk(full);
        else if (e.isFile() && !e.name.includes('.tmp-') && rel.startsWith(prefix)) {
          out.push({ key: rel, sizeBytes: (await fsp.stat(full)).size });
        }
      }
    };
    await walk(this.root);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(key: string): Promise<void> {
    await fsp.rm(this.fileOf(key), { force: true });
    await fsp.rm(this.metaOf(key), { force: true });
  }
}
