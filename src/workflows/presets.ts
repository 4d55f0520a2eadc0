import type { ActivityOptions } from '@temporalio/workflow';
import { FailureTypes } from '../activities/failure-types';

/** Task queues: `control` runs workflows, LLM calls and reports; `gpu` runs engine jobs. */
export const TaskQueues = { control: 'control', gpu: 'gpu' } as const;

/**
 * Timeout/retry presets, declared once and named. Permanent failures are non-retryable
 * ApplicationFailures thrown by the activities themselves; everything else is retried by these policies.
 */
export const ActivityPresets = {
  /** Profile a dense model: import torch, build, trace, count (minutes on a cold CPU host). */
  profile: {
    taskQueue: TaskQueues.gpu,
    startToCloseTimeout: '30 minutes',
    heartbeatTimeout: '10 minutes',
    retry: { maximumAttempts: 3, initialInterval: '2s', backoffCoefficient: 2 },
  },
  /** One prune trial on the warm engine (about a second warm; a cold start pays imports). */
  pruneTrial: {
    taskQueue: TaskQueues.gpu,
    startToCloseTimeout: '20 minutes',
    heartbeatTimeout: '10 minutes',
    retry: { maximumAttempts: 3, initialInterval: '2s', backoffCoefficient: 2 },
  },
  /** An LLM or solver proposal. The SDK retries 429/529 itself; the agent falls back on its own. */
  llmCall: {
    taskQueue: TaskQueues.control,
    startToCloseTimeout: '5 minutes',
    retry: { maximumAttempts: 3, initialInterval: '1s', backoffCoefficient: 2 },
  },
  /** Small artifact moves (strategy log snapshots, reports). */
  storage: {
    taskQueue: TaskQueues.control,
    startToCloseTimeout: '5 minutes',
    retry: { maximumAttempts: 10, initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '1 minute' },
  },
  /** Fine-tuning: days long, heartbeats carry the last checkpoint reference. */
  fineTune: {
    taskQueue: TaskQueues.gpu,
    startToCloseTimeout: '14 days',
    heartbeatTimeout: '5 minutes',
    retry: {
      maximumAttempts: 20,
      initialInterval: '5s',
      backoffCoefficient: 2,
      maximumInterval: '5 minutes',
      nonRetryableErrorTypes: [
        FailureTypes.engineRequest,
        FailureTypes.outOfMemory,
        FailureTypes.checkpointMismatch,
        FailureTypes.config,
      ],
    },
  },
  /** Evaluation and deployment check (export, latency). */
  evaluate: {
    taskQueue: TaskQueues.gpu,
    startToCloseTimeout: '1 day',
    heartbeatTimeout: '10 minutes',
    retry: { maximumAttempts: 5, initialInterval: '5s', backoffCoefficient: 2 },
  },
} satisfies Record<string, ActivityOptions>;
