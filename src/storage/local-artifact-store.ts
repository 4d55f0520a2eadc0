import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as path from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { ArtifactRef } from '../core/artifact-ref';
import {
  type ArtifactListing,
  type ArtifactSource,
  type ArtifactStore,
  byKey,
  type IncompleteUpload,
} from './artifact-store';
import {
  FAILPOINT_AFTER_BYTES,
  failpointFor,
  failpointPause,
  pausingStream,
  stderrLine,
  type FailpointLog,
  type StoreFailpoint,
} from './failpoints';
import { keyFrom, validateKey, validatePrefix } from './keys';
import {
  ArtifactError,
  ArtifactIntegrityError,
  ArtifactKeyError,
  ArtifactNotFoundError,
  ArtifactStoreError,
} from './errors';
import { hashBytes, streamToFile } from './hashing';

/** Folder (under the root) of the sidecars. Keys may not start with it. */
const META_DIR = '.ap-meta';
/** Name prefix of in-flight temp files; never listed, never a key segment. */
const TMP_PREFIX = '.ap-tmp-';
/** A temp file's name: the prefix, 12 hex digits, `-`, the object's (or sidecar's) name. */
const TMP_NAME = /^\.ap-tmp-[0-9a-f]{12}-(.+)$/;
/** How many earlier sha256s a sidecar remembers (see the class doc). */
const MAX_PREVIOUS = 3;

/** What a sidecar records: the sha256 of the object being committed, and of the ones it may replace. */
interface Sidecar {
  sha256: string;
  sizeBytes: number;
  /** sha256s of objects this put replaces; the object file may still hold one of them (see the class doc). */
  previous?: { sha256: string; sizeBytes: number }[];
}

// A full disk (ENOSPC) or quota (EDQUOT) is transient too: an operator frees space and the retry goes through;
// the failed write's temp file is removed, so a retry finds the store as it was.
const RETRYABLE_FS_CODES = new Set(['EAGAIN', 'EBUSY', 'EMFILE', 'ENFILE', 'EINTR', 'ENOSPC', 'EDQUOT']);

/** Options of {@link LocalArtifactStore}. */
export interface LocalStoreOptions {
  /** Test-only pauses mid-upload (`AP_STORE_FAILPOINTS`, see failpoints.ts). @default none */
  failpoints?: readonly StoreFailpoint[];
  /** Where a failpoint says it paused. @default stderr */
  failpointLog?: FailpointLog;
}

function fsCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/**
 * Artifacts on the local filesystem (the embedded default): the bytes at `<root>/<key>` (so a
 * `file://` URI is the object itself) and a JSON sidecar with the sha256 at `<root>/.ap-meta/<key>.json`.
 *
 * How a put stays atomic without a transaction over two files:
 * 1. the bytes go to a temp file in the object's own folder (same filesystem, so rename is atomic),
 *    hashed while written, then fsynced;
 * 2. the sidecar is written to a temp file, fsynced and renamed into place. It records the new sha256
 *    and, under `previous`, the sha256s it replaces;
 * 3. the object's temp file is renamed onto `<root>/<key>` — the commit point — and the folder fsynced.
 *
 * A reader therefore never sees a half-written object, and a visible object always has a sidecar (it was
 * renamed first). Between steps 2 and 3, or after a crash there, the object file still holds the previous
 * bytes: the reader accepts them because the sidecar lists their sha256 under `previous` — the put simply
 * has not happened. A reader that read the sidecar just before a concurrent put re-reads it once on a
 * mismatch. Anything else that does not match (bit rot, a truncated copy, an edit behind the store's back)
 * is an {@link ArtifactIntegrityError}.
 *
 * A put killed before its commit (step 3) leaves its temp files (`.ap-tmp-*`, beside the object and its
 * sidecar): never listed, never read, removed by {@link LocalArtifactStore.discardIncompleteUploads}.
 */
export class LocalArtifactStore implements ArtifactStore {
  /** Absolute root folder. */
  readonly root: string;
  private readonly failpoints: readonly StoreFailpoint[];
  private readonly failpointLog: FailpointLog;

  constructor(root: string, opts: LocalStoreOptions = {}) {
    this.root = path.resolve(root);
    this.failpoints = opts.failpoints ?? [];
    this.failpointLog = opts.failpointLog ?? stderrLine;
    fs.mkdirSync(this.root, { recursive: true });
  }

  private checkKey(key: string): string {
    validateKey(key);
    if (key === META_DIR || key.startsWith(`${META_DIR}/`))
      throw new ArtifactKeyError(key, `"${META_DIR}" is reserved by the local store`);
    if (key.split('/').some((seg) => seg.startsWith(TMP_PREFIX)))
      throw new ArtifactKeyError(
        key,
        `segments starting with "${TMP_PREFIX}" are reserved by the local store`,
      );
    return key;
  }

  private fileOf(key: string): string {
    return path.join(this.root, this.checkKey(key));
  }

  private sidecarOf(key: string): string {
    return path.join(this.root, META_DIR, `${this.checkKey(key)}.json`);
  }

  private static tempBeside(file: string): string {
    return path.join(
      path.dirname(file),
      `${TMP_PREFIX}${randomBytes(6).toString('hex')}-${path.basename(file)}`.slice(0, 255),
    );
  }

  /** The error to throw for `err`: this store's own errors pass through, filesystem errors are wrapped. */
  private wrap(op: string, key: string, err: unknown): Error {
    if (err instanceof ArtifactError) return err;
    const code = fsCode(err);
    const message = err instanceof Error ? err.message : String(err);
    return new ArtifactStoreError(
      op,
      this.root,
      key,
      message,
      code !== undefined && RETRYABLE_FS_CODES.has(code),
    );
  }

  uriFor(key: string): string {
    return pathToFileURL(this.fileOf(key)).href;
  }

  keyOf(uri: string): string {
    if (!uri.startsWith('file://')) throw new ArtifactKeyError(uri, `not a file:// URI of ${this.root}`);
    const rel = path.relative(this.root, fileURLToPath(uri));
    if (rel.startsWith('..') || path.isAbsolute(rel))
      throw new ArtifactKeyError(uri, `not under ${this.root}`);
    return this.checkKey(rel.split(path.sep).join('/'));
  }

  async put(key: string, source: ArtifactSource): Promise<ArtifactRef> {
    const file = this.fileOf(key);
    const sidecar = this.sidecarOf(key);
    const tmp = LocalArtifactStore.tempBeside(file);
    const sidecarTmp = LocalArtifactStore.tempBeside(sidecar);
    try {
      await fsp.mkdir(path.dirname(file), { recursive: true });
      await fsp.mkdir(path.dirname(sidecar), { recursive: true });
      const input =
        'file' in source
          ? fs.createReadStream(source.file)
          : 'bytes' in source
            ? Readable.from([
                Buffer.from(source.bytes.buffer, source.bytes.byteOffset, source.bytes.byteLength),
              ])
            : source.stream;
      const fp = failpointFor(this.failpoints, key);
      const pause = fp && failpointPause(fp, key, this.failpointLog);
      const digest = await streamToFile(
        pause ? pausingStream(input, FAILPOINT_AFTER_BYTES, (sent) => pause(sent, undefined)) : input,
        tmp,
      );
      await fsyncPath(tmp);

      const current = await this.readSidecar(key);
      const previous =
        current && (await pathExists(file))
          ? [{ sha256: current.sha256, sizeBytes: current.sizeBytes }, ...(current.previous ?? [])]
          : [];
      const record: Sidecar = {
        ...digest,
        ...(previous.length > 0 ? { previous: dedupe(previous, digest.sha256).slice(0, MAX_PREVIOUS) } : {}),
      };
      await fsp.writeFile(sidecarTmp, JSON.stringify(record));
      await fsyncPath(sidecarTmp);
      await fsp.rename(sidecarTmp, sidecar);

      await fsp.rename(tmp, file); // the commit point
      await fsyncPath(path.dirname(file));
      return { uri: this.uriFor(key), key, ...digest };
    } catch (err) {
      await fsp.rm(tmp, { force: true });
      await fsp.rm(sidecarTmp, { force: true });
      throw this.wrap('put', key, err);
    }
  }

  private async readSidecar(key: string): Promise<Sidecar | undefined> {
    let text: string;
    try {
      text = await fsp.readFile(this.sidecarOf(key), 'utf8');
    } catch (err) {
      if (fsCode(err) === 'ENOENT') return undefined;
      throw err;
    }
    return JSON.parse(text) as Sidecar;
  }

  /** Check `actual` against the sidecar (re-read once on a mismatch: a put may have just landed) and the ref. */
  private async verify(
    key: string,
    sidecar: Sidecar,
    actual: { sha256: string; sizeBytes: number },
    ref: ArtifactRef | undefined,
  ): Promise<void> {
    const accepts = (s: Sidecar) =>
      s.sha256 === actual.sha256 || (s.previous ?? []).some((p) => p.sha256 === actual.sha256);
    let ok = accepts(sidecar);
    if (!ok) {
      const again = await this.readSidecar(key);
      ok = again !== undefined && accepts(again);
    }
    if (!ok || (ref !== undefined && ref.sha256 !== actual.sha256)) {
      throw new ArtifactIntegrityError(key, ref?.sha256 ?? sidecar.sha256, actual.sha256);
    }
  }

  private async open(key: string): Promise<{ sidecar: Sidecar; stream: fs.ReadStream }> {
    const sidecar = await this.readSidecar(key);
    if (!sidecar) throw new ArtifactNotFoundError(this.root, key);
    const stream = fs.createReadStream(this.fileOf(key));
    // Surface ENOENT now, as not-found, rather than from inside a pipeline.
    await new Promise<void>((resolve, reject) => {
      stream.once('ready', () => resolve());
      stream.once('error', (err) =>
        reject(fsCode(err) === 'ENOENT' ? new ArtifactNotFoundError(this.root, key) : err),
      );
    });
    return { sidecar, stream };
  }

  async get(keyOrRef: string | ArtifactRef, destFile: string): Promise<ArtifactRef> {
    const key = keyFrom(keyOrRef);
    const ref = typeof keyOrRef === 'string' ? undefined : keyOrRef;
    const tmp = LocalArtifactStore.tempBeside(path.resolve(destFile));
    try {
      const { sidecar, stream } = await this.open(key);
      await fsp.mkdir(path.dirname(tmp), { recursive: true });
      const actual = await streamToFile(stream, tmp);
      await this.verify(key, sidecar, actual, ref);
      await fsp.rename(tmp, destFile);
      return { uri: this.uriFor(key), key, ...actual };
    } catch (err) {
      await fsp.rm(tmp, { force: true });
      throw this.wrap('get', key, err);
    }
  }

  async getBytes(keyOrRef: string | ArtifactRef): Promise<Uint8Array> {
    const key = keyFrom(keyOrRef);
    const ref = typeof keyOrRef === 'string' ? undefined : keyOrRef;
    try {
      const { sidecar, stream } = await this.open(key);
      const chunks: Buffer[] = [];
      for await (const chunk of stream) chunks.push(chunk as Buffer);
      const bytes = Buffer.concat(chunks);
      await this.verify(key, sidecar, { sha256: hashBytes(bytes), sizeBytes: bytes.length }, ref);
      return bytes;
    } catch (err) {
      throw this.wrap('get', key, err);
    }
  }

  async exists(key: string): Promise<boolean> {
    const [file, sidecar] = [this.fileOf(key), this.sidecarOf(key)];
    return (await pathExists(file)) && (await pathExists(sidecar));
  }

  /**
   * Every file under `top` in a folder that `prefix` can reach, with its path relative to `top` in key form
   * (`/`-separated), skipping the sidecar folder at the root. Walks only from the deepest folder the prefix
   * names in full, not the whole tree. Callers filter names and the prefix itself.
   */
  private async filesUnder(
    top: string,
    prefix: string,
  ): Promise<{ name: string; full: string; rel: string }[]> {
    validatePrefix(prefix);
    const slash = prefix.lastIndexOf('/');
    const base = slash >= 0 ? prefix.slice(0, slash) : '';
    const out: { name: string; full: string; rel: string }[] = [];
    const walk = async (dir: string): Promise<void> => {
      let entries: fs.Dirent[];
      try {
        entries = await fsp.readdir(dir, { withFileTypes: true });
      } catch (err) {
        if (fsCode(err) === 'ENOENT' || fsCode(err) === 'ENOTDIR') return;
        throw err;
      }
      for (const e of entries) {
        const full = path.join(dir, e.name);
        const rel = path.relative(top, full).split(path.sep).join('/');
        if (top === this.root && rel === META_DIR) continue;
        if (e.isDirectory()) {
          if (rel.startsWith(prefix) || prefix.startsWith(`${rel}/`)) await walk(full);
        } else if (e.isFile()) {
          out.push({ name: e.name, full, rel });
        }
      }
    };
    await walk(path.join(top, base));
    return out;
  }

  async list(prefix: string): Promise<ArtifactListing[]> {
    const out: ArtifactListing[] = [];
    try {
      for (const f of await this.filesUnder(this.root, prefix)) {
        if (f.name.startsWith(TMP_PREFIX) || !f.rel.startsWith(prefix)) continue;
        out.push({ key: f.rel, sizeBytes: (await fsp.stat(f.full)).size });
      }
    } catch (err) {
      throw this.wrap('list', prefix, err);
    }
    return out.sort(byKey);
  }

  /** The temp files of puts under `prefix`, beside the objects and beside the sidecars, with their keys. */
  private async tempFiles(prefix: string): Promise<(IncompleteUpload & { file: string })[]> {
    const out: (IncompleteUpload & { file: string })[] = [];
    const collect = async (top: string, keyName: (name: string) => string | undefined) => {
      for (const f of await this.filesUnder(top, prefix)) {
        const name = TMP_NAME.exec(f.name)?.[1];
        const kept = name === undefined ? undefined : keyName(name);
        if (kept === undefined) continue;
        const key = path.posix.join(path.posix.dirname(f.rel), kept);
        if (!key.startsWith(prefix)) continue;
        const stat = await fsp.stat(f.full).catch(() => undefined);
        if (stat) out.push({ key, startedMs: stat.mtimeMs, file: f.full });
      }
    };
    await collect(this.root, (name) => name);
    await collect(path.join(this.root, META_DIR), (name) =>
      name.endsWith('.json') ? name.slice(0, -'.json'.length) : undefined,
    );
    return out.sort((a, b) => byKey(a, b) || a.startedMs - b.startedMs);
  }

  /** Temp files of puts that never committed (or are in flight), one entry per file. */
  async listIncompleteUploads(prefix: string): Promise<IncompleteUpload[]> {
    try {
      return (await this.tempFiles(prefix)).map(({ key, startedMs }) => ({ key, startedMs }));
    } catch (err) {
      throw this.wrap('list-uploads', prefix, err);
    }
  }

  /** Remove them. The object and sidecar they would have replaced stay as they were. */
  async discardIncompleteUploads(prefix: string): Promise<IncompleteUpload[]> {
    try {
      const found = await this.tempFiles(prefix);
      for (const t of found) await fsp.rm(t.file, { force: true });
      return found.map(({ key, startedMs }) => ({ key, startedMs }));
    } catch (err) {
      throw this.wrap('abort-upload', prefix, err);
    }
  }

  async delete(key: string): Promise<void> {
    // The object first: a visible object always has its sidecar.
    try {
      await fsp.rm(this.fileOf(key), { force: true });
      await fsp.rm(this.sidecarOf(key), { force: true });
    } catch (err) {
      throw this.wrap('delete', key, err);
    }
  }
}

async function pathExists(p: string): Promise<boolean> {
  try {
    await fsp.access(p);
    return true;
  } catch {
    return false;
  }
}

/** fsync a file or folder (a folder's fsync makes a rename inside it durable). */
async function fsyncPath(p: string): Promise<void> {
  const fh = await fsp.open(p, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

function dedupe(
  entries: { sha256: string; sizeBytes: number }[],
  except: string,
): { sha256: string; sizeBytes: number }[] {
  const seen = new Set([except]);
  return entries.filter((e) => (seen.has(e.sha256) ? false : (seen.add(e.sha256), true)));
}
