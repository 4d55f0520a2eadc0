/**
 * The paper's Analysis Agent: Claude proposes the next strategy from the whole history of attempts.
 *
 * One proposal is one short conversation with the Messages API: the prompt of `claude-prompt.ts`, one
 * tool (`propose_strategy`, whose input is a Strategy), and up to `maxRepairs` repair turns when the
 * reply is not a valid, new strategy. Model or API trouble never throws: the attempt falls back to the
 * injected agent (the solver) with `fallbackReason` saying why. The API key goes to the SDK client and
 * nowhere else: not into transcripts, proposals, reasons or logs.
 */
import Anthropic, {
  AnthropicError,
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
  APIUserAbortError,
  AuthenticationError,
  BadRequestError,
  InternalServerError,
  NotFoundError,
  OverloadedError,
  PermissionDeniedError,
  RateLimitError,
} from '@anthropic-ai/sdk';
import type {
  ContentBlockParam,
  Message,
  MessageCreateParamsNonStreaming,
  MessageParam,
  ToolChoice,
} from '@anthropic-ai/sdk/resources/messages';
import { z } from 'zod';
import type { ArtifactRef } from '../core/artifact-ref';
import type { Attempt, LlmUsage } from '../core/attempt';
import { ExitCode, formatZodIssues, PrunerError, type ExitCodeValue } from '../core/errors';
import type { ProfileSummary } from '../core/profile';
import { StrategySchema, strategyKey, type Strategy } from '../core/strategy';
import { formatPercent, truncate } from '../core/units';
import { transcriptKey } from '../storage/keys';
import type { Proposal, ProposeInput, StrategyAgent } from './agent';
import { modelTraits } from './claude-models';
import { DEFAULT_PRICING, estimateCostUsd, type PricingTable, type TokenCounts } from './claude-pricing';
import { buildPrompt, DEFAULT_HISTORY_WINDOW, PROPOSE_TOOL_NAME, type PromptMode } from './claude-prompt';

/** The Claude model asked when the campaign file names none: the current Sonnet. */
export const DEFAULT_CLAUDE_MODEL = 'claude-sonnet-5-5';

/** Defaults of the campaign file's `claude` section (see {@link ClaudeConfigSchema}). */
export const DEFAULT_CLAUDE_CONFIG = {
  model: DEFAULT_CLAUDE_MODEL,
  // Adaptive thinking counts against max_tokens on current models: leave room before the tool call.
  maxTokens: 8192,
  timeoutMs: 120_000,
  maxRetries: 2,
  maxRepairs: 2,
  historyWindow: DEFAULT_HISTORY_WINDOW,
} as const;

/**
 * The campaign file's `claude` section. Unknown keys are errors that name the key.
 *
 * @example
 * // campaign.yaml
 * // claude: { model: claude-sonnet-5-5, maxTokens: 8192, timeoutMs: 120000, maxRepairs: 2 }
 */
export const ClaudeConfigSchema = z
  .object({
    /** Model id. @default 'claude-sonnet-5-5' ({@link DEFAULT_CLAUDE_MODEL}) */
    model: z.string().min(1).default(DEFAULT_CLAUDE_CONFIG.model),
    /** Output token limit per reply, thinking included. @default 8192 */
    maxTokens: z.number().int().min(256).max(64000).default(DEFAULT_CLAUDE_CONFIG.maxTokens),
    /** Sampling temperature; sent only to models that accept one (see `claude-models.ts`). */
    temperature: z.number().min(0).max(1).optional(),
    /** Per-request timeout of the SDK client. @default 120000 */
    timeoutMs: z.number().int().min(1000).max(3_600_000).default(DEFAULT_CLAUDE_CONFIG.timeoutMs),
    /** SDK retries per request on 408/409/429/5xx/529, timeouts and connection errors. @default 2 */
    maxRetries: z.number().int().min(0).max(10).default(DEFAULT_CLAUDE_CONFIG.maxRetries),
    /** Repair turns after an invalid reply before falling back. @default 2 */
    maxRepairs: z.number().int().min(0).max(5).default(DEFAULT_CLAUDE_CONFIG.maxRepairs),
    /** Latest attempts shown verbatim in the prompt. @default 12 */
    historyWindow: z.number().int().min(1).max(200).default(DEFAULT_CLAUDE_CONFIG.historyWindow),
  })
  .strict();
export type ClaudeConfig = z.infer<typeof ClaudeConfigSchema>;

const MISSING_KEY_MESSAGE =
  'ANTHROPIC_API_KEY is not set: agent "claude" needs it; set it or choose agent "solver"';

/**
 * Thrown at start-up when the Claude agent cannot be built: no API key, or a bad `claude` config. A
 * usage error for the CLI: exit 2, its message alone.
 */
export class ClaudeConfigError extends PrunerError {
  override readonly name = 'ClaudeConfigError';
  override get exitCode(): ExitCodeValue {
    return ExitCode.usage;
  }
  override get messageOnly(): boolean {
    return true;
  }
}

/**
 * The API key from the environment, or a {@link ClaudeConfigError} when it is missing or blank (an
 * empty string counts as unset). Call it at start so a campaign that needs Claude fails before it runs.
 */
export function requireClaudeKey(env: Readonly<Record<string, string | undefined>>): string {
  const key = env['ANTHROPIC_API_KEY']?.trim();
  if (key === undefined || key.length === 0) throw new ClaudeConfigError(MISSING_KEY_MESSAGE);
  return key;
}

/**
 * Where transcripts go: structurally the artifact store's `put` (bytes in, reference out). The
 * reference must point at a complete object when the promise resolves.
 */
export interface TranscriptSink {
  put(key: string, source: { bytes: Uint8Array }): Promise<ArtifactRef>;
}

/** Options of {@link createClaudeAgent}. Numbers default to {@link DEFAULT_CLAUDE_CONFIG}. */
export interface ClaudeAgentOptions {
  /** From {@link requireClaudeKey}. Empty or missing: the factory throws a {@link ClaudeConfigError}. */
  apiKey: string | undefined;
  /** API base URL (tests point it at a local fake). @default the SDK's (ANTHROPIC_BASE_URL or api.anthropic.com) */
  baseURL?: string | undefined;
  /** @default 'claude-sonnet-5-5' */
  model?: string | undefined;
  /** @default 8192 */
  maxTokens?: number | undefined;
  /** Sent only to models that accept sampling parameters. @default not sent */
  temperature?: number | undefined;
  /** @default 120000 */
  timeoutMs?: number | undefined;
  /** @default 2 */
  maxRetries?: number | undefined;
  /** @default 2 */
  maxRepairs?: number | undefined;
  /** @default 12 */
  historyWindow?: number | undefined;
  /** Stores one transcript per proposal when the input has a `context`. @default none */
  transcripts?: TranscriptSink | undefined;
  /** Asked whenever Claude cannot deliver a valid strategy. */
  fallback: StrategyAgent;
  /** @default DEFAULT_PRICING */
  pricing?: PricingTable | undefined;
  /** Receives warnings (e.g. a transcript that could not be stored). Never given the key. @default none */
  logger?: { warn(message: string): void } | undefined;
}

/** What one conversation with Claude produced: a checked strategy, or why there is none. */
export type ClaudeOutcome =
  | { ok: true; strategy: Strategy; llm: LlmUsage }
  | { ok: false; reason: string; llm?: LlmUsage };

/** Settings after defaults. */
interface ClaudeSettings {
  model: string;
  maxTokens: number;
  temperature: number | undefined;
  timeoutMs: number;
  maxRetries: number;
  maxRepairs: number;
  historyWindow: number;
  pricing: PricingTable;
}

/**
 * Build the Claude agent. Throws {@link ClaudeConfigError} without an API key.
 *
 * @example
 * const claude = createClaudeAgent({
 *   apiKey: requireClaudeKey(process.env), ...ClaudeConfigSchema.parse(config.claude ?? {}),
 *   transcripts: store, fallback: new SolverAgent(),
 * });
 */
export function createClaudeAgent(options: ClaudeAgentOptions): ClaudeAgent {
  const apiKey = options.apiKey?.trim();
  if (apiKey === undefined || apiKey.length === 0) throw new ClaudeConfigError(MISSING_KEY_MESSAGE);
  const settings: ClaudeSettings = {
    model: options.model ?? DEFAULT_CLAUDE_CONFIG.model,
    maxTokens: options.maxTokens ?? DEFAULT_CLAUDE_CONFIG.maxTokens,
    temperature: options.temperature,
    timeoutMs: options.timeoutMs ?? DEFAULT_CLAUDE_CONFIG.timeoutMs,
    maxRetries: options.maxRetries ?? DEFAULT_CLAUDE_CONFIG.maxRetries,
    maxRepairs: options.maxRepairs ?? DEFAULT_CLAUDE_CONFIG.maxRepairs,
    historyWindow: options.historyWindow ?? DEFAULT_CLAUDE_CONFIG.historyWindow,
    pricing: options.pricing ?? DEFAULT_PRICING,
  };
  const client = new Anthropic({
    apiKey,
    timeout: settings.timeoutMs,
    maxRetries: settings.maxRetries,
    ...(options.baseURL !== undefined ? { baseURL: options.baseURL } : {}),
  });
  return new ClaudeAgent(
    client,
    settings,
    new Redactor(apiKey),
    options.fallback,
    options.transcripts,
    options.logger,
  );
}

/**
 * Longest a proposal can take before it falls back, in ms: every turn timing out on every SDK retry,
 * plus the SDK's backoff (0.5 s doubling, at most 8 s). Size the activity's start-to-close timeout above it.
 */
export function claudeWorstCaseMs(
  config: Pick<ClaudeConfig, 'timeoutMs' | 'maxRetries' | 'maxRepairs'>,
): number {
  let backoffMs = 0;
  for (let i = 0; i < config.maxRetries; i++) backoffMs += Math.min(500 * 2 ** i, 8000);
  return (config.maxRepairs + 1) * ((config.maxRetries + 1) * config.timeoutMs + backoffMs);
}

/** The Claude strategy agent. Build it with {@link createClaudeAgent}. */
export class ClaudeAgent implements StrategyAgent {
  readonly name = 'claude' as const;

  /** @internal use {@link createClaudeAgent} */
  constructor(
    private readonly client: Anthropic,
    private readonly settings: ClaudeSettings,
    private readonly redactor: Redactor,
    private readonly fallback: StrategyAgent,
    private readonly transcripts: TranscriptSink | undefined,
    private readonly logger: { warn(message: string): void } | undefined,
  ) {}

  /** The model this agent asks. */
  get model(): string {
    return this.settings.model;
  }

  /** Claude's strategy, or the fallback agent's with `fallbackReason` when Claude could not give one. */
  async propose(input: ProposeInput): Promise<Proposal> {
    const outcome = await this.ask(input);
    if (outcome.ok) return { strategy: outcome.strategy, agent: 'claude', llm: outcome.llm };
    const fallback = await this.fallback.propose({ ...input, agent: this.fallback.name });
    const llm = outcome.llm ?? fallback.llm;
    return {
      ...fallback,
      fallbackReason:
        fallback.fallbackReason !== undefined
          ? `${outcome.reason}; then ${fallback.fallbackReason}`
          : outcome.reason,
      ...(llm !== undefined ? { llm } : {}),
    };
  }

  /**
   * One conversation: ask, check the reply, repair up to `maxRepairs` times. Never throws for model or
   * API trouble; the outcome says why there is no strategy. In `shape` mode (the hybrid agent) a shape
   * already measured is fine: the solver will give it a new ratio.
   */
  async ask(input: ProposeInput, options: { mode?: PromptMode } = {}): Promise<ClaudeOutcome> {
    const mode = options.mode ?? 'full';
    const prompt = buildPrompt({ ...input, historyWindow: this.settings.historyWindow, mode });
    const messages: MessageParam[] = [...prompt.messages];
    const traits = modelTraits(this.settings.model);
    const toolChoice: ToolChoice = traits.forcedToolChoice
      ? { type: 'tool', name: PROPOSE_TOOL_NAME, disable_parallel_tool_use: true }
      : { type: 'auto', disable_parallel_tool_use: true };
    const request = (): MessageCreateParamsNonStreaming => ({
      model: this.settings.model,
      max_tokens: this.settings.maxTokens,
      system: prompt.system,
      tools: prompt.tools,
      tool_choice: toolChoice,
      messages: [...messages],
      ...(traits.samplingParams && this.settings.temperature !== undefined
        ? { temperature: this.settings.temperature }
        : {}),
    });

    const tokens: TokenCounts = { inputTokens: 0, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 };
    const replies: Message[] = [];
    const checks: string[] = [];
    let repairs = 0;
    let result: { ok: true; strategy: Strategy } | { ok: false; reason: string };

    for (;;) {
      let reply: Message;
      try {
        reply = await this.client.messages.create(request());
      } catch (err) {
        result = { ok: false, reason: this.redactor.text(describeApiError(err, this.settings)) };
        break;
      }
      replies.push(reply);
      addUsage(tokens, reply);
      const check = checkReply(reply, input, mode);
      checks.push(check.ok ? 'ok' : check.problem);
      if (check.ok) {
        result = { ok: true, strategy: check.strategy };
        break;
      }
      if (check.final === true || repairs >= this.settings.maxRepairs) {
        const tries = repairs + 1;
        result = {
          ok: false,
          reason: this.redactor.text(
            check.final === true
              ? `claude: ${check.problem}`
              : `claude: reply failed validation ${timesWord(tries)}: ${check.problem}`,
          ),
        };
        break;
      }
      // Pass the reply back unchanged (thinking blocks included: they are tied to the conversation).
      messages.push({ role: 'assistant', content: reply.content as unknown as ContentBlockParam[] });
      messages.push({ role: 'user', content: repairContent(reply, check.feedback) });
      repairs++;
    }

    const usage = (): LlmUsage => ({
      model: this.settings.model,
      ...tokens,
      costUsd: estimateCostUsd(this.settings.model, tokens, this.settings.pricing),
      repairs,
    });
    const transcript = await this.storeTranscript(input, mode, request(), replies, checks, result, usage());
    const llm = { ...usage(), ...(transcript !== undefined ? { transcript } : {}) };
    if (result.ok) return { ok: true, strategy: result.strategy, llm };
    return replies.length > 0 || transcript !== undefined
      ? { ok: false, reason: result.reason, llm }
      : { ok: false, reason: result.reason };
  }

  private async storeTranscript(
    input: ProposeInput,
    mode: PromptMode,
    request: MessageCreateParamsNonStreaming,
    replies: readonly Message[],
    checks: readonly string[],
    result: { ok: true; strategy: Strategy } | { ok: false; reason: string },
    usage: LlmUsage,
  ): Promise<ArtifactRef | undefined> {
    if (this.transcripts === undefined || input.context === undefined) return undefined;
    const attempt = nextAttemptIndex(input.history);
    const key = transcriptKey(input.context.campaignId, input.context.targetLabel, attempt);
    // Only the request body and the replies: headers (and with them the key) never get here.
    const doc = {
      kind: 'claude-transcript',
      version: 1,
      agent: 'claude',
      mode,
      attempt,
      campaignId: input.context.campaignId,
      targetLabel: input.context.targetLabel,
      request,
      replies: replies.map((r) => ({
        id: r.id,
        model: r.model,
        stop_reason: r.stop_reason,
        content: r.content,
        usage: r.usage,
      })),
      checks,
      outcome: result.ok ? { ok: true, strategy: result.strategy } : { ok: false, reason: result.reason },
      usage,
    };
    const text = this.redactor.text(JSON.stringify(doc, null, 2));
    try {
      return await this.transcripts.put(key, { bytes: new TextEncoder().encode(text) });
    } catch (err) {
      // A lost transcript must not cost the proposal (or a second paid call on activity retry).
      this.logger?.warn(
        this.redactor.text(
          `claude: transcript ${key} not stored: ${err instanceof Error ? err.message : String(err)}`,
        ),
      );
      return undefined;
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Checking a reply.

type ReplyCheck =
  | { ok: true; strategy: Strategy }
  | {
      ok: false;
      /** For the fallback reason (one line). */
      problem: string;
      /** For the model, in the repair turn. */
      feedback: string;
      /** Not worth repairing (a refusal). */
      final?: boolean;
    };

/**
 * Is this reply a valid, new strategy? Checks, in order: a `propose_strategy` call is there; its input
 * is a JSON object; it passes StrategySchema; its stage prefixes exist in the profile; and (in `full`
 * mode) it was not measured before. Base `ignoredLayers` are added to the strategy's own.
 */
export function checkReply(reply: Message, input: ProposeInput, mode: PromptMode): ReplyCheck {
  if (reply.stop_reason === 'refusal') {
    return {
      ok: false,
      problem: 'the model declined to answer (stop_reason refusal)',
      feedback: '',
      final: true,
    };
  }
  const call = reply.content.find((b) => b.type === 'tool_use' && b.name === PROPOSE_TOOL_NAME);
  if (call === undefined || call.type !== 'tool_use') {
    const cutOff = reply.stop_reason === 'max_tokens';
    return {
      ok: false,
      problem: `no ${PROPOSE_TOOL_NAME} call in the reply${cutOff ? ' (cut off at max_tokens)' : ''}`,
      feedback: cutOff
        ? `Your reply reached the output limit before calling ${PROPOSE_TOOL_NAME}. Think less and call ${PROPOSE_TOOL_NAME} directly with a complete Strategy.`
        : `Your reply did not call ${PROPOSE_TOOL_NAME}. Answer by calling ${PROPOSE_TOOL_NAME} exactly once with a complete Strategy.`,
    };
  }

  let raw: unknown = call.input;
  if (typeof raw === 'string') {
    try {
      raw = JSON.parse(raw) as unknown;
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      return {
        ok: false,
        problem: `${PROPOSE_TOOL_NAME} input is not valid JSON (${message})`,
        feedback: `The ${PROPOSE_TOOL_NAME} input is not valid JSON (${message}). Call ${PROPOSE_TOOL_NAME} again with a JSON object matching the schema.`,
      };
    }
  }
  const parsed = StrategySchema.safeParse(raw);
  if (!parsed.success) {
    const issues = formatZodIssues(parsed.error.issues);
    return {
      ok: false,
      problem: issues.replace(/\n/g, '; '),
      feedback: `The strategy is invalid:\n${issues}\nFix these fields and call ${PROPOSE_TOOL_NAME} again.`,
    };
  }
  const strategy = withBaseIgnored(parsed.data, input.baseStrategy.ignoredLayers);

  const unknownStages = Object.keys(strategy.stageRatios ?? {}).filter(
    (k) => !isModulePrefix(k, input.profile),
  );
  if (unknownStages.length > 0) {
    const problem = unknownStages
      .map((k) => `stageRatios.${k}: not a stage or module prefix of this model`)
      .join('; ');
    return {
      ok: false,
      problem,
      feedback: `${problem}. Stages of this model: ${input.profile.stages.map((s) => s.name).join(', ')}. Call ${PROPOSE_TOOL_NAME} again.`,
    };
  }

  if (mode === 'full') {
    const key = strategyKey(strategy);
    const same = input.history.find((a) => strategyKey(a.strategy) === key);
    if (same !== undefined) {
      const problem = `strategy already measured as attempt #${same.index}${describeResult(same)}`;
      return {
        ok: false,
        problem,
        feedback: `This ${problem}; measuring it again gives the same MACs. Propose a different strategy (e.g. a ratio interpolated between the bracketing attempts) and call ${PROPOSE_TOOL_NAME} again.`,
      };
    }
  }
  return { ok: true, strategy };
}

function describeResult(a: Attempt): string {
  return a.error !== undefined ? ' (it failed in the engine)' : ` (deviation ${formatPercent(a.deviation)})`;
}

/** The user's ignore list is a constraint: keep it whatever the model proposes. */
function withBaseIgnored(strategy: Strategy, baseIgnored: readonly string[] | undefined): Strategy {
  if (baseIgnored === undefined || baseIgnored.length === 0) return strategy;
  const own = strategy.ignoredLayers ?? [];
  const missing = baseIgnored.filter((l) => !own.includes(l));
  return missing.length === 0 ? strategy : { ...strategy, ignoredLayers: [...own, ...missing] };
}

/** A stage name, a prefix of one (`features` for `features.3`), or a module inside one (`layer4.2`). */
function isModulePrefix(key: string, profile: ProfileSummary): boolean {
  return profile.stages.some(
    (s) => s.name === key || s.name.startsWith(`${key}.`) || key.startsWith(`${s.name}.`),
  );
}

/** Tool results for every tool call of the reply (the API requires one each), or a text turn. */
function repairContent(reply: Message, feedback: string): ContentBlockParam[] {
  const calls = reply.content.filter((b) => b.type === 'tool_use');
  if (calls.length === 0) return [{ type: 'text', text: feedback }];
  let judged = false;
  return calls.map((call) => {
    const isJudged = !judged && call.name === PROPOSE_TOOL_NAME;
    if (isJudged) judged = true;
    return {
      type: 'tool_result' as const,
      tool_use_id: call.id,
      is_error: true,
      content: isJudged ? feedback : `Ignored: only one ${PROPOSE_TOOL_NAME} call per turn is used.`,
    };
  });
}

// ---------------------------------------------------------------------------------------------------
// Errors, usage, redaction.

/** One line for `fallbackReason`, after the SDK's own retries. Never includes request headers. */
export function describeApiError(
  err: unknown,
  settings: Pick<ClaudeSettings, 'model' | 'timeoutMs' | 'maxRetries'>,
): string {
  const n = settings.maxRetries;
  const retries = n === 0 ? 'without retries' : `after ${n} ${n === 1 ? 'retry' : 'retries'}`;
  const detail = (e: { apiMessage: string | null; message: string }) =>
    truncate(e.apiMessage ?? e.message, 300);
  if (err instanceof APIConnectionTimeoutError) {
    return `claude: API timed out (no reply within ${settings.timeoutMs} ms) ${retries}`;
  }
  if (err instanceof APIUserAbortError) return 'claude: request aborted';
  if (err instanceof APIConnectionError) {
    const cause = err.cause instanceof Error ? `: ${truncate(err.cause.message, 200)}` : '';
    return `claude: cannot reach the API (connection error${cause}) ${retries}`;
  }
  if (err instanceof AuthenticationError) {
    return 'claude: API key rejected (401 authentication_error): check ANTHROPIC_API_KEY';
  }
  if (err instanceof PermissionDeniedError) return `claude: API key not permitted (403): ${detail(err)}`;
  if (err instanceof RateLimitError) return `claude: rate limited (429) ${retries}`;
  if (err instanceof OverloadedError) return `claude: API overloaded (529) ${retries}`;
  if (err instanceof InternalServerError) return `claude: API server error (${err.status}) ${retries}`;
  if (err instanceof NotFoundError)
    return `claude: model "${settings.model}" or endpoint not found (404): ${detail(err)}`;
  if (err instanceof BadRequestError)
    return `claude: request rejected (400 ${err.type ?? 'invalid_request_error'}): ${detail(err)}`;
  if (err instanceof APIError) return `claude: API error (${err.status ?? 'no status'}): ${detail(err)}`;
  if (err instanceof AnthropicError) return `claude: client error: ${truncate(err.message, 300)}`;
  return `claude: unexpected error: ${truncate(err instanceof Error ? err.message : String(err), 300)}`;
}

function addUsage(tokens: TokenCounts, reply: Message): void {
  const u = reply.usage;
  tokens.inputTokens += u.input_tokens;
  tokens.outputTokens += u.output_tokens;
  tokens.cacheReadTokens += u.cache_read_input_tokens ?? 0;
  tokens.cacheWriteTokens += u.cache_creation_input_tokens ?? 0;
}

/** Removes the key (and anything shaped like an Anthropic key) from text that leaves this module. */
class Redactor {
  constructor(private readonly secret: string) {}

  text(value: string): string {
    return value
      .split(this.secret)
      .join('[redacted]')
      .replace(/sk-ant-[A-Za-z0-9_-]{8,}/g, '[redacted]');
  }
}

function nextAttemptIndex(history: readonly Attempt[]): number {
  return (history[history.length - 1]?.index ?? history.length) + 1;
}

function timesWord(n: number): string {
  return n === 1 ? 'once' : n === 2 ? 'twice' : `${n} times`;
}
