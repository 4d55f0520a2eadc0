/**
 * The final fine-tunes of a bench/accuracy run, evaluated again on val images the run never saw (issue 12).
 *
 * A run's val split (e.g. 15 images per class) can be too small to order candidates that end within a point of
 * each other. The engine's `make-dataset` draws image i of class c of a split from (seed, split, c, i) alone, so
 * the hard preset made with VAL_PER_CLASS + NEW_PER_CLASS val images per class holds the run's val images (checked
 * here byte for byte) and NEW_PER_CLASS new ones per class from the same distribution. Every fine-tuned model under
 * WORK/ft (and the dense model of WORK) is evaluated on the run's val split and on the new images alone, without
 * a new fine-tune; one JSON line each ({@link NewValLine}). A final fine-tune's line carries its key (strategy,
 * MACs measured by the engine, seed, steps), so that `bench/accuracy --verdicts-of r.json --new-val lines.jsonl`
 * judges the run's scores against the new images ({@link withNewVal}).
 *
 * Usage: bench/accuracy-new-val [--known lines.jsonl]... WORK CLASSES VAL_PER_CLASS NEW_PER_CLASS MODEL > lines.jsonl
 * (`--known`: only the fine-tunes not yet in lines.jsonl are evaluated; append the output to it, `>>`.)
 * @example
 * // The replicate of RESULTS.md, "The mild cut on 10,000 new val images":
 * // bench/accuracy-new-val /tmp/acc-c100 100 15 100 democnn > xeon-c100-new-val.jsonl
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Strategy } from '../src/core/strategy';
import { defaultEngineLocation } from '../src/engine/engine-paths';
import { WarmEngine } from '../src/engine/engine-process';
import { hashFile } from '../src/storage/hashing';
import { fineTuneKey, scoredMacs, type EarlierResult } from './accuracy-reuse';

/** A final fine-tune's identity, read from its folder: what makes it the same as a run's fine-tune. */
export interface FineTuneIdentity {
  /** The fine-tune's seed (the folder's `-s<seed>` suffix, as bench/accuracy names it). */
  seed: number;
  /** Its optimizer steps: the step of its last checkpoint, `ckpt/ckpt-<step>.pt`. */
  steps: number;
  /** MACs and parameters of the fine-tuned model, measured by the engine's `profile`. */
  macs: number;
  params: number;
  /** The candidate's strategy as the engine wrote it to the folder's `strategy.json` (its defaults filled in). */
  strategy: Record<string, unknown>;
}

/**
 * One line of bench/accuracy-new-val: one model evaluated on one split.
 * @example
 * {"folder":"bench-acc-mxaaz6gl-democnn-0.5-recovery-10-steps-a2-s0","split":"new","model":"democnn",
 *  "top1":0.9054,"loss":0.33,"count":10000,"fineTune":{"seed":0,"steps":2442,"macs":13244000,...}}
 */
export interface NewValLine {
  /** The fine-tune's folder under WORK/ft, or `dense-<model>` for the dense model. */
  folder: string;
  /** `val`: the run's own val split; `new`: the new images alone. */
  split: 'val' | 'new';
  model: string;
  top1: number;
  loss: number;
  count: number;
  /** Absent on the dense model's lines. */
  fineTune?: FineTuneIdentity;
  /** The dense model's lines: its weights file's sha256 (absent in files written before it). */
  weightsSha256?: string;
}

/**
 * The key a final fine-tune is joined by: the candidate (strategy and MACs), the seed and the steps. The engine
 * writes `strategy.json` with its defaults filled in (`iterativeSteps: 1`, which `strategyKey` keys as
 * absent) and fields of its own (`agent`, `meta`, dropped here), where a campaign's attempt has none.
 */
export function newValKey(
  model: string,
  strategy: Strategy | Record<string, unknown>,
  macs: number,
  seed: number,
  steps: number,
): string {
  const { agent: _agent, meta: _meta, ...rest } = strategy as Record<string, unknown>;
  return `${fineTuneKey(model, rest as Strategy, macs, seed)}/${steps}`;
}

/** A fine-tune folder's seed and steps, from the names bench/accuracy and the engine give; throws naming the folder. */
export function folderSeedAndSteps(dir: string): { seed: number; steps: number } {
  const seed = /-s(\d+)$/.exec(path.basename(dir))?.[1];
  if (seed === undefined)
    throw new Error(`${dir}: not a bench/accuracy fine-tune folder (no -s<seed> suffix)`);
  const steps = fs.existsSync(path.join(dir, 'ckpt'))
    ? fs
        .readdirSync(path.join(dir, 'ckpt'))
        .map((f) => /^ckpt-(\d+)\.pt$/.exec(f)?.[1])
        .filter((s): s is string => s !== undefined)
        .map(Number)
    : [];
  if (!steps.length) throw new Error(`${dir}: no ckpt/ckpt-<step>.pt, so its steps are unknown`);
  return { seed: Number(seed), steps: Math.max(...steps) };
}

/** One final fine-tune's top-1 on the new images, and the `file:line` it came from. */
export interface NewValFigure {
  top1: number;
  where: string;
  /** The fine-tune's folder, as the line names it. */
  folder: string;
}

/**
 * What {@link readNewVal} read: the figures of every final fine-tune, per dense model. The files of two runs with
 * other dense models may hold the same key (a per-layer shape has the same MACs on both) with other figures; a
 * file's dense line on the run's val split tells them apart, as a `--json` result's `dense[].valTop1` does. Where
 * both state the dense weights' sha256 (`weightsSha256`), two dense models with the same val top-1 are told
 * apart too: refused, never mixed.
 */
export interface NewValFigures {
  /** Final fine-tunes read, each dense model's counted apart. */
  size: number;
  /**
   * The figures that judge a result of `model` whose dense model is `dense` (its `dense[]` entry): every file
   * whose dense line of `model` has its val top-1, and every file without one. Throws naming `file` when other
   * dense models' files are all there is, when (no `dense`) the files hold several dense models, or when the
   * files with that top-1 state other dense weights (`weightsSha256`) than the result.
   */
  finalsFor(
    model: string,
    dense: { valTop1: number; weightsSha256?: string } | undefined,
    file: string,
  ): ReadonlyMap<string, NewValFigure>;
}

/**
 * Read bench/accuracy-new-val output: the top-1 on the new images of every final fine-tune, by {@link newValKey},
 * per dense model ({@link NewValFigures}). Throws naming the file and line of a malformed line, and a fine-tune
 * measured twice with other figures under one dense model (or in a file that names none).
 */
export function readNewVal(files: readonly string[]): NewValFigures {
  // Per model: the figures of each dense model (its val top-1, as text), '*' for files without a dense line.
  const groups = new Map<string, Map<string, Map<string, NewValFigure>>>();
  // Per model and dense val top-1: the dense weights' sha256 the first file stating one gave, and where.
  const weights = new Map<string, { sha256: string; where: string }>();
  for (const file of files) {
    const lines = newValLines(file, '--new-val');
    const dense = denseLines(lines);
    for (const [model, splits] of dense) {
      const val = splits.get('val');
      if (!val?.weightsSha256) continue;
      const group = `${model}\n${val.top1}`;
      const earlier = weights.get(group);
      if (earlier && earlier.sha256 !== val.weightsSha256)
        throw new Error(
          `--new-val ${val.where}: dense-${model} has val top-1 ${val.top1} as in ${earlier.where}, but other ` +
            `weights (sha256 ${val.weightsSha256.slice(0, 12)}... against ${earlier.sha256.slice(0, 12)}...): two ` +
            `dense models with the same figure; judge each run's results with its own run's new-val file`,
        );
      if (!earlier) weights.set(group, { sha256: val.weightsSha256, where: val.where });
    }
    for (const { line, where } of lines) {
      if (line.split !== 'new' || !line.fineTune) continue;
      const f = line.fineTune;
      const byDense = groups.get(line.model) ?? new Map<string, Map<string, NewValFigure>>();
      groups.set(line.model, byDense);
      const group = String(dense.get(line.model)?.get('val')?.top1 ?? '*');
      const finals = byDense.get(group) ?? new Map<string, NewValFigure>();
      byDense.set(group, finals);
      const key = newValKey(line.model, f.strategy, f.macs, f.seed, f.steps);
      addFigure(finals, key, { top1: line.top1, where, folder: line.folder });
    }
  }
  // A file without a dense line speaks for every dense model: merged into each, it must agree with each.
  const merged = new Map<string, Map<string, Map<string, NewValFigure>>>();
  let size = 0;
  for (const [model, byDense] of groups) {
    const any = byDense.get('*') ?? new Map<string, NewValFigure>();
    const out = new Map<string, Map<string, NewValFigure>>();
    for (const [dense, finals] of byDense) {
      if (dense === '*') continue;
      const all = new Map(finals);
      for (const [key, fig] of any) addFigure(all, key, fig);
      out.set(dense, all);
    }
    if (!out.size) out.set('*', any);
    for (const finals of out.values()) size += finals.size;
    merged.set(model, out);
  }
  return {
    size,
    finalsFor(model, dense, file) {
      const byDense = merged.get(model);
      if (!byDense) return new Map();
      const denseVal = dense?.valTop1;
      const stated = denseVal === undefined ? undefined : weights.get(`${model}\n${denseVal}`);
      if (stated && dense?.weightsSha256 !== undefined && stated.sha256 !== dense.weightsSha256)
        throw new Error(
          `--new-val: the dense ${model} of ${file} (val top-1 ${denseVal}, sha256 ` +
            `${dense.weightsSha256.slice(0, 12)}...) is not the one of ${stated.where} (the same top-1, sha256 ` +
            `${stated.sha256.slice(0, 12)}...): give the new-val file of that run's WORK`,
        );
      const mine = denseVal === undefined ? undefined : byDense.get(String(denseVal));
      if (mine) return mine;
      if (byDense.size === 1 && (byDense.has('*') || denseVal === undefined))
        return [...byDense.values()][0]!;
      const theirs = [...byDense.keys()].filter((k) => k !== '*');
      throw new Error(
        `--new-val: no file has the dense ${model} of ${file}` +
          (denseVal === undefined ? ' (it states none)' : ` (val top-1 ${denseVal})`) +
          `; the files' dense models have val top-1 ${theirs.join(', ')}: give the new-val file of that run's WORK`,
      );
    },
  };
}

/** Add `fig` to `finals` under `key`; throws when the key is there with another top-1. */
function addFigure(finals: Map<string, NewValFigure>, key: string, fig: NewValFigure): void {
  const earlier = finals.get(key);
  if (earlier && earlier.top1 !== fig.top1)
    throw new Error(
      `--new-val ${fig.where}: ${fig.folder} is the fine-tune of ${earlier.where} (same strategy, MACs, seed and steps) ` +
        `with another top-1 (${fig.top1}, ${earlier.top1}) and the same dense model: two measurements of one ` +
        `fine-tune disagree`,
    );
  finals.set(key, fig);
}

/** A dense model's line of one file, as {@link denseLines} keeps it. */
interface DenseFigure {
  top1: number;
  where: string;
  weightsSha256?: string;
}

/**
 * The dense models' lines of one file: per model, per split, the top-1, the weights' sha256 when stated, and
 * its `file:line`.
 */
function denseLines(
  lines: readonly { line: NewValLine; where: string }[],
): Map<string, Map<string, DenseFigure>> {
  const dense = new Map<string, Map<string, DenseFigure>>();
  for (const { line, where } of lines) {
    if (line.fineTune) continue;
    const splits = dense.get(line.model) ?? new Map<string, DenseFigure>();
    const sha = line.weightsSha256 !== undefined ? { weightsSha256: line.weightsSha256 } : {};
    dense.set(line.model, splits.set(line.split, { top1: line.top1, where, ...sha }));
  }
  return dense;
}

/**
 * The lines of a bench/accuracy-new-val output file, each with its `file:line`; throws, prefixed by `flag`,
 * naming the file that cannot be read or the line that is not one of ours.
 */
function newValLines(file: string, flag: string): { line: NewValLine; where: string }[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(
      `${flag} ${file}: cannot be read (${(err as { message?: string }).message ?? String(err)})`,
    );
  }
  const out: { line: NewValLine; where: string }[] = [];
  text.split('\n').forEach((raw, i) => {
    if (!raw.trim()) return;
    const where = `${file}:${i + 1}`;
    let line: NewValLine;
    try {
      line = JSON.parse(raw) as NewValLine;
    } catch {
      throw new Error(`${flag} ${where}: not a JSON line of bench/accuracy-new-val`);
    }
    if (
      typeof line.top1 !== 'number' ||
      (line.split !== 'val' && line.split !== 'new') ||
      typeof line.folder !== 'string' ||
      typeof line.model !== 'string'
    )
      throw new Error(
        `${flag} ${where}: expected a line of bench/accuracy-new-val (folder, split val|new, model, top1)`,
      );
    const f = line.fineTune;
    if (
      f &&
      (![f.seed, f.steps, f.macs].every(Number.isInteger) || typeof f.strategy?.importance !== 'string')
    )
      throw new Error(`${flag} ${where}: fineTune: expected whole seed, steps and macs, and a strategy`);
    out.push({ line, where });
  });
  return out;
}

/** The rows of a `--json` result that {@link withNewVal} reads and rewrites. */
type StoredScored = EarlierResult['scoredCandidates'][number] & { attempt: number };

/**
 * The scored candidates of a `--json` result with every final val top-1 replaced by that fine-tune's top-1 on the
 * new images ({@link readNewVal}); throws naming the file, case, attempt and seed of a fine-tune it has no figure
 * for, so that a verdict is never half on one val set and half on the other.
 */
export function withNewVal<R extends StoredScored>(
  stored: { dense?: EarlierResult['dense']; scoredCandidates: R[] },
  file: string,
  figures: NewValFigures,
): R[] {
  return stored.scoredCandidates.map((row) => {
    const dense = stored.dense?.find((d) => d.model === row.model);
    const denseMacs = dense?.denseMacs;
    const finals = figures.finalsFor(row.model, dense, file);
    if (row.macs === undefined && denseMacs === undefined)
      throw new Error(
        `${file}: ${row.model} @ ${row.target} attempt ${row.attempt}: no macs and no dense MACs`,
      );
    const macs = scoredMacs(row, denseMacs ?? 0, file);
    return {
      ...row,
      runs: row.runs.map((r) => {
        const hit = finals.get(newValKey(row.model, row.strategy, macs, r.seed, row.steps));
        if (!hit)
          throw new Error(
            `--new-val: no figure on the new images for ${file}: ${row.model} @ ${row.target} attempt ${row.attempt}, ` +
              `seed ${r.seed}, ${row.steps} steps (run bench/accuracy-new-val on the WORK folder of that run)`,
          );
        return { ...r, valTop1: hit.top1 };
      }),
    };
  });
}

/** The positional arguments of bench/accuracy-new-val. */
export interface Args {
  work: string;
  classes: number;
  valPerClass: number;
  newPerClass: number;
  model: string;
  /**
   * Earlier output of this tool on the same WORK (`--known FILE`, repeatable): a fine-tune folder with both its
   * lines there (same folder and key) is not evaluated again, and the dense model's lines are checked against
   * this WORK's dense model instead of printed again, so the new lines can be appended to FILE.
   */
  known: string[];
}

/** The positional arguments, checked; throws naming the argument and what was expected. */
export function parseNewValArgs(argv: readonly string[]): Args {
  const usage =
    'usage: bench/accuracy-new-val [--known FILE]... WORK CLASSES VAL_PER_CLASS NEW_PER_CLASS MODEL';
  const known: string[] = [];
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] !== '--known') {
      positional.push(argv[i]!);
      continue;
    }
    const file = argv[++i];
    if (file === undefined || file.startsWith('--'))
      throw new Error(`--known: expected the file of an earlier bench/accuracy-new-val run (${usage})`);
    known.push(file);
  }
  if (positional.length !== 5) throw new Error(`${usage} (got ${positional.length} arguments)`);
  const [work, classes, valPerClass, newPerClass, model] = positional as [
    string,
    string,
    string,
    string,
    string,
  ];
  const count = (name: string, text: string) => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < 1)
      throw new Error(`${name}: expected a whole number >= 1, got ${JSON.stringify(text)}`);
    return n;
  };
  return {
    work,
    classes: count('CLASSES', classes),
    valPerClass: count('VAL_PER_CLASS', valPerClass),
    newPerClass: count('NEW_PER_CLASS', newPerClass),
    model,
    known,
  };
}

/**
 * The run's folders in WORK: its dataset, its dense model, its fine-tunes (MODEL's only: a WORK may hold
 * another model's too); throws naming each one missing.
 */
export function runFolders(a: Args): { dataset: string; dense: string; fineTunes: string[] } {
  const list = (re: RegExp) =>
    fs.existsSync(a.work)
      ? fs
          .readdirSync(a.work)
          .filter((f) => re.test(f))
          .sort()
          .map((f) => path.join(a.work, f))
      : [];
  const dataset = list(new RegExp(`^dataset-c${a.classes}-\\d+x${a.valPerClass}$`))[0];
  const dense = list(new RegExp(`^dense-${a.model}-.*-c${a.classes}-\\d+x${a.valPerClass}$`))[0];
  const ftRoot = path.join(a.work, 'ft');
  const missing = [
    dataset ? null : `no dataset-c${a.classes}-*x${a.valPerClass} of a bench/accuracy run`,
    dense ? null : `no dense-${a.model}-*-c${a.classes}-*x${a.valPerClass} model of a bench/accuracy run`,
    fs.existsSync(ftRoot) ? null : 'no ft/ folder of final fine-tunes',
  ].filter((x): x is string => x !== null);
  if (missing.length) throw new Error(`WORK ${a.work}: ${missing.join('; ')}`);
  // WORK/ft holds the fine-tunes of every model run there: MODEL's are named `<model>-...` (baselines) or
  // `bench-acc-<id>-<model>-...` (campaign candidates).
  const ofModel = (f: string) => f.startsWith(`${a.model}-`) || f.includes(`-${a.model}-`);
  const fineTunes = fs
    .readdirSync(ftRoot)
    .filter(ofModel)
    .sort()
    .map((f) => path.join(ftRoot, f))
    .filter((d) => fs.statSync(d).isDirectory());
  return { dataset: dataset!, dense: dense!, fineTunes };
}

/**
 * The new images as a dataset root of their own (symlinks into `big`'s val split, past the run's own images);
 * checks that `big`'s first `valPerClass` images of every class are the run's, byte for byte.
 */
export function newImagesRoot(big: string, run: string, valPerClass: number, out: string): void {
  fs.rmSync(out, { recursive: true, force: true });
  for (const c of fs.readdirSync(path.join(big, 'val')).sort()) {
    const images = fs.readdirSync(path.join(big, 'val', c)).sort();
    fs.mkdirSync(path.join(out, 'val', c), { recursive: true });
    fs.mkdirSync(path.join(out, 'train', c), { recursive: true });
    for (const f of images.slice(0, valPerClass)) {
      const ours = path.join(run, 'val', c, f);
      if (!fs.existsSync(ours) || !fs.readFileSync(ours).equals(fs.readFileSync(path.join(big, 'val', c, f))))
        throw new Error(`${path.join(big, 'val', c, f)} differs from the run's val image ${ours}`);
    }
    for (const f of images.slice(valPerClass))
      fs.symlinkSync(path.join(big, 'val', c, f), path.join(out, 'val', c, f));
  }
}

/** What the `--known` files of {@link Args.known} hold of `model`: its dense lines, and the fine-tunes measured. */
function knownOf(files: readonly string[], model: string) {
  const splits = new Map<string, Set<string>>();
  const dense = files.map((file) => {
    const lines = newValLines(file, '--known');
    for (const { line } of lines) {
      if (line.model !== model || !line.fineTune) continue;
      const key = knownKey(line.folder, line.fineTune, model);
      splits.set(key, (splits.get(key) ?? new Set()).add(line.split));
    }
    const ours = denseLines(lines).get(model);
    if (!ours?.has('val') || !ours.has('new'))
      throw new Error(
        `--known ${file}: no dense-${model} lines on both splits, so it cannot be checked to be this WORK's run`,
      );
    return { file, lines: ours };
  });
  const fineTunes = new Set([...splits].filter(([, s]) => s.size === 2).map(([k]) => k));
  return { dense, fineTunes };
}

/** One fine-tune folder measured: its name and its {@link newValKey} (a folder retrained since keys apart). */
function knownKey(folder: string, f: FineTuneIdentity, model: string): string {
  return `${folder}\n${newValKey(model, f.strategy, f.macs, f.seed, f.steps)}`;
}

/** What {@link runNewVal} did: fine-tunes evaluated, and those skipped as already in a `--known` file. */
export interface NewValSummary {
  measured: number;
  known: number;
}

/** The line bench/accuracy-new-val ends with (on stderr): what it evaluated, and what `--known` spared it. */
export function summaryLine(done: NewValSummary, known: readonly string[]): string {
  return (
    `bench/accuracy-new-val: ${done.measured} fine-tunes evaluated` +
    (known.length ? `, ${done.known} skipped as already in ${known.join(', ')}` : '')
  );
}

/**
 * Evaluate the run of `a` on its val split and on the new images: the dense model, then every fine-tune folder
 * (sorted), each line handed to `emit` as it is measured. Missing run folders and unreadable `--known` files are
 * named before any work; a `--known` file whose dense figures are not this WORK's is refused before any
 * fine-tune is evaluated.
 */
export async function runNewVal(
  a: Args,
  engine: WarmEngine,
  emit: (line: NewValLine) => void,
): Promise<NewValSummary> {
  const run = runFolders(a);
  const known = knownOf(a.known, a.model);
  const big = path.join(a.work, `dataset-new-val-c${a.classes}-${a.valPerClass}+${a.newPerClass}`);
  const newRoot = path.join(a.work, `new-val-c${a.classes}-${a.newPerClass}`);
  await engine.run('make-dataset', {
    out: big,
    classes: a.classes,
    trainPerClass: 1,
    valPerClass: a.valPerClass + a.newPerClass,
    imageSize: 32,
    seed: 0,
    preset: 'hard',
  });
  newImagesRoot(big, run.dataset, a.valPerClass, newRoot);
  const evaluate = async (
    folder: string,
    spec: Record<string, unknown>,
    fineTune?: FineTuneIdentity,
    weightsSha256?: string,
  ) => {
    const lines: NewValLine[] = [];
    for (const [split, root] of [
      ['val', run.dataset],
      ['new', newRoot],
    ] as const) {
      const r = await engine.run<{ top1: number; loss: number; count: number }>('evaluate', {
        model: spec,
        dataset: { root, split: 'val', imageSize: 32 },
        batchSize: 256,
      });
      lines.push({
        folder,
        split,
        model: a.model,
        top1: r.top1,
        loss: r.loss,
        count: r.count,
        ...(fineTune ? { fineTune } : {}),
        ...(weightsSha256 !== undefined ? { weightsSha256 } : {}),
      });
    }
    return lines;
  };
  const denseWeights = path.join(run.dense, 'model.pt');
  const dense = await evaluate(
    `dense-${a.model}`,
    { name: a.model, numClasses: a.classes, weights: denseWeights },
    undefined,
    (await hashFile(denseWeights)).sha256,
  );
  for (const { file, lines } of known.dense)
    for (const ours of dense) {
      const theirs = lines.get(ours.split)!;
      if (theirs.top1 !== ours.top1)
        throw new Error(
          `--known ${theirs.where}: dense-${a.model} has top-1 ${theirs.top1} on ${ours.split} there and ` +
            `${ours.top1} in WORK ${a.work}: ${file} is another run's`,
        );
      if (theirs.weightsSha256 !== undefined && theirs.weightsSha256 !== ours.weightsSha256)
        throw new Error(
          `--known ${theirs.where}: dense-${a.model} has other weights there (sha256 ` +
            `${theirs.weightsSha256.slice(0, 12)}...) than in WORK ${a.work}: ${file} is another run's`,
        );
    }
  if (!known.dense.length) dense.forEach(emit);
  const summary: NewValSummary = { measured: 0, known: 0 };
  for (const dir of run.fineTunes) {
    const spec = { name: a.model, numClasses: a.classes, pruned: dir };
    const identity = folderSeedAndSteps(dir);
    const profile = await engine.run<{ macs: number; params: number }>('profile', {
      model: spec,
      inputShape: [1, 3, 32, 32],
    });
    const strategy = JSON.parse(fs.readFileSync(path.join(dir, 'strategy.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    const fineTune = { ...identity, macs: profile.macs, params: profile.params, strategy };
    if (known.fineTunes.has(knownKey(path.basename(dir), fineTune, a.model))) {
      summary.known++;
      continue;
    }
    (await evaluate(path.basename(dir), spec, fineTune)).forEach(emit);
    summary.measured++;
  }
  return summary;
}

async function main(): Promise<void> {
  const a = parseNewValArgs(process.argv.slice(2));
  // runNewVal names any missing run folder before its first engine job; the engine starts on that job.
  const engine = new WarmEngine(defaultEngineLocation(process.env.AP_ENGINE_PYTHON));
  try {
    const done = await runNewVal(a, engine, (line) => console.log(JSON.stringify(line)));
    console.error(summaryLine(done, a.known));
  } finally {
    await engine.close();
  }
}

if (require.main === module)
  main().catch((err: unknown) => {
    console.error(`bench/accuracy-new-val: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 2;
  });
