// What the user sees when a campaign fails at run time, and the human-control commands, on real services.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createAgents } from '../../src/agents';
import type { MacTargetSearchInput } from '../../src/workflows/mac-target-search';
import { pauseSignal } from '../../src/workflows/definitions';
import { TaskQueues } from '../../src/workflows/presets';
import { LocalArtifactStore } from '../../src/storage';
import {
  realEngines,
  searchInputFor,
  startTestWorkers,
  tempDir,
  testId,
  type TestWorkers,
} from '../support/test-env';
import { cli, stackLines, withEnv } from './run-cli';

/**
 * What the CLI itself wrote to stderr: the in-process test worker logs each failed workflow there too
 * (`<time> [WARN] Workflow failed { ... }`), which a user's CLI, with no worker in it, never prints.
 */
function cliLines(err: string): string[] {
  return err
    .replace(/^\d{4}-\d\d-\d\dT\S+ \[[A-Z]+\] [^]*?^\}\n?/gm, '')
    .trim()
    .split('\n');
}

describe('a campaign that fails shows its one-line reason everywhere', () => {
  let env: TestWorkers;
  const engines = realEngines();
  const storeRoot = tempDir('ap-fail-store-');
  const store = new LocalArtifactStore(storeRoot);
  const dir = tempDir();
  const id = testId('above-dense');
  let startRun: Awaited<ReturnType<typeof cli>>;

  beforeAll(async () => {
    env = await startTestWorkers({ store, ...engines, agents: createAgents({ store }), workDir: tempDir() });
    const file = path.join(dir, 'above.yaml');
    fs.writeFileSync(file, 'model:\n  name: democnn\ntargets:\n  - macs: 50G\n');
    // With no engine on the client host, pre-flight cannot profile the model: the campaign's own check
    // (with the engine on the workers) is what refuses the target, at run time.
    startRun = await withEnv({ AP_ENGINE_PYTHON: path.join(dir, 'no-engine', 'python') }, () =>
      cli('campaign', 'start', '-c', file, '--id', id, '--wait'),
    );
  }, 300_000);
  afterAll(async () => {
    await env?.stop();
    await engines.engine.close();
  });

  const reason = /targets\.0\.macs: 50000000000 is not below the dense model's \d+ MACs/;

  test('start --wait (no engine on the client): a note that targets were not checked here, the id and the search it started, its progress, then one line with the reason; exit 1, no stack', () => {
    expect(startRun.code).toBe(1);
    expect(startRun.out.trim()).toBe(id);
    // Its progress while it waited, each line stamped: the campaign's stage when first polled (the profile it
    // fails in, or already failed), and no target's attempt (it never searched).
    const stamped = /^\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\] /;
    const progress = cliLines(startRun.err)
      .filter((l) => stamped.test(l))
      .map((l) => l.replace(stamped, ''));
    expect(progress[0]).toMatch(/^stage: (profile|failed)$/);
    expect(progress.filter((l) => l.includes('attempt'))).toEqual([]);
    const lines = cliLines(startRun.err).filter((l) => !stamped.test(l));
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(
      /^note: targets not checked against the dense model here \(engine python not found at .*no-engine\/python: .*\); the campaign checks them when it starts$/,
    );
    expect(lines[1]).toBe(
      'search: solver, up to 10 iterations: the first in-band attempt and 3 more of fixed shapes, not scored (no dataset)',
    );
    expect(lines[2]).toMatch(new RegExp(`^agentic-pruner: campaign ${id} failed: ${reason.source}$`));
    expect(cliLines(startRun.err).join('\n')).not.toContain('WorkflowFailedError');
  });

  test('status: status, stage and the reason; exit 1', async () => {
    const r = await cli('campaign', 'status', id);
    expect(r.code).toBe(1);
    expect(r.out).toContain(`${id}: FAILED, stage failed\n`);
    expect(r.out).toMatch(new RegExp(`^reason: ${reason.source}$`, 'm'));
  });

  test('watch ends with the reason and exits non-zero', async () => {
    const r = await cli('campaign', 'watch', id);
    expect(r.code).toBe(1);
    expect(cliLines(r.err)).toEqual([
      expect.stringMatching(new RegExp(`^agentic-pruner: campaign ${id} failed: ${reason.source}$`)),
    ]);
    expect(stackLines(r.err)).toEqual([]);
  });

  test('log and show print the reason (the log has no searches to show)', async () => {
    const log = await cli('campaign', 'log', id);
    expect(log.code).toBe(0);
    expect(log.out).toMatch(new RegExp(`${id}: FAILED: ${reason.source}`));
    const show = await cli('campaign', 'show', id);
    expect(show.code).toBe(1);
    expect(show.out).toMatch(new RegExp(`^reason: ${reason.source}$`, 'm'));
  });

  test('report renders what exists (the dense profile) and says why, no stack', async () => {
    const out = tempDir('ap-fail-report-');
    const r = await withEnv({ AP_STORE: 'local', AP_STORE_ROOT: storeRoot }, () =>
      cli('report', id, '--out', out),
    );
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const html = fs.readFileSync(path.join(out, `${id}.html`), 'utf8');
    expect(html).toContain('FAILED');
    expect(html).toMatch(
      /targets\.0\.macs: 50000000000 is not below the dense model&#39;s \d+ MACs|targets\.0\.macs: 50000000000 is not below the dense model's \d+ MACs/,
    );
  });

  test('a campaign cancelled mid-search: status, show and report say so and show its attempts', async () => {
    const cancelled = testId('cancelled');
    const file = path.join(dir, 'slow.yaml');
    fs.writeFileSync(
      file,
      'model:\n  name: resnet18\n  inputSize: 96\ntargets:\n  - fraction: 0.5\n    band: "-0.2%..+0.2%"\n    label: half\nsearch:\n  extendedSearch: 5\n',
    );
    expect((await cli('campaign', 'start', '-c', file, '--id', cancelled)).code).toBe(0);
    // Pause the search as soon as it exists, so it is still running when the campaign is cancelled.
    let paused = await cli('campaign', 'pause', cancelled);
    for (let i = 0; i < 300 && paused.code !== 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      paused = await cli('campaign', 'pause', cancelled);
    }
    expect(paused.code).toBe(0);
    // Workers are polling: a running campaign's status warns of nothing. The pause waits for the trial in
    // flight, if any: its running line may show.
    const running = await cli('campaign', 'status', cancelled);
    expect(running.out).toMatch(
      new RegExp(
        `^${cancelled}: RUNNING, stage search\n` +
          `(running: half: prune trial attempt \\d+ \\(l2, ratio 0\\.\\d{3} as proposed\\): [a-z ]+( \\(\\d+ s ago\\))?\n)?` +
          `  half: running\n$`,
      ),
    );
    expect((await cli('campaign', 'cancel', cancelled)).code).toBe(0);
    let status = await cli('campaign', 'status', cancelled);
    for (let i = 0; i < 100 && status.out.includes('RUNNING'); i++) {
      await new Promise((r) => setTimeout(r, 200));
      status = await cli('campaign', 'status', cancelled);
    }
    expect(status.code).toBe(1);
    expect(status.out).toMatch(
      new RegExp(`^${cancelled}: CANCELLED, stage search\nreason: cancelled\n  half: `),
    );

    const show = await cli('campaign', 'show', cancelled);
    expect(show.out).toMatch(/^half\s+\S+ M\s+(cancelled|terminated)\s+\d+\s/m);

    const out = tempDir('ap-cancel-report-');
    const r = await withEnv({ AP_STORE: 'local', AP_STORE_ROOT: storeRoot }, () =>
      cli('report', cancelled, '--out', out),
    );
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const html = fs.readFileSync(path.join(out, `${cancelled}.html`), 'utf8');
    expect(html).toContain('CANCELLED');
    expect(html).toContain('Target half');
  });

  test('the same --id again is refused; the first run is kept', async () => {
    const file = path.join(dir, 'again.yaml');
    fs.writeFileSync(file, 'model:\n  name: democnn\ntargets:\n  - fraction: 0.5\n');
    const r = await cli('campaign', 'start', '-c', file, '--id', id);
    expect(r.code).toBe(2);
    expect(r.err).toContain(`agentic-pruner: campaign id "${id}" is already used by an earlier campaign`);
    expect((await cli('campaign', 'status', id)).out).toContain('FAILED');
  });

  test("list with a bad query prints the server's reason in one line; exit 2", async () => {
    const r = await cli('campaign', 'list', '--query', 'ApModel=democnn');
    expect(r.code).toBe(2);
    const lines = r.err.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^agentic-pruner: --query "ApModel=democnn": \S.+/);
    expect(r.err).not.toContain('ServiceError');
  });

  test('pause, a refused override, a band change, an override, resume: over the CLI', async () => {
    const p = await env.client.workflow.execute('profileModelWorkflow', {
      taskQueue: TaskQueues.control,
      workflowId: testId('profile-for-ctl'),
      args: [{ campaignId: testId('ctl-profile'), model: { name: 'democnn' } }],
    });
    const input: MacTargetSearchInput = searchInputFor(
      (p as { summary: MacTargetSearchInput['profile'] }).summary,
      {
        model: { name: 'democnn' },
      },
    );
    const searchId = `${input.campaignId}--t1`;
    // Paused before its first proposal, so every command below finds it running.
    const handle = await env.client.workflow.signalWithStart('macTargetSearch', {
      taskQueue: TaskQueues.control,
      workflowId: searchId,
      args: [input],
      signal: pauseSignal,
      signalArgs: [],
    });
    expect((await cli('campaign', 'pause', searchId)).out).toContain(`${searchId}: pause requested`);

    const bad = await cli('campaign', 'override', searchId, '--ratio', '1.5');
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/^agentic-pruner: invalid strategy: pruningRatio: .+/);

    const badBand = await cli('campaign', 'band', searchId, '--to', '+5%..-1%');
    expect(badBand.code).toBe(2);
    expect(badBand.err).toMatch(/^agentic-pruner: --to: /);

    const band = await cli('campaign', 'band', searchId, '--to', '-8%..+2%');
    expect(band.code).toBe(0);
    expect(band.out.trim()).toBe(`${searchId}: band is now -8%..+2%`);

    const ok = await cli('campaign', 'override', searchId, '--ratio', '0.3', '--rationale', 'by hand');
    expect(ok.code).toBe(0);
    expect(ok.out.trim()).toBe(`${searchId}: override queued at position 1`);
    const shaped = await cli(
      'campaign',
      'override',
      searchId,
      '--strategy',
      '{"pruningRatio":0.1,"importance":"lamp","globalPruning":true,"isomorphic":true,"roundTo":4}',
      '--scale-to-band',
    );
    expect(shaped.code).toBe(0);
    expect(shaped.out.trim()).toBe(
      `${searchId}: override queued at position 2 (its shape is scaled into the band)`,
    );

    expect((await cli('campaign', 'resume', searchId)).code).toBe(0);
    const result = (await handle.result()) as { band: unknown };
    expect(result.band).toEqual({ lo: -0.08, hi: 0.02 });

    // The search id is its own log: the override is attempt 1, the human's.
    const log = await cli('campaign', 'log', searchId);
    expect(log.code).toBe(0);
    expect(log.out).toMatch(/^1\s+(kept\s+)?scaling\s+human\s+0\.300\s/m);
    // The log records the band change and the override, and shows the band as it is now.
    expect(log.out).toContain('band -8%..+2%');
    expect(log.out).toContain('after attempt 0: band changed from -5%..+1% to -8%..+2%\n');
    expect(log.out).toContain('after attempt 0: override queued: ratio 0.3 l2\n');
    expect(log.out).toContain(
      'after attempt 0: override queued: ratio 0.1 lamp, its shape scaled into the band\n',
    );
    // The second override is attempt 2, a human's shape (lamp, roundTo 4, global isomorphic: shape -): the dry run
    // screened it into the band before its one prune, so it is a candidate at the screened ratio,
    // in band, and its rationale says how far the ratio moved.
    const row2 = log.out.match(
      /^2\s+(?:kept\s+)?candidate\s+human\s+(\d\.\d{3})\s+lamp\s+4\s+-\s+\S+ M\s+\S+%\s+IN\s.*screened (\d+) shapes by dry run: ratio 0\.100 -> (\d\.\d{3})$/m,
    );
    expect(row2).not.toBeNull();
    const [, shownRatio, shapes, screenedRatio] = row2 as RegExpMatchArray;
    expect(shownRatio).toBe(screenedRatio);
    expect(Number(screenedRatio)).toBeGreaterThan(0.1);
    expect(Number(shapes)).toBeGreaterThan(0);
    // Screening means no scaling step was spent on the shape: two attempts in all.
    expect(log.out).toMatch(/\(converged, 2 attempts, kept #\d\)/);
    const history = JSON.stringify(await handle.fetchHistory());
    expect(history).not.toContain('"pruningRatio":1.5');
    const after = await cli('campaign', 'pause', searchId);
    expect(after.code).toBe(2);
    expect(after.err).toContain(`search ${searchId} is not running`);
  });
});
