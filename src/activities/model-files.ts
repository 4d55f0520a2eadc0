import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { ArtifactRef } from '../core/artifact-ref';
import type { ModelSpec } from '../core/model-spec';
import type { ArtifactStore } from '../storage';

/**
 * A model kept in the artifact store as several files (state_dict, pruning history, strategy...):
 * a small manifest object lists them with their refs; the manifest's ref is what history carries.
 */
export interface ModelManifest {
  kind: 'pruned-model' | 'finetuned-model';
  spec: ModelSpec;
  files: Record<string, ArtifactRef>;
}

/**
 * The architecture part of a spec: what rebuilds the dense model a pruned directory is replayed on.
 * Dense weights must not travel with it: `weights` beside `pruned` would be loaded on top of the pruned model.
 */
export function architectureOf(spec: ModelSpec): ModelSpec {
  return {
    name: spec.name,
    ...(spec.numClasses !== undefined ? { numClasses: spec.numClasses } : {}),
    ...(spec.inputSize !== undefined ? { inputSize: spec.inputSize } : {}),
  };
}

const MANIFEST_FILE = 'manifest.json';

/** Upload every file of `dir` (flat) under `keyPrefix`, then the manifest. Returns the manifest's ref. */
export async function uploadModelDir(
  store: ArtifactStore,
  dir: string,
  keyPrefix: string,
  manifest: Omit<ModelManifest, 'files'>,
): Promise<ArtifactRef> {
  const files: Record<string, ArtifactRef> = {};
  for (const name of (await fs.readdir(dir)).sort()) {
    const file = path.join(dir, name);
    // A model dir made by downloadModelDir holds the manifest it came from (and the engine copies it on into a
    // fine-tune's outDir): never list it, the new manifest below is written to that very key.
    if (!(await fs.stat(file)).isFile() || name.endsWith('.onnx') || name === MANIFEST_FILE) continue;
    files[name] = await store.put(`${keyPrefix}/${name}`, { file });
  }
  const body: ModelManifest = { ...manifest, spec: architectureOf(manifest.spec), files };
  return store.put(`${keyPrefix}/${MANIFEST_FILE}`, { bytes: Buffer.from(JSON.stringify(body, null, 2)) });
}

/**
 * Download a model stored by {@link uploadModelDir} into `destDir` (verifying every sha256) and return
 * a ModelSpec the engine can build (`pruned: destDir`).
 */
export async function downloadModelDir(
  store: ArtifactStore,
  manifestRef: ArtifactRef,
  destDir: string,
): Promise<ModelSpec> {
  await fs.mkdir(destDir, { recursive: true });
  const manifestFile = path.join(destDir, MANIFEST_FILE);
  await store.get(manifestRef, manifestFile);
  const manifest = JSON.parse(await fs.readFile(manifestFile, 'utf8')) as ModelManifest;
  for (const [name, ref] of Object.entries(manifest.files)) {
    await store.get(ref, path.join(destDir, name));
  }
  return { ...manifest.spec, pruned: destDir };
}

const REMOTE = /^(s3|file):\/\//;

/**
 * Make a ModelSpec's weights local: a `file://` or `s3://` artifact URI is downloaded (verified) into
 * `cacheDir`; a plain path is left as is.
 */
export async function localizeModelSpec(
  store: ArtifactStore,
  spec: ModelSpec,
  cacheDir: string,
): Promise<ModelSpec> {
  if (spec.weights === undefined || !REMOTE.test(spec.weights)) return spec;
  const key = store.keyOf(spec.weights);
  const dest = path.join(cacheDir, 'weights', key);
  await fs.mkdir(path.dirname(dest), { recursive: true });
  await store.get(key, dest);
  return { ...spec, weights: dest };
}
