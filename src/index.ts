/**
 * agentic-pruner's programmatic API: the typed campaign client, the config schemas and the contracts.
 */
export {
  CampaignClient,
  CampaignNotFoundError,
  type CampaignListRow,
  type WatchFrame,
} from './client/campaign-client';
export { connectClient, ServiceUnavailableError } from './client/connect';
export { loadCampaignFile, ConfigFileError } from './client/config-file';
export { CampaignConfigSchema, type CampaignConfig, type CampaignConfigInput } from './core/campaign-config';
export { StrategySchema, type Strategy } from './core/strategy';
export { ProfileSchema, type Profile } from './core/profile';
export { AttemptSchema, type Attempt } from './core/attempt';
export { parseBand, formatBand, type Band } from './core/tolerance-band';
export { parseMacs, formatMacs } from './core/units';
export type { CampaignResult } from './workflows/campaign';
export type { StrategyLog } from './workflows/definitions';
