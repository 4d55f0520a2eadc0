import * as fs from 'node:fs';
import * as path from 'node:path';
import { createAgents } from '../../src/agents';
import { CampaignClient } from '../../src/client/campaign-client';
import { demoNextSteps, demoPaths } from '../../src/client/demo';
import { finalistsLine } from '../../src/client/format';
import { decidingScore } from '../../src/core/attempt-selection';
import {
  realEngines,
  startTestWorkers,
  tempDir,
  testId,
  testStore,
  type TestWorkers,
} from '../support/test-env';
import { cli, withEnv } from './run-cli';

// The README's Quickstart as a user runs it: `agentic-pruner demo`, then `examples/demo-accuracy.yaml` on the
// baseline and dataset the demo left, with a worker up. The state dir is a scratch one, with the example
// copied beside it as it sits in the repository (`examples/` next to `.state/`), so its relative paths hold.
describe("the demo, then the README's accuracy example on the demo's baseline", () => {
  const work = tempDir('ap-demo-');
  const state = path.join(work, '.state');
  const example = path.join(work, 'examples', 'demo-accuracy.yaml');
  const engines = realEngines();
  let env: TestWorkers | undefined;

  beforeAll(() => {
    fs.mkdirSync(path.dirname(example), { recursive: true });
    fs.copyFileSync(path.join(__dirname, '..', '..', 'examples', 'demo-accuracy.yaml'), example);
  });
  afterAll(() => Promise.all([env?.stop(), engines.engine.close()]));

  test(
    'the demo says where its baseline and dataset stay; the example scores 4 candidates, 2 again, and keeps the best second score',
    async () => {
      const demo = await withEnv({ AP_STATE_DIR: state }, () =>
        cli('demo', '--epochs', '2', '--finetune-epochs', '1'),
      );
      expect(demo.code).toBe(0);
      const paths = demoPaths({ AP_STATE_DIR: state });
      // Its last line (the text itself, with and without agentic-pruner on the PATH: demo-next-steps.test.ts).
      expect(demo.out.endsWith(`${demoNextSteps(paths, process.env.PATH ?? '')}\n`)).toBe(true);
      expect(demo.out).toContain(
        `the baseline (${paths.weights}) and its dataset (${paths.dataset}) stay for your own campaigns: `,
      );
      expect(fs.existsSync(paths.weights)).toBe(true);
      for (const split of ['train', 'val']) expect(fs.existsSync(path.join(paths.dataset, split))).toBe(true);
      // Its stderr is a pipe here, as in a CI log: the progress comes as lines, not as a bar redrawn in place;
      // the baseline's in ten lines (a tenth of its steps each), the last at all its steps; the fine-tune's,
      // polled from its heartbeats, in at most ten.
      expect(demo.err).not.toContain('\r');
      const baseline = demo.err.split('\n').filter((l) => l.startsWith('  baseline '));
      expect(baseline).toHaveLength(10);
      expect(baseline.at(-1)).toMatch(/^ {2}baseline (\d+)\/\1 \(100%\) loss \d+\.\d{3} ETA 0s$/);
      const fineTune = demo.err.split('\n').filter((l) => l.startsWith('  fine-tune '));
      expect(fineTune.length).toBeLessThanOrEqual(10);
      for (const l of fineTune) expect(l).toMatch(/^ {2}fine-tune \d+\/\d+ \(\d+%\)/);

      const store = testStore();
      env = await startTestWorkers({
        store,
        ...engines,
        agents: createAgents({ store }),
        workDir: tempDir(),
      });
      const id = testId('demo-accuracy');
      const run = await cli('campaign', 'start', '-c', example, '--id', id, '--wait');
      expect({ code: run.code, err: run.err.slice(-500) }).toMatchObject({ code: 0 });
      // Once started, the search it runs on stderr: the example's choices, and the table the defaults add.
      expect(run.err.split('\n')).toContain(
        'search: solver, up to 10 iterations: up to 4 in-band candidates, a stage allocation from a sensitivity table at 0.5 among the shapes; ' +
          'each scored on a train/ slice after a recovery of 10 steps, the best 2 again after 40 recovery steps each',
      );

      // 4 candidates x 10 first steps + 2 finalists x 40 second steps = 120 scoring steps.
      const heading =
        /\(converged, \d+ attempts, 4 scored and 2 finalists again with 120 fine-tune steps, kept #(\d+) \(the best second score\)\)/.exec(
          run.out,
        );
      expect(heading).not.toBeNull();
      const [log] = await new CampaignClient(env.client).log(id);
      // The README's figure: the example's one-epoch fine-tune is 37 steps (the demo's 10 x 120 train/ images at
      // 32 a step, whole batches), fewer than the 120 scoring steps above.
      const [target] = (await new CampaignClient(env.client).result(id)).targets;
      expect(target!.finetune?.steps).toBe(Math.floor((10 * 120) / 32));
      expect(target!.finetune?.steps).toBe(37);
      expect(log!.finalists).toMatchObject({ steps: 40 });
      expect(log!.finalists!.indices).toHaveLength(2);
      // The printed finalists line is the log's, each finalist with its second top-1, and their change note
      // (the same finalists, without the scores) is not printed again under it.
      expect(run.out).toContain(`${finalistsLine(log!)}\n`);
      expect(run.out).not.toMatch(/after attempt \d+: finalists #/);
      expect(finalistsLine(log!)).toMatch(
        /^finalists, scored again with 40 recovery steps each: #\d+ \d+\.\d%, #\d+ \d+\.\d%$/,
      );
      // The two finalists are the best two first scores; the kept one has the better second score.
      const scored = log!.attempts.filter((a) => a.score);
      expect(scored).toHaveLength(4);
      const byFirst = [...scored].sort(
        (a, b) => b.score!.top1 - a.score!.top1 || a.score!.loss - b.score!.loss,
      );
      expect([...log!.finalists!.indices].sort()).toEqual(
        byFirst
          .slice(0, 2)
          .map((a) => a.index)
          .sort(),
      );
      const finalists = scored.filter((a) => log!.finalists!.indices.includes(a.index));
      const best = [...finalists].sort(
        (a, b) => b.rescore!.top1 - a.rescore!.top1 || a.rescore!.loss - b.rescore!.loss,
      )[0]!;
      expect(Number(heading![1])).toBe(best.index);
      expect(log!.chosenIndex).toBe(best.index);
      expect(decidingScore(log!.attempts)).toBe('rescore');
    },
    10 * 60_000,
  );
});
