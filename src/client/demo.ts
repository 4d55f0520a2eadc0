import type { Command } from 'commander';
import { formatMacs } from '../core/units';
import type { ProfileModelResult } from '../activities';
import { TaskQueues } from '../workflows/presets';
import { readWorkerEnv } from '../workers/worker-config';
import { startLocalRuntime } from './local-runtime';

/** `demo`: everything on embedded defaults, on a laptop CPU. */
export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('run the system end to end on embedded defaults: local Temporal dev server, in-process workers, local artifact store')
    .option('--model <name>', 'model to profile', 'resnet18')
    .addHelpText('after', '\nExample:\n  $ agentic-pruner demo')
    .action(async (opts: { model: string }) => {
      const t0 = Date.now();
      const env = readWorkerEnv();
      const runtime = await startLocalRuntime({
        env,
        processEnv: process.env,
        queues: ['control', 'gpu'],
        startServer: !process.env.TEMPORAL_ADDRESS,
      });
      try {
        const workflowId = `demo-profile-${opts.model}-${Date.now()}`;
        console.error(`profiling ${opts.model} through workflow ${workflowId}...`);
        const result = (await runtime.client.workflow.execute('profileModelWorkflow', {
          taskQueue: TaskQueues.control,
          workflowId,
          args: [{ campaignId: workflowId, model: { name: opts.model } }],
        })) as ProfileModelResult;
        console.log(`${opts.model}: ${formatMacs(result.macs)} MACs, ${formatMacs(result.params)} params`);
        console.log(`profile: ${result.profile.uri} (sha256 ${result.profile.sha256.slice(0, 16)}...)`);
        console.log(`done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      } finally {
        await runtime.stop();
      }
    });
}
