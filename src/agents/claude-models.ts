/**
 * What a Claude model accepts in a Messages request, where models differ in ways that fail a request.
 *
 * Newer models (Sonnet 5 / 5.5, Opus 4.7 and later, Opus 5.x) think adaptively by default and answer
 * `400 invalid_request_error` to a forced `tool_choice` (`{type: 'tool'}` or `{type: 'any'}`) and to
 * non-default sampling parameters (`temperature`). Older ones accept both. So the agent forces its
 * one tool and sends `temperature` only for models known to accept them, and otherwise asks with
 * `tool_choice: {type: 'auto'}` plus an instruction to call the tool, repairing a reply without it.
 * An id not listed here gets the conservative traits: every model accepts those requests.
 */

/** Request features that differ between Claude models. */
export interface ClaudeModelTraits {
  /** Accepts `tool_choice: {type: 'tool', name}`. */
  forcedToolChoice: boolean;
  /** Accepts a non-default `temperature`. */
  samplingParams: boolean;
}

/** Model id prefixes known to accept a forced tool choice and `temperature` (Claude 4.6 and older). */
const LEGACY_PREFIXES = [
  'claude-sonnet-4-6',
  'claude-sonnet-4-5',
  'claude-sonnet-4-2',
  'claude-sonnet-4-0',
  'claude-opus-4-6',
  'claude-opus-4-5',
  'claude-opus-4-1',
  'claude-opus-4-0',
  'claude-opus-4-2',
  'claude-haiku-4-5',
  'claude-3',
] as const;

const CONSERVATIVE: ClaudeModelTraits = { forcedToolChoice: false, samplingParams: false };
const LEGACY: ClaudeModelTraits = { forcedToolChoice: true, samplingParams: true };

/** The request features `model` accepts (conservative for ids this table does not know). */
export function modelTraits(model: string): ClaudeModelTraits {
  return LEGACY_PREFIXES.some((prefix) => model.startsWith(prefix)) ? LEGACY : CONSERVATIVE;
}
