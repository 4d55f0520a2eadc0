import * as fs from 'node:fs';
import * as path from 'node:path';
import { resolveTargets, type CampaignConfig } from '../core/campaign-config';
import { parseWith } from '../core/errors';
import { FILE_MODEL_PREFIX, KNOWN_MODELS } from '../core/model-spec';
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
}

/**
 * The checks before any workflow starts, on a config that already passed its schema: the model name is one
 * the engine builds, and the weights, pruned-model, factory and dataset paths exist (the dataset with
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
  if (model.weights !== undefined) {
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
    }
  }
  if (problems.length > 0) throw new PreflightError(opts.source ?? 'campaign config', problems);
  return { ...config, model, ...(dataset ? { dataset } : {}) };
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
