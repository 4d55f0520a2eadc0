import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { resolveTargets, type CampaignConfig } from '../core/campaign-config';
import { parseWith } from '../core/errors';
import {
  FILE_MODEL_PREFIX,
  KNOWN_MODELS,
  MODEL_ALIASES,
  parseNamedWeights,
  TIMM_PRETRAINED_TAGS,
  TORCHVISION_WEIGHT_FILES,
  VIT_PATCH_SIZES,
} from '../core/model-spec';
import { ProfileSchema, summarizeProfile } from '../core/profile';
import { defaultEngineLocation } from '../engine/engine-paths';
import { OneShotEngine } from '../engine/engine-process';
import { ClientError } from './errors';

/** Thrown when a campaign fails a check the client can make before anything starts; each line names the field. Exit 2. */
export class PreflightError extends ClientError {
  override readonly name = 'PreflightError';
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`${source}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

/** Levenshtein distance: how the nearest known model names are ordered. */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      row.push(
        Math.min(
          (prev[j] ?? 0) + 1,
          (row[j - 1] ?? 0) + 1,
          (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1),
        ),
      );
    }
    prev = row;
  }
  return prev[b.length] ?? 0;
}

/**
 * Why `name` names no model the engine builds, or `undefined` when it does (zoo names from
 * {@link KNOWN_MODELS}; `file:` factories are checked with the paths).
 *
 * @example unknownModelProblem('resnet19') // "unknown model 'resnet19'; known (nearest first): resnet18, ..."
 */
export function unknownModelProblem(name: string): string | undefined {
  if (name.startsWith(FILE_MODEL_PREFIX) || KNOWN_MODELS.includes(name)) return undefined;
  const near = [...KNOWN_MODELS].sort((x, y) => editDistance(name, x) - editDistance(name, y));
  return `unknown model '${name}'; known (nearest first): ${near.join(', ')}, or file:<path.py>:<function>`;
}

/** An artifact URI (`s3://...`, `file://...`): the workers read it, not this host. */
const URI = /^[a-z][a-z0-9+.-]*:\/\//i;

/** Options of {@link preflight}. */
export interface PreflightOptions {
  /** Where relative paths in the config resolve: the campaign file's folder. @default process.cwd() */
  baseDir?: string;
  /**
   * Check that paths exist on this host. Off when the paths live on the worker hosts only (a shared
   * `/data` this host does not mount); relative paths are still made absolute.
   * @default true
   */
  checkPaths?: boolean;
  /** What the problems are reported against. @default 'campaign config' */
  source?: string;
  /** Where named weights (`torchvision:<TAG>`, `timm:<tag>`) are looked for. @default {@link weightCachesFromEnv}() */
  weightCaches?: WeightCaches;
}

/** The libraries' local weight caches on this host. */
export interface WeightCaches {
  /** torch.hub's home: checkpoints live in `<torchHome>/hub/checkpoints`. */
  torchHome: string;
  /** The Hugging Face hub cache: `<hfHubCache>/models--timm--<model>.<tag>/...`. */
  hfHubCache: string;
}

/**
 * The caches as torch.hub and huggingface_hub resolve them from the environment: `TORCH_HOME`, else
 * `$XDG_CACHE_HOME/torch`, else `~/.cache/torch`; `HF_HUB_CACHE`, else `$HF_HOME/hub`, else
 * `$XDG_CACHE_HOME/huggingface/hub`, else `~/.cache/huggingface/hub` (empty values count as unset).
 */
export function weightCachesFromEnv(env: NodeJS.ProcessEnv = process.env): WeightCaches {
  const get = (key: string) => (env[key] ? env[key] : undefined);
  const home = (p: string) => (p === '~' || p.startsWith('~/') ? path.join(os.homedir(), p.slice(1)) : p);
  const xdg = get('XDG_CACHE_HOME') ?? path.join('~', '.cache');
  const hfHome = get('HF_HOME') ?? path.join(xdg, 'huggingface');
  return {
    torchHome: home(get('TORCH_HOME') ?? path.join(xdg, 'torch')),
    hfHubCache: home(get('HF_HUB_CACHE') ?? path.join(hfHome, 'hub')),
  };
}

/** What timm reads from a hub repo, in its order (engine/agentic_engine/named_weights.py `HUB_FILES`). */
const HUB_FILES = ['model.safetensors', 'pytorch_model.bin'];

/**
 * Why `weights` (pretrained weights by name) cannot be used with model `name`, in the engine's words, or
 * `undefined` when it can, or when `weights` is a path. With `caches`, the file must also be in this host's
 * cache (the worker reads it from its own; presence only, the engine checks the bytes).
 *
 * @example namedWeightsProblem('resnet50', 'torchvision:IMAGENET1K_V2', caches)
 * // "torchvision weights IMAGENET1K_V2 of resnet50 are not in the local cache: '/x/hub/checkpoints/resnet50-11ad3fa6.pth' does not exist; fill it ..."
 */
export function namedWeightsProblem(
  name: string,
  weights: string,
  caches?: WeightCaches,
): string | undefined {
  const named = parseNamedWeights(weights);
  if (!named) return undefined;
  const model = MODEL_ALIASES[name] ?? name;
  const { library, tag } = named;
  if (library === 'torchvision') {
    const files = TORCHVISION_WEIGHT_FILES[model];
    if (!files) return `'${weights}' names torchvision weights; '${model}' is not a torchvision model`;
    const file = files[tag];
    if (file === undefined)
      return `torchvision has no weights '${tag}' for ${model}; known: ${Object.keys(files).join(', ')}`;
    if (!caches) return undefined;
    const at = path.join(caches.torchHome, 'hub', 'checkpoints', file);
    if (fs.statSync(at, { throwIfNoEntry: false })?.isFile()) return undefined;
    return (
      `torchvision weights ${tag} of ${model} are not in the local cache: '${at}' does not exist; fill it on a ` +
      `host with network: TORCH_HOME=${caches.torchHome} python -c "import torchvision; ` +
      `torchvision.models.${model}(weights='${tag}')" (or copy ${file} there)`
    );
  }
  const tags = TIMM_PRETRAINED_TAGS[model];
  if (!tags) return `'${weights}' names timm weights; '${model}' is not a timm model`;
  if (!tags.includes(tag))
    return `timm has no pretrained tag '${tag}' for ${model}; known: ${tags.join(', ')}`;
  if (!caches) return undefined;
  // The hub cache layout: refs/main holds the revision, snapshots/<revision>/ the files.
  const folder = path.join(caches.hfHubCache, `models--timm--${model}.${tag}`);
  const revision = readText(path.join(folder, 'refs', 'main'));
  const found =
    revision !== undefined &&
    HUB_FILES.some((f) =>
      fs.statSync(path.join(folder, 'snapshots', revision, f), { throwIfNoEntry: false })?.isFile(),
    );
  if (found) return undefined;
  return (
    `timm weights ${tag} of ${model} are not in the local cache: no ${HUB_FILES.join(' or ')} under ` +
    `'${folder}'; fill it on a host with network: HF_HUB_CACHE=${caches.hfHubCache} python -c "import timm; ` +
    `timm.create_model('${model}.${tag}', pretrained=True)"`
  );
}

/**
 * Why a zoo ViT cannot take `inputSize` (not a whole number of its patches), in the engine's words, or
 * `undefined`.
 *
 * @example vitInputSizeProblem('vit_b_16', 60) // "vit_b_16 takes inputs whose side is a multiple of its patch size 16; got 60 (try 48)"
 */
export function vitInputSizeProblem(name: string, inputSize: number): string | undefined {
  const model = MODEL_ALIASES[name] ?? name;
  const patch = VIT_PATCH_SIZES[model];
  if (patch === undefined || inputSize % patch === 0) return undefined;
  const low = Math.max(patch, inputSize - (inputSize % patch));
  return `${model} takes inputs whose side is a multiple of its patch size ${patch}; got ${inputSize} (try ${low})`;
}

function readText(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
}

/**
 * The checks before any workflow starts, on a config that already passed its schema: the model name is one
 * the engine builds, named weights are in this host's cache ({@link namedWeightsProblem}), and the weights,
 * pruned-model, factory and dataset paths exist (the dataset with
 * `train/` and `val/`). Relative paths resolve against `baseDir` (the campaign file's folder, not the
 * working directory), and the returned config carries them absolute, so every worker reads the same file.
 * Throws a {@link PreflightError} naming each bad field.
 */
export function preflight(config: CampaignConfig, opts: PreflightOptions = {}): CampaignConfig {
  const baseDir = opts.baseDir ?? process.cwd();
  const checkPaths = opts.checkPaths ?? true;
  const problems: string[] = [];
  const resolve = (p: string) => (URI.test(p) ? p : path.resolve(baseDir, p));
  const mustExist = (field: string, p: string, what: string, kind: 'file' | 'dir' | 'any') => {
    if (!checkPaths || URI.test(p)) return;
    const stat = fs.statSync(p, { throwIfNoEntry: false });
    if (!stat) problems.push(`${field}: ${what} '${p}' does not exist`);
    else if (kind === 'file' && !stat.isFile()) problems.push(`${field}: ${what} '${p}' is not a file`);
    else if (kind === 'dir' && !stat.isDirectory())
      problems.push(`${field}: ${what} '${p}' is not a directory`);
  };

  const model = { ...config.model };
  const unknown = unknownModelProblem(model.name);
  if (unknown) problems.push(`model.name: ${unknown}`);
  if (model.name.startsWith(FILE_MODEL_PREFIX)) {
    const body = model.name.slice(FILE_MODEL_PREFIX.length);
    const at = body.lastIndexOf(':');
    if (at <= 0) {
      problems.push(`model.name: expected file:<path.py>:<function>, got '${model.name}'`);
    } else {
      const file = resolve(body.slice(0, at));
      mustExist('model.name', file, 'model factory file', 'file');
      model.name = `${FILE_MODEL_PREFIX}${file}:${body.slice(at + 1)}`;
    }
  }
  const vitSize =
    model.inputSize === undefined ? undefined : vitInputSizeProblem(model.name, model.inputSize);
  if (vitSize) problems.push(`model.inputSize: ${vitSize}`);
  if (model.weights !== undefined && parseNamedWeights(model.weights)) {
    const caches = checkPaths ? (opts.weightCaches ?? weightCachesFromEnv()) : undefined;
    const problem = namedWeightsProblem(model.name, model.weights, caches);
    if (problem) problems.push(`model.weights: ${problem}`);
  } else if (model.weights !== undefined) {
    model.weights = resolve(model.weights);
    mustExist('model.weights', model.weights, 'weights', 'any');
  }
  if (model.pruned !== undefined) {
    model.pruned = resolve(model.pruned);
    mustExist('model.pruned', model.pruned, 'pruned model folder', 'dir');
  }

  let dataset = config.dataset;
  if (dataset) {
    const root = resolve(dataset.root);
    dataset = { ...dataset, root };
    const before = problems.length;
    mustExist('dataset.root', root, 'dataset folder', 'dir');
    if (checkPaths && problems.length === before && !URI.test(root)) {
      const missing = ['train', 'val'].filter(
        (split) => !fs.statSync(path.join(root, split), { throwIfNoEntry: false })?.isDirectory(),
      );
      if (missing.length > 0)
        problems.push(
          `dataset.root: '${root}' has no ${missing.map((m) => `${m}/`).join(' and no ')} folder (ImageFolder layout: train/<class>/..., val/<class>/...)`,
        );
      else problems.push(...splitSizeProblems(config, path.join(root, 'train')));
    }
  }
  if (problems.length > 0) throw new PreflightError(opts.source ?? 'campaign config', problems);
  return { ...config, model, ...(dataset ? { dataset } : {}) };
}

/** The image file endings the engine lists in a split (engine `training.IMG_EXTENSIONS`; a test keeps them equal). */
export const IMAGE_EXTENSIONS = ['.png', '.jpg', '.jpeg', '.bmp', '.webp', '.ppm', '.tif', '.tiff'] as const;

/**
 * Images under `split/<class>/...` as the engine counts them, but no more than `enough`: a check that only
 * needs to know whether a split holds `enough` images stops there, so an ImageNet-sized split costs little.
 */
export function countSplitImages(split: string, enough = Infinity): number {
  let n = 0;
  const walk = (dir: string): void => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (n >= enough) return;
      const full = path.join(dir, e.name);
      const isDir =
        e.isDirectory() ||
        (e.isSymbolicLink() && fs.statSync(full, { throwIfNoEntry: false })?.isDirectory());
      if (isDir) walk(full);
      else if (IMAGE_EXTENSIONS.some((x) => e.name.toLowerCase().endsWith(x))) n += 1;
    }
  };
  for (const c of fs.readdirSync(split, { withFileTypes: true })) {
    if (n >= enough) break;
    const full = path.join(split, c.name);
    if (!c.name.startsWith('.') && fs.statSync(full, { throwIfNoEntry: false })?.isDirectory()) walk(full);
  }
  return n;
}

/**
 * When the campaign sets how candidates are scored (`search.scoring` or `search.scoreImages`), the calibration
 * sample and the held-out slice must fit, disjoint, in `train/` (the engine refuses them otherwise, one
 * candidate at a time): checked here before anything starts, naming the field. With the defaults the engine
 * sizes the slice to the split itself.
 */
function splitSizeProblems(config: CampaignConfig, train: string): string[] {
  const dataset = config.dataset;
  if (!dataset || (config.search.scoring === undefined && config.search.scoreImages === undefined)) return [];
  const calibration = dataset.calibrationBatches * dataset.calibrationBatchSize;
  const scoreImages = config.search.scoreImages;
  const needed = calibration + (scoreImages ?? 0);
  const n = countSplitImages(train, needed + 1);
  if (n < calibration)
    return [
      `dataset.calibrationBatches: ${dataset.calibrationBatches} x calibrationBatchSize ${dataset.calibrationBatchSize} = ${calibration} images, more than the ${n} of '${train}'`,
    ];
  if (scoreImages !== undefined && n < needed)
    return [
      `search.scoreImages: ${scoreImages} held-out images and ${calibration} calibration images do not fit in the ${n} of '${train}' (they must be disjoint)`,
    ];
  return [];
}

/** What {@link preflightTargets} concluded: checked against the dense model, or why it could not check. */
export type TargetCheck =
  | { checked: true; denseMacs: number; floorMacs: number }
  | { checked: false; why: string };

/**
 * For absolute targets (`macs:`), a quick profile of the dense model on this host's engine, so a target not
 * below the dense model or below what its protected layers alone cost is refused before any workflow
 * starts, naming the field (`targets.0.macs: ...`), with the same check the campaign makes
 * ({@link resolveTargets}). Fractions are below dense by their schema and need no profile. With no engine
 * installed on this host (`pythonOverride` unset and no `engine/.venv`), nothing is checked here and the
 * campaign's own check stands (`{ checked: false }`). Throws a {@link PreflightError}.
 */
export async function preflightTargets(
  config: CampaignConfig,
  opts: { source?: string; pythonOverride?: string } = {},
): Promise<TargetCheck> {
  if (!config.targets.some((t) => t.macs !== undefined)) return { checked: false, why: 'no absolute target' };
  let engine: OneShotEngine;
  try {
    engine = new OneShotEngine(defaultEngineLocation(opts.pythonOverride));
  } catch (err) {
    return { checked: false, why: (err as Error).message };
  }
  const { weights: _weights, ...model } = config.model;
  // MACs do not depend on the weights, so they are not read; a pruned model's architecture does.
  if (model.pruned !== undefined && URI.test(model.pruned))
    return { checked: false, why: `model.pruned is on the workers only (${model.pruned})` };
  const raw = await engine.run('profile', {
    model,
    ...(config.inputShape ? { inputShape: config.inputShape } : {}),
  });
  const profile = parseWith(ProfileSchema, raw, `engine profile of ${config.model.name}`);
  const floorMacs = summarizeProfile(profile).protectedMacs;
  try {
    resolveTargets(config.targets, profile.macs, floorMacs);
  } catch (err) {
    throw new PreflightError(opts.source ?? 'campaign config', [(err as Error).message]);
  }
  return { checked: true, denseMacs: profile.macs, floorMacs };
}
