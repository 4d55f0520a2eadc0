/**
 * The `search` block of the campaigns bench/accuracy starts, and the check that refuses a bad one before the
 * bench makes its dataset and dense model.
 */
import { SearchConfigSchema, type CampaignConfigInput, type RankBy } from '../src/core/campaign-config';
import { modeLabel } from './accuracy-verdicts';

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

/** One kind of campaign bench/accuracy runs per model and target: a scoring mode, and a recovery's length. */
export interface CampaignRun {
  mode: ScoringMode;
  /** `search.recovery.steps` of a recovery run. */
  recoverySteps?: number;
  /** How its rows are named: the mode, with the steps when `--recovery-steps` lists several (`recovery 40 steps`). */
  label: string;
}

/**
 * The campaigns of `--modes` and `--recovery-steps` (a list: one recovery campaign per length, e.g. `10,40,160`),
 * in that order; a bad length is refused naming the option.
 *
 * @example
 * campaignRuns(['zero-shot', 'recovery'], [40]) // zero-shot; recovery (40 steps)
 * campaignRuns(['recovery'], [10, 160])        // recovery 10 steps; recovery 160 steps
 */
export function campaignRuns(modes: readonly ScoringMode[], recoverySteps: readonly number[]): CampaignRun[] {
  if (!recoverySteps.length)
    throw new Error('--recovery-steps: expected one or more step counts, e.g. 40 or 10,40,160');
  for (const n of recoverySteps)
    if (!Number.isInteger(n) || n < 1)
      throw new Error(
        `--recovery-steps: expected whole numbers of at least 1, got ${recoverySteps.join(',')}`,
      );
  return modes.flatMap((mode): CampaignRun[] =>
    mode === 'recovery'
      ? recoverySteps.map((steps) => ({
          mode,
          recoverySteps: steps,
          // The verdicts' name for a length, when there are several to tell apart.
          label: recoverySteps.length > 1 ? modeLabel({ mode, scoreSteps: steps }) : mode,
        }))
      : [{ mode, label: mode }],
  );
}
