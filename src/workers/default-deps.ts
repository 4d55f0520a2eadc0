import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ActivityDeps } from '../activities';
import { createAgents } from '../agents';
import { defaultEngineLocation, repoRoot } from '../engine/engine-paths';
import { OneShotEngine, WarmEngine } from '../engine/engine-process';
import { SlotPool, slotEnv, type DeviceSlot } from './device-slots';
import { createArtifactStore, storeConfigFromEnv, type ArtifactStore } from '../storage';
import type { WorkerEnv } from './worker-config';

/** State directory: `AP_STATE_DIR` or `<repo>/.state`. */
export function stateDir(env: Pick<WorkerEnv, 'AP_STATE_DIR'>): string {
  return env.AP_STATE_DIR ?? path.join(repoRoot(), '.state');
}

/** The artifact store the environment names (`AP_STORE`...), local under the state dir by default. */
export function storeFromEnv(env: WorkerEnv, processEnv: NodeJS.ProcessEnv): ArtifactStore {
  return createArtifactStore(
    storeConfigFromEnv({ AP_STORE_ROOT: path.join(stateDir(env), 'artifacts'), ...processEnv }),
  );
}

/** One unpinned slot: a worker started without `--devices`. */
export const SINGLE_SLOT: readonly DeviceSlot[] = [{ index: 0, devices: [] }];

/**
 * Real deps for a worker process: the artifact store from the environment (local by default), one warm
 * engine per device slot for trials, one-shot engines for long jobs (each pinned to its slot's devices),
 * and the strategy agents (claude only with a key).
 */
export function createDefaultDeps(
  env: WorkerEnv,
  processEnv: NodeJS.ProcessEnv,
  overrides: { store?: ArtifactStore; slots?: readonly DeviceSlot[] } = {},
): ActivityDeps & { engine: SlotPool; oneShotEngine: SlotPool; close(): Promise<void> } {
  const dir = stateDir(env);
  const store = overrides.store ?? storeFromEnv(env, processEnv);
  const location = defaultEngineLocation(env.AP_ENGINE_PYTHON);
  const slots = overrides.slots ?? SINGLE_SLOT;
  const engine = new SlotPool(
    slots,
    slots.map((s) => new WarmEngine(location, { env: slotEnv(s) })),
  );
  const oneShotEngine = new SlotPool(
    slots,
    slots.map((s) => new OneShotEngine(location, { env: slotEnv(s) })),
  );
  const workDir = path.join(dir, 'work');
  fs.mkdirSync(workDir, { recursive: true });
  const agents = createAgents({
    store,
    ...(env.ANTHROPIC_API_KEY ? { anthropicApiKey: env.ANTHROPIC_API_KEY } : {}),
    ...(env.ANTHROPIC_BASE_URL ? { anthropicBaseUrl: env.ANTHROPIC_BASE_URL } : {}),
  });
  return {
    store,
    engine,
    oneShotEngine,
    agents,
    workDir,
    async close() {
      await engine.close();
    },
  };
}
