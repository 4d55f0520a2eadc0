import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
  type ListMultipartUploadsCommandOutput,
  type ListObjectsV2CommandOutput,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { pipeline, type Readable } from 'node:stream';
import type { ArtifactRef } from '../core/artifact-ref';
import {
  type ArtifactListing,
  type ArtifactSource,
  type ArtifactStore,
  byKey,
  type IncompleteUpload,
  type PutOptions,
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
import { hashBytes, hashFile, hashingStream, streamToFile } from './hashing';

/** Options of {@link S3ArtifactStore}. */
export interface S3StoreOptions {
  /** e.g. `http://127.0.0.1:7070` (versitygw from infra/services.sh) or `https://s3.eu-west-1.amazonaws.com`. */
  endpoint: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** @default 'us-east-1' */
  region?: string;
  /** Path-style URLs (`endpoint/bucket/key`), which S3-compatible servers need. @default true */
  forcePathStyle?: boolean;
  /** Key prefix inside the bucket, e.g. `team-a` (a `/` is added). @default '' */
  prefix?: string;
  /** Multipart part size; larger objects go up in parts, `queueSize` at a time. S3's minimum is 5 MiB. @default 16 MiB */
  partSizeBytes?: number;
  /** Parts uploaded in parallel. @default 2 */
  queueSize?: number;
  /** SDK attempts per request before an error surfaces (then Temporal's retry takes over). @default 3 */
  maxAttempts?: number;
  /** Where a `{stream}` source is spooled to learn its sha256 before upload. @default os.tmpdir() */
  spoolDir?: string;
  /** Test-only pauses mid-upload (`AP_STORE_FAILPOINTS`, see failpoints.ts). @default none */
  failpoints?: readonly StoreFailpoint[];
  /** Where a failpoint says it paused. @default stderr */
  failpointLog?: FailpointLog;
}

/** A put armed by a failpoint: the request carrying part `lastPart` pauses (see failpoints.ts). */
interface ArmedPut {
  lastPart: number;
  /** Bytes of the object before that part. */
  offsetBytes: number;
  totalBytes: number;
  pause: (sentBytes: number, totalBytes: number) => Promise<void>;
}

/** The object metadata entry (`x-amz-meta-sha256`) holding the sha256 of the bytes. */
export const SHA256_METADATA = 'sha256';

const NETWORK_ERRORS = [
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'TimeoutError',
  'RequestTimeout',
  'NetworkingError',
  'SlowDown',
];

interface Described {
  message: string;
  retryable: boolean;
  notFound: boolean;
}

/** Read an SDK (or network) error: its server message, and whether it is transient or a missing key. */
function describeS3Error(err: unknown): Described {
  const e = (err ?? {}) as {
    name?: string;
    code?: string;
    message?: string;
    $metadata?: { httpStatusCode?: number };
    cause?: { code?: string };
  };
  const status = e.$metadata?.httpStatusCode;
  const name = e.name ?? 'Error';
  const codes = [name, e.code, e.cause?.code].filter((c): c is string => typeof c === 'string');
  const notFound = name === 'NoSuchKey' || (name === 'NotFound' && status === 404);
  const retryable =
    (status !== undefined && (status >= 500 || status === 429)) ||
    codes.some((c) => NETWORK_ERRORS.includes(c)) ||
    NETWORK_ERRORS.some((c) => (e.message ?? '').includes(c));
  const message = `${name}${status !== undefined ? ` (HTTP ${status})` : ''}: ${e.message || '(no message from the server)'}`;
  return { message, retryable, notFound };
}

/**
 * Artifacts in an S3-compatible bucket (versitygw, MinIO, AWS S3...) through @aws-sdk/client-s3, with
 * multipart uploads through @aws-sdk/lib-storage for objects larger than `partSizeBytes`. The sha256 is
 * computed before the upload starts (from the bytes, the file, or a spooled copy of the stream) and
 * stored as object metadata `sha256`; every download is checked against it and against `ref.sha256`.
 * Checksums are `WHEN_REQUIRED`: S3-compatible servers reject the SDK's default CRC32 trailers.
 * An S3 object appears only when its upload completes, so a reference never names a partial object:
 * each request body goes up as bytes whose sha256 the request signs (`x-amz-content-sha256`), so a
 * PutObject cut short (its sender killed) is refused, never stored truncated — versitygw commits a short
 * body it was not told the hash of (tests/storage/s3-artifact-store.test.ts). A multipart upload cut short
 * stays behind as an incomplete upload holding its parts, until
 * {@link S3ArtifactStore.discardIncompleteUploads} aborts it.
 * Failures are {@link ArtifactStoreError}s naming bucket and key, with credentials redacted.
 */
export class S3ArtifactStore implements ArtifactStore {
  readonly bucket: string;
  /** `''` or the prefix with a trailing `/`. */
  readonly prefix: string;
  private readonly client: S3Client;
  private readonly partSize: number;
  private readonly queueSize: number;
  private readonly spoolDir: string;
  private readonly secrets: string[];
  private readonly failpoints: readonly StoreFailpoint[];
  private readonly failpointLog: FailpointLog;
  /** Puts in flight that a failpoint armed, by object key. */
  private readonly armed = new Map<string, ArmedPut>();

  constructor(opts: S3StoreOptions) {
    this.bucket = opts.bucket;
    const prefix = (opts.prefix ?? '').replace(/\/+$/, '');
    this.prefix = prefix === '' ? '' : `${validateKey(prefix)}/`;
    this.partSize = opts.partSizeBytes ?? 16 * 1024 * 1024;
    this.queueSize = opts.queueSize ?? 2;
    this.spoolDir = opts.spoolDir ?? os.tmpdir();
    this.secrets = [opts.secretAccessKey, opts.accessKeyId].filter((s) => s.length >= 4);
    this.client = new S3Client({
      endpoint: opts.endpoint,
      region: opts.region ?? 'us-east-1',
      forcePathStyle: opts.forcePathStyle ?? true,
      credentials: { accessKeyId: opts.accessKeyId, secretAccessKey: opts.secretAccessKey },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: opts.maxAttempts ?? 3,
    });
    this.failpoints = opts.failpoints ?? [];
    this.failpointLog = opts.failpointLog ?? stderrLine;
    if (this.failpoints.length > 0) this.installFailpoints();
  }

  /**
   * A middleware, after signing and inside the SDK's retries, that swaps the body of an armed put's last
   * request for one that stops mid-way (failpoints.ts). Installed only when a failpoint is set.
   */
  private installFailpoints(): void {
    this.client.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as { Key?: unknown; PartNumber?: unknown };
        const part =
          context.commandName === 'PutObjectCommand'
            ? 1
            : context.commandName === 'UploadPartCommand'
              ? input.PartNumber
              : undefined;
        const key = typeof input.Key === 'string' ? input.Key : undefined;
        const armed = key === undefined ? undefined : this.armed.get(key);
        const request = args.request as { body?: unknown } | undefined;
        if (key !== undefined && armed && part === armed.lastPart && request?.body instanceof Uint8Array) {
          this.armed.delete(key); // once per put: the SDK's own retry of this request goes straight through
          const body = request.body;
          request.body = pausingStream(
            [body],
            Math.min(FAILPOINT_AFTER_BYTES, Math.floor(body.byteLength / 2)),
            (sent) => armed.pause(armed.offsetBytes + sent, armed.totalBytes),
          );
        }
        return next(args);
      },
      { step: 'deserialize', name: 'apStoreFailpoint' },
    );
  }

  private objectKey(key: string): string {
    return this.prefix + validateKey(key);
  }

  uriFor(key: string): string {
    return `s3://${this.bucket}/${this.objectKey(key)}`;
  }

  keyOf(uri: string): string {
    const head = `s3://${this.bucket}/${this.prefix}`;
    if (!uri.startsWith(head)) throw new ArtifactKeyError(uri, `not an object of ${head}`);
    return validateKey(uri.slice(head.length));
  }

  private redact(text: string): string {
    return this.secrets.reduce((t, s) => t.split(s).join('[redacted]'), text);
  }

  /** The error to throw for `err`: this store's own errors pass through, SDK and network errors are wrapped. */
  private wrap(op: string, key: string, err: unknown): Error {
    if (err instanceof ArtifactError) return err;
    const d = describeS3Error(err);
    if (d.notFound) return new ArtifactNotFoundError(`s3://${this.bucket}`, key);
    return new ArtifactStoreError(
      op,
      `s3://${this.bucket}`,
      this.prefix + key,
      this.redact(d.message),
      d.retryable,
    );
  }

  async put(key: string, source: ArtifactSource, opts: PutOptions = {}): Promise<ArtifactRef> {
    const objectKey = this.objectKey(key);
    let spoolDir: string | undefined;
    let sent: ReturnType<typeof hashingStream> | undefined;
    try {
      let body: Uint8Array | Readable;
      let digest: { sha256: string; sizeBytes: number };
      if ('bytes' in source) {
        body = source.bytes;
        digest = { sha256: hashBytes(source.bytes), sizeBytes: source.bytes.length };
      } else {
        let file: string;
        if ('file' in source) {
          file = source.file;
        } else {
          // The sha256 goes into the metadata, which is sent before the body: spool the stream to learn it.
          spoolDir = await fsp.mkdtemp(path.join(this.spoolDir, 'ap-s3-'));
          file = path.join(spoolDir, 'body');
          await streamToFile(source.stream, file);
        }
        digest = await this.readSource('put', key, () => hashFile(file));
        // Hash what is actually sent too, to catch a file that changes under the upload.
        sent = hashingStream();
        body = pipeline(fs.createReadStream(file), sent, () => {});
      }
      const fp = failpointFor(this.failpoints, key);
      if (fp) {
        const lastPart = Math.max(1, Math.ceil(digest.sizeBytes / this.partSize));
        this.armed.set(objectKey, {
          lastPart,
          offsetBytes: (lastPart - 1) * this.partSize,
          totalBytes: digest.sizeBytes,
          pause: failpointPause(fp, key, this.failpointLog),
        });
      }
      const upload = new Upload({
        client: this.client,
        partSize: this.partSize,
        queueSize: this.queueSize,
        leavePartsOnError: false,
        params: {
          Bucket: this.bucket,
          Key: objectKey,
          Body: body,
          Metadata: { [SHA256_METADATA]: digest.sha256 },
          ...(opts.contentType !== undefined ? { ContentType: opts.contentType } : {}),
        },
      });
      await upload.done();
      // A file that changed between hashing and upload would carry a wrong sha256: refuse the reference.
      if (sent !== undefined && sent.digest().sha256 !== digest.sha256) {
        await this.delete(key);
        throw new ArtifactStoreError(
          'put',
          `s3://${this.bucket}`,
          objectKey,
          'the source file changed while it was uploaded',
          true,
        );
      }
      return { uri: this.uriFor(key), key, ...digest };
    } catch (err) {
      throw this.wrap('put', key, err);
    } finally {
      this.armed.delete(objectKey);
      if (spoolDir !== undefined) await fsp.rm(spoolDir, { recursive: true, force: true });
    }
  }

  /** Local source-file failures are the caller's, not the server's: not retryable, and say so. */
  private async readSource<T>(op: string, key: string, read: () => Promise<T>): Promise<T> {
    try {
      return await read();
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      throw new ArtifactStoreError(
        op,
        `s3://${this.bucket}`,
        this.prefix + key,
        `cannot read the source: ${message}`,
        false,
      );
    }
  }

  private async open(key: string): Promise<{ body: Readable; recorded: string | undefined }> {
    try {
      const obj = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }),
      );
      if (obj.Body === undefined) throw new Error('GetObject returned no body');
      return { body: obj.Body as Readable, recorded: obj.Metadata?.[SHA256_METADATA] };
    } catch (err) {
      throw this.wrap('get', key, err);
    }
  }

  /** The sha256 the bytes must have: the ref's and the recorded one must both match when present. */
  private check(
    key: string,
    actual: string,
    recorded: string | undefined,
    ref: ArtifactRef | undefined,
  ): void {
    const expected = ref?.sha256 ?? recorded;
    if (expected === undefined)
      throw new ArtifactIntegrityError(key, '(no sha256 recorded with the object)', actual);
    if (actual !== expected) throw new ArtifactIntegrityError(key, expected, actual);
    if (recorded !== undefined && actual !== recorded)
      throw new ArtifactIntegrityError(key, recorded, actual);
  }

  async get(keyOrRef: string | ArtifactRef, destFile: string): Promise<ArtifactRef> {
    const key = keyFrom(keyOrRef);
    const ref = typeof keyOrRef === 'string' ? undefined : keyOrRef;
    const dest = path.resolve(destFile);
    const tmp = path.join(
      path.dirname(dest),
      `.ap-tmp-${randomBytes(6).toString('hex')}-${path.basename(dest)}`.slice(0, 255),
    );
    try {
      const { body, recorded } = await this.open(key);
      await fsp.mkdir(path.dirname(dest), { recursive: true });
      const actual = await streamToFile(body, tmp);
      this.check(key, actual.sha256, recorded, ref);
      await fsp.rename(tmp, dest);
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
      const { body, recorded } = await this.open(key);
      const chunks: Buffer[] = [];
      for await (const c of body) chunks.push(c as Buffer);
      const bytes = Buffer.concat(chunks);
      this.check(key, hashBytes(bytes), recorded, ref);
      return bytes;
    } catch (err) {
      throw this.wrap('get', key, err);
    }
  }

  /** Note: S3 answers HEAD on a missing bucket with a bare 404, so a missing bucket reads as `false` here. */
  async exists(key: string): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
      return true;
    } catch (err) {
      if (describeS3Error(err).notFound) return false;
      throw this.wrap('head', key, err);
    }
  }

  async list(prefix: string): Promise<ArtifactListing[]> {
    validatePrefix(prefix);
    const out: ArtifactListing[] = [];
    let token: string | undefined;
    do {
      let page: ListObjectsV2CommandOutput;
      try {
        page = await this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: this.prefix + prefix,
            ...(token !== undefined ? { ContinuationToken: token } : {}),
          }),
        );
      } catch (err) {
        throw this.wrap('list', prefix === '' ? '(all)' : prefix, err);
      }
      for (const o of page.Contents ?? []) {
        if (o.Key !== undefined && o.Key.startsWith(this.prefix))
          out.push({ key: o.Key.slice(this.prefix.length), sizeBytes: o.Size ?? 0 });
      }
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return out.sort(byKey);
  }

  async delete(key: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
    } catch (err) {
      throw this.wrap('delete', key, err);
    }
  }

  /** The multipart uploads under `prefix` (this store's prefix added), with the ids that abort them. */
  private async multipartUploads(prefix: string): Promise<(IncompleteUpload & { uploadId: string })[]> {
    validatePrefix(prefix);
    const out: (IncompleteUpload & { uploadId: string })[] = [];
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    do {
      let page: ListMultipartUploadsCommandOutput;
      try {
        page = await this.client.send(
          new ListMultipartUploadsCommand({
            Bucket: this.bucket,
            Prefix: this.prefix + prefix,
            ...(keyMarker !== undefined ? { KeyMarker: keyMarker } : {}),
            ...(uploadIdMarker !== undefined ? { UploadIdMarker: uploadIdMarker } : {}),
          }),
        );
      } catch (err) {
        throw this.wrap('list-uploads', prefix === '' ? '(all)' : prefix, err);
      }
      for (const u of page.Uploads ?? []) {
        if (u.Key === undefined || u.UploadId === undefined || !u.Key.startsWith(this.prefix)) continue;
        out.push({
          key: u.Key.slice(this.prefix.length),
          startedMs: u.Initiated?.getTime() ?? 0,
          uploadId: u.UploadId,
        });
      }
      const more = page.IsTruncated === true && page.NextKeyMarker !== undefined;
      keyMarker = more ? page.NextKeyMarker : undefined;
      uploadIdMarker = more ? page.NextUploadIdMarker : undefined;
    } while (keyMarker !== undefined);
    return out.sort((a, b) => byKey(a, b) || a.startedMs - b.startedMs);
  }

  /** Multipart uploads neither completed nor aborted (an object up to one part never leaves one). */
  async listIncompleteUploads(prefix: string): Promise<IncompleteUpload[]> {
    return (await this.multipartUploads(prefix)).map(({ key, startedMs }) => ({ key, startedMs }));
  }

  /** Abort them: S3 then drops their parts. One already gone (completed or aborted meanwhile) is skipped. */
  async discardIncompleteUploads(prefix: string): Promise<IncompleteUpload[]> {
    const out: IncompleteUpload[] = [];
    for (const { uploadId, ...upload } of await this.multipartUploads(prefix)) {
      try {
        await this.client.send(
          new AbortMultipartUploadCommand({
            Bucket: this.bucket,
            Key: this.prefix + upload.key,
            UploadId: uploadId,
          }),
        );
        out.push(upload);
      } catch (err) {
        if ((err as { name?: unknown } | undefined)?.name !== 'NoSuchUpload')
          throw this.wrap('abort-upload', upload.key, err);
      }
    }
    return out;
  }

  /** Close the client's sockets (tests, short-lived CLIs). */
  destroy(): void {
    this.client.destroy();
  }
}
