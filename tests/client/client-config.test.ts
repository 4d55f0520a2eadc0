// One configuration resolution for the CLI: flag > environment > defaults, the same ports as infra/services.sh.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { resolveClientConfig } from '../../src/client/client-config';
import { cli, stackLines, withEnv } from './run-cli';

test.each([
  // [environment, flags, TEMPORAL_ADDRESS]
  [{}, {}, '127.0.0.1:7233'],
  [{ AP_TEMPORAL_PORT: '7333' }, {}, '127.0.0.1:7333'],
  [{ AP_TEMPORAL_PORT: '' }, {}, '127.0.0.1:7233'],
  [{ AP_TEMPORAL_PORT: '7333', TEMPORAL_ADDRESS: 'temporal.lab:7233' }, {}, 'temporal.lab:7233'],
  [{ TEMPORAL_ADDRESS: 'temporal.lab:7233' }, { address: '10.0.0.1:7233' }, '10.0.0.1:7233'],
])('%j with flags %j -> %s', (env, flags, address) => {
  expect(resolveClientConfig(env, flags).env.TEMPORAL_ADDRESS).toBe(address);
});

test('AP_STORE=s3 without an endpoint means the local S3 server on AP_S3_PORT with its bucket and local keys', () => {
  const { processEnv } = resolveClientConfig({ AP_STORE: 's3', AP_S3_PORT: '7080' });
  expect(processEnv).toMatchObject({
    AP_S3_ENDPOINT: 'http://127.0.0.1:7080',
    AP_S3_BUCKET: 'agentic-pruner',
    AP_S3_ACCESS_KEY: 'agentic-pruner-local',
    AP_S3_SECRET_KEY: 'agentic-pruner-local-secret',
  });
  // A named endpoint is never given the local keys.
  const remote = resolveClientConfig({ AP_STORE: 's3', AP_S3_ENDPOINT: 'https://s3.lab' }).processEnv;
  expect(remote.AP_S3_ACCESS_KEY).toBeUndefined();
});

test('AP_TEMPORAL_PORT=1 agentic-pruner campaign list connects to :1 (not :7233)', async () => {
  const r = await withEnv({ TEMPORAL_ADDRESS: undefined, AP_TEMPORAL_PORT: '1' }, () =>
    cli('campaign', 'list'),
  );
  expect(r.code).toBe(1);
  expect(r.err).toContain('Temporal server at 127.0.0.1:1 is not reachable');
  expect(stackLines(r.err)).toEqual([]);
});

test('--address beats the environment', async () => {
  const r = await withEnv({ TEMPORAL_ADDRESS: '127.0.0.1:7233' }, () =>
    cli('--address', '127.0.0.1:2', 'campaign', 'list'),
  );
  expect(r.code).toBe(1);
  expect(r.err).toContain('Temporal server at 127.0.0.1:2 is not reachable');
});

test('--version prints the package version', async () => {
  const { version } = JSON.parse(
    fs.readFileSync(path.join(__dirname, '..', '..', 'package.json'), 'utf8'),
  ) as {
    version: string;
  };
  const r = await cli('--version');
  expect(r.code).toBe(0);
  expect(r.out.trim()).toBe(version);
});

test('campaign start --help points to an example campaign file that exists', async () => {
  const r = await cli('campaign', 'start', '--help');
  expect(r.code).toBe(0);
  const example = /campaign start -c (examples\/\S+\.yaml)/.exec(r.out)?.[1];
  expect(example).toBe('examples/resnet50-1.77g.yaml');
  expect(fs.existsSync(path.join(__dirname, '..', '..', example!))).toBe(true);
});
