/**
 * The `search` block of the campaigns bench/accuracy starts, and the check that refuses a bad one before the
 * bench makes its dataset and dense model.
 */
import { SearchConfigSchema, type CampaignConfigInput, type RankBy } from '../src/core/campaign-config';
import { modeLabel } from './accuracy-verdicts';

export type ScoringMode = 'zero-shot' | 'recovery';

/**
 * A kind of campaign of `--modes`: one of the scoring modes, configured by the bench's options, or `default`:
 * the search block a user who leaves the search to the tool writes (agent and iterations only), so the
 * campaign gets the product's defaults with a dataset (core/campaign-config `DATASET_SEARCH_DEFAULTS`), or
 * `older-default`: the same with `extendedSearch: 3`, the search every config parsed to before those
 * defaults (zero-shot scores alone, three extended shapes). The bench's `--candidates`, `--sensitivity` and
 * `--rescore` do not apply to these two. The campaigns carry no `finetune` (the bench fine-tunes every candidate
 * itself), so the defaults' cap on the finalists (`rescore.maxShare`) is not planned; at the bench's 2,442-step
 * fine-tune it would leave their 3 x 40 steps as they are.
 */
export type CampaignMode = ScoringMode | 'default' | 'older-default';

/** The modes `--modes` takes. */
export const CAMPAIGN_MODES: readonly CampaignMode[] = ['zero-shot', 'recovery', 'default', 'older-default'];

/** The bench's options that go into a campaign's `search` block. */
export interface SearchOptions {
  candidates: number;
  maxIterations: number;
  recovery: { steps: number; batchSize: number; lr: number };
  /** `search.rankBy` of the campaigns. */
  rankBy: RankBy;
  /** `search.scoreImages` of the campaigns; undefined: the engine's default (10 per class, 256 to 1,000). */
  scoreImages: number | undefined;
  sensitivity: number[] | null;
  /**
   * `search.recovery.rescore` of the campaigns (`--rescore TOP:STEPS`): after 10-step or zero-shot first
   * scores, as the mode says; undefined: one stage.
   */
  rescore?: { top: number; steps: number };
}

/** The `search` block of the campaign bench/accuracy starts for one scoring mode. */
export function campaignSearch(mode: CampaignMode, o: SearchOptions): CampaignConfigInput['search'] {
  // What every mode's campaign shares: the agent, its iterations, how a score ranks and on how many images.
  const common = {
    agent: 'solver',
    fallbackAgent: 'solver',
    maxIterations: o.maxIterations,
    ...(o.rankBy !== 'top1' ? { rankBy: o.rankBy } : {}),
    ...(o.scoreImages !== undefined ? { scoreImages: o.scoreImages } : {}),
  } as const;
  if (mode === 'default') return common;
  if (mode === 'older-default') return { ...common, extendedSearch: 3 };
  return {
    ...common,
    scoring: mode,
    candidates: o.candidates,
    ...(mode === 'recovery'
      ? { recovery: { ...o.recovery, ...(o.rescore ? { rescore: o.rescore } : {}) } }
      : o.rescore
        ? // A zero-shot first stage: the recovery is the finalists' alone.
          { recovery: { batchSize: o.recovery.batchSize, lr: o.recovery.lr, rescore: o.rescore } }
        : {}),
    ...(o.sensitivity ? { sensitivity: { ratios: o.sensitivity } } : {}),
  };
}

/**
 * What the campaign config refuses in the search block of `mode` (the field, then why), or `undefined`: checked
 * before the dataset and the dense model are made, so a bad `--score-images` does not wait an hour to fail.
 */
export function campaignSearchError(mode: CampaignMode, o: SearchOptions): string | undefined {
  const parsed = SearchConfigSchema.safeParse(campaignSearch(mode, o));
  if (parsed.success) return undefined;
  const issue = parsed.error.issues[0];
  return `search.${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'rejected'}`;
}

/** One kind of campaign bench/accuracy runs per model and target: a scoring mode, and a recovery's length. */
export interface CampaignRun {
  mode: CampaignMode;
  /** `search.recovery.steps` of a recovery run. */
  recoverySteps?: number;
  /**
   * How its rows are named: the mode, with the steps when `--recovery-steps` lists several (`recovery 40 steps`)
   * or with `--rescore` (`recovery 10 steps, top 3 again at 40`).
   */
  label: string;
}

/**
 * The campaigns of `--modes` and `--recovery-steps` (a list: one recovery campaign per length, e.g. `10,40,160`),
 * in that order; a bad length is refused naming the option.
 *
 * @example
 * campaignRuns(['zero-shot', 'recovery'], [40]) // zero-shot; recovery (40 steps)
 * campaignRuns(['recovery'], [10, 160])        // recovery 10 steps; recovery 160 steps
 * campaignRuns(['recovery'], [10], { top: 3, steps: 40 }) // recovery 10 steps, top 3 again at 40
 * campaignRuns(['zero-shot'], [40], { top: 3, steps: 40 }) // zero-shot, top 3 again at 40
 */
export function campaignRuns(
  modes: readonly string[],
  recoverySteps: readonly number[],
  rescore?: { top: number; steps: number },
): CampaignRun[] {
  const unknown = modes.find((m) => !(CAMPAIGN_MODES as readonly string[]).includes(m));
  if (unknown !== undefined)
    throw new Error(`--modes: expected some of ${CAMPAIGN_MODES.join(', ')}; got ${JSON.stringify(unknown)}`);
  if (!recoverySteps.length)
    throw new Error('--recovery-steps: expected one or more step counts, e.g. 40 or 10,40,160');
  for (const n of recoverySteps)
    if (!Number.isInteger(n) || n < 1)
      throw new Error(
        `--recovery-steps: expected whole numbers of at least 1, got ${recoverySteps.join(',')}`,
      );
  return (modes as readonly CampaignMode[]).flatMap((mode): CampaignRun[] =>
    mode === 'default' || mode === 'older-default'
      ? [{ mode, label: mode }]
      : mode === 'recovery'
        ? recoverySteps.map((steps) => ({
            mode,
            recoverySteps: steps,
            // The verdicts' name for a length, when there are several to tell apart.
            label:
              recoverySteps.length > 1 || rescore
                ? modeLabel({ mode, scoreSteps: steps, ...(rescore ? { rescore } : {}) })
                : mode,
          }))
        : [{ mode, label: rescore ? modeLabel({ mode, rescore }) : mode }],
  );
}

/**
 * `--rescore TOP:STEPS`: the campaigns score every candidate (zero-shot, or with `--recovery-steps`), then the
 * TOP best again with STEPS recovery steps (`search.recovery.rescore`); refused unless TOP >= 2 and STEPS >= 1.
 *
 * @example
 * parseRescore('3:40') // { top: 3, steps: 40 }
 */
export function parseRescore(text: string): { top: number; steps: number } {
  const m = /^(\d+):(\d+)$/.exec(text.trim());
  const [top, steps] = m ? m.slice(1).map(Number) : [];
  if (!m || top! < 2 || steps! < 1)
    throw new Error(
      `--rescore: expected TOP:STEPS, TOP >= 2 finalists scored again with STEPS >= 1 recovery steps, e.g. 3:40; got ${JSON.stringify(text)}`,
    );
  return { top: top!, steps: steps! };
}
