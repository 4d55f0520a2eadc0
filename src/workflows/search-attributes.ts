import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

/**
 * Typed search attributes upserted by the workflows so `campaign list --query` can filter.
 * infra/services.sh registers the same names with the dev server.
 */
export const SA = {
  campaignId: defineSearchAttributeKey('ApCampaignId', SearchAttributeType.KEYWORD),
  model: defineSearchAttributeKey('ApModel', SearchAttributeType.KEYWORD),
  targetMacs: defineSearchAttributeKey('ApTargetMacs', SearchAttributeType.DOUBLE),
  stage: defineSearchAttributeKey('ApStage', SearchAttributeType.KEYWORD),
  iteration: defineSearchAttributeKey('ApIteration', SearchAttributeType.INT),
  bestDeviation: defineSearchAttributeKey('ApBestDeviation', SearchAttributeType.DOUBLE),
  converged: defineSearchAttributeKey('ApConverged', SearchAttributeType.BOOL),
  agent: defineSearchAttributeKey('ApAgent', SearchAttributeType.KEYWORD),
} as const;

/** The stages a campaign passes through (ApStage). */
export type CampaignStage =
  | 'profile'
  | 'search'
  | 'finetune'
  | 'evaluate'
  | 'deploy'
  | 'report'
  | 'done'
  | 'failed';
