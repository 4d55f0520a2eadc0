/**
 * The `search` block of the campaigns bench/accuracy starts, and the check that refuses a bad one before the
 * bench makes its dataset and dense model.
 */
import { SearchConfigSchema, type CampaignConfigInput, type RankBy } from '../src/core/campaign-config';

export type ScoringMode = 'zero-shot' | 'recovery';

/** The bench's options that go into a campaign's `search` block. */
export interface SearchOptions {
  candidates: number;
  maxIterations: number;
  recovery: { steps: number; batchSize: number; lr: number };
  /** `search.rankBy` of the campaigns. */
  rankBy: RankBy;
  /** `search.scoreImages` of the campaigns; undefined: the engine's default (256). */
  scoreImages: number | undefined;
  sensitivity: number[] | null;
}

/** The `search` block of the campaign bench/accuracy starts for one scoring mode. */
export function campaignSearch(mode: ScoringMode, o: SearchOptions): CampaignConfigInput['search'] {
  return {
    agent: 'solver',
    fallbackAgent: 'solver',
    maxIterations: o.maxIterations,
    scoring: mode,
    candidates: o.candidates,
    ...(mode === 'recovery' ? { recovery: o.recovery } : {}),
    ...(o.rankBy !== 'top1' ? { rankBy: o.rankBy } : {}),
    ...(o.scoreImages !== undefined ? { scoreImages: o.scoreImages } : {}),
    ...(o.sensitivity ? { sensitivity: { ratios: o.sensitivity } } : {}),
  };
}

/**
 * What the campaign config refuses in the search block of `mode` (the field, then why), or `undefined`: checked
 * before the dataset and the dense model are made, so a bad `--score-images` does not wait an hour to fail.
 */
export function campaignSearchError(mode: ScoringMode, o: SearchOptions): string | undefined {
  const parsed = SearchConfigSchema.safeParse(campaignSearch(mode, o));
  if (parsed.success) return undefined;
  const issue = parsed.error.issues[0];
  return `search.${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'rejected'}`;
}
