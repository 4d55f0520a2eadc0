/**
 * The Analysis Agent's prompt: a stable, cached system prefix (how structural pruning and the tolerance
 * band work, how to read the history), one tool whose input is a Strategy, and a user turn with the
 * model's profile, the target and band, and the attempt history as a compact table.
 *
 * Pure functions of {@link ProposeInput}: the same input gives the same prompt, byte for byte, so the
 * prompt cache hits across attempts and tests can compare prompts.
 */
import type { MessageParam, TextBlockParam, Tool } from '@anthropic-ai/sdk/resources/messages';
import { z } from 'zod';
import { scoreModeText, type Attempt } from '../core/attempt';
import {
  bestAttempt,
  bestScored,
  bracketOf,
  isFailed,
  isMeasured,
  top1ErrorWords,
} from '../core/attempt-selection';
import type { RankBy } from '../core/campaign-config';
import { firstGuess } from '../core/mac-model';
import type { ProfileSummary } from '../core/profile';
import type { SensitivityTable } from '../core/stage-allocation';
import { StrategySchema, shapeText } from '../core/strategy';
import { bandBounds, bandCenter, formatBand, inBand, type Band } from '../core/tolerance-band';
import { formatCount, formatMacs, formatPercent, truncate } from '../core/units';
import type { ProposeInput } from './agent';

/** Name of the one tool Claude answers with. */
export const PROPOSE_TOOL_NAME = 'propose_strategy';

/** Attempts at the end of the history shown verbatim. @default 12 */
export const DEFAULT_HISTORY_WINDOW = 12;

/**
 * `full`: Claude proposes the whole strategy, ratio included. `shape`: the hybrid agent's mode, where
 * Claude chooses the shape and a solver rescales the global ratio afterwards.
 */
export type PromptMode = 'full' | 'shape';

/** What {@link buildPrompt} needs: the agents' common input plus prompt options. */
export interface BuildPromptInput extends ProposeInput {
  /** Latest attempts shown verbatim; older ones are summarised. @default 12 */
  historyWindow?: number;
  /** @default 'full' */
  mode?: PromptMode;
}

/** A ready Messages request body, less model and sampling settings. */
export interface BuiltPrompt {
  /** The stable prefix, one text block marked `cache_control: {type: 'ephemeral'}`. */
  system: TextBlockParam[];
  /** One user turn: the profile/target block (cached) and the history block. */
  messages: MessageParam[];
  /** The single {@link PROPOSE_TOOL_NAME} tool. */
  tools: Tool[];
  /**
   * Rough size of the whole request in tokens (system + tools + messages): characters / 3.5.
   * An estimate for budgets and tests, not the tokenizer's count (`usage.input_tokens` is).
   */
  promptTokensEstimate: number;
  /** How the history was rendered: rows shown verbatim and attempts folded into summary lines. */
  history: { verbatim: number; summarized: number };
}

const CACHE = { type: 'ephemeral' } as const;

/** One line per Strategy field, added to the JSON schema the model sees. */
const FIELD_DOCS: Record<string, string> = {
  pruningRatio:
    'Global fraction of channels to remove, 0..0.95 (0 keeps everything). MACs of the prunable part fall roughly like (1 - r)^2.',
  importance:
    'Channel importance criterion: l1 / l2 weight magnitude (l2 is the usual default), taylor (first-order, uses calibration data), bn_scale (BatchNorm gamma), lamp (layer-adaptive magnitude), random (a baseline only).',
  globalPruning:
    'true: rank channels across all layers together, so layers lose different fractions. false: every layer loses the same fraction.',
  isomorphic:
    'true: rank channels only against groups of the same structure (isomorphic pruning); keep it true unless measurements say otherwise.',
  roundTo:
    'Kept channel counts are multiples of this. 8 is hardware friendly; smaller values give finer MAC control; larger values move MACs in coarse steps.',
  maxLayerRatio: 'Upper bound on the fraction removed from any single layer (0 < x <= 1).',
  stageRatios:
    'Ratio per module prefix (a stage name from the profile, e.g. "layer4"), used instead of pruningRatio inside that stage.',
  layerRatios: 'Ratio per layer name, used instead of the stage and global ratios for that layer.',
  ignoredLayers: 'Layers never pruned, in addition to the protected layers of the profile.',
  iterativeSteps: 'Prune in this many steps, re-ranking importance between steps.',
  vit: 'Vision transformers only: prune whole attention heads (pruneHeads) and/or head dimensions (pruneHeadDims); headRatio is the fraction of heads removed.',
  rationale: 'One to three sentences: which attempts you used and why this strategy should land in the band.',
};

/**
 * The Strategy as a JSON schema for the tool's `input_schema`, derived once from the zod schema
 * (`z.toJSONSchema`), with a description per field. `rationale` is required here (the zod schema keeps
 * it optional so other agents need not write one).
 */
export function strategyInputSchema(): Tool.InputSchema {
  const { $schema: _draft, ...schema } = z.toJSONSchema(StrategySchema) as Record<string, unknown> & {
    properties: Record<string, Record<string, unknown>>;
    required: string[];
  };
  const properties = Object.fromEntries(
    Object.entries(schema.properties).map(([name, prop]) => [
      name,
      FIELD_DOCS[name] !== undefined ? { description: FIELD_DOCS[name], ...prop } : prop,
    ]),
  );
  return { ...schema, type: 'object', properties, required: [...schema.required, 'rationale'] };
}

/** The single tool Claude answers with. Its input is a Strategy, validated again with zod on return. */
export const PROPOSE_STRATEGY_TOOL: Tool = {
  name: PROPOSE_TOOL_NAME,
  description:
    'Submit the next pruning strategy to try. The engine prunes the model with it and measures its MACs; the result comes back as the next row of the attempt history. Call it exactly once per turn.',
  input_schema: strategyInputSchema(),
};

/**
 * The stable system prefix: task, rules of structural pruning, the Strategy fields, the band, and how
 * to use the history. It names no model and no number of this campaign, so one cache entry serves
 * every attempt (and every campaign) within the cache's lifetime.
 */
export const SYSTEM_PREFIX = `You are the Analysis Agent of agentic-pruner, a tool that structurally prunes vision models (CNNs and vision transformers) so that their measured compute lands inside a tolerance band around a MAC target. Each turn you see the model's profile, the target and band, and every attempt so far with what the engine measured. You propose the next pruning strategy by calling the tool ${PROPOSE_TOOL_NAME} exactly once. The engine (torch-pruning, isomorphic pruning) then prunes the dense model with your strategy and measures the real MACs; that measurement decides, not your prediction.

# How structural pruning works here
- Channels are removed in dependency groups: a conv's output channels, the BatchNorm after it and the input channels of every layer that consumes them go together, and residual additions tie the channels of all branches they join into one group. A group is either pruned consistently or not at all.
- Groups with the same structure are isomorphic. With isomorphic=true and globalPruning=true, channels are ranked globally but only against groups of the same isomorphic class, so no class of groups is wiped out by a scale mismatch with another.
- MACs of a convolution or linear layer scale with in_channels x out_channels. Removing a fraction r of channels on both sides leaves about (1 - r)^2 of its MACs; a layer pruned on one side only (the stem's input is the image, the classifier's output is the classes) keeps about (1 - r); a depthwise convolution keeps about (1 - r).
- So, to a first approximation, macs(r) = protectedMacs + (denseMacs - protectedMacs) * (1 - r)^2. The real curve deviates: global ranking prunes layers unevenly, roundTo rounds kept channel counts to multiples (MACs move in steps, coarser for small layers), and stage or layer overrides change the mix.
- Protected layers (the stem, the classifier, layers the user listed) are never pruned. Their MACs are a floor: no strategy goes below protectedMacs.
- stageRatios and layerRatios override the global ratio for a module prefix or one layer; maxLayerRatio caps what any layer loses; ignoredLayers are never pruned. Stages with a large MAC share move MACs most per unit of ratio; pruning late stages (few spatial positions, many channels) removes parameters cheaply in MACs, early stages the reverse.
- For vision transformers (vit options), attention heads or head dimensions are pruned as units; MACs of attention and MLP blocks scale with the kept width roughly linearly to quadratically.

# The strategy
The tool's input schema is the Strategy: pruningRatio (0..0.95), importance, globalPruning, isomorphic, roundTo, and the optional maxLayerRatio, stageRatios, layerRatios, ignoredLayers, iterativeSteps, vit, plus a short rationale. Values outside the schema are rejected and you will be asked again. Use only stage names and prefixes that appear in the profile. A strategy identical to one already measured (every field equal except the rationale; a field at its default, such as iterativeSteps 1, counts as left out) is rejected: it would measure the same MACs again.

# The tolerance band
Deviation d = (macs - target) / target. An attempt converges when lo <= d <= hi; the band is often asymmetric (e.g. -5%..+1%: up to 5% under, at most 1% over). Aim at the centre of the band, not at its edges: the MAC curve is stepwise, so an edge aim often lands just outside. Overshooting the upper bound fails even by a little.

# Using the history
- Every row is a measurement of a real pruned model. Trust measurements over the (1 - r)^2 model, and use the model only to interpolate between them.
- If two attempts with the same shape (same importance, roundTo, overrides) bracket the target, one above and one below, interpolate between them in the space where the curve is nearly linear: s = sqrt(max(macs - protectedMacs, 0)) is about linear in the ratio, so r = r1 + (r2 - r1) * (s1 - s_target) / (s1 - s2), with s_target taken at the band centre.
- If all attempts lie on one side, extrapolate from the closest one with the (1 - r)^2 model, and expect to be off by a few percent; then interpolate once you have a bracket.
- Change one thing at a time. Keep the shape fixed while tuning the ratio, and change the shape only for a reason (an accuracy proxy that drops, a stage that the measurements show is over- or under-pruned). A shape change moves MACs too: re-bracket after it.
- When several attempts are already in the band, prefer strategies likely to keep accuracy (higher accuracy proxy if shown, gentler pruning of early, high-resolution stages) over new ratios.
- The score column, when shown, is what the search optimises once the MACs are in band: each in-band candidate is scored on a held-out slice of the training split (top-1 and loss; zero-shot after batch-norm recalibration, or after a short recovery fine-tune), and the best-scored candidate is the one kept. Learn from the scores which shapes keep accuracy: compare candidates that differ in one field, and propose shapes like the best-scored ones. A candidate whose scoring failed counts as unscored.
- The sensitivity table, when shown, measured each stage pruned alone: a stage whose loss rises little per MAC removed can be pruned harder (a larger stageRatios entry), one whose loss jumps should be pruned gently.
- Summary lines stand for attempts that are not shown one by one; the first, the best, the bracketing pair, every scored candidate and the latest attempts are always shown.

# Your answer
Call ${PROPOSE_TOOL_NAME} exactly once, with a complete Strategy. Keep the rationale to one to three sentences naming the attempts you used (e.g. "interpolated between #4 and #6"). Do not answer with text alone.`;

/** Build the request for one proposal. Deterministic: same input, same bytes. */
export function buildPrompt(input: BuildPromptInput): BuiltPrompt {
  const window = Math.max(1, input.historyWindow ?? DEFAULT_HISTORY_WINDOW);
  const mode = input.mode ?? 'full';
  const system: TextBlockParam[] = [{ type: 'text', text: SYSTEM_PREFIX, cache_control: CACHE }];
  const rendered = renderHistory(input.history, input.band, input.profile, window, input.rankBy);
  const messages: MessageParam[] = [
    {
      role: 'user',
      content: [
        // Identical for every attempt of one target: a second cache breakpoint.
        { type: 'text', text: renderContext(input), cache_control: CACHE },
        { type: 'text', text: `${rendered.text}\n\n${renderAsk(input, mode)}` },
      ],
    },
  ];
  const tools = [PROPOSE_STRATEGY_TOOL];
  return {
    system,
    messages,
    tools,
    promptTokensEstimate: estimateTokens({ system, messages, tools }),
    history: { verbatim: rendered.verbatim, summarized: rendered.summarized },
  };
}

/** Characters / 3.5 over everything sent: numbers and tables tokenise worse than prose, so round up. */
export function estimateTokens(request: {
  system: TextBlockParam[];
  messages: MessageParam[];
  tools: Tool[];
}): number {
  const chars =
    request.system.reduce((n, b) => n + b.text.length, 0) +
    JSON.stringify(request.tools).length +
    JSON.stringify(request.messages).length;
  return Math.ceil(chars / 3.5);
}

// ---------------------------------------------------------------------------------------------------
// The profile, target and base strategy: stable within one target.

function renderContext(input: ProposeInput): string {
  const p = input.profile;
  const lines: string[] = [];
  lines.push('# Model profile');
  lines.push(
    `model ${p.model}, input ${p.inputShape.join('x')}, dense ${formatMacs(p.macs, 4)}MACs, ${formatCount(p.params, 4)} params, ${p.layerCount} layers`,
  );
  const protectedShare = p.macs > 0 ? p.protectedMacs / p.macs : 0;
  const protectedList = p.protected.length
    ? p.protected
        .slice(0, 24)
        .map((x) => `${x.layer} (${x.reason})`)
        .join(', ') + (p.protected.length > 24 ? `, and ${p.protected.length - 24} more` : '')
    : 'none';
  lines.push(`protected layers (never pruned): ${protectedList}`);
  lines.push(
    `protectedMacs ${formatMacs(p.protectedMacs, 4)}MACs (${(protectedShare * 100).toFixed(1)}% of dense): no strategy goes below this`,
  );
  lines.push('', '## MAC distribution per stage', '| stage | MACs | share | params |', '|---|---|---|---|');
  for (const s of p.stages) {
    lines.push(
      `| ${s.name} | ${formatMacs(s.macs, 4)} | ${(s.share * 100).toFixed(1)}% | ${formatCount(s.params, 3)} |`,
    );
  }
  if (p.isomorphicClasses.length > 0) {
    const classes = [...p.isomorphicClasses].sort(
      (a, b) => (b.macs ?? 0) - (a.macs ?? 0) || b.channels - a.channels,
    );
    const shown = classes.slice(0, 16);
    lines.push(
      '',
      `## Isomorphic classes (${p.isomorphicClasses.length}; groups ranked together)`,
      '| class | groups | channels | MACs |',
      '|---|---|---|---|',
    );
    for (const c of shown) {
      lines.push(
        `| ${truncate(c.key, 48)} | ${c.groupCount} | ${c.channels} | ${c.macs !== undefined ? formatMacs(c.macs, 3) : '-'} |`,
      );
    }
    const rest = classes.slice(shown.length);
    if (rest.length > 0) {
      lines.push(
        `| and ${rest.length} more classes | ${rest.reduce((n, c) => n + c.groupCount, 0)} | ${rest.reduce((n, c) => n + c.channels, 0)} | - |`,
      );
    }
  }

  const [minMacs, maxMacs] = bandBounds(input.targetMacs, input.band);
  const centre = bandCenter(input.band);
  const guess = firstGuess(p, input.targetMacs, input.band);
  const centreMacs = guess.aimMacs;
  lines.push('', '# Target');
  lines.push(
    `target ${formatMacs(input.targetMacs, 4)}MACs = ${((input.targetMacs / p.macs) * 100).toFixed(1)}% of dense (remove ${((1 - input.targetMacs / p.macs) * 100).toFixed(1)}% of MACs)`,
  );
  lines.push(
    `band ${formatBand(input.band)}: accept ${formatMacs(minMacs, 4)}MACs .. ${formatMacs(maxMacs, 4)}MACs (d = (macs - target) / target, ${formatPercent(input.band.lo)} <= d <= ${formatPercent(input.band.hi)})`,
  );
  lines.push(`band centre ${formatPercent(centre)} = ${formatMacs(centreMacs, 4)}MACs: aim here`);
  lines.push(
    guess.reachable
      ? `MAC model first guess for the band centre: r = ${guess.pruningRatio.toFixed(3)}, predicted ${formatMacs(guess.predictedMacs, 4)}MACs`
      : 'the MAC model cannot reach the band centre: it is at or below protectedMacs',
  );
  if (input.sensitivity) lines.push('', renderSensitivity(input.sensitivity, p.macs));
  lines.push(
    '',
    '# Base strategy (keep these fields unless you have a reason; base ignoredLayers are always kept)',
  );
  lines.push(JSON.stringify(input.baseStrategy));
  return lines.join('\n');
}

/**
 * The per-stage sensitivity as a table: one row per stage, one cell per measured ratio with the whole
 * model's MACs (as a share of dense), top-1 and loss on the scoring slice, and the loss added per 10 % of
 * dense MACs removed at the largest ratio (a one-number summary for the reader; the stage allocation itself
 * follows each stage's whole curve, 0.01 of a ratio at a time, cheapest loss per MAC first).
 */
export function renderSensitivity(table: SensitivityTable, denseMacs: number): string {
  const ratios = [...new Set(table.stages.flatMap((s) => s.points.map((p) => p.ratio)))].sort(
    (a, b) => a - b,
  );
  const lines = [
    `## Per-stage sensitivity (each stage pruned alone, scored on a held-out slice of train/; dense: top-1 ${pct1(table.baseline.top1)}, loss ${table.baseline.loss.toFixed(3)})`,
    `| stage | stage MACs | ${ratios.map((r) => `r=${r.toFixed(2)}: MACs, top-1, loss`).join(' | ')} | loss per 10% MACs removed |`,
    `|---|---|${ratios.map(() => '---|').join('')}---|`,
  ];
  for (const s of table.stages) {
    const cells = ratios.map((r) => {
      const p = s.points.find((q) => q.ratio === r);
      return p ? `${pct1(p.macs / denseMacs)}, ${pct1(p.top1)}, ${p.loss.toFixed(3)}` : '-';
    });
    const last = [...s.points].sort((a, b) => b.ratio - a.ratio)[0];
    const removed = last ? (denseMacs - last.macs) / denseMacs : 0;
    const per10 =
      last && removed > 0 ? (((last.loss - table.baseline.loss) / removed) * 0.1).toFixed(3) : '-';
    lines.push(`| ${s.stage} | ${formatMacs(s.macs, 3)} | ${cells.join(' | ')} | ${per10} |`);
  }
  return lines.join('\n');
}

function pct1(share: number): string {
  return `${(share * 100).toFixed(1)}%`;
}

/**
 * A candidate's score in a few characters: `61.3% loss 1.120 (zero-shot)`, `failed: ...`, or `-`; a
 * finalist's second score after it (a history a re-run carries in): `...; then 74.0% loss 0.800 (recovery 40 steps)`.
 */
function scoreCell(a: Attempt): string {
  if (a.score) {
    const first = `${pct1(a.score.top1)} loss ${a.score.loss.toFixed(3)} (${scoreModeText(a.score)})`;
    if (a.rescore)
      return `${first}; then ${pct1(a.rescore.top1)} loss ${a.rescore.loss.toFixed(3)} (${scoreModeText(a.rescore)})`;
    return first;
  }
  if (a.scoreError !== undefined) return `failed: ${truncate(oneLine(a.scoreError), 40)}`;
  return '-';
}

// ---------------------------------------------------------------------------------------------------
// The history: first, best, bracketing pair, scored candidates and latest N verbatim; the rest folded into
// summary lines.

interface RenderedHistory {
  text: string;
  verbatim: number;
  summarized: number;
}

/** Indices (positions in `history`) of the attempts shown verbatim, and why each one is kept. */
export function selectVerbatim(
  history: readonly Attempt[],
  band: Band,
  window: number,
  rankBy: RankBy = 'top1',
): Map<number, string[]> {
  const keep = new Map<number, string[]>();
  const mark = (i: number | undefined, why: string) => {
    if (i === undefined) return;
    keep.set(i, [...(keep.get(i) ?? []), why]);
  };
  if (history.length === 0) return keep;
  mark(0, 'first');
  mark(bestPosition(history, band), 'best');
  const bracket = bracketPositions(history);
  mark(bracket.above, 'closest above');
  mark(bracket.below, 'closest below');
  for (let i = Math.max(0, history.length - window); i < history.length; i++) mark(i, 'latest');
  // Every scored candidate stays in view: the scores are what the search learns accuracy from.
  const scored = bestScored(history, band, rankBy);
  history.forEach((a, i) => {
    if (a === scored) mark(i, 'best score');
    else if (a.score || a.scoreError !== undefined) mark(i, 'scored');
  });
  return keep;
}

/**
 * Position in `history` of the best attempt for the prompt: `bestAttempt` aimed at the band centre
 * (where the agents aim), so the closest to the band when none is in it.
 */
function bestPosition(history: readonly Attempt[], band: Band): number | undefined {
  const best = bestAttempt(history, band, bandCenter(band));
  return best ? history.indexOf(best) : undefined;
}

/** Positions in `history` of the bracketing pair (`bracketOf`: exactly on target counts as above). */
function bracketPositions(history: readonly Attempt[]): { above?: number; below?: number } {
  const { above, below } = bracketOf(history);
  return {
    ...(above ? { above: history.indexOf(above) } : {}),
    ...(below ? { below: history.indexOf(below) } : {}),
  };
}

function renderHistory(
  history: readonly Attempt[],
  band: Band,
  profile: ProfileSummary,
  window: number,
  rankBy: RankBy = 'top1',
): RenderedHistory {
  if (history.length === 0) {
    return {
      text: '# Attempts so far\nnone: this is the first attempt. Start from the first guess above, adjusted for the shape you choose.',
      verbatim: 0,
      summarized: 0,
    };
  }
  const keep = selectVerbatim(history, band, window, rankBy);
  const inBandCount = history.filter((a) => isMeasured(a) && inBand(a.deviation, band)).length;
  const best = bestPosition(history, band);
  const lines: string[] = [];
  const bestText =
    best !== undefined ? `; best #${history[best]!.index} at ${formatPercent(history[best]!.deviation)}` : '';
  const scored = bestScored(history, band, rankBy);
  let scoredText = '';
  if (scored?.score) {
    const top1 = `top-1 ${pct1(scored.score.top1)}`;
    const figures =
      rankBy === 'loss'
        ? `loss ${scored.score.loss.toFixed(3)}, ${top1}; candidates are ranked by the lowest loss;`
        : `${top1},`;
    scoredText = `; best score #${scored.index} (${figures} the candidate kept so far)`;
  }
  lines.push(`# Attempts so far (${history.length}; ${inBandCount} in band${bestText}${scoredText})`);
  const error = scored?.score ? top1ErrorWords(scored.score) : undefined;
  if (error !== undefined)
    lines.push(
      `One score's top-1 has a ${error}, so candidates closer than that are not told apart by their top-1.`,
    );
  lines.push(
    '| # | agent | ratio | importance | roundTo | overrides | MACs | deviation | in band | top1 | score | kept as |',
  );
  lines.push('|---|---|---|---|---|---|---|---|---|---|---|---|');
  let summarized = 0;
  let gap: Attempt[] = [];
  const flush = () => {
    if (gap.length === 0) return;
    lines.push(`| ${summaryLine(gap, band)} |`);
    summarized += gap.length;
    gap = [];
  };
  history.forEach((a, i) => {
    const why = keep.get(i);
    if (why === undefined) {
      gap.push(a);
      return;
    }
    flush();
    lines.push(attemptRow(a, why));
  });
  flush();

  const bracket = bracketPositions(history);
  if (bracket.above !== undefined && bracket.below !== undefined) {
    const hi = history[bracket.above]!;
    const lo = history[bracket.below]!;
    lines.push(
      '',
      `Bracket: #${hi.index} (ratio ${hi.strategy.pruningRatio.toFixed(3)}, ${formatPercent(hi.deviation)}) is above the target and #${lo.index} (ratio ${lo.strategy.pruningRatio.toFixed(3)}, ${formatPercent(lo.deviation)}) below it.`,
    );
  } else {
    const side = bracket.above !== undefined ? 'at or above' : 'below';
    lines.push('', `No bracket yet: every measured attempt is ${side} the target.`);
  }
  const latest = history[history.length - 1]!;
  const stageLines = stageBreakdown(latest, profile);
  if (stageLines !== undefined)
    lines.push(
      '',
      `Per-stage MACs of the latest attempt #${latest.index} (kept = share of the dense stage):`,
      stageLines,
    );
  return { text: lines.join('\n'), verbatim: keep.size, summarized };
}

function attemptRow(a: Attempt, why: string[]): string {
  const s = a.strategy;
  const measured = isFailed(a) ? `error: ${truncate(oneLine(a.error), 60)}` : formatMacs(a.macs, 4);
  const dev = isFailed(a) ? '-' : formatPercent(a.deviation);
  const band = isFailed(a) ? '-' : a.inBand ? 'yes' : 'no';
  const top1 =
    a.accuracyProxy !== undefined
      ? `${(a.accuracyProxy.top1 * (a.accuracyProxy.top1 <= 1 ? 100 : 1)).toFixed(1)}%`
      : '-';
  return `| ${a.index} | ${a.agent} | ${s.pruningRatio.toFixed(3)} | ${s.importance} | ${s.roundTo} | ${shapeText(s)} | ${measured} | ${dev} | ${band} | ${top1} | ${scoreCell(a)} | ${why.join(', ')} |`;
}

function summaryLine(gap: readonly Attempt[], band: Band): string {
  const first = gap[0]!.index;
  const last = gap[gap.length - 1]!.index;
  const range = first === last ? `attempt ${first}` : `attempts ${first}-${last}`;
  const ratios = gap.map((a) => a.strategy.pruningRatio);
  const measured = gap.filter(isMeasured);
  const devs = measured.map((a) => a.deviation);
  const agents = [...new Set(gap.map((a) => a.agent))].join('/');
  const parts = [
    `${range} (${gap.length} not shown, ${agents})`,
    `ratios ${Math.min(...ratios).toFixed(3)}..${Math.max(...ratios).toFixed(3)}`,
  ];
  if (devs.length > 0)
    parts.push(`deviations ${formatPercent(Math.min(...devs))}..${formatPercent(Math.max(...devs))}`);
  parts.push(`${measured.filter((a) => inBand(a.deviation, band)).length} in band`);
  const errors = gap.length - measured.length;
  if (errors > 0) parts.push(`${errors} failed`);
  const shapes = new Set(gap.map((a) => shapeText(a.strategy) + a.strategy.importance + a.strategy.roundTo))
    .size;
  if (shapes > 1) parts.push(`${shapes} shapes`);
  return parts.join(', ');
}

function stageBreakdown(a: Attempt, profile: ProfileSummary): string | undefined {
  if (a.stages === undefined || a.stages.length === 0) return undefined;
  const dense = new Map(profile.stages.map((s) => [s.name, s.macs]));
  return a.stages
    .slice(0, 24)
    .map((s) => {
      const d = dense.get(s.name);
      return `${s.name} ${formatMacs(s.macs, 3)}${d !== undefined && d > 0 ? ` (kept ${((s.macs / d) * 100).toFixed(0)}%)` : ''}`;
    })
    .join('; ');
}

function renderAsk(input: ProposeInput, mode: PromptMode): string {
  const next = (input.history[input.history.length - 1]?.index ?? input.history.length) + 1;
  const lines: string[] = [];
  if (input.note !== undefined && input.note.length > 0)
    lines.push(`# Note from the search\n${input.note}`, '');
  if (mode === 'shape') {
    lines.push(
      `# Your turn: the shape of attempt #${next}`,
      'A solver will rescale pruningRatio afterwards so that the measured MACs land in the band; your pruningRatio is only a starting point. Choose the shape: importance, isomorphic/globalPruning, roundTo, ignoredLayers, stageRatios (relative emphasis between stages), maxLayerRatio and, for vision transformers, vit. Say in the rationale why this shape should keep accuracy. Call propose_strategy once.',
    );
  } else {
    lines.push(
      `# Your turn: attempt #${next}`,
      'Propose the strategy most likely to land inside the band (aim at its centre), different from every attempt above. Call propose_strategy once.',
    );
  }
  return lines.join('\n');
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}
