/**
 * `bench/accuracy --reuse a.json[,b.json]`: the final fine-tunes of earlier runs stand for this run's, so a
 * change of the scoring alone (recovery steps, score images, rank-by) is re-measured in minutes, not hours.
 *
 * A fine-tune is the same when its model is: the same dense model (model, dense epochs, dense val top-1 and
 * MACs), the same dataset, the same recipe, and a candidate with the same strategy and MACs
 * ({@link candidateKey}), with the same seed. An earlier result that differs in any of these is refused, naming
 * the file and the field, before anything starts (the dense model's figures as soon as they are measured).
 */
import * as fs from 'node:fs';
import type { Strategy } from '../src/core/strategy';
import { candidateKey } from './accuracy-stats';

/** One fine-tune's outcome, as bench/accuracy measures it. */
export interface FineTuneOutcome {
  valTop1: number;
  steps: number;
  wallMs: number;
}

/** What makes two runs' fine-tunes of the same candidate the same. */
export interface RunSetting {
  recipe: Record<string, unknown>;
  dataset: Record<string, unknown>;
  denseEpochs: Record<string, number>;
}

/** The parts of an earlier `--json` result that {@link ReusedFineTunes} reads. */
export interface EarlierResult extends RunSetting {
  /** `weightsSha256`: the dense weights file's sha256 (absent in results written before it). */
  dense: { model: string; valTop1: number; denseMacs: number; weightsSha256?: string }[];
  candidates: {
    model: string;
    target: number;
    macs: number;
    runs: { seed: number; valTop1: number; steps: number; wallMs: number }[];
    campaign?: { strategy: Strategy };
  }[];
  scoredCandidates: {
    model: string;
    target: number;
    strategy: Strategy;
    deviation: number;
    /** Absent in results written before the field existed: recovered from the deviation. */
    macs?: number;
    runs: { seed: number; valTop1: number }[];
    steps: number;
  }[];
}

/** The key of one fine-tune: the model, the candidate (strategy and MACs), the seed. */
export function fineTuneKey(model: string, strategy: Strategy, macs: number, seed: number): string {
  return `${model}|${candidateKey(strategy, macs)}#${seed}`;
}

/**
 * The MACs of a scored candidate of an earlier result: its own field, or (older results) the target's MACs moved
 * by its deviation, which must land on a whole number.
 */
export function scoredMacs(
  row: EarlierResult['scoredCandidates'][number],
  denseMacs: number,
  file: string,
): number {
  if (row.macs !== undefined) return row.macs;
  const exact = row.target * denseMacs * (1 + row.deviation);
  const macs = Math.round(exact);
  if (Math.abs(exact - macs) > 1e-3)
    throw new Error(
      `--reuse ${file}: scoredCandidates of ${row.model} @ ${row.target}: deviation ${row.deviation} gives ${exact} MACs, not a whole number`,
    );
  return macs;
}

/** The first field where `earlier` differs from `now`, as `recipe.lr: 0.002 here, 0.001 in the file`; or undefined. */
export function settingMismatch(now: RunSetting, earlier: RunSetting, models: string[]): string | undefined {
  for (const part of ['recipe', 'dataset'] as const)
    for (const field of new Set([...Object.keys(now[part]), ...Object.keys(earlier[part] ?? {})])) {
      const a = now[part][field];
      const b = earlier[part]?.[field];
      if (JSON.stringify(a) !== JSON.stringify(b))
        return `${part}.${field}: ${JSON.stringify(a)} here, ${JSON.stringify(b)} in the file`;
    }
  for (const m of models) {
    const b = earlier.denseEpochs?.[m];
    if (b !== undefined && b !== now.denseEpochs[m])
      return `denseEpochs.${m}: ${now.denseEpochs[m]} here, ${b} in the file`;
  }
  return undefined;
}

/**
 * The fine-tunes of this run and of the `--reuse` files: a hit is a fine-tune not run again. Entries of a file
 * count for a model only once {@link admitDense} has seen that this run's dense model is the file's.
 */
export class ReusedFineTunes {
  private readonly here = new Map<string, FineTuneOutcome>();
  private readonly pending = new Map<string, { file: string; result: EarlierResult }[]>();
  /** Fine-tunes taken from files, per file: what the results say they reused. */
  readonly admitted = new Map<string, number>();

  /** Read and check the files against this run's setting; throws naming the file and field. */
  static load(files: string[], now: RunSetting, models: string[]): ReusedFineTunes {
    const cache = new ReusedFineTunes();
    for (const file of files) {
      // The message alone (fs errors are not `instanceof Error` across jest's realms).
      const why = (err: unknown) => (err as { message?: string } | null)?.message ?? String(err);
      let text: string;
      try {
        text = fs.readFileSync(file, 'utf8');
      } catch (err) {
        throw new Error(`--reuse ${file}: cannot be read (${why(err)})`);
      }
      let result: EarlierResult;
      try {
        result = JSON.parse(text) as EarlierResult;
      } catch (err) {
        throw new Error(`--reuse ${file}: not a bench/accuracy --json result (${why(err)})`);
      }
      if (!Array.isArray(result.candidates) || !Array.isArray(result.scoredCandidates) || !result.recipe)
        throw new Error(
          `--reuse ${file}: not a bench/accuracy --json result (expected recipe, candidates, scoredCandidates)`,
        );
      const bad = settingMismatch(now, result, models);
      if (bad) throw new Error(`--reuse ${file}: another setting, so other fine-tunes: ${bad}`);
      for (const m of models) {
        if (!result.dense?.some((d) => d.model === m)) continue;
        const list = cache.pending.get(m) ?? [];
        list.push({ file, result });
        cache.pending.set(m, list);
      }
    }
    return cache;
  }

  /** This run's dense `model` is measured: the files with the same dense model add their fine-tunes of it. */
  admitDense(model: string, valTop1: number, denseMacs: number): void {
    for (const { file, result } of this.pending.get(model) ?? []) {
      const d = result.dense.find((x) => x.model === model)!;
      if (d.valTop1 !== valTop1 || d.denseMacs !== denseMacs)
        throw new Error(
          `--reuse ${file}: another dense ${model} (val top-1 ${d.valTop1}, ${d.denseMacs} MACs; here ${valTop1}, ${denseMacs})`,
        );
      let n = 0;
      const add = (key: string, outcome: FineTuneOutcome) => {
        if (this.here.has(key)) return;
        this.here.set(key, outcome);
        n += 1;
      };
      for (const c of result.candidates.filter((x) => x.model === model && x.campaign))
        for (const r of c.runs)
          add(fineTuneKey(model, c.campaign!.strategy, c.macs, r.seed), {
            valTop1: r.valTop1,
            steps: r.steps,
            wallMs: r.wallMs,
          });
      for (const s of result.scoredCandidates.filter((x) => x.model === model)) {
        const macs = scoredMacs(s, denseMacs, file);
        for (const r of s.runs)
          add(fineTuneKey(model, s.strategy, macs, r.seed), {
            valTop1: r.valTop1,
            steps: s.steps,
            wallMs: 0,
          });
      }
      this.admitted.set(file, (this.admitted.get(file) ?? 0) + n);
    }
    this.pending.delete(model);
  }

  get(key: string): FineTuneOutcome | undefined {
    return this.here.get(key);
  }

  set(key: string, outcome: FineTuneOutcome): void {
    this.here.set(key, outcome);
  }
}
