import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ensureServices, type TestServices } from '../setup/services';

/** The versitygw the global setup started (or start it now, when this file runs on its own). */
export async function s3Service(): Promise<TestServices['s3']> {
  const fromSetup = process.env.AP_TEST_S3;
  if (fromSetup !== undefined && fromSetup !== '') return JSON.parse(fromSetup) as TestServices['s3'];
  return (await ensureServices()).s3;
}

/** A plain S3 client on the same server, to act behind a store's back. */
export function rawS3Client(s3: TestServices['s3']): S3Client {
  return new S3Client({
    endpoint: s3.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/** Overwrite an object's bytes but keep `sha256` metadata that no longer matches, as bit rot or a broken writer would. */
export async function overwriteKeepingStaleSha(
  client: S3Client,
  bucket: string,
  objectKey: string,
  staleSha256: string,
  body: string,
): Promise<void> {
  await client.send(
    new PutObjectCommand({ Bucket: bucket, Key: objectKey, Body: body, Metadata: { sha256: staleSha256 } }),
  );
}

export const sha256 = (b: Uint8Array | string): string => createHash('sha256').update(b).digest('hex');

/** A fresh scratch folder. */
export function scratchDir(prefix = 'ap-storage-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** A unique key prefix per test run, so runs never see each other's objects in the shared bucket. */
export const runId = `storage-test-${Date.now().toString(36)}-${process.pid}`;
