// What the CLI exits with for each layer's errors, read from the error itself (one root per layer).
import { ClaudeConfigError } from '../../src/agents/claude';
import { ConfigFileError } from '../../src/client/config-file';
import { CampaignIdTakenError, CampaignNotFoundError } from '../../src/client/campaign-client';
import { CampaignFailedError, ServerRejectedError } from '../../src/client/errors';
import { PreflightError } from '../../src/client/preflight';
import { ServiceUnavailableError } from '../../src/client/connect';
import { UsageError } from '../../src/client/errors';
import { ConfigError, ExitCode, PrunerError } from '../../src/core/errors';
import { EngineCancelledError, EngineJobError, EngineProcessError } from '../../src/engine/errors';
import {
  OnnxCancelledError,
  OnnxFormatError,
  OnnxInputShapeError,
  OnnxRuntimeError,
  UnsupportedOpError,
} from '../../src/onnx/errors';
import { ArtifactKeyError, ArtifactNotFoundError } from '../../src/storage';

test.each([
  // [error, exit code, printed without a stack]
  [new UsageError('bad flag'), ExitCode.usage, true],
  [new ConfigFileError('c.yaml', ['x: bad']), ExitCode.usage, true],
  [new ConfigError('campaign config', []), ExitCode.usage, true],
  [new CampaignNotFoundError('c-1'), ExitCode.usage, true],
  [new CampaignIdTakenError('c-1'), ExitCode.usage, true],
  [new PreflightError('c.yaml', ['dataset.root: missing']), ExitCode.usage, true],
  [new ServerRejectedError('--query', 'bad'), ExitCode.usage, true],
  [new CampaignFailedError('c-1', 'FAILED', 'unknown model'), ExitCode.failed, true],
  [
    new EngineJobError('prune', 'RequestError', 'bad ratio', 'strategy.pruningRatio', false),
    ExitCode.usage,
    true,
  ],
  [new ServiceUnavailableError('temporal', '127.0.0.1:7233', 'refused'), ExitCode.failed, true],
  [new EngineJobError('prune', 'OutOfMemory', 'oom', null, false), ExitCode.failed, false],
  [new EngineProcessError('prune', 'died', ''), ExitCode.failed, false],
  [new EngineCancelledError('prune'), ExitCode.failed, false],
  [new ArtifactKeyError('..', 'bad'), ExitCode.failed, false],
  [new ArtifactNotFoundError('s3://b', 'k'), ExitCode.failed, false],
  // A bad ONNX file is bad input: one line, exit 2 (issue 16: it printed a stack and exited 1).
  [new OnnxFormatError('m.onnx', 'truncated'), ExitCode.usage, true],
  [new OnnxInputShapeError('m.onnx', 'x', [1, 2 ** 40], 'too big'), ExitCode.usage, true],
  [new UnsupportedOpError('Foo', 'n1', 17), ExitCode.failed, true],
  [new OnnxRuntimeError('m.onnx', 'cuda unavailable'), ExitCode.failed, true],
  [new OnnxCancelledError('m.onnx'), ExitCode.failed, true],
  // No API key for agent claude: a usage error, one line (it exited 1 with a stack).
  [new ClaudeConfigError('ANTHROPIC_API_KEY is not set'), ExitCode.usage, true],
])('%s: exit %d, message only %s', (err, exitCode, messageOnly) => {
  expect(err).toBeInstanceOf(PrunerError);
  expect(err.exitCode).toBe(exitCode);
  expect(err.messageOnly).toBe(messageOnly);
});
