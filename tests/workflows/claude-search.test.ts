import * as fs from 'node:fs';
import * as path from 'node:path';
import { createAgents } from '../../src/agents';
import { baseStrategy } from '../../src/core/strategy';
import { LocalArtifactStore } from '../../src/storage';
import type { MacTargetSearchInput } from '../../src/workflows/mac-target-search';
import { TaskQueues } from '../../src/workflows/presets';
import { FakeMessagesApi, overloadedReply, textReply, toolUseReply } from '../support/fake-messages-api';
import {
  realEngines,
  runSearch,
  saveHistoryFixture,
  searchInputFor,
  startTestWorkers,
  tempDir,
  testId,
  type TestWorkers,
} from '../support/test-env';

const KEY = 'sk-ant-api03-WORKFLOW-TEST-KEY-must-not-leak-0123456789';

// The Analysis Agent inside the real workflow: Claude (a local fake of the Messages API, driven through
// the real SDK) proposes; bad replies are repaired or fall back to the solver; the search converges and
// the strategy log records who proposed each attempt and why a fallback happened.
describe('macTargetSearch with agent claude', () => {
  let env: TestWorkers;
  const fake = new FakeMessagesApi(KEY);
  const engines = realEngines();
  const storeRoot = tempDir('ap-claude-store-');
  const store = new LocalArtifactStore(storeRoot);

  beforeAll(async () => {
    await fake.start();
    env = await startTestWorkers({
      store,
      ...engines,
      agents: createAgents({
        store,
        anthropicApiKey: KEY,
        anthropicBaseUrl: fake.baseURL,
        claude: { maxRetries: 0, timeoutMs: 5000, maxRepairs: 1 },
      }),
      workDir: tempDir(),
    });
  });
  afterAll(async () => {
    await env?.stop();
    await engines.engine.close();
    await fake.stop();
  });

  test('converges, repairs a malformed reply, falls back on overload, keeps the key out of everything', async () => {
    const profileId = testId('claude-profile');
    const profiled = (await env.client.workflow.execute('profileModelWorkflow', {
      taskQueue: TaskQueues.control,
      workflowId: profileId,
      args: [{ campaignId: profileId, model: { name: 'resnet18', inputSize: 96 } }],
    })) as { summary: MacTargetSearchInput['profile'] };

    fake.enqueue(
      // attempt 1: a sound first proposal
      toolUseReply({ ...baseStrategy(0.1), rationale: 'start gently: 10 % of channels' }),
      // attempt 2: prose instead of a tool call, then a repaired proposal
      textReply('I think about 35 % would do.'),
      toolUseReply({ ...baseStrategy(0.5), rationale: 'repaired: 50 %' }),
      // attempt 3: the API is overloaded -> the solver takes over for this attempt
      overloadedReply(),
    );
    const input = searchInputFor(profiled.summary, { campaignId: testId('claude'), agent: 'claude' });
    const { workflowId, result, log } = await runSearch(env.client, input);

    expect(result.status).toBe('converged');
    const [a1, a2, a3] = log.attempts;
    expect(a1).toMatchObject({ agent: 'claude', strategy: { pruningRatio: 0.1 } });
    expect(a1!.llm).toMatchObject({ repairs: 0 });
    expect(a1!.llm!.transcript?.key).toBe(`campaigns/${input.campaignId}/t1/transcripts/attempt-1.json`);
    expect(a2).toMatchObject({ agent: 'claude', strategy: { pruningRatio: 0.5 } });
    expect(a2!.llm!.repairs).toBe(1);
    expect(a3!.agent).toBe('solver');
    expect(a3!.fallbackReason).toMatch(/overload|529/i);
    expect(log.attempts.some((a) => a.inBand)).toBe(true);
    expect(a1!.llm!.inputTokens).toBeGreaterThan(0);
    expect(a2!.llm!.inputTokens).toBeGreaterThan(a1!.llm!.inputTokens);
    expect(log.attempts.every((a) => (a.llm ? a.llm.costUsd >= 0 : true))).toBe(true);

    // The key reached the fake only in headers: never history, transcripts or the log.
    const history = JSON.stringify(await env.client.workflow.getHandle(workflowId).fetchHistory());
    saveHistoryFixture('mac-target-search-claude-repair-fallback', workflowId);
    expect(history).not.toContain(KEY);
    expect(JSON.stringify(log)).not.toContain(KEY);
    const transcripts = fs.readdirSync(
      path.join(storeRoot, 'campaigns', input.campaignId, 't1', 'transcripts'),
    );
    expect(transcripts.length).toBeGreaterThanOrEqual(2);
    for (const f of transcripts) {
      expect(
        fs.readFileSync(path.join(storeRoot, 'campaigns', input.campaignId, 't1', 'transcripts', f), 'utf8'),
      ).not.toContain(KEY);
    }
    expect(fake.messageRequests.every((r) => !r.rawBody.includes(KEY))).toBe(true);
    // Nor any object the campaign stored (models, profiles, logs, transcripts), nor the server's database.
    const objects = filesUnder(path.join(storeRoot, 'campaigns', input.campaignId));
    expect(objects.length).toBeGreaterThanOrEqual(transcripts.length + 3);
    for (const f of objects)
      expect({ file: f, leaks: fs.readFileSync(f).includes(KEY) }).toEqual({ file: f, leaks: false });
    const stateDir = process.env.AP_STATE_DIR || path.join(__dirname, '..', '..', '.state');
    const db = filesUnder(path.join(stateDir, 'temporal')).filter((f) => /temporal\.db/.test(f));
    expect(db.length).toBeGreaterThanOrEqual(1);
    for (const f of db)
      expect({ file: f, leaks: fs.readFileSync(f).includes(KEY) }).toEqual({ file: f, leaks: false });
  });
});

/** Every file under `dir`, recursively (none when it does not exist). */
function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? filesUnder(p) : [p];
  });
}
