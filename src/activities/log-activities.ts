import type { ArtifactRef } from '../core/artifact-ref';
import { AttemptSchema, type Attempt } from '../core/attempt';
import { parseWith } from '../core/errors';
import { Context } from '@temporalio/activity';
import { campaignFolder, strategyLogKey } from '../storage/keys';
import type { ActivityDeps } from './deps';

/**
 * Snapshots of the strategy log, so continue-as-new carries a reference instead of every attempt; and the
 * campaign's last sweep of its store folder.
 */
export function createLogActivities(deps: ActivityDeps) {
  return {
    async saveStrategyLog(input: {
      campaignId: string;
      targetLabel: string;
      attempts: Attempt[];
      part: number;
    }): Promise<ArtifactRef> {
      const key = strategyLogKey(input.campaignId, input.targetLabel, input.part);
      return deps.store.put(key, { bytes: Buffer.from(JSON.stringify(input.attempts)) });
    },

    async loadStrategyLog(ref: ArtifactRef): Promise<Attempt[]> {
      const bytes = await deps.store.getBytes(ref);
      const raw = JSON.parse(Buffer.from(bytes).toString('utf8')) as unknown;
      return parseWith(AttemptSchema.array(), raw, `strategy log ${ref.uri}`);
    },

    /**
     * Discard what uploads killed mid-way left under the campaign's folder (S3 multipart parts, local temp
     * files): a killed worker cannot clean up after itself, and the retried activities sweep only their own
     * checkpoint folders (the ledger, on resume). Run once the campaign has nothing left in flight; each
     * discarded upload is a warning in the worker's log. Returns the keys discarded.
     */
    async discardIncompleteUploads(input: { campaignId: string }): Promise<{ discarded: string[] }> {
      const found = await deps.store.discardIncompleteUploads(campaignFolder(input.campaignId));
      for (const u of found)
        Context.current().log.warn(
          `discarded an incomplete upload of ${u.key} (a put its worker was killed in)`,
        );
      return { discarded: found.map((u) => u.key) };
    },
  };
}

export type LogActivities = ReturnType<typeof createLogActivities>;
