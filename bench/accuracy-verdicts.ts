/**
 * The verdicts of bench/accuracy (issue 12): per case, the score's rank correlation with the seed-mean final
 * accuracy, its permutation p, the regret, the resolution, the noise ceiling and how far the seeds agree; per
 * scoring mode, the mean within-case rho and the kept candidate's mean and largest regret, pooled over all cases
 * and over the resolved ones. Printed after a run, and by `--verdicts-of` for the `--json` results of earlier
 * runs. The statistics are in ./accuracy-stats.
 */
import * as fs from 'node:fs';
import { scoreBeats } from '../src/core/attempt-selection';
import { RankBySchema, type RankBy } from '../src/core/campaign-config';
import { readNewVal, withNewVal } from './new-val';
import type { EarlierResult } from './accuracy-reuse';
import { strategyKey, type Strategy } from '../src/core/strategy';
import {
  caseKey,
  caseVerdicts,
  pooledByMode,
  regretAt,
  screenedPick,
  summarize,
  type CaseVerdict,
} from './accuracy-stats';

/** What a verdict reads of one scored candidate (a row of a run's `scoredCandidates`). */
export interface JudgedRow {
  model: string;
  target: number;
  mode: string;
  attempt: number;
  kept: boolean;
  /** The campaign's score of the candidate: top-1 and loss on the held-out slice of train/. */
  scoreTop1: number;
  scoreLoss: number;
  /** What the campaign ranked its candidates by (`search.rankBy`); absent in runs before it: `top1`. */
  rankBy?: RankBy;
  /** Fine-tune steps of the score (`search.recovery.steps` of a recovery campaign; 0 zero-shot). */
  scoreSteps?: number;
  /** The campaign's second stage (`search.recovery.rescore`), when it scored its finalists again. */
  rescore?: { top: number; steps: number };
  /** Final val top-1 per fine-tune seed. */
  runs: readonly { valTop1: number }[];
}

/** A scored candidate's score as `rankBy` ranks it, higher better: its top-1, or its loss negated. */
export function rankedScore(r: Pick<JudgedRow, 'scoreTop1' | 'scoreLoss'>, rankBy: RankBy): number {
  return rankBy === 'loss' ? -r.scoreLoss : r.scoreTop1;
}

/**
 * The mode a case and a pool are named by: a recovery score with its steps (`recovery 40 steps`), so that results
 * of several recovery lengths (`--verdicts-of r10.json,r40.json`) are judged and pooled per length; a two-stage
 * campaign with its second stage (`recovery 10 steps, top 3 again at 40`, `zero-shot, top 3 again at 40`), never
 * pooled with a one-stage one.
 */
export function modeLabel(r: Pick<JudgedRow, 'mode' | 'scoreSteps' | 'rescore'>): string {
  const again = r.rescore ? `, top ${r.rescore.top} again at ${r.rescore.steps}` : '';
  if (r.mode !== 'recovery' || !r.scoreSteps) return `${r.mode}${again}`;
  return `recovery ${r.scoreSteps} steps${again}`;
}

/** How the printed tables name the score `rankBy` reads. */
export function figureName(rankBy: RankBy): string {
  return rankBy === 'loss' ? 'score loss, negated' : 'score top-1';
}

/**
 * The per-case verdicts and the per-mode pooled rho of the scored candidates, the score read as `rankBy`
 * ranks it: its top-1, or its loss negated (lower is better). A case judged by another figure than its
 * campaign ranked by keeps the candidate that figure ranks first (core's `scoreBeats`, equal scores to the
 * earlier attempt): the solver's shapes do not depend on the ranking, so that is the candidate the
 * campaign would have kept.
 */
export function judge(
  scored: readonly JudgedRow[],
  rankBy: RankBy = 'top1',
): {
  verdicts: CaseVerdict[];
  pooled: Pooled[];
} {
  const score = (x: JudgedRow) => ({ top1: x.scoreTop1, loss: x.scoreLoss });
  const labelled = scored.map((r) => ({ ...r, mode: modeLabel(r) }));
  const first = new Map<string, JudgedRow>();
  for (const r of [...labelled].sort((a, b) => a.attempt - b.attempt)) {
    const best = first.get(caseKey(r));
    if (!best || scoreBeats(score(r), score(best), rankBy)) first.set(caseKey(r), r);
  }
  const rows = labelled.map((r) => ({
    model: r.model,
    target: r.target,
    mode: r.mode,
    attempt: r.attempt,
    kept: (r.rankBy ?? 'top1') === rankBy ? r.kept : first.get(caseKey(r)) === r,
    score: rankedScore(r, rankBy),
    valTop1s: r.runs.map((x) => x.valTop1),
  }));
  return {
    verdicts: caseVerdicts(rows),
    pooled: [
      ...pooledByMode(rows).map((m) => ({ ...m, resolvedOnly: false })),
      ...pooledByMode(rows, 1).map((m) => ({ ...m, resolvedOnly: true })),
    ],
  };
}

/** One mode's {@link pooledRho}; `resolvedOnly`: over the cases whose resolution exceeds 1 only. */
type Pooled = ReturnType<typeof pooledByMode>[number] & { resolvedOnly: boolean };

export function printVerdicts(
  verdicts: readonly CaseVerdict[],
  pooled: readonly Pooled[],
  rankBy: RankBy = 'top1',
): void {
  const pct = (x: number) => (x * 100).toFixed(1);
  const p = (x: number | null) => (x === null ? '-' : pct(x));
  const figure = figureName(rankBy);
  if (verdicts.length) {
    console.log(
      `\n| model | target | mode | candidates | rho (${figure} vs seed-mean val) | p | kept mean | best mean | regret | spread sd | seed sd | resolution | noise ceiling | seeds agree (rho) |`,
    );
    console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  }
  for (const v of verdicts)
    console.log(
      `| ${v.model} | ${v.target} | ${v.mode} | ${v.count} | ${v.rho?.toFixed(2) ?? '-'} | ${v.rhoP?.toFixed(3) ?? '-'} | ${p(v.keptMean)} % | ${pct(v.bestMean)} % | ` +
        `${p(v.regret)} | ${pct(v.spreadSd)} | ${pct(v.seedSd)} | ${v.resolution?.toFixed(1) ?? '-'} | ${v.ceiling?.toFixed(2) ?? '-'} | ${v.seedRho?.toFixed(2) ?? '-'} |`,
    );
  for (const m of pooled)
    console.log(
      `pooled, ${m.mode} (${figure}): mean within-case rho ${m.meanRho?.toFixed(2) ?? '-'} over ${m.cases} cases` +
        `${m.resolvedOnly ? ' resolved (resolution > 1)' : ''}, ` +
        `one-sided permutation p ${m.p?.toFixed(4) ?? '-'}; regret of the kept candidate ` +
        (m.regret.cases
          ? `mean ${(m.regret.mean! * 100).toFixed(2)}, max ${(m.regret.max! * 100).toFixed(2)} points over ${m.regret.cases} cases`
          : '- (no case marks one kept)'),
    );
}

/** `--rank-by`, checked: `top1` or `loss`. */
export function parseRankBy(text: string): RankBy {
  const parsed = RankBySchema.safeParse(text);
  if (!parsed.success) throw new Error(`--rank-by: expected top1 or loss, got ${JSON.stringify(text)}`);
  return parsed.data;
}

/** `--screen SHORT:LONG:KEEP`: every candidate scored at SHORT recovery steps, the KEEP best again at LONG. */
export interface ScreenSpec {
  short: number;
  long: number;
  keep: number;
}

/** `--screen`, checked: `10:40:3`. */
export function parseScreen(text: string): ScreenSpec {
  const m = /^(\d+):(\d+):(\d+)$/.exec(text.trim());
  const [short, long, keep] = m ? m.slice(1).map(Number) : [];
  if (!m || short! < 1 || long! <= short! || keep! < 1)
    throw new Error(
      `--screen: expected SHORT:LONG:KEEP, recovery steps SHORT >= 1 and LONG > SHORT and KEEP >= 1 candidates, e.g. 10:40:3; got ${JSON.stringify(text)}`,
    );
  return { short: short!, long: long!, keep: keep! };
}

/** What a two-stage scoring would have kept in one case: see {@link screenedCases}. */
export interface ScreenedCase {
  model: string;
  target: number;
  candidates: number;
  /** The best candidate's seed-mean final top-1 less the kept one's. */
  regret: number;
  /** Scoring steps of the two stages: every candidate at SHORT, KEEP of them at LONG. */
  steps: number;
  /** Scoring steps of LONG for every candidate, for comparison. */
  longSteps: number;
}

/**
 * Per case (dense model, model, target) with recovery scores at both `spec.short` and `spec.long` steps, in one
 * result file (a run with `--recovery-steps 10,40,...`) or in two of the same dense model (a `--reuse` run that
 * scored the same candidates at other lengths; `dense` tells the dense models apart): what a two-stage scoring
 * would have kept ({@link screenedPick}, the score read as `rankBy` ranks it) and its regret against the best
 * candidate's seed mean. Offline: the long scores are the run's own, from the start; a scoring that continued
 * the short recovery instead would differ. The two lengths must have scored the same candidates (attempt,
 * strategy and MACs), each once, or it is an error naming the case.
 */
export function screenedCases(
  rows: readonly (JudgedRow & { strategy?: Strategy; macs?: number; dense?: string })[],
  spec: ScreenSpec,
  rankBy: RankBy = 'top1',
): ScreenedCase[] {
  type Row = (typeof rows)[number];
  const byCase = new Map<string, { short: Row[]; long: Row[] }>();
  for (const r of rows) {
    // A two-stage campaign's rows kept by its own second stage: not a one-stage run's scores.
    if (r.rescore) continue;
    if (r.mode !== 'recovery' || (r.scoreSteps !== spec.short && r.scoreSteps !== spec.long)) continue;
    const key = JSON.stringify([r.dense ?? '', r.model, r.target]);
    const c = byCase.get(key) ?? { short: [], long: [] };
    byCase.set(key, c);
    (r.scoreSteps === spec.short ? c.short : c.long).push(r);
  }
  const out: ScreenedCase[] = [];
  for (const { short, long } of byCase.values()) {
    if (!short.length || !long.length) continue;
    const where = `${short[0]!.model} @ ${short[0]!.target}`;
    const byAttempt = (list: Row[]) => [...list].sort((a, b) => a.attempt - b.attempt);
    const [s, l] = [byAttempt(short), byAttempt(long)];
    for (const [list, steps] of [
      [s, spec.short],
      [l, spec.long],
    ] as const)
      if (list.some((r, i) => i > 0 && r.attempt === list[i - 1]!.attempt))
        throw new Error(
          `--screen: ${where}: scored at ${steps} steps more than once (two result files of the same case and length?): give each once`,
        );
    const same =
      s.length === l.length &&
      s.every(
        (r, i) =>
          r.attempt === l[i]!.attempt &&
          r.macs === l[i]!.macs &&
          (r.strategy && l[i]!.strategy ? strategyKey(r.strategy) === strategyKey(l[i]!.strategy!) : true),
      );
    if (!same)
      throw new Error(
        `--screen: ${where}: the candidates scored at ${spec.short} steps (#${s.map((r) => r.attempt).join(', #')}) ` +
          `are not those scored at ${spec.long} (#${l.map((r) => r.attempt).join(', #')}) with the same strategy and MACs`,
      );
    const score = (r: Row) => ({ top1: r.scoreTop1, loss: r.scoreLoss });
    const means = s.map((r) => summarize(r.runs.map((x) => x.valTop1)).mean);
    const pick = screenedPick(
      s.length,
      (i, j) => scoreBeats(score(s[i]!), score(s[j]!), rankBy),
      (i, j) => scoreBeats(score(l[i]!), score(l[j]!), rankBy),
      spec.keep,
    );
    out.push({
      model: s[0]!.model,
      target: s[0]!.target,
      candidates: s.length,
      regret: regretAt(means, pick),
      steps: s.length * spec.short + Math.min(spec.keep, s.length) * spec.long,
      longSteps: s.length * spec.long,
    });
  }
  return out;
}

/** The one line `--screen` prints: each case's regret, their mean and largest, and the scoring steps spent. */
export function screenedLine(cases: readonly ScreenedCase[], spec: ScreenSpec): string {
  const points = (x: number) => (x * 100).toFixed(2);
  const steps = cases.reduce((a, c) => a + c.steps, 0);
  const longSteps = cases.reduce((a, c) => a + c.longSteps, 0);
  const regrets = cases.map((c) => c.regret);
  const { mean, max } = summarize(regrets);
  return (
    `screened, recovery ${spec.short} -> ${spec.long} steps (the best ${spec.keep} by ${spec.short} steps scored again at ${spec.long}): ` +
    `regret of the pick ${regrets.map(points).join(' / ')}, mean ${points(mean)}, ` +
    `max ${points(max)} points over ${cases.length} cases; ` +
    `${steps} scoring steps, against ${longSteps} for ${spec.long} steps each (${Math.round((100 * steps) / longSteps)} %)`
  );
}

/**
 * `--verdicts-of a.json,b.json`: the verdicts of results written by earlier runs (`--json`), without running
 * anything: each file's cases, then each mode pooled over every file's cases (give each case once); the
 * score read as `rankBy` ranks it ({@link judge}). With `newVal` (`--new-val lines.jsonl`, the output of
 * bench/accuracy-new-val), every final val top-1 is that fine-tune's top-1 on the new images instead, taken
 * from the files of the result's own dense model (runs of several dense models pool in one call); a fine-tune
 * without one is an error naming it.
 */
export function verdictsOf(
  files: readonly string[],
  rankBy: RankBy = 'top1',
  newVal: readonly string[] = [],
  screen?: ScreenSpec,
): void {
  const finals = newVal.length ? readNewVal(newVal) : undefined;
  if (finals)
    console.log(`final top-1: on the new images of ${newVal.join(', ')} (${finals.size} fine-tunes)`);
  const all: JudgedRow[] = [];
  // Every file's rows, each with its dense model, screened together: a case's two lengths may be two files.
  const toScreen: Parameters<typeof screenedCases>[0][number][] = [];
  for (const file of files) {
    const stored = JSON.parse(fs.readFileSync(file, 'utf8')) as {
      dense?: EarlierResult['dense'];
      scoredCandidates?: (JudgedRow & EarlierResult['scoredCandidates'][number])[];
    };
    if (!Array.isArray(stored.scoredCandidates))
      throw new Error(`${file}: expected the JSON of bench/accuracy --json, with scoredCandidates`);
    const rows = finals
      ? withNewVal({ ...stored, scoredCandidates: stored.scoredCandidates }, file, finals)
      : stored.scoredCandidates;
    console.log(`\n${file}:`);
    printVerdicts(judge(rows, rankBy).verdicts, [], rankBy);
    all.push(...rows.map((r) => ({ ...r, model: `${file}:${r.model}` })));
    const denseOf = (model: string) => {
      const d = stored.dense?.find((x) => x.model === model);
      return d ? (d.weightsSha256 ?? `top-1 ${d.valTop1}`) : '';
    };
    toScreen.push(...rows.map((r) => ({ ...r, dense: denseOf(r.model) })));
  }
  const { pooled } = judge(all, rankBy);
  console.log('');
  printVerdicts([], pooled, rankBy);
  if (!screen) return;
  const screened = screenedCases(toScreen, screen, rankBy);
  if (!screened.length)
    throw new Error(
      `--screen: no case has recovery scores at both ${screen.short} and ${screen.long} steps (in one result file, or in two of the same dense model)`,
    );
  console.log(screenedLine(screened, screen));
}
