/**
 * The verdicts of bench/accuracy (issue 12): per case, the score's rank correlation with the seed-mean final
 * accuracy, its permutation p, the regret, the resolution and the noise ceiling; per scoring mode, the mean
 * within-case rho pooled over all cases and over the resolved ones. Printed after a run, and by
 * `--verdicts-of` for the `--json` results of earlier runs. The statistics are in ./accuracy-stats.
 */
import * as fs from 'node:fs';
import { caseVerdicts, pooledByMode, type CaseVerdict } from './accuracy-stats';

/** What a verdict reads of one scored candidate (a row of a run's `scoredCandidates`). */
export interface JudgedRow {
  model: string;
  target: number;
  mode: string;
  attempt: number;
  kept: boolean;
  /** The campaign's score of the candidate (top-1 on the held-out slice of train/). */
  scoreTop1: number;
  /** Final val top-1 per fine-tune seed. */
  runs: readonly { valTop1: number }[];
}

/** The per-case verdicts and the per-mode pooled rho of the scored candidates (the score is its top-1). */
export function judge(scored: readonly JudgedRow[]): {
  verdicts: CaseVerdict[];
  pooled: Pooled[];
} {
  const rows = scored.map((r) => ({
    model: r.model,
    target: r.target,
    mode: r.mode,
    attempt: r.attempt,
    kept: r.kept,
    score: r.scoreTop1,
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

export function printVerdicts(verdicts: readonly CaseVerdict[], pooled: readonly Pooled[]): void {
  const pct = (x: number) => (x * 100).toFixed(1);
  const p = (x: number | null) => (x === null ? '-' : pct(x));
  if (verdicts.length) {
    console.log(
      '\n| model | target | mode | candidates | rho (score vs seed-mean val) | p | kept mean | best mean | regret | spread sd | seed sd | resolution | noise ceiling |',
    );
    console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|');
  }
  for (const v of verdicts)
    console.log(
      `| ${v.model} | ${v.target} | ${v.mode} | ${v.count} | ${v.rho?.toFixed(2) ?? '-'} | ${v.rhoP?.toFixed(3) ?? '-'} | ${p(v.keptMean)} % | ${pct(v.bestMean)} % | ` +
        `${p(v.regret)} | ${pct(v.spreadSd)} | ${pct(v.seedSd)} | ${v.resolution?.toFixed(1) ?? '-'} | ${v.ceiling?.toFixed(2) ?? '-'} |`,
    );
  for (const m of pooled)
    console.log(
      `pooled, ${m.mode}: mean within-case rho ${m.meanRho?.toFixed(2) ?? '-'} over ${m.cases} cases` +
        `${m.resolvedOnly ? ' resolved (resolution > 1)' : ''}, ` +
        `one-sided permutation p ${m.p?.toFixed(4) ?? '-'}`,
    );
}

/**
 * `--verdicts-of a.json,b.json`: the verdicts of results written by earlier runs (`--json`), without running
 * anything: each file's cases, then each mode pooled over every file's cases (give each case once).
 */
export function verdictsOf(files: readonly string[]): void {
  const all: JudgedRow[] = [];
  for (const file of files) {
    const stored = JSON.parse(fs.readFileSync(file, 'utf8')) as { scoredCandidates?: JudgedRow[] };
    if (!Array.isArray(stored.scoredCandidates))
      throw new Error(`${file}: expected the JSON of bench/accuracy --json, with scoredCandidates`);
    console.log(`\n${file}:`);
    printVerdicts(judge(stored.scoredCandidates).verdicts, []);
    all.push(...stored.scoredCandidates.map((r) => ({ ...r, model: `${file}:${r.model}` })));
  }
  const { pooled } = judge(all);
  console.log('');
  printVerdicts([], pooled);
}
