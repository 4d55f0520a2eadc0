/**
 * The engine's JSON-lines events (see engine/agentic_engine/protocol.py). One JSON object per stdout line.
 */
export type EngineEvent =
  | { event: 'ready'; protocol: number; id?: string }
  | { event: 'progress'; stage: string; fraction: number | null; id?: string; [k: string]: unknown }
  | {
      event: 'artifact';
      kind: string;
      path: string;
      sha256: string;
      sizeBytes: number;
      id?: string;
      [k: string]: unknown;
    }
  | { event: 'result'; data: Record<string, unknown>; id?: string }
  | { event: 'error'; type: string; message: string; field: string | null; retryable?: boolean; id?: string };

/** The protocol version this TS side speaks; the warm engine announces its own in `ready`. */
export const ENGINE_PROTOCOL_VERSION = 1;

/** Parse one stdout line into an event, or `undefined` if it is not a protocol event. */
export function parseEventLine(line: string): EngineEvent | undefined {
  const trimmed = line.trim();
  if (!trimmed.startsWith('{')) return undefined;
  try {
    const value = JSON.parse(trimmed) as unknown;
    if (
      value !== null &&
      typeof value === 'object' &&
      typeof (value as { event?: unknown }).event === 'string'
    ) {
      return value as EngineEvent;
    }
  } catch {
    // not a protocol line: the engine only writes events to stdout, but a library may print
  }
  return undefined;
}

/** Callbacks a caller gets while a job runs. */
export interface JobListener {
  onProgress?: (event: Extract<EngineEvent, { event: 'progress' }>) => void;
  onArtifact?: (event: Extract<EngineEvent, { event: 'artifact' }>) => void | Promise<void>;
}

/** Options of one job run. */
export interface JobOptions extends JobListener {
  /** Kills the engine process when aborted. */
  signal?: AbortSignal;
  /** Fails the job if it runs longer. @default no limit */
  timeoutMs?: number;
}
