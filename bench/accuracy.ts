/**
 * Accuracy at the budget (issue 12): at the same MAC target, is the campaign's pick at least as accurate after
 * fine-tuning as the classic baselines, and does its score predict final accuracy?
 *
 * For each model (democnn, resnet18 at 32 px, trained here from scratch on the `hard` make-dataset preset) and
 * target (0.5, 0.3 of dense MACs, band -5 %..+1 %):
 * - baselines: per-layer uniform L1, global L2 isomorphic (today's default), global Taylor isomorphic,
 *   random. Each is scaled into the band by screening its pruning ratio with the engine's `prune-dry-run`
 *   (the exact MACs prune measures) and pruning the in-band ratio nearest the band centre; then fine-tuned
 *   (KD from the dense model) with one recipe and step count for every seed, and evaluated on val/;
 * - the campaign's pick for each scoring mode (`search.scoring: zero-shot | recovery`, `search.candidates`):
 *   one real campaign per mode through the real workflows on this process's local runtime (workers for
 *   control, trials and train on the Temporal dev server of AP_TEMPORAL_PORT, the artifact store of
 *   AP_STORE), search only (solver, the same dense model, dataset, target and band, no fine-tune, no
 *   deployment). Its kept attempt's model is downloaded from the store and fine-tuned here with the
 *   baselines' recipe, steps and seeds; so is every other scored candidate of its log (`--candidate-seeds
 *   all`), so that Spearman's rho between the score and the seed-mean final val top-1 is over all scored
 *   candidates, and each case says how far its candidates really are apart in seed noise (`resolution`) and
 *   how much the kept one lost against the best scored one in hindsight (`regret`). A candidate
 *   whose strategy and MACs another campaign already pruned is the same model: its fine-tune is reused; so are
 *   the fine-tunes of `--reuse` results of the same dense model, dataset and recipe (bench/accuracy-reuse.ts),
 *   which makes a change of the scoring alone (e.g. `--recovery-steps`) a run of minutes.
 * Reports mean and spread of final val top-1 per method, the search cost (prune trials, scoring fine-tune
 * steps, wall time) beside the final fine-tune's steps, and Spearman's rho between each score and final
 * accuracy (baselines: the zero-shot proxy on train/; campaigns: the mode's score over its scored candidates).
 *
 * Usage: bench/accuracy [--quick] [--models democnn,resnet18] [--targets 0.5,0.3] [--seeds 0,1,2]
 *                       [--dense-epochs auto] [--ft-epochs 2] [--classes 10] [--train-per-class 120]
 *                       [--val-per-class 100]
 *                       [--candidate-seeds all|first] [--modes zero-shot,recovery,default,older-default] [--candidates 4]
 *                       [--methods l1,taylor|none] [--recovery-steps 8|10,40,160] [--recovery-lr 0.002] [--score-images 256] [--max-iterations 60]
 *                       [--sensitivity 0.5|none] [--work DIR] [--json FILE] [--reuse a.json[,b.json]]
 *        bench/accuracy --verdicts-of a.json[,b.json] [--new-val n.jsonl[,m.jsonl]] [--screen 10:40:3]
 *          (no run: the verdicts of earlier --json results; with --new-val, against the final models' top-1 on the
 *          new val images of bench/accuracy-new-val; with --screen, what scoring every candidate at 10 steps and
 *          the best 3 again at 40 would have kept, from results scored at both lengths)
 * Each case's rho comes with its noise ceiling (the rho a perfect score could expect against seed means this
 * noisy), how far the seeds agree on the candidates' order, and its one-sided permutation p (how often a score
 * unrelated to accuracy would rank as well: 6 candidates make rho 0.71 p = 0.07), and each mode's mean
 * within-case rho is pooled over all cases with a permutation p of its own: the evidence one case of a few
 * candidates cannot give; beside it, the mean and largest regret of the mode's picks.
 * `--quick`: democnn, target 0.5, dense 4 epochs, fine-tune 1 epoch. On the shared 2-core box at load 3-7, with
 * the dense model reused from `--work`: the two campaigns and their fine-tunes (3 seeds) 8 minutes, the four
 * baselines (3 seeds) 6 minutes.
 */
import { Command } from 'commander';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { downloadModelDir } from '../src/activities/model-files';
import { CampaignClient } from '../src/client/campaign-client';
import { resolveClientConfig } from '../src/client/client-config';
import { startLocalRuntime, type LocalRuntime } from '../src/client/local-runtime';
import { denseRecipe } from '../src/client/demo';
import type { Attempt } from '../src/core/attempt';
import { searchCost } from '../src/core/attempt-selection';
import { CampaignConfigSchema, type CampaignConfigInput, type RankBy } from '../src/core/campaign-config';
import type { ModelSpec } from '../src/core/model-spec';
import type { Strategy } from '../src/core/strategy';
import { dryRunStrategies, screenIntoBand } from '../src/engine/dry-run';
import { scoringCostWords } from '../src/report/tables';
import { defaultEngineLocation } from '../src/engine/engine-paths';
import { WarmEngine } from '../src/engine/engine-process';
import { aggregate, BAND, datasetLabel, scoredCandidates, spearman, type RunRow } from './accuracy-stats';
import { fineTuneKey, ReusedFineTunes, type EarlierResult, type RunSetting } from './accuracy-reuse';
import { hashFile } from '../src/storage/hashing';
import {
  campaignRuns,
  campaignSearch,
  campaignSearchError,
  parseRescore,
  type CampaignRun,
  type ScoringMode,
  type SearchOptions,
} from './accuracy-search';
import {
  figureName,
  judge,
  modeLabel,
  parseRankBy,
  parseScreen,
  printVerdicts,
  rankedScore,
  verdictsOf,
} from './accuracy-verdicts';

/** The baselines, each a base strategy whose ratio is scaled into the band. */
export const BASELINES: { method: string; base: Omit<Strategy, 'pruningRatio'> }[] = [
  {
    method: 'l1 per-layer uniform',
    base: { importance: 'l1', globalPruning: false, isomorphic: false, roundTo: 1 },
  },
  {
    method: 'l2 global isomorphic',
    base: { importance: 'l2', globalPruning: true, isomorphic: true, roundTo: 8 },
  },
  {
    method: 'taylor global isomorphic',
    base: { importance: 'taylor', globalPruning: true, isomorphic: true, roundTo: 8 },
  },
  { method: 'random', base: { importance: 'random', globalPruning: true, isomorphic: true, roundTo: 8 } },
];

/**
 * Dense training epochs per model when `--dense-epochs auto`: democnn reaches ~88 % on `hard` in 8; resnet18
 * needs 40 (38.7 % after 8, below its own pruned models: bench/results/accuracy-resnet18-dense8.json).
 */
export const DENSE_EPOCHS: Record<string, number> = { democnn: 8, resnet18: 40 };

interface Ctx {
  engine: WarmEngine;
  work: string;
  root: string;
  classes: number;
  inputShape: number[];
  calibration: { dataset: string; batches: number; batchSize: number };
}

interface Recipe {
  epochs: number;
  batchSize: number;
  lr: number;
}

async function trainDense(
  ctx: Ctx,
  name: string,
  epochs: number,
  dataLabel: string,
): Promise<{ spec: ModelSpec; valTop1: number; weightsSha256: string }> {
  const out = path.join(ctx.work, `dense-${name}-${epochs}e-${dataLabel}`);
  const done = path.join(out, 'model.pt');
  if (fs.existsSync(done)) {
    // --work of an earlier run: its dense model (same dataset, same recipe) is reused.
    const spec = { name, numClasses: ctx.classes, weights: done };
    return { spec, valTop1: await evaluate(ctx, spec), weightsSha256: (await hashFile(done)).sha256 };
  }
  const ft = await ctx.engine.run<{ modelSpec: ModelSpec; steps: number }>('finetune', {
    model: { name, numClasses: ctx.classes },
    dataset: { root: ctx.root, imageSize: ctx.inputShape[2] },
    recipe: { ...denseRecipe(epochs), workers: 0 },
    checkpointDir: path.join(out, 'ckpt'),
    checkpointEverySteps: 100000,
    outDir: out,
  });
  const ev = await evaluate(ctx, ft.modelSpec);
  return { spec: ft.modelSpec, valTop1: ev, weightsSha256: (await hashFile(done)).sha256 };
}

async function evaluate(ctx: Ctx, model: ModelSpec): Promise<number> {
  const ev = await ctx.engine.run<{ top1: number }>('evaluate', {
    model,
    dataset: { root: ctx.root, split: 'val', imageSize: ctx.inputShape[2] },
  });
  return ev.top1;
}

/** Scale `base` into the band: screen its ratio with the dry run (as a campaign's scaling round does), prune the pick. */
async function scaleIntoBand(
  ctx: Ctx,
  dense: ModelSpec,
  base: Omit<Strategy, 'pruningRatio'>,
  targetMacs: number,
  label: string,
): Promise<{
  strategy: Strategy;
  macs: number;
  params: number;
  proxyTop1: number | null;
  dir: string;
  screened: number;
} | null> {
  const screened = await screenIntoBand(ctx.engine, {
    model: dense,
    inputShape: ctx.inputShape,
    strategy: { ...base, pruningRatio: 0 },
    scale: 'ratio',
    targetMacs,
    band: BAND,
    ...(base.importance === 'taylor' ? { calibration: ctx.calibration } : {}),
  });
  if (!screened.pick) return null;
  const { strategy } = screened.pick;
  const outDir = path.join(ctx.work, 'pruned', label);
  const r = await ctx.engine.run<{
    macs: number;
    params: number;
    accuracyProxy?: { top1: number };
    saved: { dir: string };
  }>('prune', {
    model: dense,
    inputShape: ctx.inputShape,
    strategy,
    outDir,
    calibration: ctx.calibration,
  });
  if (screened.pick.macs !== r.macs)
    throw new Error(`${label}: dry run said ${screened.pick.macs} MACs, prune measured ${r.macs}`);
  return {
    strategy,
    macs: r.macs,
    params: r.params,
    proxyTop1: r.accuracyProxy?.top1 ?? null,
    dir: r.saved.dir,
    screened: screened.shapes,
  };
}

async function fineTuneAndEvaluate(
  ctx: Ctx,
  model: ModelSpec,
  teacher: ModelSpec,
  recipe: Recipe,
  seed: number,
  label: string,
): Promise<{ valTop1: number; steps: number; wallMs: number }> {
  const out = path.join(ctx.work, 'ft', `${label}-s${seed}`);
  const t = Date.now();
  const ft = await ctx.engine.run<{ modelSpec: ModelSpec; steps: number }>('finetune', {
    model,
    teacher,
    dataset: { root: ctx.root, imageSize: ctx.inputShape[2] },
    recipe: {
      ...recipe,
      optimizer: 'adamw',
      weightDecay: 5e-4,
      schedule: 'cosine',
      kdAlpha: 0.5,
      kdTemperature: 4,
      seed,
      workers: 0,
    },
    checkpointDir: path.join(out, 'ckpt'),
    checkpointEverySteps: 100000,
    outDir: out,
  });
  const valTop1 = await evaluate(ctx, ft.modelSpec);
  return { valTop1, steps: ft.steps, wallMs: Date.now() - t };
}

/** One scored candidate of a campaign, fine-tuned with seed 0 for the correlation. */
interface ScoredRow {
  model: string;
  target: number;
  mode: ScoringMode;
  campaignId: string;
  attempt: number;
  kept: boolean;
  strategy: Strategy;
  macs: number;
  deviation: number;
  params: number;
  scoreTop1: number;
  scoreLoss: number;
  /** What the campaign ranked its candidates by. */
  rankBy: RankBy;
  scoreSteps: number;
  /** The campaign's second stage (`--rescore`), and this candidate's second score when it was a finalist. */
  rescore?: { top: number; steps: number };
  rescoreTop1?: number;
  rescoreLoss?: number;
  proxyTop1: number | null;
  /** Mean final val top-1 over {@link runs}. */
  valTop1: number;
  /** Final val top-1 per fine-tune seed (seed 0 only with `--candidate-seeds first`). */
  runs: { seed: number; valTop1: number }[];
  steps: number;
  /** The fine-tunes were already run: by another campaign here with the same strategy and MACs, or a --reuse file. */
  reused: boolean;
}

interface PickOptions extends SearchOptions {
  seeds: number[];
  /** The seeds every scored candidate is fine-tuned with (the kept one always gets {@link seeds}). */
  candidateSeeds: number[];
  recipe: Recipe;
  stamp: string;
}

/** The search options of one campaign run: its recovery's length. */
function runOptions(run: CampaignRun, o: PickOptions): PickOptions {
  return run.recoverySteps === undefined
    ? o
    : { ...o, recovery: { ...o.recovery, steps: run.recoverySteps } };
}

/**
 * The campaign's pick with one scoring mode: run the campaign (search only), fine-tune its kept attempt over
 * `seeds` and every other scored candidate with seed 0, all with the baselines' recipe.
 */
async function campaignPick(
  ctx: Ctx,
  runtime: LocalRuntime,
  client: CampaignClient,
  dense: ModelSpec,
  fraction: number,
  run: CampaignRun,
  options: PickOptions,
  cache: ReusedFineTunes,
): Promise<{ row: CandidateRow; scored: ScoredRow[] } | string> {
  const name = dense.name;
  const { mode, label } = run;
  const o = runOptions(run, options);
  const config: CampaignConfigInput = {
    name: `bench-accuracy-${name}-${mode}`,
    model: dense,
    inputShape: ctx.inputShape,
    targets: [{ fraction, band: '-5%..+1%', label: 't' }],
    search: campaignSearch(mode, o),
    dataset: {
      root: ctx.root,
      calibrationBatches: ctx.calibration.batches,
      calibrationBatchSize: ctx.calibration.batchSize,
    },
    deployment: { enabled: false },
  };
  // What the campaign scores with, as its config parses (the product's defaults fill `default`'s).
  const effective = CampaignConfigSchema.parse(config).search;
  const scoring: ScoringMode = effective.scoring ?? 'zero-shot';
  const rescore = effective.recovery?.rescore;
  const started = Date.now();
  const { campaignId } = await client.start(config, {
    campaignId: `bench-acc-${o.stamp}-${name}-${fraction}-${label.replace(/\W+/g, '-')}`,
  });
  const result = await client.result(campaignId);
  const searchWallSec = (Date.now() - started) / 1000;
  const t = result.targets[0]!;
  const log = (await client.log(campaignId))[0];
  if (t.status !== 'converged' || !t.chosen || !log)
    return `campaign ${campaignId} did not converge (${t.status}: ${t.reason})`;
  const cost = searchCost(log.attempts);
  const kept = t.chosen;
  const fineTune = async (a: Attempt, seed: number) => {
    const key = fineTuneKey(name, a.strategy, a.macs, seed);
    const hit = cache.get(key);
    if (hit) return { ...hit, reused: true };
    if (!a.model) throw new Error(`${campaignId} attempt ${a.index}: no stored model`);
    const spec = await downloadModelDir(
      runtime.deps.store,
      a.model,
      path.join(ctx.work, 'campaign', campaignId, `attempt-${a.index}`),
    );
    const r = await fineTuneAndEvaluate(ctx, spec, dense, o.recipe, seed, `${campaignId}-a${a.index}`);
    cache.set(key, r);
    return { ...r, reused: false };
  };
  const scored: ScoredRow[] = [];
  for (const a of scoredCandidates(log.attempts, kept.index)) {
    const runs: { seed: number; valTop1: number }[] = [];
    let reused = true;
    let steps = 0;
    for (const seed of o.candidateSeeds) {
      const r = await fineTune(a, seed);
      runs.push({ seed, valTop1: r.valTop1 });
      reused &&= r.reused;
      steps = r.steps;
    }
    const valTop1 = runs.reduce((sum, r) => sum + r.valTop1, 0) / runs.length;
    console.error(
      `  ${label} candidate #${a.index}${a.kept ? ' (kept)' : ''}: score ${(a.score.top1 * 100).toFixed(1)} % loss ${a.score.loss.toFixed(3)}, ` +
        (a.rescore
          ? `second score ${(a.rescore.top1 * 100).toFixed(1)} % loss ${a.rescore.loss.toFixed(3)}, `
          : '') +
        `val top-1 ${runs.map((r) => (r.valTop1 * 100).toFixed(1)).join(' / ')} % (seeds ${o.candidateSeeds.join(',')}` +
        `${reused ? ', fine-tunes reused' : ''})`,
    );
    scored.push({
      model: name,
      target: fraction,
      mode: scoring,
      campaignId,
      attempt: a.index,
      kept: a.kept,
      strategy: a.strategy,
      macs: a.macs,
      deviation: a.deviation,
      params: a.params,
      scoreTop1: a.score.top1,
      scoreLoss: a.score.loss,
      rankBy: o.rankBy,
      scoreSteps: a.score.steps,
      ...(rescore ? { rescore } : {}),
      ...(a.rescore ? { rescoreTop1: a.rescore.top1, rescoreLoss: a.rescore.loss } : {}),
      proxyTop1: a.accuracyProxy?.top1 ?? null,
      valTop1,
      runs,
      steps,
      reused,
    });
  }
  const runs = [];
  for (const seed of o.seeds) {
    const r = await fineTune(kept, seed);
    runs.push({ seed, valTop1: r.valTop1, steps: r.steps, wallMs: r.wallMs });
    console.error(
      `  campaign pick (${label}) #${kept.index} seed ${seed}: val top-1 ${(r.valTop1 * 100).toFixed(1)} % (${r.steps} steps${r.reused ? ', reused' : ''})`,
    );
  }
  return {
    row: {
      model: name,
      target: fraction,
      method: `campaign pick (${label})`,
      pruningRatio: kept.strategy.pruningRatio,
      roundTo: kept.strategy.roundTo ?? 8,
      macs: kept.macs,
      deviation: kept.deviation,
      params: kept.params,
      zeroShotTop1: kept.score?.mode === 'zero-shot' ? kept.score.top1 : null,
      // The score that kept it: a two-stage campaign's second score (a recovery, after zero-shot or recovery
      // first scores), not the first that made it a finalist.
      recoveryTop1: kept.rescore
        ? kept.rescore.top1
        : kept.score?.mode === 'recovery'
          ? kept.score.top1
          : null,
      shapesScreened: 0,
      pruneTrials: cost.trials,
      scoringSteps: cost.scoringSteps,
      searchWallSec,
      runs,
      campaign: { id: campaignId, keptAttempt: kept.index, strategy: kept.strategy, ...cost },
    },
    scored,
  };
}

interface CandidateRow {
  model: string;
  target: number;
  method: string;
  pruningRatio: number;
  roundTo: number;
  macs: number;
  deviation: number;
  params: number;
  zeroShotTop1: number | null;
  recoveryTop1: number | null;
  shapesScreened: number;
  pruneTrials: number;
  scoringSteps: number;
  searchWallSec: number;
  runs: { seed: number; valTop1: number; steps: number; wallMs: number }[];
  /** Campaign rows: the campaign, its kept attempt and its search cost ({@link searchCost}). */
  campaign?: { id: string; keptAttempt: number; strategy: Strategy } & ReturnType<typeof searchCost>;
}

async function main(): Promise<void> {
  const o = new Command('bench/accuracy')
    .option('--quick', 'democnn, target 0.5, dense 4 epochs, fine-tune 1 epoch', false)
    .option('--models <list>', 'models', 'democnn,resnet18')
    .option('--targets <list>', 'target fractions of dense MACs', '0.5,0.3')
    .option('--seeds <list>', 'fine-tune seeds', '0,1,2')
    .option(
      '--dense-epochs <n>',
      'epochs of the dense model trained from scratch; auto: democnn 8, resnet18 40 (8 leaves resnet18 near 39 %)',
      'auto',
    )
    .option(
      '--classes <n>',
      'classes of the generated dataset (more than 10: hue bands of the 10 shapes)',
      '10',
    )
    .option('--train-per-class <n>', 'train/ images per class of the generated dataset', '120')
    .option(
      '--val-per-class <n>',
      'val/ images per class (1000 images resolve 0.1 points; the first runs had 30 = 300 images)',
      '100',
    )
    .option(
      '--candidate-seeds <which>',
      'all: every scored candidate is fine-tuned with every seed (rho over seed means); first: seed 0 only',
      'all',
    )
    .option('--ft-epochs <n>', 'fine-tune epochs of every candidate (the same for all)', '2')
    .option(
      '--modes <list>',
      'campaign scoring modes: zero-shot, recovery; or default (the search the tool chooses with a dataset: no --candidates, --sensitivity or --rescore) and older-default (the search before those defaults, extendedSearch 3)',
      'zero-shot,recovery',
    )
    .option('--candidates <n>', 'search.candidates of the campaign runs', '4')
    .option(
      '--methods <list>',
      'only the baselines whose name contains one of these (e.g. taylor,random); none: no baselines',
    )
    .option(
      '--recovery-steps <list>',
      'search.recovery.steps of the recovery campaigns; several (10,40,160): one recovery campaign per length',
      '8',
    )
    .option('--recovery-lr <x>', "search.recovery.lr of the recovery campaigns; default: the fine-tune's lr")
    .option(
      '--score-images <n>',
      "search.scoreImages of the campaigns (held-out train/ images per score); default: the engine's 256",
    )
    .option(
      '--rank-by <figure>',
      'search.rankBy of the campaigns (top1 or loss); with --verdicts-of, the figure the verdicts read',
      'top1',
    )
    .option(
      '--rescore <top:steps>',
      'search.recovery.rescore of the campaigns: every candidate scored (zero-shot, or at --recovery-steps), the TOP best again at STEPS, e.g. 3:40',
    )
    .option('--max-iterations <n>', 'search.maxIterations of the campaigns', '60')
    .option('--sensitivity <list>', 'search.sensitivity.ratios of the campaigns, or none', '0.5')
    .option('--work <dir>', 'working folder (dataset, models)')
    .option('--json <file>', 'write every row as JSON here (instead of to stdout)')
    .option(
      '--reuse <files>',
      'earlier --json results of the same dense model, dataset and recipe: their fine-tunes of the same candidate and seed are not run again',
    )
    .option(
      '--verdicts-of <files>',
      'run nothing: print the verdicts (rho, p, regret, resolution) of these --json results, and each mode pooled',
    )
    .option(
      '--new-val <files>',
      'with --verdicts-of: the final top-1 of every fine-tune on the new val images of these bench/accuracy-new-val outputs',
    )
    .option(
      '--screen <short:long:keep>',
      'with --verdicts-of: what a two-stage scoring would keep, from results scored at both lengths, in one file or two of the same dense model (every candidate at SHORT recovery steps, the KEEP best again at LONG), e.g. 10:40:3',
    )
    .parse(process.argv)
    .opts<{
      quick: boolean;
      models: string;
      targets: string;
      seeds: string;
      denseEpochs: string;
      classes: string;
      trainPerClass: string;
      valPerClass: string;
      candidateSeeds: string;
      ftEpochs: string;
      modes: string;
      candidates: string;
      methods?: string;
      recoverySteps: string;
      recoveryLr?: string;
      rescore?: string;
      scoreImages?: string;
      rankBy: string;
      maxIterations: string;
      sensitivity: string;
      work?: string;
      json?: string;
      reuse?: string;
      verdictsOf?: string;
      newVal?: string;
      screen?: string;
    }>();
  const rankBy = parseRankBy(o.rankBy);
  const newVal = o.newVal?.split(',').filter(Boolean) ?? [];
  const screen = o.screen === undefined ? undefined : parseScreen(o.screen);
  if (o.verdictsOf) return verdictsOf(o.verdictsOf.split(',').filter(Boolean), rankBy, newVal, screen);
  if (newVal.length)
    throw new Error('--new-val: only with --verdicts-of (the verdicts of earlier --json results)');
  if (screen) throw new Error('--screen: only with --verdicts-of (the verdicts of earlier --json results)');
  const rescore = o.rescore === undefined ? undefined : parseRescore(o.rescore);
  const only = o.methods?.split(',').filter(Boolean);
  const models = o.quick ? ['democnn'] : o.models.split(',');
  const targets = o.quick ? [0.5] : o.targets.split(',').map(Number);
  const seeds = o.seeds.split(',').map(Number);
  const denseEpochsOf = (name: string): number =>
    o.quick ? 4 : o.denseEpochs === 'auto' ? (DENSE_EPOCHS[name] ?? 8) : Number(o.denseEpochs);
  const classes = Number(o.classes);
  const trainPerClass = Number(o.trainPerClass);
  const valPerClass = Number(o.valPerClass);
  const dataLabel = datasetLabel(classes, trainPerClass, valPerClass);
  if (!['all', 'first'].includes(o.candidateSeeds))
    throw new Error(`--candidate-seeds: expected all or first, got ${o.candidateSeeds}`);
  const recipe: Recipe = { epochs: o.quick ? 1 : Number(o.ftEpochs), batchSize: 32, lr: 0.002 };
  const modes = o.modes.split(',').filter(Boolean);
  const work = o.work ?? fs.mkdtempSync(path.join(os.tmpdir(), 'ap-bench-accuracy-'));
  const t0 = Date.now();
  const engine = new WarmEngine(defaultEngineLocation(process.env.AP_ENGINE_PYTHON));
  const notRun: string[] = [];
  const candidates: CandidateRow[] = [];
  const scoredRows: ScoredRow[] = [];
  const pickOptions: PickOptions = {
    candidates: Number(o.candidates),
    maxIterations: Number(o.maxIterations),
    recovery: {
      steps: 0, // per campaign run: runOptions
      batchSize: recipe.batchSize,
      lr: o.recoveryLr === undefined ? recipe.lr : Number(o.recoveryLr),
    },
    rankBy,
    scoreImages: o.scoreImages === undefined ? undefined : Number(o.scoreImages),
    sensitivity: o.sensitivity === 'none' ? null : o.sensitivity.split(',').map(Number),
    ...(rescore ? { rescore } : {}),
    seeds,
    candidateSeeds: o.candidateSeeds === 'all' ? seeds : seeds.slice(0, 1),
    recipe,
    stamp: Date.now().toString(36),
  };
  const runs = campaignRuns(modes, o.recoverySteps.split(',').filter(Boolean).map(Number), rescore);
  for (const run of runs) {
    const bad = campaignSearchError(run.mode, runOptions(run, pickOptions));
    if (bad) throw new Error(`bench/accuracy: the ${run.label} campaigns' config is refused: ${bad}`);
  }
  // What makes a fine-tune the same as an earlier run's: written to --json, checked against --reuse files.
  const setting: RunSetting = {
    recipe: { ...recipe, optimizer: 'adamw', kdAlpha: 0.5, kdTemperature: 4 },
    dataset: { classes, trainPerClass, valPerClass, preset: 'hard', imageSize: 32, seed: 0 },
    denseEpochs: Object.fromEntries(models.map((m) => [m, denseEpochsOf(m)])),
  };
  const cache = ReusedFineTunes.load(o.reuse?.split(',').filter(Boolean) ?? [], setting, models);
  // The campaigns' workers, in this process: the CLI's configuration (AP_TEMPORAL_PORT, AP_STORE).
  let runtime: LocalRuntime | undefined;
  if (modes.length) {
    const { env, processEnv } = resolveClientConfig();
    runtime = await startLocalRuntime({
      env,
      processEnv,
      queues: ['control', 'trials', 'train'],
      startServer: !process.env.TEMPORAL_ADDRESS,
    });
  }
  const client = runtime ? new CampaignClient(runtime.client) : undefined;
  const denseRows: EarlierResult['dense'] = [];
  try {
    const ds = await engine.run<{ root: string }>('make-dataset', {
      // Named by its size, so a --work of another size is never mixed with it (nor its dense models).
      out: path.join(work, `dataset-${dataLabel}`),
      classes,
      trainPerClass,
      valPerClass,
      imageSize: 32,
      seed: 0,
      preset: 'hard',
    });
    const ctx: Ctx = {
      engine,
      work,
      root: ds.root,
      classes,
      inputShape: [1, 3, 32, 32],
      calibration: { dataset: ds.root, batches: 4, batchSize: 32 },
    };
    for (const name of models) {
      const dense = await trainDense(ctx, name, denseEpochsOf(name), dataLabel);
      const profile = await dryRunStrategies(engine, {
        model: dense.spec,
        inputShape: ctx.inputShape,
        strategies: [{ ...BASELINES[1]!.base, pruningRatio: 0 }],
      });
      denseRows.push({
        model: name,
        valTop1: dense.valTop1,
        denseMacs: profile.denseMacs,
        weightsSha256: dense.weightsSha256,
      });
      cache.admitDense(name, dense.valTop1, profile.denseMacs);
      console.error(
        `${name}: dense val top-1 ${(dense.valTop1 * 100).toFixed(1)} %, ${profile.denseMacs} MACs`,
      );
      for (const fraction of targets) {
        const targetMacs = fraction * profile.denseMacs;
        for (const b of BASELINES.filter((x) => !only || only.some((m) => x.method.includes(m)))) {
          const label = `${name}-${fraction}-${b.method.replace(/\W+/g, '_')}`;
          const started = Date.now();
          const scaled = await scaleIntoBand(ctx, dense.spec, b.base, targetMacs, label);
          const searchWallSec = (Date.now() - started) / 1000;
          if (!scaled) {
            notRun.push(`${name} @ ${fraction}: ${b.method} has no ratio in the band`);
            continue;
          }
          const runs = [];
          for (const seed of seeds) {
            const r = await fineTuneAndEvaluate(
              ctx,
              { name, numClasses: ctx.classes, pruned: scaled.dir },
              dense.spec,
              recipe,
              seed,
              label,
            );
            runs.push({ seed, ...r });
            console.error(
              `  ${b.method} seed ${seed}: val top-1 ${(r.valTop1 * 100).toFixed(1)} % (${r.steps} steps)`,
            );
          }
          candidates.push({
            model: name,
            target: fraction,
            method: b.method,
            pruningRatio: scaled.strategy.pruningRatio,
            roundTo: scaled.strategy.roundTo ?? 8,
            macs: scaled.macs,
            deviation: (scaled.macs - targetMacs) / targetMacs,
            params: scaled.params,
            zeroShotTop1: scaled.proxyTop1,
            recoveryTop1: null,
            shapesScreened: scaled.screened,
            pruneTrials: 1,
            scoringSteps: 0,
            searchWallSec,
            runs,
          });
        }
        for (const run of runs) {
          const pick = await campaignPick(
            ctx,
            runtime!,
            client!,
            dense.spec,
            fraction,
            run,
            pickOptions,
            cache,
          ).catch((err: unknown) => `failed: ${err instanceof Error ? err.message : String(err)}`);
          if (typeof pick === 'string') {
            notRun.push(`${name} @ ${fraction}: campaign pick with scoring ${run.label}: ${pick}`);
            continue;
          }
          candidates.push(pick.row);
          scoredRows.push(...pick.scored);
        }
      }
    }
  } finally {
    await engine.close();
    await runtime?.stop();
  }

  const rows: RunRow[] = candidates.flatMap((c) =>
    c.runs.map((r) => ({
      model: c.model,
      target: c.target,
      method: c.method,
      seed: r.seed,
      valTop1: r.valTop1,
    })),
  );
  const groups = aggregate(rows);
  const meanOf = (c: CandidateRow) => c.runs.reduce((s, r) => s + r.valTop1, 0) / c.runs.length;
  const baselines = candidates.filter((c) => !c.campaign);
  const zeroShot = baselines.filter((c) => c.zeroShotTop1 !== null);
  const recovery = baselines.filter((c) => c.recoveryTop1 !== null);
  // Over every scored candidate of the campaigns of one mode (all models and targets): its score as the campaigns
  // ranked it (--rank-by) against its final val top-1 (the mean over --candidate-seeds); and, over the same
  // candidates, the engine's quick proxy.
  const campaignRho = [...new Set(scoredRows.map(modeLabel))].map((mode) => {
    const mine = scoredRows.filter((r) => modeLabel(r) === mode);
    const proxied = mine.filter((r) => r.proxyTop1 !== null);
    return {
      mode,
      count: mine.length,
      rho: spearman(
        mine.map((r) => rankedScore(r, rankBy)),
        mine.map((r) => r.valTop1),
      ),
      proxyRho: spearman(
        proxied.map((r) => r.proxyTop1!),
        proxied.map((r) => r.valTop1),
      ),
      proxyCount: proxied.length,
    };
  });
  const { verdicts, pooled } = judge(scoredRows, rankBy);
  const rho = {
    zeroShot: spearman(
      zeroShot.map((c) => c.zeroShotTop1!),
      zeroShot.map(meanOf),
    ),
    zeroShotCount: zeroShot.length,
    recovery: recovery.length
      ? spearman(
          recovery.map((c) => c.recoveryTop1!),
          recovery.map(meanOf),
        )
      : null,
    recoveryCount: recovery.length,
  };
  const load = os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');
  const summary = {
    machine: `${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, load ${load}`,
    command: process.argv.slice(2).join(' '),
    seeds,
    ...setting,
    reusedFrom: Object.fromEntries(cache.admitted),
    candidateSeeds: pickOptions.candidateSeeds,
    wallSec: (Date.now() - t0) / 1000,
    dense: denseRows,
    candidates,
    scoredCandidates: scoredRows,
    groups,
    spearman: { ...rho, campaigns: campaignRho },
    verdicts,
    pooled,
    notRun,
  };
  // The rows go to --json when it is given, else to stdout: never both, so a saved log is not the file again.
  if (o.json) fs.writeFileSync(o.json, JSON.stringify(summary, null, 2));
  else console.log(JSON.stringify(summary, null, 2));
  console.log(
    `\nmachine: ${summary.machine}; seeds ${seeds.join(',')}; wall ${summary.wallSec.toFixed(0)} s\n`,
  );
  console.log(
    '| model | target | method | ratio, roundTo | deviation | params | score top-1 (zero-shot proxy / campaign score) | val top-1 per seed | mean | sd | search |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|---|');
  const pct = (x: number) => (x * 100).toFixed(1);
  for (const c of candidates) {
    const g = groups.find((x) => x.model === c.model && x.target === c.target && x.method === c.method)!;
    console.log(
      `| ${c.model} | ${c.target} | ${c.method} | ${c.pruningRatio}, ${c.roundTo} | ${(c.deviation * 100).toFixed(2)} % | ${c.params} | ` +
        `${c.zeroShotTop1 !== null ? `${pct(c.zeroShotTop1)} %` : c.recoveryTop1 !== null ? `${pct(c.recoveryTop1)} % (recovery)` : '-'} | ${c.runs.map((r) => pct(r.valTop1)).join(' / ')} | ` +
        `${pct(g.summary.mean)} % | ${pct(g.summary.sd)} | ${
          c.campaign
            ? `${c.pruneTrials} prune trials + ${c.scoringSteps} scoring steps`
            : `${c.shapesScreened} dry-run shapes + ${c.pruneTrials} prune`
        }, ${c.searchWallSec.toFixed(1)} s |`,
    );
  }
  console.log(
    `\nSpearman rho, zero-shot proxy vs mean final val top-1: ${rho.zeroShot?.toFixed(3) ?? 'undefined'} over ${rho.zeroShotCount} baselines`,
  );
  if (scoredRows.length) {
    console.log(
      '\n| model | target | campaign (mode) | attempt | kept | strategy | deviation | params | score top-1 (steps) | proxy top-1 | val top-1 per seed (mean) |',
    );
    console.log('|---|---|---|---|---|---|---|---|---|---|---|');
    for (const r of scoredRows) {
      const st = r.strategy;
      console.log(
        `| ${r.model} | ${r.target} | ${r.mode} | #${r.attempt} | ${r.kept ? 'yes' : ''} | ${st.importance}, ratio ${st.pruningRatio}, ` +
          `${st.globalPruning ? 'global' : 'per-layer'}, ${st.isomorphic ? 'iso' : 'not iso'}, roundTo ${st.roundTo ?? 8}` +
          `${st.stageRatios ? `, stages ${JSON.stringify(st.stageRatios)}` : ''} | ${(r.deviation * 100).toFixed(2)} % | ${r.params} | ` +
          `${pct(r.scoreTop1)} % (${r.scoreSteps})${r.rescoreTop1 !== undefined && r.rescore ? ` -> ${pct(r.rescoreTop1)} % (${r.rescore.steps})` : ''} | ${r.proxyTop1 === null ? '-' : `${pct(r.proxyTop1)} %`} | ${r.runs.map((x) => pct(x.valTop1)).join(' / ')} (${pct(r.valTop1)} %)${r.reused ? ' (fine-tunes reused: another campaign here, or --reuse)' : ''} |`,
      );
    }
  }
  for (const c of candidates.filter((x) => x.campaign)) {
    const finalSteps = c.runs[0]?.steps ?? 0;
    const k = c.campaign!;
    console.log(
      `search cost, ${c.model} @ ${c.target} ${c.method}: ${k.trials} prune trials, ${k.inBand} in band, ${k.scored} scored ` +
        `(${k.scoreErrors} scoring failures), ${scoringCostWords(k.scoringSteps, k.scored, finalSteps, k.rescored)}, ` +
        `${c.searchWallSec.toFixed(0)} s wall (campaign ${k.id})`,
    );
  }
  for (const r of campaignRho)
    console.log(
      `Spearman rho, ${r.mode} ${figureName(rankBy)} vs final val top-1 (mean over candidate seeds): ${r.rho?.toFixed(3) ?? 'undefined'} over ${r.count} scored candidates; ` +
        `engine proxy vs the same: ${r.proxyRho?.toFixed(3) ?? 'undefined'} over ${r.proxyCount}`,
    );
  printVerdicts(verdicts, pooled, rankBy);
  for (const n of notRun) console.log(`not run: ${n}`);
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      // One line, the reason: a bad option names itself; a stack trace would bury it.
      console.error(err instanceof Error ? err.message : String(err));
      process.exit(1);
    },
  );
}
