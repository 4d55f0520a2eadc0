import type { ArtifactRef } from '../core/artifact-ref';
import { AttemptSchema, type Attempt } from '../core/attempt';
import { parseWith } from '../core/errors';
import { strategyLogKey } from '../storage/keys';
import type { ActivityDeps } from './deps';

/** Snapshots of the strategy log, so continue-as-new carries a reference instead of every attempt. */
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
  };
}

export type LogActivities = ReturnType<typeof createLogActivities>;
