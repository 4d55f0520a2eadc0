import {
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  HeadBucketCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { testServices } from '../support/test-env';

const ROOT = path.join(__dirname, '..', '..');

// `infra/services.sh drop-bucket`, which infra/test.sh runs on each passing run's own bucket, on the tests'
// real versitygw: a bucket with objects (two pages of listing) and an unfinished multipart upload.
describe('infra/services.sh drop-bucket', () => {
  const s3 = testServices().s3;
  const port = new URL(s3.endpoint).port;
  const raw = new S3Client({
    endpoint: s3.endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  });
  afterAll(() => raw.destroy());

  const drop = (bucket: string | undefined) =>
    spawnSync('bash', [path.join(ROOT, 'infra', 'services.sh'), 'drop-bucket'], {
      env: {
        ...process.env,
        AP_S3_PORT: port,
        AP_S3_ACCESS_KEY: s3.accessKeyId,
        AP_S3_SECRET_KEY: s3.secretAccessKey,
        AP_S3_BUCKET: bucket ?? '',
      },
      encoding: 'utf8',
    });

  test('empties the bucket, counts what it removed, removes it; a second drop finds nothing', async () => {
    const bucket = `ap-drop-test-${process.pid}-${Date.now().toString(36)}`;
    await raw.send(new CreateBucketCommand({ Bucket: bucket }));
    // 1,003 objects: the listing's first page holds 1,000.
    for (let i = 0; i < 1003; i += 59) {
      await Promise.all(
        Array.from({ length: Math.min(59, 1003 - i) }, (_, j) =>
          raw.send(new PutObjectCommand({ Bucket: bucket, Key: `campaigns/c${i + j}/x.json`, Body: '{}' })),
        ),
      );
    }
    await raw.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'campaigns/c0/model.pt' }));

    const run = drop(bucket);
    expect(run.status).toBe(0);
    expect(run.stdout.trim()).toBe(
      `[services] bucket ${bucket} dropped (1003 objects, 1 unfinished uploads)`,
    );
    await expect(raw.send(new HeadBucketCommand({ Bucket: bucket }))).rejects.toMatchObject({
      $metadata: { httpStatusCode: 404 },
    });

    const again = drop(bucket);
    expect(again.status).toBe(0);
    expect(again.stdout.trim()).toBe(`[services] bucket ${bucket}: no such bucket, nothing dropped`);
  });

  test.each([
    ['unset', undefined],
    ['the default', 'agentic-pruner'],
  ])('refuses AP_S3_BUCKET %s, naming the variable', async (_what, bucket) => {
    const run = drop(bucket);
    expect(run.status).toBe(2);
    expect(run.stderr.trim()).toBe(
      '[services] error: drop-bucket needs AP_S3_BUCKET set to a bucket of its own, not the default agentic-pruner',
    );
  });
});
