import { bundleWorkflowCode } from '@temporalio/worker';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ensureServices } from './services';

/**
 * Once per jest run: start the real services (Temporal dev server, versitygw) through infra/services.sh,
 * and bundle the workflow code once (tests start workers from the bundle, not from source).
 */
export default async function globalSetup(): Promise<void> {
  const services = await ensureServices();
  process.env.AP_TEST_TEMPORAL_ADDRESS = services.temporalAddress;
  // The CLI under test reads TEMPORAL_ADDRESS like a user's shell would.
  process.env.TEMPORAL_ADDRESS = services.temporalAddress;
  process.env.AP_TEST_S3 = JSON.stringify(services.s3);
  const outDir = path.join(__dirname, '..', '..', '.state', 'test-cache');
  fs.mkdirSync(outDir, { recursive: true });
  const bundle = await bundleWorkflowCode({
    workflowsPath: require.resolve('../../src/workflows'),
    logger: { info() {}, warn() {}, error: console.error, debug() {}, trace() {}, log() {} },
  });
  const codePath = path.join(outDir, 'workflow-bundle.js');
  fs.writeFileSync(codePath, bundle.code);
  process.env.AP_TEST_WORKFLOW_BUNDLE = codePath;
}
