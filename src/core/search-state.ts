import type { AgentName, Attempt, CandidateScore } from './attempt';
import {
  finalistsNote,
  isMeasured,
  recoveryPlanNote,
  type Finalists,
  type RecoveryPlan,
} from './attempt-selection';
import type { SearchAssessment } from './divergence-monitor';
import { assessSearch } from './divergence-monitor';
import { pinnedStageRatio } from './mac-model';
import { allocateStages, type SensitivityTable } from './stage-allocation';
import type { Importance, Strategy } from './strategy';
import { baseStrategy } from './strategy';
import type { Band } from './tolerance-band';
import { bandCenter, inBand } from './tolerance-band';

/** An agent the search can ask (a human override is not asked, it arrives). */
export type SearchAgent = Exclude<AgentName, 'human'>;

/**
 * How a search ended: in band, out of it after trying, or `infeasible` — the band lies where no
 * strategy reaches (below what protected layers alone cost, or above the dense model).
 */
export type SearchOutcome = 'converged' | 'diverged' | 'infeasible';

/** Where one MAC-target search stands: what the workflow keeps, queries show and continue-as-new carries. */
export interface SearchState {
  attempts: Attempt[];
  band: Band;
  /** The agent asked next. */
  agent: SearchAgent;
  /** Some measured attempt is in band: the extended search is on. */
  converged: boolean;
  /** Extended-search attempts still to make once converged. */
  extendedLeft: number;
  /** Notes from the divergence monitor and agent switches, in order. */
  events: { afterAttempt: number; note: string }[];
  /** Proposals asked for, failed ones included (bounded by {@link SearchConfig.maxProposals}). */
  proposals: number;
  status: 'running' | SearchOutcome;
  /** Why the search ended; `null` while running. */
  reason: string | null;
  /** For the next proposal: what the monitor wants the agent to know. */
  note?: string;
  /**
   * Scaling steps spent on the current extended-search shape without landing in band (with
   * {@link SearchConfig.scaleCandidates}); reset when the shape yields a candidate or is given up.
   */
  shapeSteps?: number;
  /**
   * A human override's shape the solver is scaling into the band (`scaleToBand`), with the out-of-band
   * steps spent on it; cleared when it lands or is given up.
   */
  humanShape?: { base: Partial<Strategy>; steps: number };
  /**
   * Shapes of {@link candidateShapes} done (a candidate in band, or given up), with
   * {@link SearchConfig.candidates}: the next shape is the one at this index.
   */
  shapeIndex?: number;
  /** The per-stage sensitivity measured at the search's start, when configured (small numbers). */
  sensitivity?: SensitivityTable;
  /** The finalists of a two-stage scoring, once the search ended and chose them. */
  finalists?: Finalists;
}

/** What stays fixed through one search: from its input. */
export interface SearchConfig {
  targetMacs: number;
  fallbackAgent: SearchAgent;
  maxIterations: number;
  /** Proposals allowed in all, failed ones included, so a broken agent cannot loop forever. */
  maxProposals: number;
  stagnationWindow: number;
  /** Extended-search attempts in all (the shapes cycle through {@link EXTENDED_SHAPES}). */
  extendedSearch: number;
  baseStrategy: Partial<Strategy>;
  /** MACs no strategy removes (`profile.protectedMacs`). */
  floorMacs: number;
  /** Dense MACs (`profile.macs`). */
  ceilingMacs: number;
  /**
   * In band by construction: each extended-search shape is scaled into the band by the solver (up to
   * {@link MAX_SCALING_STEPS} out-of-band steps) before it counts as a candidate, instead of one try at the
   * converged ratio that may leave the band. Off only for runs recorded before it existed (replay).
   * @default false
   */
  scaleCandidates?: boolean;
  /**
   * In-band candidates to collect in all, the first in-band attempt included: when set, the extended search
   * takes the shapes of {@link candidateShapes} in turn (criteria, isomorphic on/off, a stage allocation from
   * the sensitivity table), each scaled into the band, until `candidates - 1` more are in band (a shape
   * given up does not count) or the shapes run out; `extendedSearch` is not used. Implies `scaleCandidates`.
   */
  candidates?: number;
  /**
   * Whether {@link candidateShapes} include per-layer uniform L1 (every layer cut by the same ratio, no global
   * ranking): the classic baseline, and the most accurate one at strong cuts in bench/accuracy. Off only for
   * runs recorded before it existed (replay).
   * @default false
   */
  perLayerShape?: boolean;
}

/** What a search's {@link SearchConfig} is made of: one target, the campaign's search section, the profile's bounds. */
export interface SearchSettings {
  targetMacs: number;
  fallbackAgent: SearchAgent;
  maxIterations: number;
  stagnationWindow: number;
  extendedSearch: number;
  baseStrategy: Partial<Strategy>;
  floorMacs: number;
  ceilingMacs: number;
  scaleCandidates: boolean;
  candidates?: number;
  perLayerShape?: boolean;
}

/**
 * The search's config from its settings: the one home of how it is built, shared by `macTargetSearch` (a new
 * run) and a campaign revision that replays this reducer over the attempts it carries over.
 */
export function searchConfigOf(s: SearchSettings): SearchConfig {
  return {
    targetMacs: s.targetMacs,
    fallbackAgent: s.fallbackAgent,
    maxIterations: s.maxIterations,
    maxProposals: s.maxIterations * 3,
    stagnationWindow: s.stagnationWindow,
    extendedSearch: s.extendedSearch,
    baseStrategy: s.baseStrategy,
    floorMacs: s.floorMacs,
    ceilingMacs: s.ceilingMacs,
    scaleCandidates: s.scaleCandidates,
    ...(s.candidates !== undefined ? { candidates: s.candidates } : {}),
    ...(s.perLayerShape ? { perLayerShape: true } : {}),
  };
}

/** The extended-search budget a new search starts with: `candidates - 1` more in-band ones, else `extendedSearch`. */
export function extendedBudget(config: SearchConfig): number {
  return config.candidates !== undefined ? config.candidates - 1 : config.extendedSearch;
}

/**
 * Out-of-band scaling steps one extended-search shape may take before it is given up. The solver lands a
 * new shape in the default band in 1-3 steps from the neighbouring family's measurements
 * (bench/RESULTS.md, convergence); 4 leaves room for a staircase without letting one shape eat the budget.
 */
export const MAX_SCALING_STEPS = 4;

/**
 * What an attempt was for, as the log shows it: a `candidate` is in band (a model the search may keep);
 * a `scaling` step measured MACs outside the band on the way to one; `failed` measured nothing.
 */
export type AttemptRole = 'candidate' | 'scaling' | 'failed';

/** The role of an attempt under the search's current band (see {@link AttemptRole}). */
export function attemptRole(attempt: Attempt): AttemptRole {
  if (!isMeasured(attempt)) return 'failed';
  return attempt.inBand ? 'candidate' : 'scaling';
}

/**
 * What happens to a search, in the order the workflow meets it each round:
 *
 * - `started`: once, before the first round (runs recorded before it skip it): a band no strategy can
 *   reach ends the search at once as `infeasible`, saying the floor and which layers hold it.
 * - `sensitivity`: once, after `started`, when the search measures the per-stage sensitivity: its table
 *   (kept for the candidate shapes and the prompt), or `error` (the search goes on without it).
 * - `human-shape`: a human override with `scaleToBand` is tried next: until its shape lands in band (or
 *   {@link MAX_SCALING_STEPS} give it up) the solver scales that shape, then the search goes on as before.
 * - `round`: before asking for a proposal; ends the search when attempts or proposals have run out.
 * - `agent-failed`: the proposal activity failed (`message` says how) after asking `agent`.
 * - `proposed`: an agent (or a human override) answered; `exhausted` when it has nothing left.
 * - `measured`: the engine measured (or failed) the proposal: the attempt joins the history and the
 *   divergence monitor judges it.
 * - `band-changed`: a user moved the band (an update): in-band flags and `converged` are re-derived.
 * - `finalists`: after the search ended, the best-scored candidates are scored again with a longer recovery
 *   (`search.recovery.rescore`): a note naming them.
 * - `rescored`: one finalist's second score, or why it failed (`error`), joins its attempt.
 *
 * `extended` is whether the round started in the extended search (converged), read before its awaits.
 */
export type SearchEvent =
  | { type: 'started'; protectedLayers: readonly { layer: string; reason: string }[] }
  | { type: 'sensitivity'; table?: SensitivityTable; error?: string }
  /** How `search.recovery.share` or `.epochs` became each candidate's recovery steps (a note in the log). */
  | { type: 'recovery-planned'; plan: RecoveryPlan }
  | { type: 'human-shape'; strategy: Strategy }
  | { type: 'round' }
  | { type: 'agent-failed'; agent: SearchAgent; message: string }
  | { type: 'proposed'; agent: AgentName; exhausted: boolean; extended: boolean }
  | { type: 'measured'; attempt: Attempt; extended: boolean }
  | { type: 'band-changed'; band: Band }
  | { type: 'finalists'; indices: number[]; steps: number }
  | { type: 'rescored'; index: number; score?: CandidateScore; error?: string };

/** Strategy shapes the extended search explores once the target is in band, in turn. */
export const EXTENDED_SHAPES: readonly {
  label: string;
  change: (base: Partial<Strategy>) => Partial<Strategy>;
}[] = [
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

/** One extended-search shape: a label for the log and the change it makes to the base strategy. */
export type ExtendedShape = (typeof EXTENDED_SHAPES)[number];

/** Criteria a scored search tries as shapes, in this order (the base strategy's own is skipped). */
const CANDIDATE_CRITERIA: readonly Importance[] = ['taylor', 'lamp', 'l1', 'l2', 'bn_scale'];

/**
 * The shapes of a search with {@link SearchConfig.candidates}, in the order they are tried: first the stage
 * allocation the sensitivity table supports ({@link allocateStages}, aimed at the band centre: every stage
 * but the one cut hardest is pinned at its ratio, that one follows the global ratio; the solver scales all
 * of them by one factor, starting from the allocation's own ratios),
 * then isomorphic grouping toggled, then (with {@link SearchConfig.perLayerShape}, for a global base) per-layer
 * uniform L1, then the other importance criteria. Deterministic in its inputs. The order puts the shapes
 * that differ most first: global criteria rank channels alike and often give near-identical models.
 *
 * @example
 * // base l2 global isomorphic, perLayerShape, a table where block3 is cheapest:
 * candidateShapes(config, band, table).map((s) => s.label);
 * // ['stage allocation from sensitivity (block3 0.51, block1 0)', 'isomorphic off', 'l1 per-layer uniform',
 * //  'taylor importance', 'lamp importance', 'l1 importance', 'bn_scale importance']
 */
export function candidateShapes(config: SearchConfig, band: Band, table?: SensitivityTable): ExtendedShape[] {
  const base = config.baseStrategy;
  const shapes: ExtendedShape[] = [];
  const allocation = table ? stageAllocationShape(config, band, table) : undefined;
  if (allocation) shapes.push(allocation);
  const isomorphic = base.isomorphic ?? true;
  shapes.push({
    label: `isomorphic ${isomorphic ? 'off' : 'on'}`,
    change: (b) => ({ ...b, isomorphic: !isomorphic }),
  });
  if (config.perLayerShape && (base.globalPruning ?? true))
    shapes.push({
      label: 'l1 per-layer uniform',
      // The base's roundTo stays (a hardware choice); the screen falls back to roundTo 1 when no ratio lands.
      change: (b) => ({ ...b, importance: 'l1', globalPruning: false, isomorphic: false }),
    });
  for (const importance of CANDIDATE_CRITERIA) {
    if (importance === (base.importance ?? 'l2')) continue;
    shapes.push({ label: `${importance} importance`, change: (b) => ({ ...b, importance }) });
  }
  return shapes;
}

function stageAllocationShape(
  config: SearchConfig,
  band: Band,
  table: SensitivityTable,
): ExtendedShape | undefined {
  const template = baseStrategy(0, config.baseStrategy);
  const skip = table.stages.map((s) => s.stage).filter((n) => pinnedStageRatio(n, template) !== undefined);
  const aimMacs = config.targetMacs * (1 + bandCenter(band));
  const a = allocateStages(table, { denseMacs: config.ceilingMacs, aimMacs, skip });
  if (!a) return undefined;
  const pinned = Object.fromEntries(Object.entries(a.stageRatios).filter(([n]) => n !== a.freeStage));
  const shown = Object.entries(a.stageRatios)
    .sort(([, x], [, y]) => y - x)
    .map(([n, r]) => `${n} ${r.toFixed(2)}`)
    .join(', ');
  return {
    label: `stage allocation from sensitivity (${shown})`,
    change: (b) => ({
      ...b,
      pruningRatio: a.stageRatios[a.freeStage]!,
      stageRatios: { ...pinned, ...(b.stageRatios ?? {}) },
    }),
  };
}

/** The search state a run starts from: fresh, or as the previous run carried it over. */
export function initialSearchState(init: {
  attempts: Attempt[];
  band: Band;
  agent: SearchAgent;
  converged?: boolean;
  extendedLeft: number;
  events?: { afterAttempt: number; note: string }[];
  proposals?: number;
  shapeSteps?: number;
  shapeIndex?: number;
  sensitivity?: SensitivityTable;
}): SearchState {
  return {
    attempts: init.attempts,
    band: init.band,
    agent: init.agent,
    converged: init.converged ?? false,
    extendedLeft: init.extendedLeft,
    events: init.events ? [...init.events] : [],
    proposals: init.proposals ?? 0,
    ...(init.shapeSteps ? { shapeSteps: init.shapeSteps } : {}),
    ...(init.shapeIndex ? { shapeIndex: init.shapeIndex } : {}),
    ...(init.sensitivity ? { sensitivity: init.sensitivity } : {}),
    status: 'running',
    reason: null,
  };
}

/** What to ask for next: which agent, from which base strategy, with which note. */
export interface ProposalRequest {
  agent: SearchAgent;
  baseStrategy: Partial<Strategy>;
  note?: string;
  /** Whether the round is in the extended search. */
  extended: boolean;
  /**
   * Set when the round scales a shape into the band (an extended-search candidate shape, or a human
   * override's): the workflow screens the proposal with the dry run before it is pruned.
   */
  scaling?: true;
}

/**
 * The next proposal request. In the extended search the base strategy takes the next of
 * {@link EXTENDED_SHAPES} and the solver stands in for the grid (a grid cannot rescale a new shape into
 * the band); otherwise the current agent gets the base strategy and the monitor's note, if any.
 */
export function nextRequest(state: SearchState, config: SearchConfig): ProposalRequest {
  const extended = state.converged;
  if (state.humanShape) {
    const note = `scale the human override's shape into the band (scaling step ${state.humanShape.steps + 1} of ${MAX_SCALING_STEPS})`;
    return { agent: 'solver', baseStrategy: state.humanShape.base, note, extended, scaling: true };
  }
  const shape = extended ? currentShape(state, config) : undefined;
  if (shape && (config.scaleCandidates || config.candidates !== undefined)) {
    // The shape's first proposal is the search's agent's (Claude may shape it); every further step is the
    // solver's, scaling that shape into the band on the measured MACs.
    const steps = state.shapeSteps ?? 0;
    const agent: SearchAgent = steps > 0 || state.agent === 'grid' ? 'solver' : state.agent;
    const note =
      steps > 0
        ? `extended search: scale ${shape.label} into the band (scaling step ${steps + 1} of ${MAX_SCALING_STEPS})`
        : `extended search: try ${shape.label}, scaled into the band`;
    return { agent, baseStrategy: shape.change(config.baseStrategy), note, extended, scaling: true };
  }
  const agent: SearchAgent = extended && state.agent === 'grid' ? 'solver' : state.agent;
  const note = shape ? `extended search: try ${shape.label} while staying in band` : state.note;
  return {
    agent,
    baseStrategy: shape ? shape.change(config.baseStrategy) : config.baseStrategy,
    ...(note ? { note } : {}),
    extended,
  };
}

/**
 * The search's state machine: pure, deterministic, and the only place that ends a search (sets
 * `status`/`reason`) or switches agents. The workflow feeds it events and performs the side effects.
 *
 * | event           | condition                                                   | next                                              |
 * |-----------------|-------------------------------------------------------------|---------------------------------------------------|
 * | round           | the search has ended                                        | unchanged                                         |
 * | round           | attempts >= maxIterations                                   | end: converged, else diverged `max-iterations`    |
 * | round           | proposals >= maxProposals                                   | end: converged, else diverged `agent-failures`    |
 * | agent-failed    | the failed agent is not the fallback                        | note it; switch to the fallback                   |
 * | agent-failed    | it is the fallback                                          | end: converged, else diverged `agent-failures`    |
 * | proposed        | exhausted, in the extended search, `candidates`             | note it; give the shape up (end when none is left) |
 * | proposed        | exhausted, in the extended search                           | note it; end: converged, else diverged `stopped`  |
 * | proposed        | exhausted, the agent is not the fallback                    | note it; switch to the fallback                   |
 * | proposed        | exhausted, the agent is the fallback                        | note it; end: diverged `exhausted`                |
 * | measured        | converged (now or before)                                   | extended attempt counted; end converged when none left |
 * | measured        | extended, `scaleCandidates`, out of band                    | one more scaling step of the shape (given up after {@link MAX_SCALING_STEPS}) |
 * | measured        | the monitor says `switch-agent`                             | switch to the fallback, or pass the reason as a note |
 * | measured        | the monitor says `shrink-bracket`                           | note for the agent: bisect the bracket            |
 * | measured        | the monitor says `stop`                                     | end: converged iff its reason is, infeasible for infeasible-target, else diverged |
 * | sensitivity     | a table                                                     | keep it; note it                                  |
 * | sensitivity     | an error                                                    | note it (no stage allocation shape)               |
 * | measured        | converged, `candidates`, the shapes ran out                 | end: converged (note how many candidates)         |
 * | band-changed    | —                                                           | re-derive every `inBand` and `converged`          |
 *
 * Every `proposed` and `agent-failed` counts one proposal; `proposed` clears the monitor's note.
 *
 * @example
 * // Solver first, grid as fallback; the solver's proposal fails (its activity throws):
 * let s = initialSearchState({ attempts: [], band, agent: 'solver', extendedLeft: 0 });
 * s = searchReducer(s, { type: 'agent-failed', agent: 'solver', message: 'boom' }, config);
 * // s.agent === 'grid', s.proposals === 1,
 * // s.events: ['agent solver failed: boom', 'switched to grid'] (afterAttempt 0), status 'running'
 */
export function searchReducer(state: SearchState, event: SearchEvent, config: SearchConfig): SearchState {
  switch (event.type) {
    case 'started':
      return state.attempts.length === 0 ? infeasibleAtStart(state, config, event.protectedLayers) : state;
    case 'sensitivity':
      if (!event.table) return addEvent(state, `sensitivity not measured: ${event.error ?? 'no table'}`);
      return addEvent(
        { ...state, sensitivity: event.table },
        `sensitivity measured: ${event.table.stages.length} stages, baseline top-1 ${(event.table.baseline.top1 * 100).toFixed(1)}% on the scoring slice`,
      );
    case 'recovery-planned':
      return addEvent(state, recoveryPlanNote(event.plan));
    case 'finalists': {
      const finalists = { indices: event.indices, steps: event.steps };
      return addEvent({ ...state, finalists }, finalistsNote(finalists));
    }
    case 'rescored':
      return {
        ...state,
        attempts: state.attempts.map((a) =>
          a.index !== event.index
            ? a
            : event.score
              ? { ...a, rescore: event.score }
              : { ...a, rescoreError: event.error ?? 'failed' },
        ),
      };
    case 'human-shape': {
      const { pruningRatio: _ratio, rationale: _why, ...shape } = event.strategy;
      return addEvent(
        { ...state, humanShape: { base: shape, steps: 0 } },
        'human override: its shape is scaled into the band by the solver',
      );
    }
    case 'round':
      if (state.status !== 'running') return state;
      if (state.attempts.length >= config.maxIterations) return endUnlessConverged(state, 'max-iterations');
      if (state.proposals >= config.maxProposals) return endUnlessConverged(state, 'agent-failures');
      return state;
    case 'agent-failed': {
      const failed = addEvent(
        { ...state, proposals: state.proposals + 1 },
        `agent ${event.agent} failed: ${event.message}`,
      );
      return (
        switchToFallback(failed, config, event.agent, (to) => `switched to ${to}`) ??
        endUnlessConverged(failed, 'agent-failures')
      );
    }
    case 'proposed': {
      const { note: _cleared, ...rest } = state;
      let next: SearchState = { ...rest, proposals: state.proposals + 1 };
      if (!event.exhausted) return next;
      next = addEvent(next, `${event.agent} has no strategy left to try`);
      // With `candidates`, an agent out of ideas for one shape gives that shape up, not the search.
      if (event.extended && config.candidates !== undefined) return giveUpShape(next, config);
      if (event.extended) return endUnlessConverged(next, 'stopped');
      return (
        switchToFallback(next, config, state.agent, (to) => `switched to ${to}`) ??
        end(next, 'diverged', 'exhausted')
      );
    }
    case 'measured':
      return measured(state, event.attempt, event.extended, config);
    case 'band-changed': {
      const band = event.band;
      const attempts = state.attempts.map((a) =>
        isMeasured(a) ? { ...a, inBand: inBand(a.deviation, band) } : a,
      );
      return { ...state, band, attempts, converged: attempts.some((a) => isMeasured(a) && a.inBand) };
    }
  }
}

function measured(
  state: SearchState,
  attempt: Attempt,
  extended: boolean,
  config: SearchConfig,
): SearchState {
  const index = attempt.index;
  let next: SearchState = { ...state, attempts: [...state.attempts, attempt] };
  const wasConverged = next.converged;
  if (isMeasured(attempt) && attempt.inBand && !next.converged) {
    next = addEvent(
      { ...next, converged: true },
      `in band after ${index} attempts (${pct(attempt.deviation)})`,
      index,
    );
  }
  if (next.humanShape) {
    next = scaledHumanShape(next, attempt);
    // After convergence a human shape is an extra candidate: it spends no extended-search slot.
    if (wasConverged) return next;
    if (next.converged) return next.extendedLeft <= 0 ? end(next, 'converged', 'converged') : next;
  } else if (next.converged) {
    if (extended)
      next =
        config.scaleCandidates || config.candidates !== undefined
          ? scaledCandidate(next, attempt, config)
          : countExtended(next);
    if (next.extendedLeft <= 0) return end(next, 'converged', 'converged');
    if (config.candidates !== undefined && !currentShape(next, config)) {
      const found = config.candidates - next.extendedLeft;
      return end(
        addEvent(next, `no candidate shapes left (${found} of ${config.candidates} candidates in band)`),
        'converged',
        'converged',
      );
    }
    return next;
  }
  const verdict = assessSearch(next.attempts, {
    band: next.band,
    targetMacs: config.targetMacs,
    stagnationWindow: config.stagnationWindow,
    maxIterations: config.maxIterations,
    floorMacs: config.floorMacs,
    ceilingMacs: config.ceilingMacs,
  });
  return afterVerdict(next, verdict, index, config);
}

/**
 * One attempt of a shape being scaled into the band, after `stepsBefore` out-of-band steps: `candidate` in
 * band; else one more `step`, or `given-up` at {@link MAX_SCALING_STEPS}. `note` is the event to log, if any.
 */
function scalingStep(
  label: string,
  stepsBefore: number,
  attempt: Attempt,
): { outcome: 'candidate' | 'step' | 'given-up'; steps: number; note?: string } {
  if (isMeasured(attempt) && attempt.inBand)
    return {
      outcome: 'candidate',
      steps: 0,
      note: `candidate: ${label} in band (${pct(attempt.deviation)})`,
    };
  const steps = stepsBefore + 1;
  if (steps < MAX_SCALING_STEPS) return { outcome: 'step', steps };
  return {
    outcome: 'given-up',
    steps: 0,
    note: `${label}: not in band after ${steps} scaling steps; given up`,
  };
}

/**
 * An attempt of a human override's shape (`scaleToBand`): in band, the shape's candidate (an extra one: it
 * spends no extended-search slot); out of band, one more scaling step, given up after
 * {@link MAX_SCALING_STEPS}. The override's own trial counts as the first step.
 */
function scaledHumanShape(state: SearchState, attempt: Attempt): SearchState {
  const shape = state.humanShape;
  if (!shape) return state;
  const r = scalingStep("the human override's shape", shape.steps, attempt);
  if (r.outcome === 'step') return { ...state, humanShape: { ...shape, steps: r.steps } };
  const { humanShape: _done, ...rest } = state;
  return addEvent(rest, r.note!, attempt.index);
}

/** The current candidate shape given up without a candidate; the search ends when no shape is left. */
function giveUpShape(state: SearchState, config: SearchConfig): SearchState {
  const next: SearchState = { ...state, shapeSteps: 0, shapeIndex: (state.shapeIndex ?? 0) + 1 };
  if (currentShape(next, config)) return next;
  const found = (config.candidates ?? 0) - next.extendedLeft;
  return end(
    addEvent(next, `no candidate shapes left (${found} of ${config.candidates} candidates in band)`),
    'converged',
    'converged',
  );
}

/** One extended attempt spent (the shape is tried once, in band or not). */
function countExtended(state: SearchState): SearchState {
  return { ...state, extendedLeft: state.extendedLeft - 1 };
}

/** The extended-search shape the search is on: they are taken in turn, one per extended slot. */
function currentShape(state: SearchState, config: SearchConfig): ExtendedShape | undefined {
  if (config.candidates !== undefined)
    return candidateShapes(config, state.band, state.sensitivity)[state.shapeIndex ?? 0];
  return EXTENDED_SHAPES[(config.extendedSearch - state.extendedLeft) % EXTENDED_SHAPES.length];
}

/**
 * An extended attempt under {@link SearchConfig.scaleCandidates}: in band, it is the shape's candidate and
 * the next shape begins; out of band (or failed), one more scaling step of the same shape, until
 * {@link MAX_SCALING_STEPS} give it up.
 */
function scaledCandidate(state: SearchState, attempt: Attempt, config: SearchConfig): SearchState {
  const label = currentShape(state, config)?.label ?? 'extended shape';
  const r = scalingStep(label, state.shapeSteps ?? 0, attempt);
  if (r.outcome === 'step') return { ...state, shapeSteps: r.steps };
  if (config.candidates === undefined)
    return addEvent({ ...countExtended(state), shapeSteps: 0 }, r.note!, attempt.index);
  // With `candidates`, only a shape that lands counts; one given up makes way for the next shape.
  const done = { ...state, shapeSteps: 0, shapeIndex: (state.shapeIndex ?? 0) + 1 };
  return addEvent(r.outcome === 'candidate' ? countExtended(done) : done, r.note!, attempt.index);
}

function afterVerdict(
  state: SearchState,
  verdict: SearchAssessment,
  index: number,
  config: SearchConfig,
): SearchState {
  const said = `${verdict.reason}: ${verdict.detail}`;
  switch (verdict.action) {
    case 'continue':
      return state;
    case 'switch-agent':
      return (
        switchToFallback(
          state,
          config,
          state.agent,
          (to, from) => `${said}; switched ${from} -> ${to}`,
          index,
        ) ?? {
          ...addEvent(state, said, index),
          note: said,
        }
      );
    case 'shrink-bracket':
      return {
        ...addEvent(state, `${said}; shrinking to the best bracket`, index),
        note: `shrink-bracket: ${verdict.detail}`,
      };
    case 'stop':
      return end(
        addEvent(state, `stopped: ${said}`, index),
        verdict.reason === 'converged'
          ? 'converged'
          : verdict.reason === 'infeasible-target'
            ? 'infeasible'
            : 'diverged',
        verdict.reason ?? 'stopped',
      );
  }
}

/**
 * Switch to the fallback agent, noting why: `undefined` when `from` (the agent that failed or gave up)
 * already is the fallback, so the caller decides what happens instead.
 */
function switchToFallback(
  state: SearchState,
  config: SearchConfig,
  from: AgentName,
  why: (to: SearchAgent, from: AgentName) => string,
  afterAttempt = state.attempts.length,
): SearchState | undefined {
  if (from === config.fallbackAgent) return undefined;
  const to = config.fallbackAgent;
  return addEvent({ ...state, agent: to }, why(to, from), afterAttempt);
}

/** How many protected layers an infeasible verdict names. */
const NAMED_PROTECTED_LAYERS = 5;

/**
 * The band against what any strategy can reach, before a trial is spent: below `floorMacs` (protected
 * layers' own MACs, exact) or above the dense model, the search ends as `infeasible` with the floor and
 * the layers that hold it.
 */
function infeasibleAtStart(
  state: SearchState,
  config: SearchConfig,
  protectedLayers: readonly { layer: string; reason: string }[],
): SearchState {
  const top = config.targetMacs * (1 + state.band.hi);
  const bottom = config.targetMacs * (1 + state.band.lo);
  let detail: string | undefined;
  if (top < config.floorMacs) {
    const named = protectedLayers
      .slice(0, NAMED_PROTECTED_LAYERS)
      .map((p) => `${p.layer} (${p.reason})`)
      .join(', ');
    const more =
      protectedLayers.length > NAMED_PROTECTED_LAYERS
        ? ` and ${protectedLayers.length - NAMED_PROTECTED_LAYERS} more`
        : '';
    detail =
      `the band's top ${gmacs(top)} is below the reachable floor ${gmacs(config.floorMacs)}: ` +
      `the MACs of protected layers no strategy removes` +
      (named ? ` — ${named}${more}` : '') +
      `; raise the target, or unprotect layers (those listed in search.base.ignoredLayers)`;
  } else if (bottom > config.ceilingMacs) {
    detail = `the band's bottom ${gmacs(bottom)} is above the dense model's ${gmacs(config.ceilingMacs)}: nothing to prune`;
  }
  if (!detail) return state;
  return end(addEvent(state, `infeasible: ${detail}`, 0), 'infeasible', `infeasible-target: ${detail}`);
}

function gmacs(macs: number): string {
  return `${(macs / 1e9).toPrecision(4)} GMACs`;
}

/** The one place a search ends. */
function end(state: SearchState, status: SearchOutcome, reason: string): SearchState {
  return { ...state, status, reason };
}

/** End converged when some attempt is in band, else diverged for `reason`. */
function endUnlessConverged(state: SearchState, reason: string): SearchState {
  return state.converged ? end(state, 'converged', 'converged') : end(state, 'diverged', reason);
}

function addEvent(state: SearchState, note: string, afterAttempt = state.attempts.length): SearchState {
  return { ...state, events: [...state.events, { afterAttempt, note }] };
}

function pct(d: number): string {
  return `${d >= 0 ? '+' : ''}${(d * 100).toFixed(2)}%`;
}
