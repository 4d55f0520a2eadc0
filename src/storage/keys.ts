/**
 * The one home of artifact keys: the rules every store applies to a key (validateKey), and the campaign
 * layout `campaigns/<campaignId>/<target>/<kind>/<name>` with one named builder per kind of artifact.
 * Deterministic (no Node built-ins, no I/O): workflows may import it for the reserved labels.
 *
 * @example
 * ```ts
 * checkpointKey('c-42', '1.77G', 400) // 'campaigns/c-42/1.77G/checkpoints/ckpt-000000400.pt'
 * profileKey('c-42')                  // 'campaigns/c-42/_model/profile/profile.json'
 * profileKey(revisionId('c-42', 2))   // 'campaigns/c-42~r2/_model/profile/profile.json'
 * ```
 */
import type { ArtifactRef } from '../core/artifact-ref';
import { ArtifactKeyError } from './errors';

/** Longest key accepted, in UTF-8 bytes (S3 allows 1024; room is left for a store prefix). */
export const MAX_KEY_BYTES = 900;
/** Longest key segment, in UTF-8 bytes (a file name on common filesystems). */
export const MAX_SEGMENT_BYTES = 255;

/** The target label under which a campaign keeps its dense model's artifacts (profile, dense ONNX, evaluation). */
export const MODEL_LABEL = '_model';
/** The target label under which a campaign keeps its rendered report (HTML + JSON). */
export const REPORT_LABEL = '_report';

/**
 * What joins a campaign id and its revision number in a revision's id (`c-42~r2`). Campaign ids never hold
 * it ({@link campaignIdProblem} allows letters, digits, `.`, `_`, `-`), so a revision id never names a
 * campaign a user started, and it is one key segment.
 */
export const REVISION_SEPARATOR = '~r';

/**
 * The id of revision `revision` of campaign `campaignId`: the campaign id itself for revision 1, else
 * `<campaignId>~r<revision>`. A revision (a reset or a retry) is its own campaign workflow under this id,
 * and its artifacts live under `campaigns/<revision id>/...`, so a re-run never overwrites an earlier
 * revision's objects.
 *
 * @example revisionId('c-42', 1) // 'c-42'
 * @example revisionId('c-42', 2) // 'c-42~r2'
 */
export function revisionId(campaignId: string, revision: number): string {
  if (!Number.isInteger(revision) || revision < 1)
    throw new ArtifactKeyError(String(revision), 'a revision is an integer >= 1');
  if (campaignId.includes(REVISION_SEPARATOR))
    throw new ArtifactKeyError(campaignId, 'is already a revision id');
  return revision === 1 ? campaignId : `${campaignId}${REVISION_SEPARATOR}${revision}`;
}

/**
 * Split a campaign workflow id into the campaign id and the revision number; the inverse of
 * {@link revisionId}. `c-42~r1` also parses (as revision 1): the way to name revision 1 exactly.
 *
 * @example parseRevisionId('c-42~r2') // { campaignId: 'c-42', revision: 2 }
 * @example parseRevisionId('c-42')    // { campaignId: 'c-42', revision: 1 }
 */
export function parseRevisionId(id: string): { campaignId: string; revision: number } {
  const at = id.lastIndexOf(REVISION_SEPARATOR);
  const digits = at > 0 ? id.slice(at + REVISION_SEPARATOR.length) : '';
  const n = /^[1-9]\d*$/.test(digits) ? Number(digits) : NaN;
  return Number.isInteger(n) && n >= 1
    ? { campaignId: id.slice(0, at), revision: n }
    : { campaignId: id, revision: 1 };
}

// Made per call, not at module load: the module is also evaluated inside the workflow sandbox.
const byteLength = (s: string): number => new TextEncoder().encode(s).length;

/**
 * Validate an artifact key and return it: relative, `/`-separated, no `.`/`..` or empty segments, no
 * backslashes or control characters, at most {@link MAX_KEY_BYTES} bytes. The one check every store
 * runs before touching a key. Throws {@link ArtifactKeyError}.
 */
export function validateKey(key: string): string {
  if (typeof key !== 'string' || key.length === 0)
    throw new ArtifactKeyError(String(key), 'must be a non-empty string');
  if (byteLength(key) > MAX_KEY_BYTES) throw new ArtifactKeyError(key, `longer than ${MAX_KEY_BYTES} bytes`);
  if (key.startsWith('/')) throw new ArtifactKeyError(key, 'must be relative (no leading /)');
  if (key.includes('\\')) throw new ArtifactKeyError(key, 'must not contain backslashes');
  if (/[\x00-\x1f\x7f]/.test(key)) throw new ArtifactKeyError(key, 'must not contain control characters');
  for (const seg of key.split('/')) {
    if (seg === '') throw new ArtifactKeyError(key, 'must not contain empty segments (// or a trailing /)');
    if (seg === '..' || seg === '.') throw new ArtifactKeyError(key, `must not contain "${seg}" segments`);
    if (byteLength(seg) > MAX_SEGMENT_BYTES)
      throw new ArtifactKeyError(key, `has a segment longer than ${MAX_SEGMENT_BYTES} bytes`);
  }
  return key;
}

/**
 * Validate a list prefix and return it: `''` (everything), or a key prefix that may end in `/` and
 * may end mid-segment (`campaigns/c-42/`, `campaigns/c-4`). Throws {@link ArtifactKeyError}.
 */
export function validatePrefix(prefix: string): string {
  if (prefix === '') return prefix;
  validateKey(prefix.endsWith('/') ? prefix.slice(0, -1) : prefix);
  return prefix;
}

/** The validated key of `keyOrRef`. */
export function keyFrom(keyOrRef: string | ArtifactRef): string {
  return validateKey(typeof keyOrRef === 'string' ? keyOrRef : keyOrRef.key);
}

function segments(parts: Record<string, string>): string {
  for (const [part, value] of Object.entries(parts)) {
    if (value.includes('/')) throw new ArtifactKeyError(value, `${part} must be a single key segment (no /)`);
  }
  return validateKey(`campaigns/${Object.values(parts).join('/')}`);
}

/** `campaigns/<campaignId>/`: every key of one campaign starts with it, and no key of another does. */
export function campaignFolder(campaignId: string): string {
  return `${segments({ campaignId })}/`;
}

/**
 * `campaigns/<campaignId>/<target>/<kind>/<name>`. Each part must be one valid segment (no `/`), so a
 * campaign id can never reach into another campaign's folder. The named builders below are the ones to use.
 *
 * @example artifactKey('c-42', '1.77G', 'checkpoints', 'step-400.pt') // 'campaigns/c-42/1.77G/checkpoints/step-400.pt'
 */
export function artifactKey(campaignId: string, target: string, kind: string, name: string): string {
  return segments({ campaignId, target, kind, name });
}

/** `campaigns/<campaignId>/<target>/<kind>`: the folder a multi-file artifact (a stored model) is written under. */
export function artifactFolder(campaignId: string, target: string, kind: string): string {
  return segments({ campaignId, target, kind });
}

/** The dense model's full profile (JSON): `campaigns/<id>/_model/profile/profile.json`. */
export function profileKey(campaignId: string): string {
  return artifactKey(campaignId, MODEL_LABEL, 'profile', 'profile.json');
}

/** The dense model's ONNX file: `campaigns/<id>/_model/onnx/dense.onnx`. */
export function denseOnnxKey(campaignId: string): string {
  return artifactKey(campaignId, MODEL_LABEL, 'onnx', 'dense.onnx');
}

/** Folder of one prune trial's model files: `campaigns/<id>/<target>/candidates/attempt-<n>`. */
export function candidateModelFolder(campaignId: string, target: string, attemptIndex: number): string {
  return `${artifactFolder(campaignId, target, 'candidates')}/attempt-${attemptIndex}`;
}

/** One part of a search's strategy-log snapshots: `campaigns/<id>/<target>/log/attempts-<part>.json`. */
export function strategyLogKey(campaignId: string, target: string, part: number): string {
  return artifactKey(campaignId, target, 'log', `attempts-${part}.json`);
}

/** A fine-tune checkpoint (step zero-padded so keys sort by step): `.../checkpoints/ckpt-000000400.pt`. */
export function checkpointKey(campaignId: string, target: string, step: number): string {
  return artifactKey(campaignId, target, 'checkpoints', `ckpt-${String(step).padStart(9, '0')}.pt`);
}

/** The prefix of one target's checkpoints, `campaigns/<id>/<target>/checkpoints/`: every {@link checkpointKey} starts with it. */
export function checkpointFolder(campaignId: string, target: string): string {
  return `${artifactFolder(campaignId, target, 'checkpoints')}/`;
}

/** The per-stage sensitivity table (JSON) of a search: `campaigns/<id>/<target>/sensitivity/sensitivity.json`. */
export function sensitivityKey(campaignId: string, target: string): string {
  return artifactKey(campaignId, target, 'sensitivity', 'sensitivity.json');
}

/**
 * A checkpoint of one candidate's recovery fine-tune (step zero-padded):
 * `campaigns/<id>/<target>/scoring/attempt-<n>/ckpt-000000250.pt`.
 */
export function scoringCheckpointKey(
  campaignId: string,
  target: string,
  attemptIndex: number,
  step: number,
  rescore = false,
): string {
  const name = `ckpt-${String(step).padStart(9, '0')}.pt`;
  return validateKey(`${scoringCheckpointFolder(campaignId, target, attemptIndex, rescore)}${name}`);
}

/**
 * The prefix of one candidate's recovery checkpoints: every {@link scoringCheckpointKey} of it starts with it.
 * A finalist's second score (`rescore`) has its own, outside the first's: `.../scoring/attempt-3-rescore/`.
 */
export function scoringCheckpointFolder(
  campaignId: string,
  target: string,
  attemptIndex: number,
  rescore = false,
): string {
  return `${artifactFolder(campaignId, target, 'scoring')}/attempt-${attemptIndex}${rescore ? '-rescore' : ''}/`;
}

/** Folder of the fine-tuned model's files: `campaigns/<id>/<target>/finetuned`. */
export function finetunedModelFolder(campaignId: string, target: string): string {
  return artifactFolder(campaignId, target, 'finetuned');
}

/** An ONNX file of the deployment check (`dense` or `pruned`): `campaigns/<id>/<target>/deploy/<name>.onnx`. */
export function deploymentOnnxKey(campaignId: string, target: string, name: string): string {
  return artifactKey(campaignId, target, 'deploy', `${name}.onnx`);
}

/** The Claude agent's transcript of one attempt: `campaigns/<id>/<target>/transcripts/attempt-<n>.json`. */
export function transcriptKey(campaignId: string, target: string, attempt: number): string {
  return artifactKey(campaignId, target, 'transcripts', `attempt-${attempt}.json`);
}

/** The campaign report (`report.html` or `report.json`): `campaigns/<id>/_report/<file>`. */
export function reportKey(campaignId: string, file: 'report.html' | 'report.json'): string {
  return segments({ campaignId, label: REPORT_LABEL, file });
}
