import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import type { ArtifactRef } from '../core/artifact-ref';
import type { ArtifactStore } from '../storage';

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
  /** Told about a checkpoint that cannot be used (corrupt or missing). @default none */
  warn?: (message: string) => void;
}

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
 * const ledger = new CheckpointLedger({ store, keyOf, keep: 2, retireGraceMs: 300_000 }, prior?.checkpoints);
 * const resume = await ledger.resume(path.join(runDir, 'resume')); // { file, step } | undefined
 * // for each checkpoint the engine writes:
 * await ledger.record(step, file, sha256);
 * ctx.heartbeat({ checkpoints: ledger.checkpoints, step });
 * await ledger.retire();
 * // when the job is done:
 * await ledger.flush();
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
   */
  async resume(dir: string): Promise<{ file: string; step: number } | undefined> {
    for (let i = this.checkpoints.length - 1; i >= 0; i--) {
      const c = this.checkpoints[i]!;
      const dest = path.join(dir, `ckpt-${c.step}.pt`);
      await fs.mkdir(path.dirname(dest), { recursive: true });
      try {
        await this.opts.store.get(c.ref, dest);
        return { file: dest, step: c.step };
      } catch (err) {
        this.opts.warn?.(
          `checkpoint at step ${c.step} unusable, trying an older one: ${(err as Error).message}`,
        );
        this.checkpoints = this.checkpoints.slice(0, i);
      }
    }
    return undefined;
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
    this.checkpoints = [...this.checkpoints, entry];
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

  private async deleteRetired(all: boolean): Promise<void> {
    while (this.retired.length > 0 && (all || this.now() - this.retired[0]!.at >= this.opts.retireGraceMs)) {
      await this.opts.store.delete(this.retired.shift()!.key).catch(() => undefined);
    }
  }
}
