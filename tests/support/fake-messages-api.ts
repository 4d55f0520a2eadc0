/**
 * A local fake of the Anthropic Messages API for tests: node:http on 127.0.0.1 and a random port,
 * speaking the real wire format, so tests drive the REAL SDK client through `baseURL`.
 *
 * - `POST /v1/messages` answers from a queue of scripted replies: a message (content blocks incl.
 *   tool_use, stop_reason, usage with cache fields), an API error (`{type: 'error', error: {type,
 *   message}}` with its status), or `hang` (never answers: the client's timeout fires).
 * - Every request is recorded (method, path, headers, parsed body) so tests can look at prompts,
 *   repair turns and where the key went.
 * - It checks what the real API would reject: a missing `anthropic-version` header, a missing model,
 *   max_tokens or messages, a `tool_use` not answered by a `tool_result` in the next user turn, and (when
 *   `expectedKey` is set) a wrong key (401 authentication_error).
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One content block the fake sends back. */
export type FakeContentBlock =
  | { type: 'text'; text: string }
  | { type: 'tool_use'; id?: string; name: string; input: unknown }
  | { type: 'thinking'; thinking: string; signature: string };

/** Token counts of a scripted message; defaults are small non-zero numbers. */
export interface FakeUsage {
  input_tokens?: number;
  output_tokens?: number;
  cache_creation_input_tokens?: number;
  cache_read_input_tokens?: number;
}

/** A scripted reply. */
export type FakeReply =
  | {
      kind: 'message';
      content: FakeContentBlock[];
      stop_reason?: 'end_turn' | 'tool_use' | 'max_tokens' | 'refusal';
      usage?: FakeUsage;
    }
  | { kind: 'error'; status: number; type: string; message: string; headers?: Record<string, string> }
  | { kind: 'hang' };

/** A request as the fake received it. */
export interface RecordedRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  rawBody: string;
  body: any;
}

/** A tool_use reply calling `name` with `input` (an object, or a string to simulate broken JSON). */
export function toolUseReply(input: unknown, usage: FakeUsage = {}, name = 'propose_strategy'): FakeReply {
  return { kind: 'message', content: [{ type: 'tool_use', name, input }], stop_reason: 'tool_use', usage };
}

/** A text-only reply. */
export function textReply(text: string, usage: FakeUsage = {}): FakeReply {
  return { kind: 'message', content: [{ type: 'text', text }], stop_reason: 'end_turn', usage };
}

/** `529 overloaded_error`, as the API sends it; `retry-after-ms` keeps SDK backoff short in tests. */
export function overloadedReply(retryAfterMs = 20): FakeReply {
  return {
    kind: 'error',
    status: 529,
    type: 'overloaded_error',
    message: 'Overloaded',
    headers: { 'retry-after-ms': String(retryAfterMs) },
  };
}

export class FakeMessagesApi {
  readonly requests: RecordedRequest[] = [];
  private readonly queue: FakeReply[] = [];
  private server: http.Server | undefined;
  private counter = 0;
  private port = 0;

  /** @param expectedKey when set, requests whose key differs get `401 authentication_error`. */
  constructor(private readonly expectedKey?: string) {}

  /** Base URL for the SDK (`http://127.0.0.1:<port>`). */
  get baseURL(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Message-creating requests received so far. */
  get messageRequests(): RecordedRequest[] {
    return this.requests.filter((r) => r.path === '/v1/messages');
  }

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => this.handle(req, Buffer.concat(chunks).toString('utf8'), res));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
    return this;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    this.server = undefined;
  }

  /** Queue replies, answered in order, one per request (SDK retries take one each). */
  enqueue(...replies: FakeReply[]): this {
    this.queue.push(...replies);
    return this;
  }

  /** Scripted replies not used yet. */
  get pending(): number {
    return this.queue.length;
  }

  private handle(req: http.IncomingMessage, rawBody: string, res: http.ServerResponse): void {
    let body: any;
    try {
      body = rawBody.length ? JSON.parse(rawBody) : undefined;
    } catch {
      body = undefined;
    }
    const path = (req.url ?? '').split('?')[0] ?? '';
    this.requests.push({ method: req.method ?? '', path, headers: req.headers, rawBody, body });

    if (req.method !== 'POST' || path !== '/v1/messages') {
      return this.sendError(res, 404, 'not_found_error', `Not found: ${req.method} ${path}`);
    }
    if (this.expectedKey !== undefined && presentedKey(req.headers) !== this.expectedKey) {
      return this.sendError(res, 401, 'authentication_error', 'invalid x-api-key');
    }
    if (req.headers['anthropic-version'] === undefined) {
      return this.sendError(res, 400, 'invalid_request_error', 'anthropic-version: header is required');
    }
    const invalid = validateBody(body);
    if (invalid !== undefined) return this.sendError(res, 400, 'invalid_request_error', invalid);

    const reply = this.queue.shift();
    if (reply === undefined) {
      // Not retryable: a test that runs out of script should fail fast, not back off.
      return this.sendError(res, 500, 'api_error', 'fake: no scripted reply left', {
        'x-should-retry': 'false',
      });
    }
    if (reply.kind === 'hang') return; // never answer; stop() closes the socket
    if (reply.kind === 'error')
      return this.sendError(res, reply.status, reply.type, reply.message, reply.headers);

    const n = ++this.counter;
    const content = reply.content.map((b, i) =>
      b.type === 'tool_use'
        ? {
            type: 'tool_use',
            id: b.id ?? `toolu_fake_${n}_${i}`,
            name: b.name,
            input: b.input,
            caller: { type: 'direct' },
          }
        : b.type === 'text'
          ? { type: 'text', text: b.text, citations: null }
          : b,
    );
    const u = reply.usage ?? {};
    const cacheWrite = u.cache_creation_input_tokens ?? 0;
    const message = {
      id: `msg_fake_${n}`,
      type: 'message',
      role: 'assistant',
      model: body.model,
      content,
      stop_reason:
        reply.stop_reason ?? (content.some((b) => b.type === 'tool_use') ? 'tool_use' : 'end_turn'),
      stop_sequence: null,
      stop_details: null,
      container: null,
      diagnostics: null,
      usage: {
        input_tokens: u.input_tokens ?? 100,
        output_tokens: u.output_tokens ?? 50,
        cache_creation_input_tokens: cacheWrite,
        cache_read_input_tokens: u.cache_read_input_tokens ?? 0,
        cache_creation: { ephemeral_5m_input_tokens: cacheWrite, ephemeral_1h_input_tokens: 0 },
        inference_geo: null,
        output_tokens_details: null,
        server_tool_use: null,
        service_tier: 'standard',
        speed: null,
      },
    };
    res.writeHead(200, { 'content-type': 'application/json', 'request-id': `req_fake_${n}` });
    res.end(JSON.stringify(message));
  }

  private sendError(
    res: http.ServerResponse,
    status: number,
    type: string,
    message: string,
    headers: Record<string, string> = {},
  ): void {
    res.writeHead(status, {
      'content-type': 'application/json',
      'request-id': `req_fake_err_${++this.counter}`,
      ...headers,
    });
    res.end(JSON.stringify({ type: 'error', error: { type, message } }));
  }
}

/** The key a request presented: `x-api-key`, or a bearer token (this SDK version sends the key that way). */
export function presentedKey(headers: http.IncomingHttpHeaders): string | undefined {
  const apiKey = headers['x-api-key'];
  if (typeof apiKey === 'string') return apiKey;
  const auth = headers.authorization;
  return typeof auth === 'string' && auth.startsWith('Bearer ') ? auth.slice('Bearer '.length) : undefined;
}

/** What the real API rejects with 400 that a client bug could produce. */
function validateBody(body: any): string | undefined {
  if (body === undefined || typeof body !== 'object') return 'body: expected a JSON object';
  if (typeof body.model !== 'string') return 'model: Field required';
  if (typeof body.max_tokens !== 'number') return 'max_tokens: Field required';
  if (!Array.isArray(body.messages) || body.messages.length === 0) return 'messages: Field required';
  const messages = body.messages as any[];
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i];
    if (m.role !== 'assistant' || !Array.isArray(m.content)) continue;
    const ids = (m.content as { type: string; id?: string }[])
      .filter((b) => b.type === 'tool_use')
      .map((b) => b.id ?? '');
    if (ids.length === 0) continue;
    const next = messages[i + 1];
    const results: { type: string; tool_use_id?: string }[] = Array.isArray(next?.content)
      ? next.content
      : [];
    const answered = new Set(results.filter((b) => b.type === 'tool_result').map((b) => b.tool_use_id));
    const missing = ids.filter((id) => !answered.has(id));
    if (next?.role !== 'user' || missing.length > 0) {
      return `messages.${i + 1}: tool_use ids were found without tool_result blocks immediately after: ${missing.join(', ')}`;
    }
  }
  const tools: { name: string }[] = Array.isArray(body.tools) ? body.tools : [];
  if (body.tool_choice?.type === 'tool' && !tools.some((t) => t.name === body.tool_choice.name)) {
    return `tool_choice.name: tool ${body.tool_choice.name} not in tools`;
  }
  return undefined;
}
