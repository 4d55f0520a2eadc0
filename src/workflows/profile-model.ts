import { proxyActivities } from '@temporalio/workflow';
import type { EngineActivities, ProfileModelInput, ProfileModelResult } from '../activities';
import { ActivityPresets } from './presets';

const { profileModel } = proxyActivities<EngineActivities>(ActivityPresets.profile);

/**
 * Profile one model: the engine job runs on the trials queue, the profile lands in the artifact store,
 * the workflow returns totals and the reference. The thinnest slice through every layer.
 */
export async function profileModelWorkflow(input: ProfileModelInput): Promise<ProfileModelResult> {
  return profileModel(input);
}
