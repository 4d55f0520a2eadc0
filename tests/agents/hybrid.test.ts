import { createClaudeAgent } from '../../src/agents/claude';
import { createHybridAgent, shapeOf } from '../../src/agents/hybrid';
import { FakeMessagesApi, overloadedReply, toolUseReply } from '../support/fake-messages-api';
import { attempt, goodStrategy, modelMacs, proposeInput, RecordingSolver, TEST_KEY } from './claude-fixtures';

let api: FakeMessagesApi;
let solver: RecordingSolver;

beforeEach(async () => {
  api = await new FakeMessagesApi(TEST_KEY).start();
  solver = new RecordingSolver(0.37);
});

afterEach(async () => {
  await api.stop();
  for (const r of api.requests) expect(r.rawBody).not.toContain(TEST_KEY);
});

function hybrid() {
  const claude = createClaudeAgent({
    apiKey: TEST_KEY,
    baseURL: api.baseURL,
    model: 'claude-sonnet-5-5',
    maxRetries: 0,
    timeoutMs: 5000,
    // Claude's own fallback is never used by the hybrid agent: it asks in shape mode and falls back itself.
    fallback: { name: 'grid', propose: () => Promise.reject(new Error('not used')) },
  });
  return createHybridAgent({ claude, solver });
}

const claudeShape = goodStrategy({
  pruningRatio: 0.5,
  importance: 'taylor',
  roundTo: 16,
  stageRatios: { layer1: 0.2, layer4: 0.6 },
  ignoredLayers: ['layer1.0.conv1'],
  rationale: 'spare the high-resolution layer1; layer4 holds most parameters',
});

test('shape from Claude, ratio from the solver', async () => {
  api.enqueue(toolUseReply(claudeShape));
  const p = await hybrid().propose(proposeInput([attempt(1, 0.3), attempt(2, 0.42)], { agent: 'hybrid' }));

  // The solver was asked with Claude's shape as its base (no ratio, no rationale).
  expect(solver.inputs).toHaveLength(1);
  expect(solver.inputs[0]!.agent).toBe('solver');
  expect(solver.inputs[0]!.baseStrategy).toEqual({
    ...shapeOf(claudeShape),
    globalPruning: true,
    isomorphic: true,
  });
  expect(solver.inputs[0]!.baseStrategy).not.toHaveProperty('pruningRatio');

  expect(p.agent).toBe('hybrid');
  expect(p.fallbackReason).toBeUndefined();
  expect(p.strategy).toMatchObject({
    pruningRatio: 0.37,
    importance: 'taylor',
    roundTo: 16,
    stageRatios: { layer1: 0.2, layer4: 0.6 },
    ignoredLayers: ['layer1.0.conv1'],
  });
  expect(p.strategy.rationale).toBe(
    'shape (claude): spare the high-resolution layer1; layer4 holds most parameters | ratio (solver): solver: fitted (1-r)^2',
  );
  expect(p.predictedMacs).toBe(modelMacs(0.37));
  expect(p.llm).toMatchObject({ model: 'claude-sonnet-5-5', repairs: 0 });

  // Claude was told that the ratio is the solver's job.
  const text = (api.messageRequests[0]!.body.messages[0].content as { text: string }[])
    .map((b) => b.text)
    .join('\n');
  expect(text).toContain('A solver will rescale pruningRatio');
});

test('a shape already measured is fine in hybrid mode (the solver gives it a new ratio)', async () => {
  const measured = attempt(1, 0.5, shapeOf(claudeShape));
  api.enqueue(toolUseReply({ ...measured.strategy, rationale: 'same shape, new ratio' }));
  const p = await hybrid().propose(proposeInput([measured], { agent: 'hybrid' }));
  expect(api.messageRequests).toHaveLength(1);
  expect(p.agent).toBe('hybrid');
  expect(p.strategy.pruningRatio).toBe(0.37);
});

test('Claude fails: the pure solver answers, with the reason', async () => {
  api.enqueue(overloadedReply());
  const p = await hybrid().propose(proposeInput([attempt(1, 0.3)], { agent: 'hybrid' }));
  expect(p.agent).toBe('solver');
  expect(p.fallbackReason).toBe('claude: API overloaded (529) without retries');
  expect(solver.inputs[0]!.baseStrategy).toEqual(proposeInput().baseStrategy);
  expect(p.strategy.pruningRatio).toBe(0.37);
});
