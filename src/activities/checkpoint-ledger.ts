import { ApplicationFailure } from '@temporalio/common';
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { ArtifactRef } from '../core/artifact-ref';
import type { ArtifactStore, IncompleteUpload } from '../storage';

/** A checkpoint in the artifact store, as heartbeated: written completely before it is referenced. */
export interface CheckpointRef {
  step: number;
  ref: ArtifactRef;
}

/** Options of a {@link CheckpointLedger}. */
export interface CheckpointLedgerOptions {
  store: ArtifactStore;
  /** The artifact key of the checkpoint at `step`. */
  keyOf(step: number): string;
  /** How many verified checkpoints to keep, the newest. */
  keep: number;
  /**
   * How long a checkpoint that dropped out of the list survives before it is deleted: the heartbeat
   * timeout, since the SDK may send a heartbeat up to 0.8 x that late.
   */
  retireGraceMs: number;
  /** The clock of the grace period. @default Date.now */
  now?: () => number;
  /** Told about a checkpoint that cannot be used (corrupt or missing), a read retried, or an incomplete upload discarded. @default none */
  warn?: (message: string) => void;
  /**
   * The key prefix that holds this fine-tune's checkpoints and nothing else. When set, {@link resume}
   * deletes every object under it that the resumed list does not name: checkpoints an interrupted attempt
   * had retired but not yet deleted, and ones it stored but never heartbeated; and it discards the
   * incomplete uploads under it (a checkpoint upload the attempt was killed in). @default none (no sweep)
   */
  prefix?: string;
  /** Reads of one checkpoint that fail transiently before {@link resume} gives up on this attempt. @default 5 */
  readAttempts?: number;
  /** The wait after the first transient failure; it doubles after each. @default 1000 */
  readBackoffMs?: number;
  /** How to wait between reads. @default setTimeout */
  sleep?: (ms: number) => Promise<void>;
  /** Called before each wait between reads (the activity heartbeats its prior details). @default none */
  onRetry?: () => void;
}

/** What a failed checkpoint read means for resuming. */
export type CheckpointReadFailure = 'unusable' | 'transient' | 'fatal';

const TRANSIENT_SIGNS =
  /\(transient\)|\bHTTP 5\d\d\b|\b(429|50[0-4])\b|ServiceUnavailable|SlowDown|InternalError|ECONNRESET|ECONNREFUSED|ETIMEDOUT|EPIPE|EHOSTUNREACH|ENETUNREACH|EAI_AGAIN|socket hang up|network/i;

/**
 * Classify a failed checkpoint download. Only a checkpoint that is provably bad may be skipped:
 * - `unusable`: its bytes fail the sha256 (`ArtifactIntegrityError`) or it is gone (`ArtifactNotFoundError`);
 * - `transient`: the store said so (`ArtifactStoreError` with `retryable`, or a message that says transient,
 *   HTTP 5xx/429, or a network error): read it again;
 * - `fatal`: anything else (bad credentials, a full local disk...): fail the attempt, skip nothing.
 *
 * By `name`, not `instanceof`: a wrapping store or another copy of the module must classify the same.
 */
export function classifyCheckpointReadFailure(err: unknown): CheckpointReadFailure {
  const e = (err ?? {}) as { name?: unknown; retryable?: unknown; message?: unknown };
  if (e.name === 'ArtifactIntegrityError' || e.name === 'ArtifactNotFoundError') return 'unusable';
  if (e.name === 'ArtifactStoreError') return e.retryable === true ? 'transient' : 'fatal';
  return typeof e.message === 'string' && TRANSIENT_SIGNS.test(e.message) ? 'transient' : 'fatal';
}

/** The failure type of a resume that gave up on transient store errors: retryable by every policy. */
export const CHECKPOINT_STORE_UNAVAILABLE = 'CheckpointStoreUnavailable';

/**
 * The bookkeeping of a resumable fine-tune's checkpoints: which verified checkpoints the heartbeat
 * names, resuming from the newest usable one, and deleting old ones only when no heartbeat the server
 * may still hold names them.
 *
 * The order that keeps a crash safe, one checkpoint at a time:
 * 1. {@link record}: upload, verify the sha256 the engine reported, append to {@link checkpoints};
 * 2. the caller heartbeats {@link checkpoints};
 * 3. {@link retire}: the oldest beyond `keep` leave the list, and those that left more than
 *    `retireGraceMs` ago are deleted (so the server's last heartbeat never names a deleted object).
 *
 * @example
 * ```ts
 * const ledger = new CheckpointLedger({ store, keyOf, prefix, keep: 2, retireGraceMs: 300_000 }, prior?.checkpoints);
 * // { file, step } | undefined; retries transient reads; deletes what an interrupted attempt left under prefix
 * const resume = await ledger.resume(path.join(runDir, 'resume'));
 * // for each checkpoint the engine writes:
 * await ledger.record(step, file, sha256);
 * ctx.heartbeat({ checkpoints: ledger.checkpoints, step });
 * await ledger.retire();
 * // when the job is done (its result names ledger.latest()):
 * await ledger.finish();
 * ```
 */
export class CheckpointLedger {
  /** The checkpoints a heartbeat names, oldest first: each complete and verified. */
  checkpoints: CheckpointRef[];
  private readonly retired: { key: string; at: number }[] = [];
  private readonly now: () => number;

  constructor(
    private readonly opts: CheckpointLedgerOptions,
    prior: readonly CheckpointRef[] = [],
  ) {
    this.checkpoints = [...prior];
    this.now = opts.now ?? Date.now;
  }

  /** The newest checkpoint, if any. */
  latest(): CheckpointRef | undefined {
    return this.checkpoints[this.checkpoints.length - 1];
  }

  /**
   * Download the newest usable checkpoint into `dir` (verified by the store) and return its file and
   * step. A corrupt or missing one is forgotten, with every newer one, and the previous one is tried.
   * `undefined` when none is usable: the fine-tune starts over.
   *
   * A read that fails transiently is retried (`readAttempts`, backoff from `readBackoffMs`); if the store
   * stays unavailable, resume throws a retryable `CheckpointStoreUnavailable` failure with the list
   * untouched, so Temporal runs the attempt again from the same heartbeat. Any other failure is rethrown,
   * also skipping nothing. With `prefix`, stored checkpoints the resumed list does not name are deleted.
   */
  async resume(dir: string): Promise<{ file: string; step: number } | undefined> {
    const unusable: string[] = [];
    let found: { file: string; step: number } | undefined;
    for (let i = this.checkpoints.length - 1; i >= 0 && !found; i--) {
      const c = this.checkpoints[i]!;
      const dest = path.join(dir, `ckpt-${c.step}.pt`);
      await fs.mkdir(path.dirname(dest), { recursive: true });
      if (await this.download(c, dest)) {
        found = { file: dest, step: c.step };
      } else {
        unusable.push(...this.checkpoints.slice(i).map((x) => x.ref.key));
        this.checkpoints = this.checkpoints.slice(0, i);
      }
    }
    await this.sweep(unusable);
    return found;
  }

  /** True once `c` is at `dest`; false if it is unusable; throws when the store keeps failing. */
  private async download(c: CheckpointRef, dest: string): Promise<boolean> {
    const attempts = this.opts.readAttempts ?? 5;
    let wait = this.opts.readBackoffMs ?? 1000;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.opts.store.get(c.ref, dest);
        return true;
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        const kind = classifyCheckpointReadFailure(err);
        if (kind === 'unusable') {
          this.opts.warn?.(`checkpoint at step ${c.step} unusable, trying an older one: ${message}`);
          return false;
        }
        if (kind === 'fatal') throw err;
        if (attempt >= attempts) {
          throw ApplicationFailure.create({
            message:
              `checkpoint at step ${c.step}: the store failed ${attempt} reads transiently; ` +
              `the attempt fails for Temporal to retry, every checkpoint kept: ${message}`,
            type: CHECKPOINT_STORE_UNAVAILABLE,
            nonRetryable: false,
            ...(err instanceof Error ? { cause: err } : {}),
          });
        }
        this.opts.warn?.(
          `checkpoint at step ${c.step}: read ${attempt} of ${attempts} failed transiently, again in ${wait} ms: ${message}`,
        );
        this.opts.onRetry?.();
        await (this.opts.sleep ?? ((ms) => new Promise<void>((r) => setTimeout(r, ms))))(wait);
        wait *= 2;
      }
    }
  }

  /**
   * Delete what an interrupted attempt left under `prefix`: every object the list does not name (and the
   * `unusable` ones just forgotten), and every incomplete upload (S3 parts, local temp files) of a put it
   * was killed in — it cannot clean up after itself; this attempt, alive, does. Safe at once: the server's
   * heartbeat is the prior list, no object outside it is named by it, and no upload of this attempt has
   * begun yet (one a lingering earlier attempt still runs fails, as that attempt will anyway). Failures are
   * ignored (an orphan costs space, not correctness).
   */
  private async sweep(unusable: string[]): Promise<void> {
    if (this.opts.prefix === undefined) return;
    const named = new Set(this.checkpoints.map((c) => c.ref.key));
    const listed = await this.opts.store.list(this.opts.prefix).catch(() => undefined);
    const keys = new Set([...unusable, ...(listed ?? []).map((l) => l.key)]);
    for (const key of keys) {
      if (!named.has(key)) await this.opts.store.delete(key).catch(() => undefined);
    }
    const discarded = await this.opts.store
      .discardIncompleteUploads(this.opts.prefix)
      .catch(() => [] as IncompleteUpload[]);
    for (const u of discarded)
      this.opts.warn?.(`discarded an incomplete upload of ${u.key} (an interrupted attempt's)`);
  }

  /**
   * Upload the checkpoint file the engine wrote at `step` and append it once the stored bytes match the
   * engine's `sha256`. Throws (appending nothing) when the file changed while uploading.
   */
  async record(step: number, file: string, sha256: string): Promise<CheckpointRef> {
    const ref = await this.opts.store.put(this.opts.keyOf(step), { file });
    if (ref.sha256 !== sha256)
      throw new Error(`checkpoint ${file} changed while uploading (sha256 mismatch)`);
    const entry = { step, ref };
    // A step written again (the engine's last periodic checkpoint and its final one share a key) replaces its
    // entry: the object now holds the new bytes, and one key is never listed twice.
    this.checkpoints = [...this.checkpoints.filter((c) => c.ref.key !== ref.key), entry];
    return entry;
  }

  /**
   * After the heartbeat naming the newest checkpoint: drop the oldest beyond `keep` from the list and
   * delete those dropped more than `retireGraceMs` ago. Deletion failures are ignored (an orphan object
   * costs space, not correctness).
   */
  async retire(): Promise<void> {
    // In place, as fineTune always did: this may be the very array a pending heartbeat holds.
    while (this.checkpoints.length > this.opts.keep)
      this.retired.push({ key: this.checkpoints.shift()!.ref.key, at: this.now() });
    await this.deleteRetired(false);
  }

  /** Delete every retired checkpoint now: the job is done and no retry will read them. */
  async flush(): Promise<void> {
    await this.deleteRetired(true);
  }

  /**
   * The job is done: keep only the newest checkpoint (the one its result names; a retry after a lost
   * completion resumes from it, at the last step) and delete every other one now.
   */
  async finish(): Promise<void> {
    while (this.checkpoints.length > 1)
      this.retired.push({ key: this.checkpoints.shift()!.ref.key, at: this.now() });
    await this.deleteRetired(true);
  }

  private async deleteRetired(all: boolean): Promise<void> {
    while (this.retired.length > 0 && (all || this.now() - this.retired[0]!.at >= this.opts.retireGraceMs)) {
      await this.opts.store.delete(this.retired.shift()!.key).catch(() => undefined);
    }
  }
}
