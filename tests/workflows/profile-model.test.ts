import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import type { ProfileModelResult } from '../../src/activities';
import { createAgents } from '../../src/agents';
import { TaskQueues } from '../../src/workflows/presets';
import {
  realEngines,
  startTestWorkers,
  tempDir,
  testId,
  testServices,
  testStore,
  type TestWorkers,
} from '../support/test-env';

// The thin slice through every layer: a workflow on the control queue calls the engine's profile job on
// the gpu queue; the profile lands in the real S3 server; the workflow returns totals and the reference.
describe('profileModelWorkflow on the real dev server, versitygw and engine', () => {
  let env: TestWorkers;
  const engines = realEngines();
  const { s3 } = testServices();
  const store = testStore();

  beforeAll(async () => {
    env = await startTestWorkers({
      store,
      ...engines,
      agents: createAgents({ store }),
      workDir: tempDir(),
    });
  });
  afterAll(async () => {
    await env?.stop();
    await engines.engine.close();
  });

  test('ResNet-18 profiles to 1.82 GMACs and 11.69 M params, stored with a matching sha256', async () => {
    const id = testId('profile');
    const result = (await env.client.workflow.execute('profileModelWorkflow', {
      taskQueue: TaskQueues.control,
      workflowId: id,
      args: [{ campaignId: id, model: { name: 'resnet18' } }],
    })) as ProfileModelResult;

    expect(result.macs / 1.82e9).toBeCloseTo(1, 1);
    expect(Math.abs(result.macs - 1.82e9) / 1.82e9).toBeLessThan(0.01);
    expect(Math.abs(result.params - 11.69e6) / 11.69e6).toBeLessThan(0.01);
    expect(result.profile.uri).toBe(`s3://${s3.bucket}/campaigns/${id}/_model/profile/profile.json`);

    // Read the object back with a raw S3 client and hash it ourselves.
    const raw = new S3Client({
      endpoint: s3.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    const obj = await raw.send(new GetObjectCommand({ Bucket: s3.bucket, Key: result.profile.key }));
    const bytes = await obj.Body!.transformToByteArray();
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(result.profile.sha256);
    const profile = JSON.parse(Buffer.from(bytes).toString('utf8'));
    expect(profile.macs).toBe(result.macs);
    expect(profile.stages.map((s: { name: string }) => s.name)).toEqual(
      expect.arrayContaining(['layer1', 'layer4']),
    );
    raw.destroy();
  });

  test('an unknown model fails the workflow with the engine naming the field', async () => {
    const id = testId('profile-bad');
    const err = await env.client.workflow
      .execute('profileModelWorkflow', {
        taskQueue: TaskQueues.control,
        workflowId: id,
        args: [{ campaignId: id, model: { name: 'resnet9000' } }],
      })
      .catch((e: unknown) => e as Error);
    const text = JSON.stringify(err.cause?.cause ?? err, Object.getOwnPropertyNames(err.cause?.cause ?? err));
    expect(text).toContain('model.name');
    expect(text).toContain('EngineRequestError');
  });
});
