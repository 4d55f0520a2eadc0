import {
  ActivityFailure,
  allHandlersFinished,
  ApplicationFailure,
  condition,
  continueAsNew,
  proxyActivities,
  setHandler,
  upsertSearchAttributes,
  workflowInfo,
} from '@temporalio/workflow';
import type { EngineActivities, LogActivities, StrategyActivities } from '../activities';
import type { Proposal } from '../agents/agent';
import type { ArtifactRef } from '../core/artifact-ref';
import type { AgentName, Attempt } from '../core/attempt';
import { assessSearch, bestAttempt } from '../core/divergence-monitor';
import type { ModelSpec } from '../core/model-spec';
import type { ProfileSummary } from '../core/profile';
import { StrategySchema, type Importance, type Strategy } from '../core/strategy';
import { BandSchema, deviation, inBand, type Band } from '../core/tolerance-band';
import {
  overrideStrategyUpdate,
  pauseSignal,
  resumeSignal,
  setBandUpdate,
  strategyLogQuery,
  type SearchStatus,
  type StrategyLog,
} from './definitions';
import { ActivityPresets } from './presets';
import { SA } from './search-attributes';

const { pruneTrial } = proxyActivities<EngineActivities>(ActivityPresets.pruneTrial);
const { proposeStrategy } = proxyActivities<StrategyActivities>(ActivityPresets.llmCall);
const { saveStrategyLog, loadStrategyLog } = proxyActivities<LogActivities>(ActivityPresets.storage);

/** Input of {@link macTargetSearch}: one target of one campaign. Plain data, typed from the config schemas. */
export interface MacTargetSearchInput {
  campaignId: string;
  targetLabel: string;
  model: ModelSpec;
  inputShape?: number[];
  profile: ProfileSummary;
  targetMacs: number;
  band: Band;
  agent: Exclude<AgentName, 'human'>;
  fallbackAgent: Exclude<AgentName, 'human'>;
  maxIterations: number;
  gridStep: number;
  stagnationWindow: number;
  extendedSearch: number;
  attemptsPerRun: number;
  baseStrategy: Partial<Strategy>;
  calibration?: { dataset: string; batches: number; batchSize: number };
  /** Set by continue-as-new: where the previous runs left off. */
  carried?: CarriedState;
}

/** State carried across continue-as-new: the log by reference, small numbers inline. */
export interface CarriedState {
  logRefs: ArtifactRef[];
  agent: Exclude<AgentName, 'human'>;
  band: Band;
  converged: boolean;
  extendedLeft: number;
  events: { afterAttempt: number; note: string }[];
  proposals: number;
}

/** The outcome of one target's search. */
export interface MacTargetSearchResult {
  targetLabel: string;
  targetMacs: number;
  band: Band;
  status: 'converged' | 'diverged';
  reason: string;
  /** The attempt handed on to fine-tuning: best quick accuracy among in-band attempts, else closest to target. */
  chosen: Attempt | null;
  attemptCount: number;
  /** Attempts until the first in-band one (null if none). */
  attemptsToConverge: number | null;
  agentsUsed: AgentName[];
}

/** Strategy shapes the extended search explores once the target is in band. */
const EXTENDED_SHAPES: { label: string; change: (base: Partial<Strategy>) => Partial<Strategy> }[] = [
  {
    label: 'another importance criterion',
    change: (b) => ({ ...b, importance: otherImportance(b.importance) }),
  },
  {
    label: 'finer channel rounding',
    change: (b) => ({ ...b, roundTo: Math.max(1, Math.floor((b.roundTo ?? 8) / 2)) }),
  },
  {
    label: 'L1 magnitude without isomorphic grouping',
    change: (b) => ({ ...b, importance: 'l1', isomorphic: false }),
  },
  { label: 'LAMP importance', change: (b) => ({ ...b, importance: 'lamp' }) },
];

function otherImportance(current: Importance | undefined): Importance {
  return current === 'l1' ? 'l2' : 'l1';
}

function failureType(err: unknown): string | undefined {
  if (err instanceof ActivityFailure && err.cause instanceof ApplicationFailure)
    return err.cause.type ?? undefined;
  if (err instanceof ApplicationFailure) return err.type ?? undefined;
  return undefined;
}

function failureMessage(err: unknown): string {
  if (err instanceof ActivityFailure && err.cause) return err.cause.message;
  return err instanceof Error ? err.message : String(err);
}

/**
 * The Master Agent: propose -> prune -> measure -> band check -> divergence monitor -> next, until the
 * measured MACs land in the band (then a short extended search for a more accurate in-band strategy),
 * or the monitor stops it. Deterministic: every side effect is an activity; history carries numbers and
 * references.
 */
export async function macTargetSearch(input: MacTargetSearchInput): Promise<MacTargetSearchResult> {
  const carried = input.carried;
  let attempts: Attempt[] = [];
  const logRefs: ArtifactRef[] = carried ? [...carried.logRefs] : [];
  for (const ref of logRefs) attempts = attempts.concat(await loadStrategyLog(ref));
  let band: Band = carried?.band ?? input.band;
  let agent: Exclude<AgentName, 'human'> = carried?.agent ?? input.agent;
  let converged = carried?.converged ?? false;
  let extendedLeft = carried?.extendedLeft ?? input.extendedSearch;
  const events = carried ? [...carried.events] : [];
  let proposals = carried?.proposals ?? 0;
  let status: SearchStatus = 'running';
  let reason: string | null = null;
  let paused = false;
  let note: string | undefined;
  const overrides: Strategy[] = [];
  const attemptsAtRunStart = attempts.length;

  const chosen = (): Attempt | null => chooseCandidate(attempts, band, input.targetMacs);
  const log = (): StrategyLog => ({
    campaignId: input.campaignId,
    targetLabel: input.targetLabel,
    model: input.model.name,
    targetMacs: input.targetMacs,
    band,
    agent,
    status: paused && status === 'running' ? 'paused' : status,
    reason,
    attempts,
    chosenIndex: chosen()?.index ?? null,
    events,
  });

  setHandler(strategyLogQuery, log);
  setHandler(pauseSignal, () => void (paused = true));
  setHandler(resumeSignal, () => void (paused = false));
  setHandler(
    overrideStrategyUpdate,
    (strategy) => {
      overrides.push(strategy);
      return overrides.length;
    },
    {
      validator: (strategy) => {
        const r = StrategySchema.safeParse(strategy);
        if (!r.success)
          throw new Error(
            `invalid strategy: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
          );
        if (status !== 'running') throw new Error(`the search has finished (${status})`);
      },
    },
  );
  setHandler(
    setBandUpdate,
    (next) => {
      band = next;
      // A band change can turn a finished in-band state into a miss or vice versa: re-derive it.
      converged = attempts.some((a) => !a.error && inBand(deviation(a.macs, input.targetMacs), band));
      for (const a of attempts) if (!a.error) a.inBand = inBand(a.deviation, band);
      return band;
    },
    {
      validator: (next) => {
        const r = BandSchema.safeParse(next);
        if (!r.success)
          throw new Error(
            `invalid band: ${r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
          );
      },
    },
  );

  const upsert = () => {
    const best = bestAttempt(attempts, band);
    upsertSearchAttributes([
      { key: SA.campaignId, value: input.campaignId },
      { key: SA.model, value: input.model.name },
      { key: SA.targetMacs, value: input.targetMacs },
      { key: SA.stage, value: 'search' },
      { key: SA.iteration, value: attempts.length },
      { key: SA.agent, value: agent },
      { key: SA.converged, value: converged },
      ...(best ? [{ key: SA.bestDeviation, value: best.deviation }] : []),
    ]);
  };
  upsert();

  // Proposals (including failed ones) are bounded too, so a broken agent cannot loop forever.
  const maxProposals = input.maxIterations * 3;
  while (status === 'running') {
    if (attempts.length >= input.maxIterations) {
      status = converged ? 'converged' : 'diverged';
      reason = converged ? 'converged' : 'max-iterations';
      break;
    }
    if (proposals >= maxProposals) {
      status = converged ? 'converged' : 'diverged';
      reason = converged ? 'converged' : 'agent-failures';
      break;
    }
    await condition(() => !paused);

    if (
      attempts.length - attemptsAtRunStart >= input.attemptsPerRun ||
      workflowInfo().continueAsNewSuggested
    ) {
      const part = logRefs.length;
      const ref = await saveStrategyLog({
        campaignId: input.campaignId,
        targetLabel: input.targetLabel,
        attempts: attempts.slice(attemptsAtRunStart),
        part,
      });
      await condition(allHandlersFinished);
      return continueAsNew<typeof macTargetSearch>({
        ...input,
        carried: { logRefs: [...logRefs, ref], agent, band, converged, extendedLeft, events, proposals },
      });
    }

    const index = attempts.length + 1;
    const extended = converged;
    let proposal: Proposal;
    proposals++;
    const override = overrides.shift();
    if (override) {
      proposal = { strategy: override, agent: 'human' };
    } else {
      const shape = extended
        ? EXTENDED_SHAPES[(input.extendedSearch - extendedLeft) % EXTENDED_SHAPES.length]
        : undefined;
      const askAgent: Exclude<AgentName, 'human'> = extended && agent === 'grid' ? 'solver' : agent;
      try {
        proposal = await proposeStrategy({
          agent: askAgent,
          profile: input.profile,
          targetMacs: input.targetMacs,
          band,
          history: attempts,
          baseStrategy: shape ? shape.change(input.baseStrategy) : input.baseStrategy,
          gridStep: input.gridStep,
          ...(shape
            ? { note: `extended search: try ${shape.label} while staying in band` }
            : note
              ? { note }
              : {}),
          context: { campaignId: input.campaignId, targetLabel: input.targetLabel },
        });
      } catch (err) {
        const msg = `agent ${askAgent} failed: ${failureMessage(err)}`;
        events.push({ afterAttempt: attempts.length, note: msg });
        if (askAgent !== input.fallbackAgent) {
          agent = input.fallbackAgent;
          events.push({ afterAttempt: attempts.length, note: `switched to ${agent}` });
          continue;
        }
        status = converged ? 'converged' : 'diverged';
        reason = converged ? 'converged' : 'agent-failures';
        break;
      }
    }
    note = undefined;
    if (proposal.exhausted) {
      events.push({ afterAttempt: attempts.length, note: `${proposal.agent} has no strategy left to try` });
      if (extended) break;
      if (agent !== input.fallbackAgent) {
        agent = input.fallbackAgent;
        events.push({ afterAttempt: attempts.length, note: `switched to ${agent}` });
        continue;
      }
      status = 'diverged';
      reason = 'exhausted';
      break;
    }

    const attempt = await runTrial(input, index, proposal, band);
    attempts.push(attempt);

    if (!attempt.error && attempt.inBand) {
      if (!converged) {
        converged = true;
        events.push({
          afterAttempt: index,
          note: `in band after ${index} attempts (${fmtPct(attempt.deviation)})`,
        });
      }
    }
    if (converged) {
      if (extended) extendedLeft--;
      if (extendedLeft <= 0) {
        status = 'converged';
        reason = 'converged';
      }
      upsert();
      continue;
    }

    const verdict = assessSearch(attempts, {
      band,
      targetMacs: input.targetMacs,
      stagnationWindow: input.stagnationWindow,
      maxIterations: input.maxIterations,
      floorMacs: input.profile.protectedMacs,
      ceilingMacs: input.profile.macs,
    });
    switch (verdict.action) {
      case 'continue':
        break;
      case 'switch-agent':
        if (agent !== input.fallbackAgent) {
          events.push({
            afterAttempt: index,
            note: `${verdict.reason}: ${verdict.detail}; switched ${agent} -> ${input.fallbackAgent}`,
          });
          agent = input.fallbackAgent;
        } else {
          events.push({ afterAttempt: index, note: `${verdict.reason}: ${verdict.detail}` });
          note = `${verdict.reason}: ${verdict.detail}`;
        }
        break;
      case 'shrink-bracket':
        events.push({
          afterAttempt: index,
          note: `${verdict.reason}: ${verdict.detail}; shrinking to the best bracket`,
        });
        note = `shrink-bracket: ${verdict.detail}`;
        break;
      case 'stop':
        events.push({ afterAttempt: index, note: `stopped: ${verdict.reason}: ${verdict.detail}` });
        status = verdict.reason === 'converged' ? 'converged' : 'diverged';
        reason = verdict.reason ?? 'stopped';
        break;
    }
    upsert();
  }

  if (status === 'running') {
    status = converged ? 'converged' : 'diverged';
    reason = reason ?? (converged ? 'converged' : 'stopped');
  }
  upsert();
  const pick = chosen();
  const firstInBand = attempts.find((a) => !a.error && a.inBand);
  return {
    targetLabel: input.targetLabel,
    targetMacs: input.targetMacs,
    band,
    status: status === 'converged' ? 'converged' : 'diverged',
    reason: reason ?? status,
    chosen: pick,
    attemptCount: attempts.length,
    attemptsToConverge: firstInBand ? firstInBand.index : null,
    agentsUsed: [...new Set(attempts.map((a) => a.agent))],
  };
}

async function runTrial(
  input: MacTargetSearchInput,
  index: number,
  proposal: Proposal,
  band: Band,
): Promise<Attempt> {
  const base = {
    index,
    agent: proposal.agent,
    strategy: proposal.strategy,
    ...(proposal.fallbackReason ? { fallbackReason: proposal.fallbackReason } : {}),
    ...(proposal.llm ? { llm: proposal.llm } : {}),
  };
  try {
    const r = await pruneTrial({
      campaignId: input.campaignId,
      targetLabel: input.targetLabel,
      attemptIndex: index,
      model: input.model,
      strategy: proposal.strategy,
      ...(input.inputShape ? { inputShape: input.inputShape } : {}),
      ...(input.calibration ? { calibration: input.calibration } : {}),
    });
    const d = deviation(r.macs, input.targetMacs);
    return {
      ...base,
      macs: r.macs,
      params: r.params,
      deviation: d,
      inBand: inBand(d, band),
      wallMs: r.wallMs,
      stages: r.stages,
      model: r.model,
      ...(r.accuracyProxy ? { accuracyProxy: r.accuracyProxy } : {}),
    };
  } catch (err) {
    // A strategy the engine rejects is a measured failure of that strategy, not of the search.
    const type = failureType(err);
    return {
      ...base,
      macs: 0,
      params: 0,
      deviation: -1,
      inBand: false,
      wallMs: 0,
      error: `${type ?? 'error'}: ${failureMessage(err)}`,
    };
  }
}

/**
 * The in-band attempt to fine-tune: best quick accuracy when attempts have one, else closest to target;
 * with nothing in band, the closest attempt overall.
 */
export function chooseCandidate(attempts: Attempt[], band: Band, targetMacs: number): Attempt | null {
  const valid = attempts.filter((a) => !a.error);
  const inside = valid.filter((a) => inBand(deviation(a.macs, targetMacs), band));
  const pool = inside.length > 0 ? inside : valid;
  if (pool.length === 0) return null;
  const withAcc = inside.filter((a) => a.accuracyProxy);
  if (withAcc.length > 0) {
    return withAcc.reduce((best, a) =>
      (a.accuracyProxy?.top1 ?? 0) > (best.accuracyProxy?.top1 ?? 0) ? a : best,
    );
  }
  return pool.reduce((best, a) => (Math.abs(a.deviation) < Math.abs(best.deviation) ? a : best));
}

function fmtPct(d: number): string {
  return `${d >= 0 ? '+' : ''}${(d * 100).toFixed(2)}%`;
}
