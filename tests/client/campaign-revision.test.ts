// Reset and retry as the user sees them: each starts the campaign's next revision (`<id>~r<n>`), which
// re-runs what changed (a search from an attempt, a target whose band changed) and everything after it,
// reuses the rest, and is what status/show/log/export/report/list then show. Real Temporal, S3, engine.
// No deployment section: onnxruntime-node's tensors do not cross jest's realm inside an in-process worker
// (the deployment check runs the same way for a revision as for revision 1; the skipped branch is one line).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createAgents } from '../../src/agents';
import type { Attempt } from '../../src/core/attempt';
import { formatMacs, formatPercent } from '../../src/core/units';
import { CampaignClient } from '../../src/client/campaign-client';
import { percent } from '../../src/client/format';
import { attemptLine } from '../../src/client/watch-view';
import { attemptsFromHistory, type RebuiltLog } from '../../src/client/history-log';
import type { ReportData } from '../../src/report/report-data';
import { reportKey } from '../../src/storage';
import type { CampaignResult, CampaignTargetResult } from '../../src/workflows/campaign';
import {
  realEngines,
  s3Env,
  saveHistoryFixture,
  smallShapes,
  startTestWorkers,
  tempDir,
  testId,
  testServices,
  testStore,
  type TestWorkers,
} from '../support/test-env';
import { cli, withEnv } from './run-cli';

const row = (r: CampaignResult, label: string): CampaignTargetResult => {
  const t = r.targets.find((x) => x.targetLabel === label);
  if (!t) throw new Error(`no target ${label} in ${r.campaignId}`);
  return t;
};

/** The activity types and child workflow ids a campaign run scheduled, from its history. */
async function scheduled(env: TestWorkers, workflowId: string) {
  const events = (await env.client.workflow.getHandle(workflowId).fetchHistory()).events ?? [];
  return {
    activities: events.flatMap((e) => {
      const a = e.activityTaskScheduledEventAttributes;
      return a ? [a.activityType?.name ?? ''] : [];
    }),
    children: events.flatMap((e) => {
      const c = e.startChildWorkflowExecutionInitiatedEventAttributes;
      return c?.workflowId ? [c.workflowId] : [];
    }),
  };
}

/** A --wait's progress line's stamp: its UTC time. */
const STAMP = /^\[\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\] /;

/** What a --wait wrote on stderr while it waited: every line stamped (nothing else), without the stamps. */
function progressOf(err: string): string[] {
  const lines = err.split('\n').filter((l) => l !== '');
  for (const l of lines) expect(l).toMatch(STAMP);
  return lines.map((l) => l.replace(STAMP, ''));
}

/**
 * Every attempt of a target said once by a --wait's progress, in order: those its search had when the wait
 * began counted in one line (`t50: 2 attempts so far`), each later one in a line of its own.
 */
function expectEveryAttemptOnce(progress: string[], label: string, attempts: Attempt[]): void {
  const counted = progress
    .map((l) => new RegExp(`^${label}: (\\d+) attempts? so far$`).exec(l))
    .find((m) => m !== null);
  const n = counted ? Number(counted[1]) : 0;
  expect(progress.filter((l) => l.startsWith(`${label}: attempt `) && !l.includes(' scored '))).toEqual(
    attempts.slice(n).map((a) => `${label}: ${attemptLine(a)}`),
  );
}

describe('campaign reset and retry: a new revision that finishes and is what the user sees', () => {
  let env: TestWorkers;
  const engines = realEngines();
  const store = testStore();
  const storeEnv = s3Env(testServices().s3);
  const dir = tempDir('ap-rev-');
  const id = testId('rev');
  const rev2 = `${id}~r2`;
  const rev3 = `${id}~r3`;
  let file: string;
  let campaigns: CampaignClient;
  let first: CampaignResult;
  let firstLogs: RebuiltLog[];

  beforeAll(async () => {
    env = await startTestWorkers({ store, ...engines, agents: createAgents({ store }), workDir: tempDir() });
    campaigns = new CampaignClient(env.client);
    const dataset = await smallShapes(engines.oneShotEngine, 'ap-rev-shapes-');
    file = path.join(dir, 'campaign.yaml');
    fs.writeFileSync(
      file,
      [
        'model:\n  name: democnn\n  numClasses: 4',
        'targets:',
        '  - fraction: 0.5\n    band: "-2%..+1%"\n    label: t50',
        '  - fraction: 0.7\n    band: "-5%..+1%"\n    label: t70',
        'search:\n  agent: solver\n  maxIterations: 10\n  extendedSearch: 0',
        `dataset:\n  root: ${dataset}\n  calibrationBatches: 1\n  calibrationBatchSize: 16`,
        'finetune:\n  epochs: 1\n  batchSize: 16\n  lr: 0.01\n  maxSteps: 2\n  checkpointEverySteps: 1\n  workers: 0\n  seed: 0',
        '',
      ].join('\n'),
    );
    const started = await cli('campaign', 'start', '-c', file, '--id', id, '--wait');
    if (started.code !== 0) throw new Error(`start failed: ${started.out}\n${started.err}`);
    first = await campaigns.result(id);
    firstLogs = await campaigns.log(id);
  }, 900_000);
  afterAll(async () => {
    await env?.stop();
    await engines.engine.close();
  });

  test('the first revision converged both targets with at least two attempts on t50 (the known case)', () => {
    expect(row(first, 't50').status).toBe('converged');
    expect(row(first, 't70').status).toBe('converged');
    expect(firstLogs.find((l) => l.targetLabel === 't50')!.attempts.length).toBeGreaterThanOrEqual(2);
    expect(row(first, 't50').finetune?.steps).toBe(2);
  });

  test('reset refuses, in one line naming the flag, what it cannot do; nothing starts', async () => {
    const n = firstLogs.find((l) => l.targetLabel === 't50')!.attempts.length;
    const beyond = await cli('campaign', 'reset', id, '--to-attempt', String(n + 5), '--target', 't50');
    expect(beyond.code).toBe(2);
    expect(beyond.err.trim()).toBe(
      `agentic-pruner: --to-attempt: t50 has ${n} attempts; reset to one of 1..${n}`,
    );
    const unknown = await cli('campaign', 'reset', id, '--to-attempt', '1', '--target', 't99');
    expect(unknown.code).toBe(2);
    expect(unknown.err.trim()).toMatch(/^agentic-pruner: --target: .*"t99"/);
    const bySearch = await cli('campaign', 'reset', `${id}--t50`, '--to-attempt', '2');
    expect(bySearch.code).toBe(2);
    expect(bySearch.err.trim()).toBe(
      `agentic-pruner: reset takes the campaign id, not a search id: agentic-pruner campaign reset ${id} --to-attempt 2 --target t50`,
    );
    const retryBySearch = await cli('campaign', 'retry', `${id}--t50`);
    expect(retryBySearch.code).toBe(2);
    expect(retryBySearch.err.trim()).toBe(
      `agentic-pruner: retry takes the campaign id, not a search id (${id}--t50)`,
    );
    // Still revision 1: the refusals started nothing.
    await expect(campaigns.describe(`${id}~r2`)).rejects.toThrow(/does not exist/);
  });

  test('reset t50 to attempt 2: revision 2 re-runs its search from attempt 2, then fine-tunes and evaluates it', async () => {
    const before = firstLogs.find((l) => l.targetLabel === 't50')!;
    const reset = await cli('campaign', 'reset', id, '--to-attempt', '2', '--target', 't50', '--wait');
    const progress = progressOf(reset.err);
    expect(reset.code).toBe(0);
    expect(reset.out).toContain(`${id}: revision 2 started as ${rev2}: reset t50 to attempt 2\n`);
    expect(reset.out).toContain(
      '  runs again: targets.0 (t50): search re-run from attempt 2, then fine-tune, evaluation, deployment\n',
    );
    expect(reset.out).toContain(`follow it: agentic-pruner campaign watch ${id}\n`);
    saveHistoryFixture('campaign-revision-reset', rev2);

    // What revision 2 ran: no profile (reused), no dense evaluation (reused), one search: t50's.
    const ran = await scheduled(env, rev2);
    expect(ran.children).toEqual([`${rev2}--t50`]);
    expect(ran.activities).not.toContain('profileModel');
    expect(ran.activities.filter((a) => a === 'evaluateModel')).toHaveLength(1);
    expect(ran.activities.filter((a) => a === 'fineTune')).toHaveLength(1);

    const second = await campaigns.result(id);
    expect(second.campaignId).toBe(rev2);
    const t50 = row(second, 't50');
    expect(t50.searchWorkflowId).toBe(`${rev2}--t50`);
    expect(t50.status).toBe('converged');
    expect(t50.finetune?.steps).toBe(2);
    expect(t50.finetune?.model.key.startsWith(`campaigns/${rev2}/t50/`)).toBe(true);
    expect(t50.accuracy?.count).toBe(16); // 4 classes x 4 val images
    // t70 stands as revision 1 left it; the dense profile and accuracy too.
    expect(row(second, 't70')).toEqual(row(first, 't70'));
    expect(second.profile).toEqual(first.profile);
    expect(second.denseAccuracy).toEqual(first.denseAccuracy);
    // Revision 1's own objects are untouched: its fine-tuned model still reads back with its sha256.
    expect(row(first, 't50').finetune!.model.key.startsWith(`campaigns/${id}/t50/`)).toBe(true);
    await expect(store.getBytes(row(first, 't50').finetune!.model)).resolves.toBeDefined();

    // The log shows the re-run's attempts: attempt 1 carried from revision 1, 2.. measured by revision 2.
    const newSearch = await env.client.workflow.getHandle(`${rev2}--t50`).fetchHistory();
    const measured = attemptsFromHistory(newSearch.events ?? []).attempts;
    const logs = JSON.parse((await cli('campaign', 'log', id, '--json')).out) as RebuiltLog[];
    expect(logs.map((l) => l.targetLabel)).toEqual(['t50', 't70']);
    const log50 = logs[0]!;
    expect(log50.workflowId).toBe(`${rev2}--t50`);
    expect(log50.attempts).toHaveLength(t50.attemptCount);
    expect(log50.attempts[0]!.wallMs).toBe(before.attempts[0]!.wallMs);
    expect(log50.attempts[0]!.model?.key.startsWith(`campaigns/${id}/t50/`)).toBe(true);
    for (const a of log50.attempts.slice(1))
      expect(a.model?.key.startsWith(`campaigns/${rev2}/t50/`)).toBe(true);
    expect(log50.attempts.slice(1).map((a: Attempt) => a.wallMs)).toEqual(
      measured.filter((a) => a.index >= 2).map((a) => a.wallMs),
    );
    expect(log50.chosenIndex).toBe(t50.chosen!.index);
    expect(log50.revision).toEqual({
      number: 2,
      search: 'rerun',
      reset: { fromAttempt: 2, replacedSearchId: `${id}--t50`, replacedAttempts: before.attempts.length },
    });
    expect(logs[1]!.revision).toEqual({ number: 2, search: 'reused' });
    expect(logs[1]!.workflowId).toBe(`${id}--t70`);
    // What --wait said meanwhile: t50's attempts once each, t70's reused search counted and converged.
    expectEveryAttemptOnce(progress, 't50', log50.attempts);
    expectEveryAttemptOnce(progress, 't70', logs[1]!.attempts);
    expect(progress).toContain(`t70: ${logs[1]!.attempts.length} attempts so far`);
    expect(progress).toContain('t70: search converged');
    expect(progress.at(-1)).toBe('stage: done');

    const text = (await cli('campaign', 'log', id)).out;
    expect(text).toContain(
      `revision 2: re-run from attempt 2; attempts 2..${before.attempts.length} of ${id}--t50 replaced (kept in history: campaign log ${id}--t50)\n`,
    );
    expect(text).toContain(`revision 2: search reused from ${id}--t70\n`);
    expect(text).toContain(`t50: democnn -> ${formatMacs(t50.targetMacs)} MACs`);
    // extendedSearch 0: the one in-band candidate, scored zero-shot.
    expect(text).toContain(
      `(converged, ${t50.attemptCount} attempts, 1 scored zero-shot, kept #${t50.chosen!.index})`,
    );

    // export: the re-run's attempts for t50 (their wall times), t70's as before.
    const csv = (await cli('campaign', 'export', id, '--format', 'csv')).out.trim().split('\n');
    const head = csv[0]!.split(',');
    const col = (name: string) => head.indexOf(name);
    const rows50 = csv.slice(1).filter((l) => l.startsWith('t50,'));
    expect(rows50.map((l) => Number(l.split(',')[col('wallMs')]))).toEqual(
      log50.attempts.map((a) => a.wallMs),
    );
    expect(
      rows50
        .filter((l) => l.split(',')[col('kept')] === 'true')
        .map((l) => Number(l.split(',')[col('index')])),
    ).toEqual([t50.chosen!.index]);
    expect(csv.slice(1).filter((l) => l.startsWith('t70,'))).toHaveLength(row(first, 't70').attemptCount);
  }, 900_000);

  test('status and show: revision 2, its reason, and its figures', async () => {
    const second = await campaigns.result(id);
    const t50 = row(second, 't50');
    const status = await cli('campaign', 'status', id);
    expect(status.code).toBe(0);
    expect(status.out).toBe(
      `${id}: COMPLETED, stage done\nrevision 2 (${rev2}): reset t50 to attempt 2; continues ${id}, kept as history\n  t50: converged\n  t70: converged\n`,
    );
    const show = await cli('campaign', 'show', id);
    expect(show.code).toBe(0);
    expect(show.out).toContain(
      `revision 2 (${rev2}): reset t50 to attempt 2; continues ${id}, kept as history\n`,
    );
    // One row per target, each figure from revision 2's result: t50 re-run, t70 as revision 1 left it.
    for (const t of [t50, row(second, 't70')]) {
      const chosen = t.chosen!;
      expect(show.out).toMatch(
        new RegExp(
          `^${t.targetLabel}\\s+${formatMacs(t.targetMacs)}\\s+converged\\s+${t.attemptCount}\\s+${t.attemptsToConverge}\\s+#${chosen.index}\\s+` +
            `${formatMacs(chosen.macs)}\\s+${formatPercent(chosen.deviation).replace('+', '\\+')}\\s+${formatMacs(chosen.params)}\\s+` +
            `${percent(t.accuracy!.top1)}\\s+-$`,
          'm',
        ),
      );
    }
    expect(show.out).toContain(
      `dense: ${formatMacs(second.denseMacs)} MACs, ${formatMacs(second.denseParams)} params, top-1 ${(second.denseAccuracy!.top1 * 100).toFixed(1)}%\n`,
    );
  });

  test('report: revision 2 is rendered and stored under its own id, with the re-run target', async () => {
    const out = tempDir('ap-rev-report-');
    const r = await withEnv(storeEnv, () => cli('report', id, '--out', out));
    expect(r.code).toBe(0);
    expect(fs.existsSync(path.join(out, `${rev2}.html`))).toBe(true);
    const second = await campaigns.result(id);
    const data = JSON.parse(
      Buffer.from(await store.getBytes(reportKey(rev2, 'report.json'))).toString('utf8'),
    ) as ReportData;
    expect(data.campaignId).toBe(rev2);
    const t50 = data.targets.find((t) => t.label === 't50')!;
    expect(t50.chosenIndex).toBe(row(second, 't50').chosen!.index);
    expect(t50.attempts).toHaveLength(row(second, 't50').attemptCount);
  });

  test('list: one row per campaign (its newest revision) and one per target', async () => {
    const query = `ApCampaignId="${id}" OR ApCampaignId="${rev2}"`;
    let rows: { workflowId: string; type: string; revision: number; runs: number }[] = [];
    for (let i = 0; i < 60; i++) {
      rows = JSON.parse((await cli('campaign', 'list', '--query', query, '--json')).out) as typeof rows;
      if (rows.some((r) => r.type === 'campaign' && r.revision === 2) && rows.length >= 3) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    expect(rows.filter((r) => r.type === 'campaign')).toEqual([
      expect.objectContaining({ workflowId: id, revision: 2, runs: 1 }),
    ]);
    expect(
      rows
        .filter((r) => r.type === 'macTargetSearch')
        .map((r) => r.workflowId)
        .sort(),
    ).toEqual([`${id}--t70`, `${rev2}--t50`].sort());
    const text = (await cli('campaign', 'list', '--query', query)).out;
    expect(text.split('\n').filter((l) => l.startsWith(`${id} `))).toHaveLength(1);
  });

  test('log of a search id shows that search; of an earlier one, the replaced attempts', async () => {
    const old = await cli('campaign', 'log', `${id}--t50`);
    expect(old.code).toBe(0);
    const before = firstLogs.find((l) => l.targetLabel === 't50')!;
    expect(old.out).toContain(`t50: democnn -> ${formatMacs(before.targetMacs)} MACs`);
    expect(old.out).toContain(
      `(converged, ${before.attempts.length} attempts, 1 scored zero-shot, kept #${before.chosenIndex})`,
    );
    const pinned = JSON.parse((await cli('campaign', 'log', `${id}~r1`, '--json')).out) as RebuiltLog[];
    expect(pinned.map((l) => l.workflowId)).toEqual([`${id}--t50`, `${id}--t70`]);
  });

  test('retry with a changed band re-runs only that target, reusing the profile and the other target', async () => {
    const same = await cli('campaign', 'retry', id);
    expect(same.code).toBe(2);
    expect(same.err).toContain('nothing changed and every step finished');

    const second = await campaigns.result(id);
    const r = await cli('campaign', 'retry', id, '--set', 'targets.1.band=-3%..+1%', '--wait');
    // What --wait said meanwhile: t50's reused search counted, t70's re-run attempts once each.
    const progress = progressOf(r.err);
    const logs = JSON.parse((await cli('campaign', 'log', id, '--json')).out) as RebuiltLog[];
    expect(progress).toContain(`t50: ${logs[0]!.attempts.length} attempts so far`);
    expectEveryAttemptOnce(progress, 't50', logs[0]!.attempts);
    expectEveryAttemptOnce(progress, 't70', logs[1]!.attempts);
    expect(progress.at(-1)).toBe('stage: done');
    expect(r.code).toBe(0);
    expect(r.out).toContain(
      `${id}: revision 3 started as ${rev3}: retry: targets.1 (t70): band changed: search re-run\n`,
    );
    const ran = await scheduled(env, rev3);
    expect(ran.children).toEqual([`${rev3}--t70`]);
    expect(ran.activities).not.toContain('profileModel');
    // One evaluation: t70's pruned model (the dense accuracy is reused).
    expect(ran.activities.filter((a) => a === 'evaluateModel')).toHaveLength(1);
    const third = await campaigns.result(id);
    expect(third.campaignId).toBe(rev3);
    expect(row(third, 't50')).toEqual(row(second, 't50'));
    expect(row(third, 't70').band).toEqual({ lo: -0.03, hi: 0.01 });
    expect(row(third, 't70').finetune?.steps).toBe(2);
    expect(row(third, 't70').finetune?.model.key.startsWith(`campaigns/${rev3}/t70/`)).toBe(true);
    expect(third.profile).toEqual(first.profile);
    const status = await cli('campaign', 'status', id);
    expect(status.out).toContain(
      `revision 3 (${rev3}): retry: targets.1 (t70): band changed: search re-run; continues ${rev2}, kept as history\n`,
    );
  }, 900_000);

  test('pre-flight: an absolute target above the dense model is refused naming targets.0.macs; nothing starts', async () => {
    const above = path.join(dir, 'above.yaml');
    fs.writeFileSync(above, 'model:\n  name: democnn\n  numClasses: 4\ntargets:\n  - macs: 10G\n');
    const refusedId = testId('above');
    const r = await cli('campaign', 'start', '-c', above, '--id', refusedId);
    expect(r.code).toBe(2);
    expect(r.err).toContain(
      `targets.0.macs: 10000000000 is not below the dense model's ${first.denseMacs} MACs`,
    );
    expect(r.out).toBe('');
    await expect(campaigns.describe(refusedId)).rejects.toThrow(/does not exist/);
    // --no-target-check leaves the check to the campaign: it starts (cancelled here at once).
    const unchecked = testId('unchecked');
    const started = await cli('campaign', 'start', '-c', above, '--id', unchecked, '--no-target-check');
    expect(started.code).toBe(0);
    expect(started.out).toBe(`${unchecked}\n`);
    await campaigns.cancel(unchecked).catch(() => undefined); // cleanup only: it may have failed already
  }, 120_000);
});
