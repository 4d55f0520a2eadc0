import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  S3Client,
  type S3ServiceException,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import * as fs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Readable } from 'node:stream';
import type { ArtifactRef } from '../core/artifact-ref';
import { keyFrom, validateKey, type ArtifactListing, type ArtifactSource, type ArtifactStore } from './artifact-store';
import { ArtifactIntegrityError, ArtifactKeyError, ArtifactNotFoundError, ArtifactStoreError } from './errors';
import { hashBytes, hashFile, streamToFile } from './hashing';

/** Options of {@link S3ArtifactStore}. */
export interface S3StoreOptions {
  endpoint: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** @default 'us-east-1' */
  region?: string;
  /** Path-style URLs (needed by most S3-compatible servers). @default true */
  forcePathStyle?: boolean;
  /** Key prefix inside the bucket. @default '' */
  prefix?: string;
  /** Multipart part size; objects larger than this go multipart. @default 16 MiB (S3's minimum is 5 MiB) */
  partSizeBytes?: number;
  /** SDK attempts per request (transient errors). @default 4 */
  maxAttempts?: number;
}

const SHA_META = 'sha256';

function describe(err: unknown): { message: string; retryable: boolean; notFound: boolean } {
  const e = err as Partial<S3ServiceException> & { code?: string; $metadata?: { httpStatusCode?: number } };
  const status = e.$metadata?.httpStatusCode;
  const name = e.name ?? e.code ?? 'Error';
  const notFound = name !== 'NoSuchBucket' && (status === 404 || name === 'NoSuchKey' || name === 'NotFound');
  const transient =
    (status !== undefined && (status >= 500 || status === 429)) ||
    ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'TimeoutError', 'NetworkingError', 'RequestTimeout'].some(
      (c) => name.includes(c) || (e.message ?? '').includes(c) || e.code === c,
    );
  const message = `${name}${status ? ` (HTTP ${status})` : ''}: ${e.message ?? String(err)}`;
  return { message, retryable: transient || status === undefined, notFound };
}

/**
 * Artifacts in an S3-compatible bucket (versitygw, MinIO, AWS...) through @aws-sdk/client-s3, with
 * multipart uploads through @aws-sdk/lib-storage. The sha256 travels as object metadata and is checked
 * on every download. Checksums are WHEN_REQUIRED: non-AWS servers reject the SDK's default CRCs.
 */
export class S3ArtifactStore implements ArtifactStore {
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly partSize: number;

  constructor(opts: S3StoreOptions) {
    this.bucket = opts.bucket;
    this.prefix = opts.prefix ? `${opts.prefix.replace(/\/+$/, '')}/` : '';
    this.partSize = opts.partSizeBytes ?? 16 * 1024 * 1024;
    this.client = new S3Client({
      endpoint: opts.endpoint,
      region: opts.region ?? 'us-east-1',
      forcePathStyle: opts.forcePathStyle ?? true,
      credentials: { accessKeyId: opts.accessKeyId, secretAccessKey: opts.secretAccessKey },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: opts.maxAttempts ?? 4,
    });
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

  private fail(op: string, key: string, err: unknown): never {
    const d = describe(err);
    if (d.notFound) throw new ArtifactNotFoundError(`s3://${this.bucket}`, key);
    throw new ArtifactStoreError(op, `s3://${this.bucket}`, this.objectKey(key), d.message, d.retryable);
  }

  async put(key: string, source: ArtifactSource, opts: { contentType?: string } = {}): Promise<ArtifactRef> {
    return this.putChecked(key, source, opts);
  }

  private async putChecked(key: string, source: ArtifactSource, opts: { contentType?: string }): Promise<ArtifactRef> {
    validateKey(key);
    let spool: string | undefined;
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
          // A stream is spooled first: its hash must be known before the object is written, and a retried
          // upload needs to read it again.
          spool = path.join(await fsp.mkdtemp(path.join(os.tmpdir(), 'ap-s3-')), 'body');
          await streamToFile(source.stream, spool);
          file = spool;
        }
        digest = await hashFile(file);
        body = fs.createReadStream(file);
      }
      const upload = new Upload({
        client: this.client,
        partSize: this.partSize,
        queueSize: 2,
        leavePartsOnError: false,
        params: {
          Bucket: this.bucket,
          Key: this.objectKey(key),
          Body: body,
          Metadata: { [SHA_META]: digest.sha256 },
          ...(opts.contentType ? { ContentType: opts.contentType } : {}),
        },
      });
      await upload.done();
      return { uri: this.uriFor(key), key, ...digest };
    } catch (err) {
      if (err instanceof ArtifactKeyError) throw err;
      return this.fail('put', key, err);
    } finally {
      if (spool) await fsp.rm(path.dirname(spool), { recursive: true, force: true });
    }
  }

  private async open(key: string): Promise<{ body: Readable; recorded: string | undefined }> {
    try {
      const obj = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
      return { body: obj.Body as Readable, recorded: obj.Metadata?.[SHA_META] };
    } catch (err) {
      this.fail('get', key, err);
    }
  }

  async get(keyOrRef: string | ArtifactRef, destFile: string): Promise<ArtifactRef> {
    const key = keyFrom(keyOrRef);
    const { body, recorded } = await this.open(key);
    await fsp.mkdir(path.dirname(destFile), { recursive: true });
    const tmp = `${destFile}.tmp-${process.pid}`;
    let digest: { sha256: string; sizeBytes: number };
    try {
      digest = await streamToFile(body, tmp);
    } catch (err) {
      await fsp.rm(tmp, { force: true });
      this.fail('get', key, err);
    }
    const expected = typeof keyOrRef === 'string' ? recorded : keyOrRef.sha256;
    if (!expected || digest.sha256 !== expected || (recorded && digest.sha256 !== recorded)) {
      await fsp.rm(tmp, { force: true });
      throw new ArtifactIntegrityError(key, expected ?? recorded ?? '(none recorded)', digest.sha256);
    }
    await fsp.rename(tmp, destFile);
    return { uri: this.uriFor(key), key, ...digest };
  }

  async getBytes(keyOrRef: string | ArtifactRef): Promise<Uint8Array> {
    const key = keyFrom(keyOrRef);
    const { body, recorded } = await this.open(key);
    const chunks: Buffer[] = [];
    try {
      for await (const c of body) chunks.push(c as Buffer);
    } catch (err) {
      this.fail('get', key, err);
    }
    const bytes = Buffer.concat(chunks);
    const actual = hashBytes(bytes);
    const expected = typeof keyOrRef === 'string' ? recorded : keyOrRef.sha256;
    if (!expected || actual !== expected || (recorded && actual !== recorded)) {
      throw new ArtifactIntegrityError(key, expected ?? recorded ?? '(none recorded)', actual);
    }
    return bytes;
  }

  async exists(key: string): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
      return true;
    } catch (err) {
      if (describe(err).notFound) return false;
      this.fail('head', key, err);
    }
  }

  async list(prefix: string): Promise<ArtifactListing[]> {
    const out: ArtifactListing[] = [];
    let token: string | undefined;
    do {
      let page;
      try {
        page = await this.client.send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.prefix + prefix, ContinuationToken: token }),
        );
      } catch (err) {
        this.fail('list', prefix || '(all)', err);
      }
      for (const o of page.Contents ?? []) {
        if (o.Key) out.push({ key: o.Key.slice(this.prefix.length), sizeBytes: o.Size ?? 0 });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(key: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }));
    } catch (err) {
      this.fail('delete', key, err);
    }
  }

  /** Close the HTTP agent (tests, short-lived CLIs). */
  destroy(): void {
    this.client.destroy();
  }
}
