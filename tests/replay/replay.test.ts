import { Worker } from '@temporalio/worker';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils';
import * as fs from 'node:fs';
import * as path from 'node:path';

// Recorded histories of real runs, replayed against the current workflow code: a non-deterministic
// change (reordered activities, a new timer, a changed branch) fails here before it breaks a live run.
// Record new ones with `AP_RECORD_HISTORIES=1 npx jest tests/workflows`, then keep the ones already
// committed as they were (`git checkout tests/replay/histories/<old>.json`): a history recorded by older
// code is what proves a change replays. One per path: converged, diverged, infeasible, extended search
// (scaled by solver steps, and screened by the dry run),
// Claude repair and fallback, human override + band change + pause, continue-as-new, a whole campaign, a
// campaign that fine-tunes its targets one after the other (recorded before patch parallel-finetune) and at once,
// a campaign that measures the sensitivity once for two targets, a search given that table, a campaign
// that ends by discarding incomplete uploads, and a scored search whose shapes include per-layer uniform L1.
const dir = path.join(__dirname, 'histories');
const files = fs.existsSync(dir)
  ? fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .sort()
  : [];

describe('replay of committed histories', () => {
  test('there are recorded histories for a converged and a diverged search', () => {
    expect(files).toEqual(
      expect.arrayContaining(['mac-target-search-converged.json', 'mac-target-search-diverged.json']),
    );
  });

  test.each(files)('%s replays deterministically', async (file) => {
    const codePath = process.env.AP_TEST_WORKFLOW_BUNDLE;
    if (!codePath) throw new Error('global setup did not bundle the workflows');
    const history = historyFromJSON(JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')));
    await Worker.runReplayHistory({ workflowBundle: { codePath } }, history, file.replace(/\.json$/, ''));
  });
});
