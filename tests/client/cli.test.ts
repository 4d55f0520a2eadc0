import * as fs from 'node:fs';
import { attemptsFromHistory } from '../../src/client/history-log';
import * as path from 'node:path';
import { createAgents } from '../../src/agents';
import { LocalArtifactStore } from '../../src/storage';
import { realEngines, startTestWorkers, tempDir, testId, type TestWorkers } from '../support/test-env';
import { cli } from './run-cli';
import { attemptLine } from '../../src/client/watch-view';
import type { Attempt } from '../../src/core/attempt';

function writeConfig(dir: string, name: string, text: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

describe('CLI: usage errors are clear, never a stack trace', () => {
  const dir = tempDir();

  test('--help lists the commands and exits 0', async () => {
    const r = await cli('--help');
    expect(r.code).toBe(0);
    expect(r.out + r.err).toMatch(/campaign/);
    expect(r.out + r.err).toMatch(/demo/);
  });

  test('an unknown command suggests the nearest one and exits 2', async () => {
    const r = await cli('campain');
    expect(r.code).toBe(2);
    expect(r.err).toContain('campaign');
  });

  test('a typo in a config key names the key and its line; exit 2', async () => {
    const file = writeConfig(
      dir,
      'typo.yaml',
      'model:\n  name: resnet18\ntargets:\n  - fraction: 0.5\nserch:\n  agent: solver\n',
    );
    const r = await cli('campaign', 'start', '-c', file);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/serch/);
    expect(r.err).toMatch(/line 5/);
    expect(r.err).not.toMatch(/\n\s+at /);
  });

  test.each([
    ['a band with lo > hi', 'targets:\n  - fraction: 0.5\n    band: "+5%..-1%"\n', /targets\.0\.band/],
    ['an unknown agent', 'targets:\n  - fraction: 0.5\nsearch:\n  agent: oracle\n', /search\.agent/],
    ['a missing model', null, /model/],
    ['both macs and fraction', 'targets:\n  - fraction: 0.5\n    macs: 1G\n', /exactly one of macs/],
  ])('%s is rejected before any workflow starts', async (_name, body, pattern) => {
    const text = body === null ? 'targets:\n  - fraction: 0.5\n' : `model:\n  name: resnet18\n${body}`;
    const r = await cli('campaign', 'start', '-c', writeConfig(dir, `bad-${Math.random()}.yaml`, text));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(pattern);
  });

  test('a server that is not running is named, with how to start it; exit 1, no stack', async () => {
    const saved = process.env.TEMPORAL_ADDRESS;
    process.env.TEMPORAL_ADDRESS = '127.0.0.1:1';
    try {
      const r = await cli('campaign', 'list');
      expect(r.code).toBe(1);
      expect(r.err).toContain('Temporal server at 127.0.0.1:1 is not reachable');
      expect(r.err).toContain('agentic-pruner server start');
      expect(r.err).not.toMatch(/\n\s+at /);
    } finally {
      process.env.TEMPORAL_ADDRESS = saved;
    }
  });

  test('a campaign id that does not exist is named; exit 2', async () => {
    const r = await cli('campaign', 'log', 'no-such-campaign-xyz');
    expect(r.code).toBe(2);
    expect(r.err).toContain('no-such-campaign-xyz');
    expect(r.err).toContain('does not exist');
  });
});

describe('CLI: profile and prune, locally without Temporal', () => {
  const dir = tempDir();

  test('profile --json gives totals and stages; --export-onnx writes a file the TS profiler reads', async () => {
    const onnx = path.join(dir, 'r18.onnx');
    const r = await cli('profile', 'resnet18', '--json', '--export-onnx', onnx);
    expect(r.code).toBe(0);
    const p = JSON.parse(r.out) as { macs: number; params: number; stages: { name: string }[] };
    expect(Math.abs(p.macs - 1.814e9) / 1.814e9).toBeLessThan(0.01);
    expect(p.stages.map((s) => s.name)).toEqual(['conv1', 'layer1', 'layer2', 'layer3', 'layer4', 'fc']);
    const fromOnnx = JSON.parse((await cli('profile', onnx, '--json')).out) as {
      macs: number;
      source: string;
    };
    expect(fromOnnx.source).toBe('onnx');
    expect(Math.abs(fromOnnx.macs - p.macs) / p.macs).toBeLessThan(0.005);
    const table = await cli('profile', onnx);
    expect(table.out).toMatch(/layer3\s+\S+ [GM]\s+\d+\.\d%/);
  });

  test('prune --ratio --json measures dense and pruned MACs and saves the model', async () => {
    const out = path.join(dir, 'pruned');
    const r = await cli('prune', 'resnet18', '--ratio', '0.3', '--input-size', '96', '--out', out, '--json');
    expect(r.code).toBe(0);
    const res = JSON.parse(r.out) as {
      macs: number;
      denseMacs: number;
      params: number;
      saved: { dir: string };
    };
    expect(res.macs).toBeLessThan(res.denseMacs * 0.7);
    expect(fs.existsSync(path.join(out, 'state_dict.pt'))).toBe(true);
  });

  test('bad input: an unknown model and a ratio out of range name the field; exit 2', async () => {
    const unknown = await cli('profile', 'resnet9000', '--json');
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain('model.name');
    const ratio = await cli('prune', 'resnet18', '--ratio', '1.5', '--json');
    expect(ratio.code).toBe(2);
    expect(ratio.err).toContain('pruningRatio');
  });
});

describe('CLI against a real campaign', () => {
  let env: TestWorkers;
  const engines = realEngines();
  const store = new LocalArtifactStore(tempDir('ap-cli-store-'));
  const dir = tempDir();

  beforeAll(async () => {
    env = await startTestWorkers({ store, ...engines, agents: createAgents({ store }), workDir: tempDir() });
  });
  afterAll(async () => {
    await env?.stop();
    await engines.engine.close();
  });

  test('start --wait, log, list --query, export csv, a raw Temporal reset', async () => {
    const id = testId('cli');
    const file = writeConfig(
      dir,
      'ok.yaml',
      'model:\n  name: resnet18\n  inputSize: 96\ntargets:\n  - fraction: 0.5\n    band: "-2%..+1%"\n    label: half\nsearch:\n  agent: solver\n  extendedSearch: 0\n',
    );
    const started = await cli('campaign', 'start', '-c', file, '--id', id, '--wait');
    expect(started.code).toBe(0);
    expect(started.out).toContain(id);
    expect(started.out).toMatch(/half.*converged/);

    const log = await cli('campaign', 'log', id, '--json');
    const logs = JSON.parse(log.out) as { targetLabel: string; attempts: { inBand: boolean }[] }[];
    expect(logs[0]!.targetLabel).toBe('half');
    expect(logs[0]!.attempts.some((a) => a.inBand)).toBe(true);
    // While it waited, its progress on stderr, each line stamped: the search's stage, then every attempt of the
    // log once, in order, then the search's end.
    const progress = started.err
      .split('\n')
      .filter((l) => /^\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\] /.test(l))
      .map((l) => l.slice('[2026-12-07T22:41:00Z] '.length));
    const attemptLines = progress.filter((l) => l.startsWith('half: attempt '));
    expect(attemptLines).toEqual(
      (logs[0]!.attempts as unknown as Attempt[]).map((a) => `half: ${attemptLine(a)}`),
    );
    expect(progress.indexOf('stage: search')).toBeGreaterThanOrEqual(0);
    expect(progress.indexOf('stage: search')).toBeLessThan(progress.indexOf(attemptLines[0]!));
    expect(progress.indexOf('half: search converged')).toBeGreaterThan(
      progress.indexOf(attemptLines.at(-1)!),
    );

    // Visibility is eventually consistent: poll until the search attributes show the campaign.
    let listed = '';
    for (let i = 0; i < 40 && !listed.includes(id); i++) {
      listed = (await cli('campaign', 'list', '--query', `ApCampaignId="${id}" AND ApConverged=true`)).out;
      if (!listed.includes(id)) await new Promise((r) => setTimeout(r, 250));
    }
    expect(listed).toContain(`${id}--half`);

    const csv = await cli('campaign', 'export', id, '--format', 'csv');
    const lines = csv.out.trim().split('\n');
    expect(lines[0]).toBe(
      'target,targetMacs,index,role,agent,pruningRatio,importance,roundTo,shape,macs,params,deviation,inBand,kept,accuracy,scoreMode,scoreTop1,scoreLoss,scoreCount,scoreSteps,scoreError,rescoreTop1,rescoreLoss,rescoreCount,rescoreSteps,rescoreError,wallMs,error,rationale',
    );
    expect(lines).toHaveLength(logs[0]!.attempts.length + 1);
    // Exactly one attempt is the kept one, and it is the one the log names.
    const keptColumn = lines[0]!.split(',').indexOf('kept');
    const kept = lines.slice(1).filter((l) => l.split(',')[keptColumn] === 'true');
    expect(kept).toHaveLength(1);
    const keptIndex = Number(kept[0]!.split(',')[2]);
    expect((logs[0] as unknown as { chosenIndex: number }).chosenIndex).toBe(keptIndex);

    const text = await cli('campaign', 'log', id);
    expect(text.out).toContain(`kept #${keptIndex})`);
    expect(text.out).toMatch(new RegExp(`^${keptIndex}\\s+kept\\s+candidate\\s+solver`, 'm'));

    const status = await cli('campaign', 'status', id);
    expect(status.code).toBe(0);
    expect(status.out).toBe(`${id}: COMPLETED, stage done\n  half: converged\n`);

    const show = await cli('campaign', 'show', id);
    expect(show.code).toBe(0);
    expect(show.out).toMatch(
      /^target\s+goal\s+status\s+attempts\s+to band\s+kept\s+MACs\s+dev\s+params\s+top-1\s+p50 b1$/m,
    );
    expect(show.out).toMatch(
      new RegExp(`^half\\s+\\S+ M\\s+converged\\s+\\d+\\s+\\d+\\s+#${keptIndex}\\s`, 'm'),
    );

    // A raw Temporal reset of the search (`temporal workflow reset`, outside the CLI, whose `campaign reset`
    // starts a new revision instead): the reset run is the one that counts; the log shows its attempts and
    // keeps the earlier run as history; the list shows the search once.
    const searchId = `${id}--half`;
    const handle = env.client.workflow.getHandle(searchId);
    const firstTask = (await handle.fetchHistory()).events!.find(
      (e) => e.workflowTaskCompletedEventAttributes,
    )!;
    await env.client.workflowService.resetWorkflowExecution({
      namespace: 'default',
      workflowExecution: { workflowId: searchId, runId: (await handle.describe()).runId },
      workflowTaskFinishEventId: firstTask.eventId ?? null,
      reason: 'test: raw reset',
      requestId: `${searchId}-raw-reset`,
    });
    await env.client.workflow.getHandle(searchId).result();
    const after = JSON.parse((await cli('campaign', 'log', id, '--json')).out) as {
      attempts: { index: number; wallMs: number }[];
      supersededRuns: { attempts: number }[];
    }[];
    expect(after[0]!.supersededRuns).toEqual([
      { runId: expect.any(String), attempts: logs[0]!.attempts.length },
    ]);
    const newRun = await env.client.workflow.getHandle(searchId).fetchHistory();
    expect(after[0]!.attempts.map((a) => a.wallMs)).toEqual(
      attemptsFromHistory(newRun.events ?? []).attempts.map((a) => a.wallMs),
    );
    const afterText = await cli('campaign', 'log', id);
    expect(afterText.out).toMatch(
      /^earlier run \S+ \(replaced by a reset\): \d+ attempts, kept in history$/m,
    );
    let rows: { workflowId: string; runs: number }[] = [];
    for (let i = 0; i < 40; i++) {
      rows = JSON.parse(
        (await cli('campaign', 'list', '--query', `ApCampaignId="${id}"`, '--json')).out,
      ) as typeof rows;
      if (rows.find((r) => r.workflowId === searchId)?.runs === 2) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(rows.filter((r) => r.workflowId === searchId)).toEqual([expect.objectContaining({ runs: 2 })]);
  }, 600_000);
});
