import {
  claudeWorstCaseMs,
  ClaudeConfigError,
  ClaudeConfigSchema,
  createClaudeAgent,
  DEFAULT_CLAUDE_CONFIG,
  requireClaudeKey,
  type ClaudeAgentOptions,
} from '../../src/agents/claude';
import { estimateCostUsd } from '../../src/agents/claude-pricing';
import { buildPrompt, PROPOSE_TOOL_NAME, SYSTEM_PREFIX } from '../../src/agents/claude-prompt';
import type { ProposeInput } from '../../src/agents/agent';
import { StrategySchema } from '../../src/core/strategy';
import {
  FakeMessagesApi,
  overloadedReply,
  presentedKey,
  textReply,
  toolUseReply,
  type RecordedRequest,
} from '../support/fake-messages-api';
import {
  attempt,
  goodStrategy,
  longHistory,
  MemorySink,
  proposeInput,
  RecordingSolver,
  TEST_KEY,
} from './claude-fixtures';

let api: FakeMessagesApi;
let solver: RecordingSolver;
let sink: MemorySink;
const leaks: string[] = [];

beforeEach(async () => {
  api = await new FakeMessagesApi(TEST_KEY).start();
  solver = new RecordingSolver();
  sink = new MemorySink();
});

afterEach(async () => {
  await api.stop();
  // The key may reach the server in its auth header, and nowhere else: not in any body...
  for (const r of api.requests) {
    expect(r.rawBody).not.toContain(TEST_KEY);
    if (r.path === '/v1/messages') expect(presentedKey(r.headers)).toBeDefined();
  }
  // ...nor in transcripts, proposals or reasons collected by the test.
  for (const bytes of sink.objects.values()) expect(new TextDecoder().decode(bytes)).not.toContain(TEST_KEY);
  for (const text of leaks.splice(0)) expect(text).not.toContain(TEST_KEY);
});

function agent(options: Partial<ClaudeAgentOptions> = {}) {
  return createClaudeAgent({
    apiKey: TEST_KEY,
    baseURL: api.baseURL,
    model: 'claude-sonnet-5-5',
    maxRetries: 0,
    timeoutMs: 5000,
    fallback: solver,
    transcripts: sink,
    ...options,
  });
}

async function propose(a: ReturnType<typeof agent>, input: ProposeInput) {
  const proposal = await a.propose(input);
  leaks.push(JSON.stringify(proposal));
  return proposal;
}

/** Text of every block of the request's user turns. */
function userText(r: RecordedRequest, turn = 0): string {
  const users = (r.body.messages as any[]).filter((m) => m.role === 'user');
  const content = users[turn]?.content;
  if (typeof content === 'string') return content;
  return (content as { type: string; text?: string }[])
    .map((b) => (b.type === 'text' ? (b.text ?? '') : JSON.stringify(b)))
    .join('\n');
}

const history2 = () => [attempt(1, 0.3), attempt(2, 0.42)];

describe('ClaudeAgent: a good reply', () => {
  test('parses the tool call into a Strategy and keeps the rationale', async () => {
    api.enqueue(toolUseReply(goodStrategy()));
    const p = await propose(agent(), proposeInput(history2()));

    expect(p.agent).toBe('claude');
    expect(p.fallbackReason).toBeUndefined();
    expect(p.strategy).toEqual(goodStrategy());
    expect(p.strategy.rationale).toMatch(/interpolated/);
    expect(p.llm).toMatchObject({ model: 'claude-sonnet-5-5', repairs: 0 });
    expect(solver.inputs).toHaveLength(0);
  });

  test('the request: cached system prefix, one tool with the Strategy schema, the history table', async () => {
    api.enqueue(toolUseReply(goodStrategy()));
    await propose(
      agent({ temperature: 0.3 }),
      proposeInput(history2(), { note: 'divergence monitor: stagnating' }),
    );
    const [req] = api.messageRequests;
    const body = req!.body;

    expect(body.model).toBe('claude-sonnet-5-5');
    expect(body.system).toEqual([
      { type: 'text', text: SYSTEM_PREFIX, cache_control: { type: 'ephemeral' } },
    ]);
    expect(body.tools).toHaveLength(1);
    expect(body.tools[0].name).toBe(PROPOSE_TOOL_NAME);
    expect(body.tools[0].input_schema).toMatchObject({
      type: 'object',
      additionalProperties: false,
      properties: { pruningRatio: { type: 'number', minimum: 0, maximum: 0.95 } },
    });
    // Sonnet 5.5 rejects forced tool use and sampling parameters: auto + no temperature.
    expect(body.tool_choice).toEqual({ type: 'auto', disable_parallel_tool_use: true });
    expect(body.temperature).toBeUndefined();

    const first = body.messages[0].content as any[];
    expect(first[0].cache_control).toEqual({ type: 'ephemeral' }); // profile + target: stable per target
    const text = userText(req!);
    expect(text).toContain('| stage | MACs | share | params |');
    expect(text).toContain('| layer3 | 1.470 G | 36.0% |');
    expect(text).toContain('protected layers (never pruned): conv1 (stem), fc (classifier)');
    expect(text).toContain('band -5%..+1%: accept 1.681 GMACs .. 1.788 GMACs');
    expect(text).toContain(
      '| # | agent | ratio | importance | roundTo | overrides | MACs | deviation | in band |',
    );
    expect(text).toMatch(/\| 1 \| solver \| 0\.300 \| l2 \| 8 \| - \| 2\.\d+ G \| \+\d+\.\d+% \| no \|/);
    expect(text).toMatch(/\| 2 \| solver \| 0\.420 \|/);
    expect(text).toContain('Bracket: #1');
    expect(text).toContain('divergence monitor: stagnating');
    expect(text).toContain('attempt #3');
  });

  test('older models get a forced tool choice and the temperature', async () => {
    api.enqueue(toolUseReply(goodStrategy()));
    await propose(agent({ model: 'claude-sonnet-4-6', temperature: 0.3 }), proposeInput(history2()));
    const body = api.messageRequests[0]!.body;
    expect(body.tool_choice).toEqual({
      type: 'tool',
      name: PROPOSE_TOOL_NAME,
      disable_parallel_tool_use: true,
    });
    expect(body.temperature).toBe(0.3);
  });

  test("the base strategy's ignored layers are kept even if Claude drops them", async () => {
    api.enqueue(toolUseReply(goodStrategy({ ignoredLayers: ['layer4.2.conv3'] })));
    const p = await propose(
      agent(),
      proposeInput(history2(), {
        baseStrategy: { importance: 'l2', roundTo: 8, ignoredLayers: ['layer1.0.conv1'] },
      }),
    );
    expect(p.strategy.ignoredLayers).toEqual(['layer4.2.conv3', 'layer1.0.conv1']);
  });
});

describe('ClaudeAgent: the prompt of a scored search', () => {
  const score = (top1: number, loss: number) => ({
    mode: 'zero-shot' as const,
    top1,
    loss,
    count: 256,
    steps: 0,
    wallMs: 400,
  });
  // Target 1.77 G, band -5%..+1%: r 0.360 (+0.43 %), 0.365 (-1.03 %), 0.370 (-2.47 %), 0.361 (+0.14 %) are in
  // band. #2 is in view only because it was scored: it is neither first, best, bracketing nor latest.
  const scoredHistory = () => [
    attempt(1, 0.3),
    attempt(2, 0.36, {}, { score: score(0.5, 1.5) }),
    attempt(3, 0.2),
    attempt(4, 0.25),
    attempt(5, 0.365, { isomorphic: false }, { score: score(0.625, 1.1) }),
    attempt(6, 0.22),
    attempt(7, 0.37, { importance: 'taylor' }, { scoreError: 'EngineError: CUDA out of memory' }),
    attempt(8, 0.361),
  ];
  const sensitivity = {
    baseline: { top1: 0.76, loss: 0.8 },
    stages: [
      {
        stage: 'layer3',
        macs: 1.47e9,
        points: [
          { ratio: 0.3, macs: 3.4e9, top1: 0.7, loss: 1.0 },
          { ratio: 0.6, macs: 2.9e9, top1: 0.4, loss: 2.0 },
        ],
      },
      {
        stage: 'layer4',
        macs: 0.81e9,
        points: [
          { ratio: 0.3, macs: 3.8e9, top1: 0.75, loss: 0.82 },
          { ratio: 0.6, macs: 3.6e9, top1: 0.74, loss: 0.85 },
        ],
      },
    ],
  };

  test('every candidate score and the sensitivity table reach Claude', async () => {
    api.enqueue(toolUseReply(goodStrategy()));
    await propose(agent({ historyWindow: 1 }), proposeInput(scoredHistory(), { sensitivity }));
    const text = userText(api.messageRequests[0]!);
    expect(text).toContain('; best score #5 (top-1 62.5%, the candidate kept so far)');
    // 1.96 sqrt(0.625 x 0.375 / 256) = 5.9 points: Claude is told how close two scores may be and still tie.
    expect(text).toContain(
      "One score's top-1 has a 95% sampling error on 256 held-out images: ±5.9 points, so candidates closer than that",
    );
    expect(text).toContain('| in band | top1 | score | kept as |');
    expect(text).toMatch(/\| 2 \| solver \| 0\.360 \| .* \| 50\.0% loss 1\.500 \(zero-shot\) \| scored \|/);
    expect(text).toMatch(
      /\| 5 \| solver \| 0\.365 \| .* \| 62\.5% loss 1\.100 \(zero-shot\) \| [^|]*best score \|/,
    );
    expect(text).toMatch(
      /\| 7 \| solver \| 0\.370 \| taylor \| .* \| failed: EngineError: CUDA out of memory \|/,
    );
    expect(text).toMatch(/\| 8 \| solver \| 0\.361 \| .* \| - \| [^|]*latest/);
    expect(text).toContain('| attempts 3-4 (2 not shown');
    // Each stage's whole-model MACs as a share of dense (4.089 G), top-1 and loss; then the loss added per
    // 10 % of dense MACs removed at r = 0.6: layer3 (2.0 - 0.8) / (1.189 / 4.089) x 0.1 = 0.413,
    // layer4 (0.85 - 0.8) / (0.489 / 4.089) x 0.1 = 0.042.
    expect(text).toContain(
      '## Per-stage sensitivity (each stage pruned alone, scored on a held-out slice of train/; dense: top-1 76.0%, loss 0.800)',
    );
    expect(text).toContain('| layer3 | 1.47 G | 83.1%, 70.0%, 1.000 | 70.9%, 40.0%, 2.000 | 0.413 |');
    expect(text).toContain('| layer4 | 810 M | 92.9%, 75.0%, 0.820 | 88.0%, 74.0%, 0.850 | 0.042 |');
    expect(SYSTEM_PREFIX).toContain('the best-scored candidate is the one kept');
  });

  test("a finalist's second score (a history a re-run carries in) reaches Claude beside its first", async () => {
    const second = { ...score(0.7, 0.8), mode: 'recovery' as const, steps: 40 };
    const history = scoredHistory().map((a) => (a.index === 5 ? { ...a, rescore: second } : a));
    api.enqueue(toolUseReply(goodStrategy()));
    await propose(agent({ historyWindow: 1 }), proposeInput(history, { sensitivity }));
    expect(userText(api.messageRequests[0]!)).toMatch(
      /\| 5 \| solver \| 0\.365 \| .* \| 62\.5% loss 1\.100 \(zero-shot\); then 70\.0% loss 0\.800 \(recovery 40 steps\) \|/,
    );
  });

  test('ranked by loss: the lowest loss is the best score Claude is told is kept', async () => {
    // #2 has the lower top-1 (50.0 % against 62.5 %) but the lower loss (0.900 against 1.100).
    const history = scoredHistory().map((a) => (a.index === 2 ? { ...a, score: score(0.5, 0.9) } : a));
    api.enqueue(toolUseReply(goodStrategy()));
    await propose(agent({ historyWindow: 1 }), proposeInput(history, { rankBy: 'loss' }));
    const text = userText(api.messageRequests[0]!);
    expect(text).toContain(
      '; best score #2 (loss 0.900, top-1 50.0%; candidates are ranked by the lowest loss; the candidate kept so far)',
    );
    expect(text).toMatch(
      /\| 2 \| solver \| 0\.360 \| .* \| 50\.0% loss 0\.900 \(zero-shot\) \| [^|]*best score \|/,
    );
    expect(text).toMatch(
      /\| 5 \| solver \| 0\.365 \| .* \| 62\.5% loss 1\.100 \(zero-shot\) \| closest below, scored \|/,
    );
  });

  test('without scores or a table, neither appears', async () => {
    api.enqueue(toolUseReply(goodStrategy()));
    await propose(agent(), proposeInput(history2()));
    const text = userText(api.messageRequests[0]!);
    expect(text).not.toContain('Per-stage sensitivity');
    expect(text).not.toContain('best score');
  });
});

describe('ClaudeAgent: repairs', () => {
  test('malformed JSON, then a good reply: one repair with the parse error as an is_error tool_result', async () => {
    api.enqueue(toolUseReply('{"pruningRatio": 0.35, "importance": '), toolUseReply(goodStrategy()));
    const p = await propose(agent(), proposeInput(history2()));

    expect(p.agent).toBe('claude');
    expect(p.llm?.repairs).toBe(1);
    const second = api.messageRequests[1]!.body;
    expect(second.messages).toHaveLength(3);
    expect(second.messages[1].role).toBe('assistant');
    expect(second.messages[1].content[0]).toMatchObject({ type: 'tool_use', name: PROPOSE_TOOL_NAME });
    const result = second.messages[2].content[0];
    expect(result).toMatchObject({
      type: 'tool_result',
      tool_use_id: second.messages[1].content[0].id,
      is_error: true,
    });
    expect(result.content).toMatch(/not valid JSON/);
  });

  test('out of range three times (maxRepairs 2): falls back to the solver with the validation message', async () => {
    const bad = { ...goodStrategy(), pruningRatio: 1.2 };
    api.enqueue(toolUseReply(bad), toolUseReply(bad), toolUseReply(bad));
    const p = await propose(agent({ maxRepairs: 2 }), proposeInput(history2()));

    expect(api.messageRequests).toHaveLength(3);
    expect(p.agent).toBe('solver');
    expect(p.strategy.pruningRatio).toBe(0.4);
    expect(p.fallbackReason).toMatch(/^claude: reply failed validation 3 times: pruningRatio: Too big/);
    expect(p.llm?.repairs).toBe(2);
    expect(solver.inputs).toHaveLength(1);
    expect(solver.inputs[0]!.agent).toBe('solver');
    for (const r of api.messageRequests.slice(1)) {
      const last = r.body.messages[r.body.messages.length - 1];
      expect(last.content[0].is_error).toBe(true);
      expect(last.content[0].content).toContain('pruningRatio: Too big');
    }
    leaks.push(p.fallbackReason!);
  });

  test('maxRepairs 1: "failed validation twice"', async () => {
    const bad = { ...goodStrategy(), importance: 'magic' };
    api.enqueue(toolUseReply(bad), toolUseReply(bad));
    const p = await propose(agent({ maxRepairs: 1 }), proposeInput(history2()));
    expect(p.fallbackReason).toMatch(/^claude: reply failed validation twice: importance: /);
  });

  test('a strategy already measured is sent back for repair', async () => {
    const history = history2();
    const repeated = { ...history[1]!.strategy, rationale: 'try 0.42 again' };
    api.enqueue(toolUseReply(repeated), toolUseReply(goodStrategy()));
    const p = await propose(agent(), proposeInput(history));

    expect(p.agent).toBe('claude');
    expect(p.llm?.repairs).toBe(1);
    const feedback = api.messageRequests[1]!.body.messages[2].content[0].content as string;
    expect(feedback).toMatch(/already measured as attempt #2/);
  });

  test('the same strategy with the engine defaults stated (iterativeSteps 1, empty stageRatios) is a repeat too', async () => {
    const history = history2();
    const repeated = { ...history[1]!.strategy, iterativeSteps: 1, stageRatios: {}, rationale: 'one step' };
    api.enqueue(toolUseReply(repeated), toolUseReply(goodStrategy()));
    const p = await propose(agent(), proposeInput(history));

    expect(p.llm?.repairs).toBe(1);
    const feedback = api.messageRequests[1]!.body.messages[2].content[0].content as string;
    expect(feedback).toMatch(/already measured as attempt #2/);
  });

  test('a text-only reply is asked again for the tool call', async () => {
    api.enqueue(textReply('I think 0.35 would work.'), toolUseReply(goodStrategy()));
    const p = await propose(agent(), proposeInput(history2()));
    expect(p.agent).toBe('claude');
    const repair = api.messageRequests[1]!.body.messages[2].content[0];
    expect(repair.type).toBe('text');
    expect(repair.text).toMatch(/did not call propose_strategy/);
  });

  test('an unknown stage prefix is sent back with the stage names', async () => {
    api.enqueue(
      toolUseReply(goodStrategy({ stageRatios: { block9: 0.5 } })),
      toolUseReply(goodStrategy({ stageRatios: { 'layer4.2': 0.5 } })),
    );
    const p = await propose(agent(), proposeInput(history2()));
    expect(p.strategy.stageRatios).toEqual({ 'layer4.2': 0.5 });
    const feedback = api.messageRequests[1]!.body.messages[2].content[0].content as string;
    expect(feedback).toContain('stageRatios.block9: not a stage or module prefix');
    expect(feedback).toContain('layer1, layer2');
  });

  test('thinking blocks go back unchanged and every tool_use gets a tool_result', async () => {
    api.enqueue(
      {
        kind: 'message',
        content: [
          { type: 'thinking', thinking: 'bracket is #1/#2', signature: 'sig-abc' },
          { type: 'tool_use', name: PROPOSE_TOOL_NAME, input: { pruningRatio: 2 } },
          { type: 'tool_use', name: PROPOSE_TOOL_NAME, input: goodStrategy() },
        ],
      },
      toolUseReply(goodStrategy()),
    );
    const p = await propose(agent(), proposeInput(history2()));
    expect(p.agent).toBe('claude');
    const second = api.messageRequests[1]!.body; // the fake rejects unanswered tool_use ids with 400
    expect(second.messages[1].content[0]).toEqual({
      type: 'thinking',
      thinking: 'bracket is #1/#2',
      signature: 'sig-abc',
    });
    expect(second.messages[2].content).toHaveLength(2);
  });

  test('a refusal falls back at once, without repair turns', async () => {
    api.enqueue({ kind: 'message', content: [{ type: 'text', text: 'no' }], stop_reason: 'refusal' });
    const p = await propose(agent(), proposeInput(history2()));
    expect(api.messageRequests).toHaveLength(1);
    expect(p.agent).toBe('solver');
    expect(p.fallbackReason).toBe('claude: the model declined to answer (stop_reason refusal)');
  });
});

describe('ClaudeAgent: API trouble falls back, never throws', () => {
  test('529 overloaded after the SDK retries', async () => {
    api.enqueue(overloadedReply(), overloadedReply(), overloadedReply());
    const p = await propose(agent({ maxRetries: 2 }), proposeInput(history2()));
    expect(api.messageRequests).toHaveLength(3); // 1 + 2 SDK retries
    expect(p.agent).toBe('solver');
    expect(p.fallbackReason).toBe('claude: API overloaded (529) after 2 retries');
    expect(p.llm).toBeUndefined(); // no tokens were spent
  });

  test('529 then a good reply: the SDK retry succeeds, no fallback', async () => {
    api.enqueue(overloadedReply(), toolUseReply(goodStrategy()));
    const p = await propose(agent({ maxRetries: 2 }), proposeInput(history2()));
    expect(p.agent).toBe('claude');
  });

  test('timeout: the server never answers', async () => {
    api.enqueue({ kind: 'hang' }, { kind: 'hang' });
    const started = Date.now();
    const p = await propose(agent({ timeoutMs: 300, maxRetries: 1 }), proposeInput(history2()));
    expect(api.messageRequests).toHaveLength(2);
    expect(p.agent).toBe('solver');
    expect(p.fallbackReason).toBe('claude: API timed out (no reply within 300 ms) after 1 retry');
    expect(Date.now() - started).toBeLessThan(5000);
  });

  test('401: the key was rejected, and the reason does not show it', async () => {
    const wrongKey = 'sk-ant-api03-WRONG-0123456789abcdefghijklmnop';
    const p = await propose(agent({ apiKey: wrongKey, maxRetries: 2 }), proposeInput(history2()));
    expect(api.messageRequests).toHaveLength(1); // 401 is not retried
    expect(presentedKey(api.messageRequests[0]!.headers)).toBe(wrongKey); // header only
    expect(p.agent).toBe('solver');
    expect(p.fallbackReason).toBe(
      'claude: API key rejected (401 authentication_error): check ANTHROPIC_API_KEY',
    );
    expect(JSON.stringify(p)).not.toContain(wrongKey);
  });

  test('connection refused', async () => {
    const a = agent({ maxRetries: 0 });
    await api.stop();
    const p = await propose(a, proposeInput(history2()));
    expect(p.agent).toBe('solver');
    expect(p.fallbackReason).toMatch(/^claude: cannot reach the API \(connection error/);
  });

  test('400 from the API (e.g. a setting the model rejects) falls back with the API message', async () => {
    api.enqueue({
      kind: 'error',
      status: 400,
      type: 'invalid_request_error',
      message: 'tool_choice: forced tool use is not supported',
    });
    const p = await propose(agent(), proposeInput(history2()));
    expect(p.fallbackReason).toBe(
      'claude: request rejected (400 invalid_request_error): tool_choice: forced tool use is not supported',
    );
  });
});

describe('ClaudeAgent: usage, cost, transcripts', () => {
  test('tokens and cost are summed over repair turns', async () => {
    api.enqueue(
      toolUseReply(
        { ...goodStrategy(), roundTo: 0 },
        { input_tokens: 1000, output_tokens: 200, cache_creation_input_tokens: 3000 },
      ),
      toolUseReply(goodStrategy(), { input_tokens: 1200, output_tokens: 150, cache_read_input_tokens: 3000 }),
    );
    const p = await propose(agent(), proposeInput(history2()));
    const tokens = { inputTokens: 2200, outputTokens: 350, cacheReadTokens: 3000, cacheWriteTokens: 3000 };
    expect(p.llm).toMatchObject({ ...tokens, repairs: 1 });
    // Sonnet 5.5 estimate: 2200*$2 + 350*$10 + 3000*$0.20 + 3000*$2.50 per MTok = $0.016
    expect(p.llm?.costUsd).toBeCloseTo(0.016, 9);
    expect(p.llm?.costUsd).toBe(estimateCostUsd('claude-sonnet-5-5', tokens));
  });

  test('tokens spent before a fallback are still reported', async () => {
    const bad = { ...goodStrategy(), pruningRatio: -1 };
    api.enqueue(
      toolUseReply(bad, { input_tokens: 10, output_tokens: 5 }),
      toolUseReply(bad, { input_tokens: 10, output_tokens: 5 }),
    );
    const p = await propose(agent({ maxRepairs: 1 }), proposeInput(history2()));
    expect(p.agent).toBe('solver');
    expect(p.llm).toMatchObject({ inputTokens: 20, outputTokens: 10, repairs: 1 });
  });

  test('the transcript is stored under the attempt key, referenced in llm.transcript, without the key', async () => {
    api.enqueue(toolUseReply('not json'), toolUseReply(goodStrategy()));
    const p = await propose(
      agent(),
      proposeInput(history2(), { context: { campaignId: 'c-42', targetLabel: '1.77G' } }),
    );

    const key = 'campaigns/c-42/1.77G/transcripts/attempt-3.json';
    expect([...sink.objects.keys()]).toEqual([key]);
    expect(p.llm?.transcript).toMatchObject({ key, uri: `mem://transcripts/${key}` });
    expect(p.llm?.transcript?.sha256).toMatch(/^[0-9a-f]{64}$/);
    const doc = JSON.parse(sink.text(key));
    expect(doc.request.messages).toHaveLength(3); // first ask, reply, repair
    expect(doc.request.system[0].text).toBe(SYSTEM_PREFIX);
    expect(doc.replies).toHaveLength(2);
    expect(doc.checks[0]).toMatch(/not valid JSON/);
    expect(doc.outcome).toEqual({ ok: true, strategy: goodStrategy() });
    const text = sink.text(key).toLowerCase();
    expect(text).not.toContain('authorization');
    expect(text).not.toContain('x-api-key');
    expect(text).not.toContain('bearer');
  });

  test('a fallback transcript is stored too, and no transcript without a context', async () => {
    api.enqueue(overloadedReply());
    const p = await propose(
      agent(),
      proposeInput(history2(), { context: { campaignId: 'c', targetLabel: 't' } }),
    );
    expect(p.agent).toBe('solver');
    expect(JSON.parse(sink.text('campaigns/c/t/transcripts/attempt-3.json')).outcome.reason).toMatch(
      /overloaded/,
    );
    expect(p.llm?.transcript).toBeDefined();

    api.enqueue(toolUseReply(goodStrategy()));
    const q = await propose(agent(), proposeInput(history2()));
    expect(q.llm?.transcript).toBeUndefined();
    expect(sink.objects.size).toBe(1);
  });

  test('a failing sink costs only the transcript: warning without the key', async () => {
    const warnings: string[] = [];
    api.enqueue(toolUseReply(goodStrategy()));
    const p = await propose(
      agent({
        transcripts: { put: () => Promise.reject(new Error(`disk full (${TEST_KEY})`)) },
        logger: { warn: (m) => warnings.push(m) },
      }),
      proposeInput(history2(), { context: { campaignId: 'c', targetLabel: 't' } }),
    );
    expect(p.agent).toBe('claude');
    expect(p.llm?.transcript).toBeUndefined();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/transcript .* not stored: disk full/);
    leaks.push(...warnings);
  });
});

describe('prompt size for long histories', () => {
  const sizes = [1, 10, 50, 200];
  const estimates = Object.fromEntries(
    sizes.map((n) => [
      n,
      buildPrompt({ ...proposeInput(longHistory(n)), historyWindow: 12 }).promptTokensEstimate,
    ]),
  );

  test('the estimate stays bounded as the history grows', () => {
    console.log(`prompt tokens estimate by history length: ${JSON.stringify(estimates)}`);
    expect(estimates[200]).toBeLessThan(7000);
    expect(estimates[200]! - estimates[50]!).toBeLessThan(600);
  });

  test('first, best, bracketing pair and latest attempts are shown verbatim; the rest summarised', () => {
    const history = longHistory(200);
    history[89] = attempt(90, 0.3684, { roundTo: 4 }); // a distinctive best, deep inside the history
    const prompt = buildPrompt({ ...proposeInput(history), historyWindow: 12 });
    const text = userText({ body: { messages: prompt.messages } } as RecordedRequest);
    expect(text).toMatch(/\| 1 \| claude \|.*\| first/);
    expect(text).toMatch(/\| 90 \| solver \| 0\.368 \| l2 \| 4 \|.*best/);
    for (let i = 189; i <= 200; i++) expect(text).toMatch(new RegExp(`\\| ${i} \\| \\w+ \\|.*latest`));
    expect(text).toMatch(
      /attempts 2-\d+ \(\d+ not shown, (?:claude\/solver|solver\/claude)\), ratios 0\.\d{3}\.\.0\.\d{3}, deviations [-+]\d+\.\d+%\.\.[-+]\d+\.\d+%/,
    );
    expect(text).toMatch(/closest above/);
    expect(text).toMatch(/closest below/);
    expect(prompt.history.verbatim + prompt.history.summarized).toBe(200);
    expect(prompt.history.verbatim).toBeLessThanOrEqual(16);
  });

  test('the system prefix and tool do not depend on the input (one cache entry for every attempt)', () => {
    const a = buildPrompt(proposeInput([]));
    const b = buildPrompt(proposeInput(longHistory(30)));
    expect(a.system).toEqual(b.system);
    expect(a.tools).toEqual(b.tools);
    expect((a.messages[0]!.content as any[])[0]).toEqual((b.messages[0]!.content as any[])[0]);
  });

  test('every tool schema a reply can satisfy is a valid Strategy', () => {
    const schema = buildPrompt(proposeInput()).tools[0]!.input_schema as any;
    expect(schema.$schema).toBeUndefined();
    expect(schema.required).toEqual([
      'pruningRatio',
      'importance',
      'globalPruning',
      'isomorphic',
      'roundTo',
      'rationale',
    ]);
    expect(Object.keys(schema.properties as object).sort()).toEqual(Object.keys(StrategySchema.shape).sort());
  });
});

describe('configuration and the API key', () => {
  test('no key: a clear error at start', () => {
    const message = 'ANTHROPIC_API_KEY is not set: agent "claude" needs it; set it or choose agent "solver"';
    expect(() => createClaudeAgent({ apiKey: undefined, fallback: solver })).toThrow(
      new ClaudeConfigError(message),
    );
    expect(() => createClaudeAgent({ apiKey: '  ', fallback: solver })).toThrow(ClaudeConfigError);
    expect(() => requireClaudeKey({})).toThrow(message);
    expect(() => requireClaudeKey({ ANTHROPIC_API_KEY: '' })).toThrow(ClaudeConfigError);
    expect(requireClaudeKey({ ANTHROPIC_API_KEY: ` ${TEST_KEY}\n` })).toBe(TEST_KEY);
  });

  test('ClaudeConfigSchema: defaults, strict keys, ranges', () => {
    expect(ClaudeConfigSchema.parse({})).toEqual(DEFAULT_CLAUDE_CONFIG);
    expect(ClaudeConfigSchema.parse({ model: 'claude-opus-5-5', temperature: 0.2 })).toMatchObject({
      model: 'claude-opus-5-5',
      temperature: 0.2,
    });
    expect(ClaudeConfigSchema.safeParse({ modle: 'x' }).success).toBe(false);
    expect(ClaudeConfigSchema.safeParse({ maxRepairs: 9 }).success).toBe(false);
    expect(ClaudeConfigSchema.safeParse({ temperature: 1.5 }).success).toBe(false);
  });

  test('worst-case duration of one proposal, for the activity timeout', () => {
    expect(claudeWorstCaseMs({ timeoutMs: 1000, maxRetries: 2, maxRepairs: 2 })).toBe(
      3 * (3 * 1000 + 500 + 1000),
    );
  });
});
