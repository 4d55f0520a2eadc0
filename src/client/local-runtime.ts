import { DefaultLogger, NativeConnection, Runtime, type Worker } from '@temporalio/worker';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import type { Client } from '@temporalio/client';
import type { ActivityDeps } from '../activities';
import { repoRoot } from '../engine/engine-paths';
import { createDefaultDeps } from '../workers/default-deps';
import { createWorkers, type QueueName } from '../workers/create-workers';
import type { DeviceSlot } from '../workers/device-slots';
import type { WorkerEnv } from '../workers/worker-config';
import { connectClient, ServiceUnavailableError } from './connect';
import { workerLogFunction } from './worker-log';

/** Run `infra/services.sh <action> [service]`, streaming its output to stderr; throws on failure. */
export function runServices(action: 'start' | 'stop' | 'status' | 'restart', service = 'all'): number {
  const script = path.join(repoRoot(), 'infra', 'services.sh');
  // Its progress lines go to stderr: stdout stays for what a command prints (bench JSON, --json output).
  const r = spawnSync('bash', [script, action, service], { stdio: ['ignore', 2, 2] });
  return r.status ?? 1;
}

/** Workers and a client in this process: what `demo` and `worker` run. */
export interface LocalRuntime {
  client: Client;
  workers: Worker[];
  deps: ActivityDeps;
  /** Resolves when every worker has stopped. */
  running: Promise<void>;
  stop(): Promise<void>;
}

/**
 * Connect (starting the local Temporal dev server first when `startServer`), create workers for
 * `queues` with real deps, and run them.
 */
export async function startLocalRuntime(opts: {
  env: WorkerEnv;
  processEnv: NodeJS.ProcessEnv;
  queues: QueueName[];
  startServer: boolean;
  /** Device slots (`--devices`): one trials and one train job per slot, engines pinned. @default one, unpinned */
  slots?: readonly DeviceSlot[];
  /** Devices per train slot (`--gpus-per-job`). @default 1 */
  gpusPerJob?: number;
  /** @default 'WARN' */
  logLevel?: 'TRACE' | 'DEBUG' | 'INFO' | 'WARN' | 'ERROR';
  /** Print the stacks of activity failures (one line each otherwise). @default false */
  verbose?: boolean;
}): Promise<LocalRuntime> {
  try {
    // Workers log warnings and errors, one line each; routine state changes would drown the CLI's output.
    Runtime.install({
      logger: new DefaultLogger(opts.logLevel ?? 'WARN', workerLogFunction(opts.verbose === true)),
    });
  } catch {
    // already installed in this process
  }
  if (opts.startServer && runServices('start', 'temporal') !== 0) {
    throw new ServiceUnavailableError(
      'temporal',
      opts.env.TEMPORAL_ADDRESS,
      'infra/services.sh could not start it',
    );
  }
  const client = await connectClient(opts.env.TEMPORAL_ADDRESS, opts.env.TEMPORAL_NAMESPACE);
  let connection: NativeConnection;
  try {
    connection = await NativeConnection.connect({ address: opts.env.TEMPORAL_ADDRESS });
  } catch (err) {
    throw new ServiceUnavailableError('temporal', opts.env.TEMPORAL_ADDRESS, (err as Error).message);
  }
  const deps = createDefaultDeps(opts.env, opts.processEnv, opts.slots ? { slots: opts.slots } : {});
  const workers = await createWorkers({
    connection,
    namespace: opts.env.TEMPORAL_NAMESPACE,
    queues: opts.queues,
    deps,
    slots: deps.engine.slots.length,
    ...(opts.gpusPerJob ? { gpusPerJob: opts.gpusPerJob } : {}),
  });
  const running = Promise.all(workers.map((w) => w.run())).then(() => undefined);
  return {
    client,
    workers,
    deps,
    running,
    async stop() {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
      await running.catch(() => undefined);
      await deps.close();
      await connection.close();
      await client.connection.close();
    },
  };
}
