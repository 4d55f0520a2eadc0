import { Client, Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { S3ArtifactStore } from '../src/storage';
import { reportKey } from '../src/storage/keys';
import { cli, withEnv, type CliRun } from './client/run-cli';
import { OwnServices } from './support/own-services';
import { FakeMessagesApi, overloadedReply, presentedKey, toolUseReply } from './support/fake-messages-api';
import { ensureBuilt, realEngines, s3Env, smallShapes, tempDir } from './support/test-env';
import { sleep, WorkerProcess } from './support/worker-process';

// Secrets never reach history, logs, transcripts, store objects or reports (issue 16, item 4). Recognisable
// values are planted as the Anthropic API key and the S3 access and secret keys, in the environment of the
// worker (its own process, as `agentic-pruner worker` runs on a host) and of the client (the CLI, in-process).
// A short real campaign runs on real Temporal, real S3 and the real engine — democnn on a small generated
// dataset, the Claude agent talking to the fake Messages API (which refuses any other key, so the planted
// key is really used), then fine-tune, evaluation, deployment check and report. Then everything the run left
// is scanned for each planted value, raw and in base64 (at each of the three alignments a value can have
// inside a longer base64 text) and hex: every workflow history (fetched through the client), every object in
// the store (transcripts among them), the worker's whole output, the rendered report, the CLI's output of
// start/status/log/export/report, and the Temporal server's SQLite files.
//
// The S3 keys are the server's own credentials, so this file starts its own Temporal dev server and
// versitygw with them (infra/services.sh, AP_STATE_DIR=.state/secrets, their own ports); the shared
// servers of the rest of the suite are never touched.

const TEMPORAL_PORT = process.env.AP_SECRETS_TEMPORAL_PORT ?? '7244';
const S3_PORT = process.env.AP_SECRETS_S3_PORT ?? '7072';
const BUCKET = 'agentic-pruner-secrets';

/** The planted values: recognisable, and shaped like the real thing. */
const PLANTED = {
  anthropicApiKey: 'sk-ant-api03-PLANTED-anthropic-Qx7Rk2Wm9Zt4Lp8Vn3Hs6Jd1Fg5Bc0',
  s3AccessKey: 'PLANTEDS3ACCESSK7Q2W9',
  s3SecretKey: 'planted-s3-secret/Zx8Cv7Bn6Mm5Ll4Kk3Jj2Hh1Gg0Ff9',
} as const;

// The S3 keys planted are the server's own credentials.
const own = new OwnServices('secrets', {
  temporalPort: TEMPORAL_PORT,
  s3Port: S3_PORT,
  env: { AP_S3_BUCKET: BUCKET, AP_S3_ACCESS_KEY: PLANTED.s3AccessKey, AP_S3_SECRET_KEY: PLANTED.s3SecretKey },
});
const TEMPORAL_ADDRESS = own.temporalAddress;
const S3_ENDPOINT = own.s3Endpoint;
const CAMPAIGN_TIMEOUT_MS = 8 * 60_000;

/** Every text a planted value may take inside a scanned blob: raw, hex, base64 (standard and url) at each alignment. */
export function encodedForms(secret: string): { form: string; text: string }[] {
  const bytes = Buffer.from(secret, 'utf8');
  const forms = [
    { form: 'raw', text: secret },
    { form: 'hex', text: bytes.toString('hex') },
  ];
  for (let shift = 0; shift < 3; shift++) {
    // Preceded by `shift` bytes, the secret's base64 starts mid-quantum: keep only the characters that
    // depend on its bytes alone (from the first full quantum after the shift to the last full one).
    const encoded = Buffer.concat([Buffer.alloc(shift), bytes]).toString('base64');
    const start = shift === 0 ? 0 : 4;
    const usable = Math.floor((shift + bytes.length) / 3) * 4;
    const text = encoded.slice(start, usable);
    forms.push({ form: `base64+${shift}`, text });
    forms.push({ form: `base64url+${shift}`, text: text.replace(/\+/g, '-').replace(/\//g, '_') });
  }
  return forms;
}

/** Which planted values, in which form, a blob holds. */
function findPlanted(blob: Buffer | string): string[] {
  const text = typeof blob === 'string' ? blob : blob.toString('latin1');
  const found: string[] = [];
  for (const [name, secret] of Object.entries(PLANTED))
    for (const { form, text: needle } of encodedForms(secret))
      if (text.includes(needle)) found.push(`${name} (${form})`);
  return found;
}

/** Every file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs
    .readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name));
}

test('the sanity of the scan: each planted value is found raw, in hex and in base64 at any offset', () => {
  for (const secret of Object.values(PLANTED)) {
    for (const prefix of ['', 'a', 'ab', 'abc', '{"k":"']) {
      const blob = `${prefix}${secret}"}`;
      expect(findPlanted(blob)).not.toEqual([]);
      expect(findPlanted(Buffer.from(blob).toString('hex'))).not.toEqual([]);
      expect(findPlanted(Buffer.from(blob).toString('base64'))).not.toEqual([]);
      expect(findPlanted(Buffer.from(blob).toString('base64url'))).not.toEqual([]);
    }
  }
  expect(findPlanted('nothing to see here, sk-ant-api03-other-key')).toEqual([]);
});

describe('no planted secret in anything a campaign leaves behind', () => {
  const engines = realEngines();
  const fake = new FakeMessagesApi(PLANTED.anthropicApiKey);
  const work = tempDir('ap-secrets-');
  const workerLog = path.join(work, 'worker.log');
  const reportDir = path.join(work, 'reports');
  const campaignId = `secrets-${Date.now().toString(36)}`;
  let worker: WorkerProcess | undefined;
  const cliRuns: { args: string[]; run: CliRun }[] = [];
  // This file's own S3 server, whose credentials are the planted keys.
  const s3 = {
    endpoint: S3_ENDPOINT,
    bucket: BUCKET,
    accessKeyId: PLANTED.s3AccessKey,
    secretAccessKey: PLANTED.s3SecretKey,
  };
  const clientEnv = { TEMPORAL_ADDRESS, ...s3Env(s3), ANTHROPIC_API_KEY: PLANTED.anthropicApiKey };
  const store = new S3ArtifactStore(s3);

  async function run(...args: string[]): Promise<CliRun> {
    const r = await withEnv(clientEnv, () => cli(...args));
    cliRuns.push({ args, run: r });
    return r;
  }

  beforeAll(async () => {
    ensureBuilt();
    // A clean slate: only this run's workflows, objects and database pages are scanned.
    await own.fresh();
    await fake.start();
    // Claude is asked with the planted key, through the error paths where a key could slip into a message:
    // an overloaded answer (retried by the SDK), an out-of-range strategy (repaired), then a valid one. Once
    // the script runs out, the fake answers 500 and later attempts fall back to the solver, with a reason.
    const strategy = { importance: 'l2', globalPruning: true, isomorphic: true, roundTo: 1 };
    fake.enqueue(
      overloadedReply(20),
      toolUseReply({ ...strategy, pruningRatio: 2, rationale: 'out of range' }),
      toolUseReply({ ...strategy, pruningRatio: 0.3, rationale: 'a first guess' }),
    );

    const dataset = await smallShapes(engines.oneShotEngine, 'ap-secrets-shapes-');
    fs.writeFileSync(
      path.join(work, 'campaign.yaml'),
      [
        'model: { name: democnn, numClasses: 4 }',
        'targets: [{ fraction: 0.5, band: "-5%..+5%", label: t50 }]',
        'search: { agent: claude, maxIterations: 8, extendedSearch: 0, base: { roundTo: 1 } }',
        'claude: { maxRetries: 1, maxRepairs: 1 }',
        `dataset: { root: ${JSON.stringify(dataset)}, calibrationBatches: 1, calibrationBatchSize: 8 }`,
        'finetune: { epochs: 1, batchSize: 16, maxSteps: 4, checkpointEverySteps: 2, workers: 0, bf16: false, channelsLast: false }',
        'deployment: { latencyRuns: 2, batchSizes: [1], agreementSamples: 8 }',
        '',
      ].join('\n'),
    );

    // The worker as a user runs it, with the planted keys in its environment; its whole output goes to workerLog.
    worker = new WorkerProcess(
      'secrets-worker',
      ['--queues', 'control,trials,train', '--verbose'],
      {
        ANTHROPIC_API_KEY: PLANTED.anthropicApiKey,
        ANTHROPIC_BASE_URL: fake.baseURL,
        AP_STATE_DIR: path.join(work, 'worker-state'),
      },
      { temporalAddress: TEMPORAL_ADDRESS, s3 },
      { logFile: workerLog },
    );
    await worker.ready(90_000);
  }, 10 * 60_000);

  afterAll(async () => {
    // SIGTERM, SIGKILL after 20 s, and the engine processes it left behind.
    await worker?.stop(20_000);
    await fake.stop();
    await engines.engine.close();
    store.destroy();
    await own.run('stop');
  }, 120_000);

  test(
    'a Claude campaign with fine-tune, evaluation and report: no planted value anywhere',
    async () => {
      const started = await run(
        'campaign',
        'start',
        '-c',
        path.join(work, 'campaign.yaml'),
        '--id',
        campaignId,
        '--wait',
      );
      const log = () => fs.readFileSync(workerLog, 'utf8').slice(-4000);
      expect({ code: started.code, err: started.err, worker: started.code === 0 ? '' : log() }).toMatchObject(
        { code: 0 },
      );
      for (const args of [
        ['campaign', 'status', campaignId],
        ['campaign', 'show', campaignId],
        ['campaign', 'log', campaignId],
        ['campaign', 'log', campaignId, '--json'],
        ['campaign', 'export', campaignId],
        ['campaign', 'export', campaignId, '--format', 'csv'],
        ['report', campaignId, '--out', reportDir],
      ]) {
        const r = await run(...args);
        expect({ args, code: r.code, err: r.err }).toEqual({ args, code: 0, err: '' });
      }

      // The campaign really went the whole way, and Claude was really asked with the planted key.
      expect(fake.messageRequests.length).toBeGreaterThanOrEqual(3);
      for (const r of fake.messageRequests) expect(presentedKey(r.headers)).toBe(PLANTED.anthropicApiKey);
      const keys = (await store.list('')).map((o) => o.key);
      expect(keys.filter((k) => k.includes('/transcripts/')).length).toBeGreaterThanOrEqual(1);
      expect(
        keys.filter((k) => k.includes('/checkpoints/') || k.includes('/finetuned/')).length,
      ).toBeGreaterThan(0);
      expect(keys).toContain(reportKey(campaignId, 'report.html'));
      const result = started.out;
      expect(result).toMatch(/converged/);

      const leaks: string[] = [];
      const scan = (where: string, blob: Buffer | string) => {
        for (const f of findPlanted(blob)) leaks.push(`${where}: ${f}`);
      };

      // Histories: every workflow of this server (the campaign, its searches, continue-as-new runs).
      const connection = await Connection.connect({ address: TEMPORAL_ADDRESS });
      let histories = 0;
      try {
        const client = new Client({ connection, namespace: 'default' });
        for await (const wf of client.workflow.list()) {
          const history = await client.workflow.getHandle(wf.workflowId, wf.runId).fetchHistory();
          scan(
            `history ${wf.workflowId}/${wf.runId}`,
            Buffer.from(temporal.api.history.v1.History.encode(history).finish()),
          );
          scan(`history ${wf.workflowId}/${wf.runId} (JSON)`, JSON.stringify(history));
          histories++;
        }
      } finally {
        await connection.close();
      }
      expect(histories).toBeGreaterThanOrEqual(2);

      for (const key of keys) scan(`store object ${key}`, Buffer.from(await store.getBytes(key)));
      // Let the worker write what it has buffered, then read its whole output.
      await sleep(1000);
      const workerOutput = fs.readFileSync(workerLog);
      expect(workerOutput.length).toBeGreaterThan(0);
      scan('worker output', workerOutput);
      const reports = filesUnder(reportDir);
      expect(reports.some((f) => f.endsWith('.html'))).toBe(true);
      for (const f of reports) scan(`report file ${f}`, fs.readFileSync(f));
      for (const { args, run: r } of cliRuns) scan(`CLI ${args.join(' ')}`, r.out + r.err);
      const dbFiles = filesUnder(path.join(own.stateDir, 'temporal')).filter((f) => /temporal\.db/.test(f));
      expect(dbFiles.length).toBeGreaterThan(0);
      for (const f of dbFiles) scan(`Temporal database ${path.basename(f)}`, fs.readFileSync(f));

      console.log(
        `secrets scan: ${histories} histories, ${keys.length} store objects, ${workerOutput.length} bytes of worker output, ` +
          `${reports.length} report files, ${cliRuns.length} CLI runs, ${dbFiles.length} database files; ${leaks.length} leaks`,
      );
      expect(leaks).toEqual([]);
    },
    CAMPAIGN_TIMEOUT_MS + 120_000,
  );
});
