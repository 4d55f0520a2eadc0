import { createAgents } from '../../src/agents';
import { CampaignClient } from '../../src/client/campaign-client';
import { attemptsTable, finalistsLine, logHeading, percent, scoringPlanLine } from '../../src/client/format';
import { cli } from '../client/run-cli';
import { countSplitImages } from '../../src/client/preflight';
import { buildReportData } from '../../src/client/report-file';
import { defaultPayloadConverter } from '@temporalio/common';
import type { ScoreCandidateInput } from '../../src/activities/scoring-activities';
import type { Attempt } from '../../src/core/attempt';
import type { CampaignConfigInput } from '../../src/core/campaign-config';
import * as path from 'node:path';
import { attemptRole } from '../../src/core/search-state';
import { baseStrategy } from '../../src/core/strategy';
import type { ArtifactStore } from '../../src/storage';
import type { ArtifactRef, ArtifactSource, PutOptions } from '../../src/storage/artifact-store';
import { keptScoreText, scoringCostText } from '../../src/report/tables';
import { renderReport } from '../../src/report';
import { esc } from '../../src/report/format';
import { searchWorkflowId, strategyLogQuery } from '../../src/workflows/definitions';
import {
  denseDemocnn,
  realEngines,
  saveHistoryFixture,
  startTestWorkers,
  tempDir,
  testId,
  testStore,
  type TestWorkers,
} from '../support/test-env';

/**
 * The real S3 store, except that the third candidate model read back (to be scored) of a campaign whose id
 * starts with `prefix` has its weights
 * overwritten in the store just before: the manifest its trial returned then names bytes that are no longer
 * there (a corrupt artifact), and downloading it fails its sha256 check on every retry — a real failure of
 * the scoring activity, of one known candidate, on every run.
 */
class CorruptThirdCandidate implements ArtifactStore {
  readonly read: string[] = [];
  readonly corrupted: string[] = [];
  constructor(
    private readonly inner: ArtifactStore,
    private readonly prefix: string,
  ) {}

  put(key: string, source: ArtifactSource, opts?: PutOptions): Promise<ArtifactRef> {
    return this.inner.put(key, source, opts);
  }
  async get(keyOrRef: string | ArtifactRef, destFile: string): Promise<ArtifactRef> {
    const key = typeof keyOrRef === 'string' ? keyOrRef : keyOrRef.key;
    const folder = key.match(/^(.*\/candidates\/attempt-\d+)\/manifest\.json$/)?.[1];
    if (folder?.startsWith(`campaigns/${this.prefix}`) && !this.read.includes(folder)) {
      this.read.push(folder);
      if (this.read.length === 3) {
        await this.inner.put(`${folder}/state_dict.pt`, { bytes: Buffer.from('not the weights') });
        this.corrupted.push(folder);
      }
    }
    return this.inner.get(keyOrRef, destFile);
  }
  getBytes(keyOrRef: string | ArtifactRef) {
    return this.inner.getBytes(keyOrRef);
  }
  exists(key: string) {
    return this.inner.exists(key);
  }
  list(prefix: string) {
    return this.inner.list(prefix);
  }
  delete(key: string) {
    return this.inner.delete(key);
  }
  listIncompleteUploads(prefix: string) {
    return this.inner.listIncompleteUploads(prefix);
  }
  discardIncompleteUploads(prefix: string) {
    return this.inner.discardIncompleteUploads(prefix);
  }
  uriFor(key: string) {
    return this.inner.uriFor(key);
  }
  keyOf(uri: string) {
    return this.inner.keyOf(uri);
  }
}

// A scored search end to end: democnn trained a few steps on a small generated dataset, at half its MACs,
// 4 candidates scored zero-shot on a train/ slice, with the per-stage sensitivity measured first.
describe('a scored search on the real dev server, versitygw and engine', () => {
  let env: TestWorkers;
  let campaigns: CampaignClient;
  const engines = realEngines();
  // Only the first test's campaign (`testId('scored')`) meets the corrupt candidate, whatever runs first.
  const store = new CorruptThirdCandidate(testStore(), 'test-scored-');
  let config: CampaignConfigInput;

  beforeAll(async () => {
    // A dense model that learned something (50 steps), so that scores differ between candidates.
    const dense = await denseDemocnn(engines.oneShotEngine, 50);
    config = {
      model: { name: 'democnn', numClasses: 10, weights: dense.weights },
      targets: [{ fraction: 0.5, band: '-5%..+1%', label: 'half' }],
      search: {
        agent: 'solver',
        maxIterations: 30,
        candidates: 4,
        scoring: 'zero-shot',
        scoreImages: 64,
        sensitivity: { ratios: [0.3, 0.6] },
      },
      dataset: { root: dense.dataset, calibrationBatches: 1, calibrationBatchSize: 16 },
      deployment: { enabled: false },
    };
    env = await startTestWorkers({ store, ...engines, agents: createAgents({ store }), workDir: tempDir() });
    campaigns = new CampaignClient(env.client);
  }, 5 * 60_000);
  afterAll(async () => {
    await env?.stop();
    await engines.engine.close();
  });

  /**
   * A campaign of 2 recovery-scored candidates whose length the campaign planned (`share` or `epochs`): each
   * scored after `each` steps on 64 held-out images; the plan's note first in the search's own log and in the
   * log rebuilt from history (what `log` prints as `scoring plan: ...`); the heading counts the steps.
   */
  const expectRecoveryPlanned = async (campaignId: string, each: number, planNote: string) => {
    const [log] = await campaigns.log(campaignId);
    const scored = log!.attempts.filter((a) => attemptRole(a) === 'candidate');
    expect(scored).toHaveLength(2);
    for (const a of scored) expect(a.score).toMatchObject({ mode: 'recovery', steps: each, count: 64 });
    const own = await env.client.workflow
      .getHandle(searchWorkflowId(campaignId, 'half'))
      .query(strategyLogQuery);
    expect(own.events[0]).toEqual({ afterAttempt: 0, note: planNote });
    expect(log!.changes).toContainEqual({ afterAttempt: 0, note: planNote });
    expect(logHeading(log!)).toContain(`2 scored with ${2 * each} fine-tune steps`);
  };

  /** A campaign refused when it starts: its result names the field, and no search (nothing pruned) began. */
  const expectRefusedAtStart = async (input: CampaignConfigInput, id: string, message: string) => {
    const { campaignId } = await campaigns.start(input, { campaignId: testId(id) });
    await expect(campaigns.result(campaignId)).rejects.toThrow(message);
    const history = await env.client.workflow.getHandle(campaignId).fetchHistory();
    const started = (history.events ?? []).filter(
      (e) => e.startChildWorkflowExecutionInitiatedEventAttributes,
    );
    expect(started).toHaveLength(0);
  };

  /** Candidates best first by their first score: top-1, then the lower loss, then the earlier attempt. */
  const byFirstScore = (as: readonly Attempt[]) =>
    [...as].sort(
      (a, b) => b.score!.top1 - a.score!.top1 || a.score!.loss - b.score!.loss || a.index - b.index,
    );
  /** The finalist the best second score keeps (the same order). */
  const bestSecondScore = (as: readonly Attempt[]) =>
    [...as].sort(
      (a, b) => b.rescore!.top1 - a.rescore!.top1 || a.rescore!.loss - b.rescore!.loss || a.index - b.index,
    )[0]!;
  /**
   * A two-stage campaign of 3 candidates, the best 2 scored again with 12 recovery steps, before a 100-step
   * final fine-tune (4 epochs of 400 images at 16 a step), run to its end: its target, logs and candidates.
   */
  async function twoStageCampaign(search: CampaignConfigInput['search'], id: string) {
    const { campaignId } = await campaigns.start(
      {
        ...config,
        search: {
          agent: 'solver',
          maxIterations: 30,
          candidates: 3,
          scoreImages: 64,
          sensitivity: false,
          ...search,
        },
        finetune: { epochs: 4, batchSize: 16, lr: 0.002, optimizer: 'adamw', kdAlpha: 0.5 },
      },
      { campaignId: testId(id) },
    );
    const t = (await campaigns.result(campaignId)).targets[0]!;
    expect(t.status).toBe('converged');
    const finalSteps = 4 * Math.floor(400 / 16);
    expect(t.finetune?.steps).toBe(finalSteps);
    const [log] = await campaigns.log(campaignId);
    const searchId = searchWorkflowId(campaignId, 'half');
    const own = await env.client.workflow.getHandle(searchId).query(strategyLogQuery);
    const candidates = log!.attempts.filter((a) => attemptRole(a) === 'candidate');
    expect(candidates).toHaveLength(3);
    return { campaignId, searchId, t, finalSteps, log: log!, own, candidates };
  }

  test(
    'every in-band candidate is scored, the best score is kept, a candidate whose scoring fails is recorded unscored',
    async () => {
      const { campaignId } = await campaigns.start(config, { campaignId: testId('scored') });
      const result = await campaigns.result(campaignId);
      const t = result.targets[0]!;
      expect(t.status).toBe('converged');

      // The log rebuilt from history alone, and the search's own record (its query), agree attempt by attempt.
      const [log] = await campaigns.log(campaignId);
      const searchId = searchWorkflowId(campaignId, 'half');
      const own = await env.client.workflow.getHandle(searchId).query(strategyLogQuery);
      const scoreOf = (a: Attempt) => ({ index: a.index, score: a.score, scoreError: a.scoreError });
      expect(log!.attempts.map(scoreOf)).toEqual(own.attempts.map(scoreOf));

      // 4 candidates in band; each one was scored or recorded why not; scaling steps and failures never were.
      const candidates = log!.attempts.filter((a) => attemptRole(a) === 'candidate');
      expect(candidates).toHaveLength(4);
      for (const a of log!.attempts)
        if (attemptRole(a) !== 'candidate')
          expect(scoreOf(a)).toEqual({ index: a.index, score: undefined, scoreError: undefined });
      const failed = candidates.filter((a) => a.scoreError !== undefined);
      const scored = candidates.filter((a) => a.score !== undefined);
      // The third candidate's weights were corrupt: it alone is unscored, with why; the search went on.
      expect(failed.map((a) => a.index)).toEqual([candidates[2]!.index]);
      expect(store.corrupted).toEqual([
        expect.stringMatching(new RegExp(`/attempt-${candidates[2]!.index}$`)),
      ]);
      expect(failed[0]!.scoreError).toMatch(/sha256 mismatch/);
      expect(failed[0]!.score).toBeUndefined();
      expect(scored).toHaveLength(3);
      for (const a of scored) {
        expect(a.score).toMatchObject({ mode: 'zero-shot', count: 64, steps: 0 });
        expect(a.score!.top1).toBeGreaterThanOrEqual(0);
        expect(a.score!.top1).toBeLessThanOrEqual(1);
        expect(Number.isFinite(a.score!.loss)).toBe(true);
      }

      // The kept attempt has the best score: the highest top-1, then the lower loss.
      const best = [...scored].sort(
        (a, b) => b.score!.top1 - a.score!.top1 || a.score!.loss - b.score!.loss,
      )[0]!;
      expect(t.chosen?.index).toBe(best.index);
      expect(t.chosen?.score).toEqual(best.score);
      expect(log!.chosenIndex).toBe(best.index);

      // The log row of the kept attempt shows that score as the CLI formats percentages.
      const row = attemptsTable(log!.attempts, log!.chosenIndex)
        .split('\n')
        .find((l) => new RegExp(`^${best.index}\\s+kept\\s+candidate\\s`).test(l));
      expect(row).toContain(`${percent(best.score!.top1)} zero-shot`);

      // The sensitivity table was measured once, before the first trial, and its stage allocation was a shape.
      expect(own.events[0]!.note).toMatch(
        /^sensitivity measured: \d+ stages, baseline top-1 \d+\.\d% on the scoring slice$/,
      );
      // The stage allocation is the first shape after the base family's landing. Its proposal is screened by
      // the dry run, all its ratios scaled by one factor, and its one trial lands in band: never refused,
      // scored, at exactly the MACs the dry run predicted.
      const landed = own.events.find((e) => /^candidate: stage allocation from sensitivity/.test(e.note));
      expect(landed).toBeDefined();
      const allocation = log!.attempts.filter(
        (a) => a.index > candidates[0]!.index && a.index <= landed!.afterAttempt,
      );
      expect(allocation).toHaveLength(1);
      expect(allocation.every((a) => a.error === undefined && a.strategy.stageRatios !== undefined)).toBe(
        true,
      );
      expect(allocation.at(-1)).toMatchObject({ index: candidates[1]!.index, inBand: true });
      // Every candidate shape after the first landing was screened into the band in its one trial; the
      // rebuilt log carries the same screen record as the search's own, and the log row says what it did.
      for (const c of candidates.slice(1)) {
        const mine = own.attempts.find((a) => a.index === c.index)!;
        expect(c.screen).toEqual(mine.screen);
        expect(c.strategy).toEqual(mine.strategy);
        expect(c.screen).toMatchObject({ landed: true, predictedMacs: c.macs });
        expect(c.screen!.shapes).toBeGreaterThanOrEqual(96);
        expect(log!.attempts.find((a) => a.index === c.index - 1)?.inBand).toBe(true);
        if (c.scoreError !== undefined) continue; // its row says why scoring failed instead
        const line = attemptsTable(log!.attempts, log!.chosenIndex)
          .split('\n')
          .find((l) => new RegExp(`^${c.index}\\s`).test(l));
        // The shape's proposal has the config's base rounding (the default, 8; the first candidate may have
        // landed at another); where the screen landed only at roundTo 1, the line says so.
        const baseRoundTo = baseStrategy(0).roundTo;
        expect(c.screen!.proposedRoundTo).toBe(baseRoundTo);
        const rounding =
          c.strategy.roundTo === baseRoundTo ? '' : `, roundTo ${baseRoundTo} -> ${c.strategy.roundTo}`;
        expect(line).toContain(
          `screened ${c.screen!.shapes} shapes by dry run: ratio ${c.screen!.proposedRatio.toFixed(3)} -> ${c.strategy.pruningRatio.toFixed(3)}${rounding};`,
        );
      }
      // The shapes after the allocation: isomorphic off, then per-layer uniform L1 (the classic baseline), each
      // its own candidate, in band in its one screened trial.
      expect(candidates[2]!.strategy).toMatchObject({ isomorphic: false, importance: 'l2' });
      expect(candidates[3]!.strategy).toMatchObject({
        importance: 'l1',
        globalPruning: false,
        isomorphic: false,
      });
      const perLayerNote = own.events.find((e) => e.note.startsWith('candidate: l1 per-layer uniform'));
      expect(perLayerNote).toMatchObject({
        afterAttempt: candidates[3]!.index,
        note: expect.stringMatching(/^candidate: l1 per-layer uniform in band \([-+]?\d+\.\d+%\)$/) as string,
      });
      // The log tells the shapes apart in its shape column (after round, before MACs): the base family's
      // landing is global isomorphic (-), then the allocation's stage ratios, isomorphic off, per-layer L1.
      const shapeCell = (index: number) =>
        new RegExp(`^${index}\\s.*?\\s(?:l1|l2)\\s+\\d+\\s{2,}(.+?)\\s{2,}\\d+(?:\\.\\d+)? [KM]\\s`).exec(
          attemptsTable(log!.attempts, log!.chosenIndex)
            .split('\n')
            .find((l) => new RegExp(`^${index}\\s`).test(l))!,
        )?.[1];
      expect(shapeCell(candidates[0]!.index)).toBe('-');
      expect(shapeCell(candidates[1]!.index)).toMatch(/^[\w.]+=\d\.\d{3}/);
      expect(shapeCell(candidates[2]!.index)).toBe('non-isomorphic');
      expect(shapeCell(candidates[3]!.index)).toBe('local; non-isomorphic');
      // The first candidate (the base family's convergence) was not a scaling round: not screened.
      expect(candidates[0]!.screen).toBeUndefined();
      expect(allocation.at(-1)!.score).toMatchObject({ mode: 'zero-shot', count: 64 });
      for (const a of allocation)
        expect(
          Math.max(a.strategy.pruningRatio, ...Object.values(a.strategy.stageRatios!)),
        ).toBeLessThanOrEqual(0.95);

      saveHistoryFixture('mac-target-search-screened', searchId);
      saveHistoryFixture('mac-target-search-per-layer-shape', searchId);
    },
    15 * 60_000,
  );

  test(
    'search.rankBy loss: the kept candidate is the lowest score loss, and the log and result say so',
    async () => {
      // The test sees whether the search ranked by loss only where the two figures disagree (top-1 would keep
      // another candidate). They do on most held-out slices but not on all, and which ones depends on the CPU
      // (the engine's floats differ between CPU models), so the slice's size is varied until they disagree;
      // should they agree on every slice tried, the test says so instead of passing without looking.
      const tried: string[] = [];
      let found: string | undefined;
      let log: Awaited<ReturnType<CampaignClient['log']>>[number] | undefined;
      let best: NonNullable<typeof log>['attempts'][number] | undefined;
      for (const scoreImages of [64, 48, 80, 96]) {
        const byLoss: CampaignConfigInput = {
          ...config,
          search: {
            agent: 'solver',
            maxIterations: 30,
            candidates: 5,
            scoreImages,
            rankBy: 'loss',
            // One stage, no table: what this test judges is the ranking by loss.
            scoring: 'zero-shot',
            sensitivity: false,
          },
        };
        const { campaignId } = await campaigns.start(byLoss, {
          campaignId: testId(`rank-loss-${scoreImages}`),
        });
        const result = await campaigns.result(campaignId);
        const t = result.targets[0]!;
        expect(t.status).toBe('converged');
        expect(t.rankBy).toBe('loss');
        [log] = await campaigns.log(campaignId);
        const scored = log!.attempts.filter((a) => attemptRole(a) === 'candidate' && a.score !== undefined);
        expect(scored.length).toBeGreaterThanOrEqual(2);
        // The lowest loss, then the higher top-1, then the earlier attempt.
        best = [...scored].sort(
          (a, b) => a.score!.loss - b.score!.loss || b.score!.top1 - a.score!.top1 || a.index - b.index,
        )[0]!;
        expect(t.chosen?.index).toBe(best.index);
        const byTop1 = [...scored].sort(
          (a, b) => b.score!.top1 - a.score!.top1 || a.score!.loss - b.score!.loss || a.index - b.index,
        )[0]!;
        tried.push(`scoreImages ${scoreImages}: loss keeps #${best.index}, top-1 #${byTop1.index}`);
        if (byTop1.index !== best.index) {
          found = campaignId;
          break;
        }
      }
      expect({ figuresDisagreeOnSomeSlice: found !== undefined, tried }).toMatchObject({
        figuresDisagreeOnSomeSlice: true,
      });
      const campaignId = found!;
      best = best!;
      expect(log!.chosenIndex).toBe(best.index);
      const own = await env.client.workflow
        .getHandle(searchWorkflowId(campaignId, 'half'))
        .query(strategyLogQuery);
      expect(own).toMatchObject({ chosenIndex: best.index, rankBy: 'loss' });
      expect(logHeading(log!)).toMatch(
        new RegExp(
          `\\(converged, ${log!.attempts.length} attempts, ${log!.attempts.filter((a) => a.inBand && a.score).length} scored zero-shot, kept #${best.index} \\(the lowest score loss\\)\\)$`,
        ),
      );
    },
    15 * 60_000,
  );

  test(
    "search.recovery.share: each candidate's recovery is that share of the final fine-tune's steps over the candidates, and the log and report say so",
    async () => {
      const byShare: CampaignConfigInput = {
        ...config,
        search: {
          agent: 'solver',
          maxIterations: 30,
          candidates: 2,
          scoring: 'recovery',
          scoreImages: 64,
          sensitivity: false,
          recovery: { share: 0.25, lr: 0.002 },
        },
        finetune: { epochs: 2, batchSize: 16, lr: 0.002, optimizer: 'adamw', kdAlpha: 0.5 },
      };
      const { campaignId } = await campaigns.start(byShare, { campaignId: testId('share') });
      const result = await campaigns.result(campaignId);
      const t = result.targets[0]!;
      expect(t.status).toBe('converged');

      // The final fine-tune: 2 epochs of the 400 train/ images (the remainder of a batch dropped) at 16 a step.
      const images = countSplitImages(path.join(config.dataset!.root, 'train'));
      expect(images).toBe(400);
      const finalSteps = 2 * Math.floor(images / 16);
      expect(t.finetune?.steps).toBe(finalSteps);
      // 25 % of its 50 steps over 2 candidates: 6 steps each (12, 24 % of the fine-tune: within the share).
      const each = Math.floor((0.25 * finalSteps) / 2);
      expect(each).toBe(6);

      // The log says where the length came from, and what that is of an epoch of train/ at the recovery's batch
      // size (32 by default): 400 images, 12 steps.
      const epochSteps = Math.floor(images / 32);
      expect(epochSteps).toBe(12);
      await expectRecoveryPlanned(
        campaignId,
        each,
        `recovery scoring: 25% of the final fine-tune's ${finalSteps} steps over 2 candidates, ${each} steps each ` +
          `(0.5 epoch: an epoch of the 400 train/ images is 12 steps at batch 32)`,
      );
      // The report sets the scoring's steps against the fine-tune that really ran.
      const report = await buildReportData(campaigns, store, campaignId);
      expect(scoringCostText(report.targets[0]!)).toBe(
        `${2 * each} fine-tune steps for 2 candidates, 24.0% of the final fine-tune's ${finalSteps} steps`,
      );

      saveHistoryFixture('campaign-recovery-share', campaignId);
      saveHistoryFixture('mac-target-search-recovery-share', searchWorkflowId(campaignId, 'half'));
    },
    15 * 60_000,
  );

  test(
    'search.recovery.rescore: every candidate scored short, the best two again longer, the best second score kept; the log, export and report say so',
    async () => {
      const { campaignId, searchId, t, finalSteps, log, own, candidates } = await twoStageCampaign(
        { scoring: 'recovery', recovery: { share: 0.5, lr: 0.002, rescore: { top: 2, steps: 12 } } },
        'rescore',
      );
      // Half of the 100-step fine-tune is the budget. The two finalists' 2 x 12 come first; the other 26 over
      // 3 candidates: 8 steps each.
      const each = Math.floor((0.5 * finalSteps - 2 * 12) / 3);
      expect(each).toBe(8);
      for (const a of candidates) expect(a.score).toMatchObject({ mode: 'recovery', steps: each, count: 64 });

      // The finalists: the two best first scores (top-1, then the lower loss, then the earlier attempt).
      const byFirst = byFirstScore(candidates);
      const finalists = byFirst.slice(0, 2);
      for (const a of finalists) expect(a.rescore).toMatchObject({ mode: 'recovery', steps: 12, count: 64 });
      expect(byFirst[2]!.rescore).toBeUndefined();
      // Real scores of the engine, in range (which finalist the longer recovery favours is the data's to say).
      for (const a of finalists) {
        expect(a.rescore!.top1).toBeGreaterThanOrEqual(0);
        expect(a.rescore!.top1).toBeLessThanOrEqual(1);
        expect(Number.isFinite(a.rescore!.loss)).toBe(true);
      }
      // The kept one: the best second score, whatever the first scores said.
      const kept = bestSecondScore(finalists);
      expect(t.chosen?.index).toBe(kept.index);
      expect(t.chosen?.rescore).toEqual(kept.rescore);
      expect(log.chosenIndex).toBe(kept.index);
      expect(own.chosenIndex).toBe(kept.index);

      // Both records name the finalists, and watch's line under the table shows each one's second score.
      const chosen = { indices: finalists.map((a) => a.index), steps: 12 };
      expect(own.finalists).toEqual(chosen);
      expect(log.finalists).toEqual(chosen);
      expect(finalistsLine(own)).toBe(
        `finalists, scored again with 12 recovery steps each: ${finalists.map((a) => `#${a.index} ${percent(a.rescore!.top1)}`).join(', ')}`,
      );
      // `campaign watch` prints it under the target's table (a closed campaign: one frame, then its status).
      const watched = await cli('campaign', 'watch', campaignId);
      expect(watched.code).toBe(0);
      expect(watched.out.split('\n')).toContain(finalistsLine(own));
      // And `campaign log` under the table, from the log rebuilt from history.
      const logged = await cli('campaign', 'log', campaignId);
      expect(logged.code).toBe(0);
      expect(logged.out.split('\n')).toContain(finalistsLine(log));
      expect(finalistsLine(log)).toBe(finalistsLine(own));
      // The rebuilt log and the search's own record agree on both scores of every attempt.
      const scores = (a: Attempt) => [a.index, a.score, a.rescore, a.rescoreError];
      expect(log.attempts.map(scores)).toEqual(own.attempts.map(scores));
      // Both notes: the plan before the first attempt, the finalists after the last, in both records.
      // The plan also says what each recovery is of an epoch of the 400 train/ images at batch 32 (12 steps):
      // 8 / 12 = 0.67, the finalists' 12 / 12 = 1.
      const planNote =
        `recovery scoring: 50% of the final fine-tune's ${finalSteps} steps: 2 finalists again with 12 steps each, ` +
        `the rest over 3 candidates, ${each} steps each (0.67 epoch, the finalists' 1 epoch: an epoch of the 400 ` +
        `train/ images is 12 steps at batch 32)`;
      const finalistsNote = `finalists #${finalists[0]!.index}, #${finalists[1]!.index} scored again with 12 recovery steps each`;
      expect(own.events[0]).toEqual({ afterAttempt: 0, note: planNote });
      expect(own.events.at(-1)).toEqual({ afterAttempt: own.attempts.length, note: finalistsNote });
      expect(log.changes).toEqual(
        expect.arrayContaining([
          { afterAttempt: 0, note: planNote },
          { afterAttempt: log.attempts.length, note: finalistsNote },
        ]),
      );

      // What the user reads: the heading, the kept row, the report's cost and kept line.
      const steps = 3 * each + 2 * 12;
      expect(logHeading(log)).toContain(
        `3 scored and 2 finalists again with ${steps} fine-tune steps, kept #${kept.index} (the best second score))`,
      );
      const row = attemptsTable(log.attempts, log.chosenIndex)
        .split('\n')
        .find((l) => new RegExp(`^${kept.index}\\s+kept\\s+candidate\\s`).test(l));
      expect(row).toContain(
        `${percent(kept.score!.top1)} recovery ${each} steps -> ${percent(kept.rescore!.top1)} 12 steps`,
      );
      const report = await buildReportData(campaigns, store, campaignId);
      expect(scoringCostText(report.targets[0]!)).toBe(
        `${steps} fine-tune steps for 3 candidates and 2 finalists again, ${((100 * steps) / finalSteps).toFixed(1)}% of the final fine-tune's ${finalSteps} steps`,
      );
      expect(
        keptScoreText(report.targets[0]!, report.targets[0]!.attempts.find((a) => a.index === kept.index)!),
      ).toBe(
        `, the best second score of 2 finalists: top-1 ${(kept.rescore!.top1 * 100).toFixed(1)}% (recovery 12 steps)`,
      );
      // The export carries the second scores.
      const rows = await campaigns.exportRows(campaignId);
      expect(rows.find((r) => r.index === kept.index)?.rescore).toEqual(kept.rescore);

      saveHistoryFixture('campaign-rescore', campaignId);
      saveHistoryFixture('mac-target-search-rescore', searchId);
    },
    15 * 60_000,
  );

  test(
    "a zero-shot first stage (scoring: 'zero-shot' with recovery.rescore): every candidate scored with no training, the best two by a recovery, the best second score kept",
    async () => {
      const { campaignId, searchId, t, finalSteps, log, own, candidates } = await twoStageCampaign(
        { scoring: 'zero-shot', recovery: { lr: 0.002, rescore: { top: 2, steps: 12 } } },
        'zero-first',
      );
      // The first scores cost no training.
      for (const a of candidates) expect(a.score).toMatchObject({ mode: 'zero-shot', steps: 0, count: 64 });

      // The finalists: the two best zero-shot scores; each recovered 12 steps from the dense teacher.
      const byFirst = byFirstScore(candidates);
      const finalists = byFirst.slice(0, 2);
      for (const a of finalists) expect(a.rescore).toMatchObject({ mode: 'recovery', steps: 12, count: 64 });
      expect(byFirst[2]!.rescore).toBeUndefined();
      const kept = bestSecondScore(finalists);
      expect(t.chosen?.index).toBe(kept.index);
      expect(t.chosen?.rescore).toEqual(kept.rescore);
      expect(log.chosenIndex).toBe(kept.index);
      expect(own.chosenIndex).toBe(kept.index);

      // What the engine was asked: zero-shot first scores without a teacher or a recovery; the finalists' with
      // the dense model as teacher and the configured recovery.
      const scheduled = ((await env.client.workflow.getHandle(searchId).fetchHistory()).events ?? [])
        .map((e) => e.activityTaskScheduledEventAttributes)
        .filter((a) => a?.activityType?.name === 'scoreCandidate')
        .map((a) => defaultPayloadConverter.fromPayload(a!.input!.payloads![0]!) as ScoreCandidateInput);
      const [firsts, seconds] = [scheduled.filter((x) => !x.rescore), scheduled.filter((x) => x.rescore)];
      expect(firsts.map((x) => x.attemptIndex)).toEqual(candidates.map((a) => a.index));
      for (const x of firsts) {
        expect(x.mode).toBe('zero-shot');
        expect(x.teacher).toBeUndefined();
        expect(x.recovery).toBeUndefined();
      }
      expect(seconds.map((x) => x.attemptIndex)).toEqual(finalists.map((a) => a.index));
      for (const x of seconds) {
        expect(x.mode).toBe('recovery');
        expect(x.teacher?.name).toBe('democnn');
        expect(x.recovery).toEqual({ steps: 12, batchSize: 32, lr: 0.002 });
      }

      // What the user reads: the finalists' line (watch, log), the heading, the kept row, the report.
      const chosen = { indices: finalists.map((a) => a.index), steps: 12 };
      expect(own.finalists).toEqual(chosen);
      expect(log.finalists).toEqual(chosen);
      const line = `finalists, scored again with 12 recovery steps each: ${finalists.map((a) => `#${a.index} ${percent(a.rescore!.top1)}`).join(', ')}`;
      expect(finalistsLine(own)).toBe(line);
      expect(finalistsLine(log)).toBe(line);
      const logged = await cli('campaign', 'log', campaignId);
      expect(logged.code).toBe(0);
      expect(logged.out.split('\n')).toContain(line);
      expect(own.events.at(-1)).toEqual({
        afterAttempt: own.attempts.length,
        note: `finalists #${finalists[0]!.index}, #${finalists[1]!.index} scored again with 12 recovery steps each`,
      });
      // Only the finalists' recoveries cost steps: 2 x 12.
      expect(logHeading(log)).toContain(
        `3 scored and 2 finalists again with 24 fine-tune steps, kept #${kept.index} (the best second score))`,
      );
      const row = attemptsTable(log.attempts, log.chosenIndex)
        .split('\n')
        .find((l) => new RegExp(`^${kept.index}\\s+kept\\s+candidate\\s`).test(l));
      expect(row).toContain(
        `${percent(kept.score!.top1)} zero-shot -> ${percent(kept.rescore!.top1)} 12 steps`,
      );
      const report = await buildReportData(campaigns, store, campaignId);
      expect(scoringCostText(report.targets[0]!)).toBe(
        `24 fine-tune steps for 3 candidates and 2 finalists again, 24.0% of the final fine-tune's ${finalSteps} steps`,
      );
      expect(
        keptScoreText(report.targets[0]!, report.targets[0]!.attempts.find((a) => a.index === kept.index)!),
      ).toBe(
        `, the best second score of 2 finalists: top-1 ${(kept.rescore!.top1 * 100).toFixed(1)}% (recovery 12 steps)`,
      );
      const rows = await campaigns.exportRows(campaignId);
      const keptRow = rows.find((r) => r.index === kept.index);
      expect(keptRow?.score?.mode).toBe('zero-shot');
      expect(keptRow?.rescore).toEqual(kept.rescore);

      saveHistoryFixture('campaign-zero-shot-rescore', campaignId);
      saveHistoryFixture('mac-target-search-zero-shot-rescore', searchId);
    },
    15 * 60_000,
  );

  test(
    'with a dataset and no scoring chosen, the defaults: a sensitivity table, 6 candidates, the best 3 again after 40 steps',
    async () => {
      // What a user writes who leaves the search to the tool (the README's campaign file): agent and iterations.
      const { campaignId } = await campaigns.start(
        { ...config, search: { agent: 'solver', maxIterations: 30, scoreImages: 64 } },
        { campaignId: testId('defaults') },
      );
      const t = (await campaigns.result(campaignId)).targets[0]!;
      expect(t.status).toBe('converged');
      const [log] = await campaigns.log(campaignId);
      const own = await env.client.workflow
        .getHandle(searchWorkflowId(campaignId, 'half'))
        .query(strategyLogQuery);

      // The table at 0.5 first, then a stage allocation among the six candidates, each scored zero-shot.
      expect(own.events[0]!.note).toMatch(
        /^sensitivity measured: 3 stages, baseline top-1 \d+\.\d% on the scoring slice$/,
      );
      const measured = ((await env.client.workflow.getHandle(campaignId).fetchHistory()).events ?? [])
        .map((e) => e.activityTaskScheduledEventAttributes)
        .filter((a) => a?.activityType?.name === 'measureSensitivity')
        .map(
          (a) =>
            (defaultPayloadConverter.fromPayload(a!.input!.payloads![0]!) as { ratios: number[] }).ratios,
        );
      expect(measured).toEqual([[0.5]]);
      const candidates = log!.attempts.filter((a) => attemptRole(a) === 'candidate');
      expect(candidates).toHaveLength(6);
      expect(candidates.filter((a) => a.strategy.stageRatios !== undefined)).toHaveLength(1);
      for (const a of candidates) expect(a.score).toMatchObject({ mode: 'zero-shot', steps: 0, count: 64 });

      // The best 3 zero-shot scores again after 40 recovery steps each; the best second score kept.
      const finalists = byFirstScore(candidates).slice(0, 3);
      for (const a of finalists) expect(a.rescore).toMatchObject({ mode: 'recovery', steps: 40, count: 64 });
      expect(candidates.filter((a) => a.rescore !== undefined)).toHaveLength(3);
      const kept = bestSecondScore(finalists);
      expect(t.chosen?.index).toBe(kept.index);
      expect(logHeading(log!)).toContain(
        `6 scored and 3 finalists again with 120 fine-tune steps, kept #${kept.index} (the best second score))`,
      );
      expect(finalistsLine(log!)).toBe(
        `finalists, scored again with 40 recovery steps each: ${finalists.map((a) => `#${a.index} ${percent(a.rescore!.top1)}`).join(', ')}`,
      );
    },
    15 * 60_000,
  );

  test.each<[string, number, { top: number; steps: number } | undefined, string]>([
    [
      'a 250-step fine-tune (10 epochs): 10% is 25 steps, so 2 finalists of 12 steps, and the log says so',
      10,
      { top: 2, steps: 12 },
      "zero-shot scoring, then 2 finalists again with 12 steps each (3 x 40 asked): 24 steps, 9.6% of the final fine-tune's 250 steps (at most 10%); each finalist's recovery is 1 epoch (an epoch of the 400 train/ images is 12 steps at batch 32)",
    ],
    [
      'a 25-step fine-tune (one epoch): no room for finalists, the best zero-shot score is kept',
      1,
      undefined,
      "zero-shot scoring decides: 10% of the final fine-tune's 25 steps is 2 steps, under 2 finalists x 10 recovery steps",
    ],
  ])(
    "the defaults' finalists stay within 10%% of the final fine-tune's steps: %s",
    async (_label, epochs, planned, planNote) => {
      const { campaignId } = await campaigns.start(
        {
          ...config,
          search: { agent: 'solver', maxIterations: 30, scoreImages: 64 },
          finetune: { epochs, batchSize: 16, lr: 0.002, optimizer: 'adamw', kdAlpha: 0.5 },
        },
        { campaignId: testId(`defaults-cap-${epochs}`) },
      );
      const t = (await campaigns.result(campaignId)).targets[0]!;
      expect(t.status).toBe('converged');
      // 400 train/ images at 16 a step: 25 steps an epoch, as the fine-tune counted them.
      const finalSteps = epochs * Math.floor(400 / 16);
      expect(t.finetune?.steps).toBe(finalSteps);
      const [log] = await campaigns.log(campaignId);
      const own = await env.client.workflow
        .getHandle(searchWorkflowId(campaignId, 'half'))
        .query(strategyLogQuery);
      // The plan before the first attempt, in the search's own log and in the log rebuilt from history.
      expect(own.events).toContainEqual({ afterAttempt: 0, note: planNote });
      expect(log!.changes).toContainEqual({ afterAttempt: 0, note: planNote });

      const candidates = log!.attempts.filter((a) => attemptRole(a) === 'candidate');
      expect(candidates).toHaveLength(6);
      for (const a of candidates) expect(a.score).toMatchObject({ mode: 'zero-shot', steps: 0, count: 64 });
      const rescored = candidates.filter((a) => a.rescore !== undefined);
      // `campaign log` prints it once, as the report's facts card does, in the log's words; `watch` too, from
      // the search's own record.
      const logged = await cli('campaign', 'log', campaignId);
      expect(logged.out).toContain(`\nscoring plan: ${planNote}\n`);
      expect(logged.out).not.toContain(`after attempt 0: ${planNote}`);
      expect(own.recoveryPlan).toEqual(log!.recoveryPlan);
      expect(scoringPlanLine(own)).toBe(`scoring plan: ${planNote}`);
      const watched = await cli('campaign', 'watch', campaignId);
      expect(watched.code).toBe(0);
      expect(watched.out.split('\n')).toContain(`scoring plan: ${planNote}`);
      const data = await buildReportData(campaigns, store, campaignId);
      expect(data.targets[0]!.scoringPlan).toBe(planNote);
      expect(renderReport(data)).toContain(`<dt>scoring plan</dt><dd>${esc(planNote)}</dd>`);
      if (planned) {
        const finalists = byFirstScore(candidates).slice(0, planned.top);
        expect(rescored.map((a) => a.index).sort()).toEqual(finalists.map((a) => a.index).sort());
        for (const a of finalists)
          expect(a.rescore).toMatchObject({ mode: 'recovery', steps: planned.steps, count: 64 });
        const kept = bestSecondScore(finalists);
        expect(t.chosen?.index).toBe(kept.index);
        const steps = planned.top * planned.steps;
        expect(steps).toBeLessThanOrEqual(0.1 * finalSteps);
        expect(logHeading(log!)).toContain(
          `6 scored and ${planned.top} finalists again with ${steps} fine-tune steps, kept #${kept.index} (the best second score))`,
        );
        // The report's cost line: the share of the final fine-tune the scoring took.
        const report = await buildReportData(campaigns, store, campaignId);
        expect(scoringCostText(report.targets[0]!)).toBe(
          `${steps} fine-tune steps for 6 candidates and ${planned.top} finalists again, ${((steps / finalSteps) * 100).toFixed(1)}% of the final fine-tune's ${finalSteps} steps`,
        );
        saveHistoryFixture('campaign-defaults-capped-finalists', campaignId);
        saveHistoryFixture(
          'mac-target-search-defaults-capped-finalists',
          searchWorkflowId(campaignId, 'half'),
        );
      } else {
        // Nothing fine-tuned: the report says why there were no finalists instead of a cost.
        const report = await buildReportData(campaigns, store, campaignId);
        expect(scoringCostText(report.targets[0]!)).toBeUndefined();
        expect(rescored).toHaveLength(0);
        expect(t.chosen?.index).toBe(byFirstScore(candidates)[0]!.index);
        expect(logHeading(log!)).toContain(`6 scored zero-shot, kept #${byFirstScore(candidates)[0]!.index}`);
      }
    },
    15 * 60_000,
  );

  test(
    'search.recovery.share under one step per candidate: the campaign fails at its start, naming the field',
    async () => {
      const tooSmall: CampaignConfigInput = {
        ...config,
        search: { agent: 'solver', candidates: 4, scoring: 'recovery', recovery: { share: 0.01 } },
        finetune: { epochs: 1, batchSize: 16 },
      };
      await expectRefusedAtStart(
        tooSmall,
        'share-small',
        "search.recovery.share: 0.01 of the final fine-tune's 25 steps over 4 candidates is under one step each",
      );
    },
    5 * 60_000,
  );

  test(
    "search.recovery.epochs: each candidate's recovery is that many epochs of train/ at the recovery's batch size, and the log says so",
    async () => {
      const byEpochs: CampaignConfigInput = {
        ...config,
        search: {
          agent: 'solver',
          maxIterations: 30,
          candidates: 2,
          scoring: 'recovery',
          scoreImages: 64,
          sensitivity: false,
          recovery: { epochs: 0.5, batchSize: 16, lr: 0.002 },
        },
      };
      const { campaignId } = await campaigns.start(byEpochs, { campaignId: testId('epochs') });
      const result = await campaigns.result(campaignId);
      expect(result.targets[0]!.status).toBe('converged');

      // An epoch of the 400 train/ images at 16 a step is 25 steps (whole batches); half of it, rounded up, 13.
      const images = countSplitImages(path.join(config.dataset!.root, 'train'));
      expect(images).toBe(400);
      const epochSteps = Math.floor(images / 16);
      expect(epochSteps).toBe(25);
      const each = Math.ceil(0.5 * epochSteps);
      expect(each).toBe(13);

      await expectRecoveryPlanned(
        campaignId,
        each,
        'recovery scoring: 0.5 epoch of train/ per candidate, 13 steps each over 2 candidates ' +
          '(an epoch of the 400 train/ images is 25 steps at batch 16)',
      );

      saveHistoryFixture('campaign-recovery-epochs', campaignId);
      saveHistoryFixture('mac-target-search-recovery-epochs', searchWorkflowId(campaignId, 'half'));
    },
    15 * 60_000,
  );

  test(
    'search.recovery.epochs with a batch larger than train/: the campaign fails at its start, naming the field',
    async () => {
      const tooBig: CampaignConfigInput = {
        ...config,
        search: {
          agent: 'solver',
          candidates: 2,
          scoring: 'recovery',
          recovery: { epochs: 1, batchSize: 1024 },
        },
      };
      await expectRefusedAtStart(
        tooBig,
        'epochs-big',
        'search.recovery.batchSize: 1024 exceeds the 400 train/ images: a recovery epoch would be no step; lower it',
      );
    },
    5 * 60_000,
  );

  test(
    'two targets: the sensitivity is measured once by the campaign, and both searches start from that table',
    async () => {
      const twoTargets: CampaignConfigInput = {
        ...config,
        targets: [
          { fraction: 0.5, band: '-5%..+1%', label: 'half' },
          { fraction: 0.35, band: '-5%..+1%', label: 'third' },
        ],
        search: { ...config.search, candidates: 1 },
      };
      const { campaignId } = await campaigns.start(twoTargets, { campaignId: testId('sens-once') });
      const result = await campaigns.result(campaignId);
      expect(result.targets.map((t) => t.status)).toEqual(['converged', 'converged']);

      // One measurement in the whole campaign: in the campaign's own history, for the model, not a target.
      const scheduledSensitivity = async (workflowId: string) =>
        ((await env.client.workflow.getHandle(workflowId).fetchHistory()).events ?? []).filter(
          (e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'measureSensitivity',
        );
      expect(await scheduledSensitivity(campaignId)).toHaveLength(1);
      const ids = ['half', 'third'].map((label) => searchWorkflowId(campaignId, label));
      for (const id of ids) expect(await scheduledSensitivity(id)).toHaveLength(0);
      // The table is stored under the model's label, as the engine returned it.
      const stored = JSON.parse(
        (await store.getBytes(`campaigns/${campaignId}/_model/sensitivity/sensitivity.json`)).toString(),
      ) as { baseline: { top1: number }; stages: { stage: string }[] };
      expect(stored.stages.length).toBeGreaterThan(0);

      // Each search applied that table first: the same note, and the rebuilt logs carry the same table.
      const note = `sensitivity measured: ${stored.stages.length} stages, baseline top-1 ${(stored.baseline.top1 * 100).toFixed(1)}% on the scoring slice`;
      for (const id of ids) {
        const own = await env.client.workflow.getHandle(id).query(strategyLogQuery);
        expect(own.events[0]!.note).toBe(note);
      }
      const logs = await campaigns.log(campaignId);
      expect(logs.map((l) => l.targetLabel)).toEqual(['half', 'third']);
      for (const l of logs) {
        expect(l.sensitivity?.stages.map((x) => x.stage)).toEqual(stored.stages.map((x) => x.stage));
        expect(l.sensitivity?.baseline.top1).toBe(stored.baseline.top1);
        // Each search still reached its own band, and scored its one candidate.
        expect(l.attempts.filter((a) => attemptRole(a) === 'candidate')).toHaveLength(1);
      }
      expect(logs[1]!.sensitivity).toEqual(logs[0]!.sensitivity);

      saveHistoryFixture('campaign-sensitivity-once', campaignId);
      saveHistoryFixture('mac-target-search-sensitivity-given', ids[1]!);
    },
    15 * 60_000,
  );
});
