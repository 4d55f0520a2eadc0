// A campaign started before any worker, as a new user's first try often is: `campaign watch` and `campaign
// start --wait` say that no worker runs and which command starts one. Before, watch failed after ~30 s with a
// stack trace (its progress query waits for a worker), and --wait said nothing at all. Real dev server, in a
// namespace of this test's own that no worker polls (the other tests' workers poll the default one).
import { Connection } from '@temporalio/client';
import { temporal } from '@temporalio/proto';
import Long from 'long';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { tempDir, testId, testServices } from '../support/test-env';
import { waitFor } from '../support/worker-process';
import { cli, stackLines } from './run-cli';

const NAMESPACE = `ap-no-worker-${process.pid}`;
const NO_WORKER =
  "no worker is polling any of the campaign's task queues (control, trials, train): start one with `agentic-pruner worker` (every queue in one process)";
const STAMP = /^\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\] /;

describe('a campaign no worker serves', () => {
  let connection: Connection;
  const file = path.join(tempDir(), 'half.yaml');

  beforeAll(async () => {
    fs.writeFileSync(file, 'model:\n  name: democnn\ntargets:\n  - fraction: 0.5\n');
    connection = await Connection.connect({ address: testServices().temporalAddress });
    await connection.workflowService.registerNamespace({
      namespace: NAMESPACE,
      workflowExecutionRetentionPeriod: { seconds: Long.fromNumber(86_400) },
    });
    const T = temporal.api.enums.v1.IndexedValueType;
    await waitFor('the namespace to take search attributes', 60_000, async () =>
      connection.operatorService
        .addSearchAttributes({
          namespace: NAMESPACE,
          searchAttributes: {
            ApCampaignId: T.INDEXED_VALUE_TYPE_KEYWORD,
            ApModel: T.INDEXED_VALUE_TYPE_KEYWORD,
            ApTargetMacs: T.INDEXED_VALUE_TYPE_DOUBLE,
            ApStage: T.INDEXED_VALUE_TYPE_KEYWORD,
            ApIteration: T.INDEXED_VALUE_TYPE_INT,
            ApBestDeviation: T.INDEXED_VALUE_TYPE_DOUBLE,
            ApConverged: T.INDEXED_VALUE_TYPE_BOOL,
            ApAgent: T.INDEXED_VALUE_TYPE_KEYWORD,
          },
        })
        .then(
          () => true,
          () => undefined,
        ),
    );
  }, 90_000);
  afterAll(async () => {
    await connection?.close();
  });

  /** `campaign start` of the campaign file as `id` in the namespace (no target check: it needs no worker). */
  const startArgs = (id: string) =>
    ['--namespace', NAMESPACE, 'campaign', 'start', '-c', file, '--id', id, '--no-target-check'] as const;

  /** Start a campaign in the namespace. */
  async function start(name: string): Promise<string> {
    const id = testId(name);
    const r = await cli(...startArgs(id));
    expect({ code: r.code, err: r.err }).toMatchObject({ code: 0 });
    return id;
  }

  /** End the campaign from outside after `ms` (a cancel would wait for a worker): what ends a watch or wait. */
  function terminateAfter(id: string, ms: number): Promise<void> {
    return new Promise((resolve, reject) =>
      setTimeout(() => {
        connection.workflowService
          .terminateWorkflowExecution({
            namespace: NAMESPACE,
            workflowExecution: { workflowId: id },
            reason: 'test over',
          })
          .then(() => resolve(), reject);
      }, ms),
    );
  }

  test('watch: the first frame says so, in one line with the command; no stack; it ends with the campaign', async () => {
    const id = await start('no-worker-watch');
    const [watched] = await Promise.all([
      cli('--namespace', NAMESPACE, 'campaign', 'watch', id),
      terminateAfter(id, 4000),
    ]);
    expect(stackLines(watched.err)).toEqual([]);
    const lines = watched.out.split('\n');
    expect(lines[0]).toMatch(new RegExp(`${STAMP.source}${id}  stage: profile  status: RUNNING$`));
    expect(lines[1]).toBe(`warning: ${NO_WORKER}`);
    // Said once: the frames a log gets change only when something does (here: the end).
    expect(lines.filter((l) => l === `warning: ${NO_WORKER}`)).toHaveLength(1);
    expect(lines).toContainEqual(
      expect.stringMatching(new RegExp(`${STAMP.source}${id}  stage: profile  status: TERMINATED$`)),
    );
    // And how it ended, once, in one line.
    expect(watched.code).toBe(1);
    expect(watched.err).toBe(`agentic-pruner: campaign ${id} terminated: test over\n`);
  }, 60_000);

  test('log: no search yet, and why, rather than nothing', async () => {
    const id = await start('no-worker-log');
    try {
      const logged = await cli('--namespace', NAMESPACE, 'campaign', 'log', id);
      expect(logged).toEqual({
        code: 0,
        out: `${id}: RUNNING: no search has started yet\nwarning: ${NO_WORKER}\n`,
        err: '',
      });
    } finally {
      await terminateAfter(id, 0);
    }
  }, 60_000);

  test('start --wait: its progress says so at once, once', async () => {
    const id = testId('no-worker-wait');
    const [waited] = await Promise.all([
      cli(...startArgs(id), '--wait'),
      // The id exists once start has started it: terminate it a few seconds later.
      waitFor('the campaign to start', 30_000, async () =>
        connection.workflowService
          .describeWorkflowExecution({ namespace: NAMESPACE, execution: { workflowId: id } })
          .then(
            () => true,
            () => undefined,
          ),
      ).then(() => terminateAfter(id, 4000)),
    ]);
    expect(stackLines(waited.err)).toEqual([]);
    const progress = waited.err
      .split('\n')
      .filter((l) => STAMP.test(l))
      .map((l) => l.replace(STAMP, ''));
    expect(progress).toEqual(['stage: profile', `warning: ${NO_WORKER}`]);
    expect(waited.code).toBe(1);
    expect(waited.err).toContain(`\nagentic-pruner: campaign ${id} terminated: test over\n`);
  }, 60_000);
});
