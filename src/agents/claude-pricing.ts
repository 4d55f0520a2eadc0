/**
 * Estimated prices of Claude models, to put a dollar figure on each proposal (`LlmUsage.costUsd`).
 *
 * These are ESTIMATES for the strategy log and reports, not billing: list prices of the Claude API in
 * USD per million tokens (MTok) as published when this table was written (November 2026), standard
 * tier, no batch discount, no regional (`inference_geo`) surcharge. Check the provider's pricing page
 * before relying on them; pass your own table to `createClaudeAgent({ pricing })` to override.
 *
 * | model id prefix      | input | output | cache write (5 min) | cache read |
 * |----------------------|------:|-------:|--------------------:|-----------:|
 * | claude-sonnet-5-5    |  2.00 |  10.00 |                2.50 |       0.20 |
 * | claude-sonnet-5      |  2.00 |  10.00 |                2.50 |       0.20 |
 * | claude-sonnet-4      |  3.00 |  15.00 |                3.75 |       0.30 |
 * | claude-opus-5-5      |  4.00 |  20.00 |                5.00 |       0.20 |
 * | claude-opus-5        |  5.00 |  25.00 |                6.25 |       0.50 |
 * | claude-opus-4-5..4-8 |  5.00 |  25.00 |                6.25 |       0.50 |
 * | claude-opus-4, 4-1   | 15.00 |  75.00 |               18.75 |       1.50 |
 * | claude-haiku-4-5     |  1.00 |   5.00 |                1.25 |       0.10 |
 *
 * Cache writes use the 5-minute TTL rate (1.25 x input): the agent marks its prefix with the default
 * `{ type: 'ephemeral' }` (5 minutes), which covers the gap between two attempts of one search.
 * A model id matches the longest prefix in the table; an unknown model is priced as
 * {@link FALLBACK_PRICE} (the current Sonnet's rate) rather than as free.
 */

/** USD per million tokens for each kind of token the Messages API reports in `usage`. */
export interface ModelPrice {
  inputPerMTok: number;
  outputPerMTok: number;
  /** Writing the prompt cache (5-minute TTL). */
  cacheWritePerMTok: number;
  /** Reading the prompt cache. */
  cacheReadPerMTok: number;
}

/** A pricing table keyed by model id prefix; the longest matching prefix wins. */
export type PricingTable = Readonly<Record<string, ModelPrice>>;

const price = (input: number, output: number, cacheRead: number): ModelPrice => ({
  inputPerMTok: input,
  outputPerMTok: output,
  cacheWritePerMTok: input * 1.25,
  cacheReadPerMTok: cacheRead,
});

/** The estimated list prices above. */
export const DEFAULT_PRICING: PricingTable = {
  'claude-sonnet-5-5': price(2, 10, 0.2),
  'claude-sonnet-5': price(2, 10, 0.2),
  'claude-sonnet-4': price(3, 15, 0.3),
  'claude-opus-5-5': price(4, 20, 0.2),
  'claude-opus-5': price(5, 25, 0.5),
  'claude-opus-4-5': price(5, 25, 0.5),
  'claude-opus-4-6': price(5, 25, 0.5),
  'claude-opus-4-7': price(5, 25, 0.5),
  'claude-opus-4-8': price(5, 25, 0.5),
  'claude-opus-4': price(15, 75, 1.5),
  'claude-haiku-4-5': price(1, 5, 0.1),
};

/** What a model missing from the table is charged: the current Sonnet's rate. */
export const FALLBACK_PRICE: ModelPrice = price(2, 10, 0.2);

/** Token counts as the Messages API reports them (`input_tokens` excludes cache reads and writes). */
export interface TokenCounts {
  inputTokens: number;
  outputTokens: number;
  cacheReadTokens: number;
  cacheWriteTokens: number;
}

/** The price entry for a model id: longest matching prefix, else {@link FALLBACK_PRICE}. */
export function priceFor(model: string, table: PricingTable = DEFAULT_PRICING): ModelPrice {
  let best: { prefix: string; price: ModelPrice } | undefined;
  for (const [prefix, p] of Object.entries(table)) {
    if (model.startsWith(prefix) && (best === undefined || prefix.length > best.prefix.length)) {
      best = { prefix, price: p };
    }
  }
  return best?.price ?? FALLBACK_PRICE;
}

/**
 * Estimated cost in USD of the given token counts on `model`, rounded to 1e-6 USD.
 * @example estimateCostUsd('claude-sonnet-5-5', { inputTokens: 1e6, outputTokens: 0, cacheReadTokens: 0, cacheWriteTokens: 0 }) // 2
 */
export function estimateCostUsd(
  model: string,
  tokens: TokenCounts,
  table: PricingTable = DEFAULT_PRICING,
): number {
  const p = priceFor(model, table);
  const usd =
    (tokens.inputTokens * p.inputPerMTok +
      tokens.outputTokens * p.outputPerMTok +
      tokens.cacheReadTokens * p.cacheReadPerMTok +
      tokens.cacheWriteTokens * p.cacheWritePerMTok) /
    1e6;
  return Math.round(usd * 1e6) / 1e6;
}
