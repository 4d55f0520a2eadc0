import { Context } from '@temporalio/activity';

/** How often a long activity heartbeats: every few seconds, far inside its heartbeat timeout. */
export const HEARTBEAT_EVERY_MS = 5000;

/**
 * Run `fn` while heartbeating every {@link HEARTBEAT_EVERY_MS} (a third of the heartbeat timeout when that
 * is shorter, at least 1 s), with `details()` as the details. A worker that dies stops heartbeating, so the
 * server retries its activity elsewhere after the (short) heartbeat timeout of its preset instead of
 * waiting out a long one; a live worker waiting for the engine (importing torch, queued behind another
 * job, uploading) never looks dead. Outside an activity (the CLI calls activities directly) it just runs `fn`.
 *
 * @example
 * ```ts
 * let progress = { stage: 'starting', fraction: null };
 * const raw = await keepHeartbeating(() => engine.run('profile', req, { onProgress: (ev) => (progress = ev) }),
 *   () => progress);
 * ```
 */
export async function keepHeartbeating<T>(fn: () => Promise<T>, details?: () => unknown): Promise<T> {
  let ctx: Context;
  try {
    ctx = Context.current();
  } catch {
    return fn();
  }
  const timeoutMs = ctx.info.heartbeatTimeoutMs;
  const everyMs = Math.max(
    1000,
    Math.min(HEARTBEAT_EVERY_MS, timeoutMs ? timeoutMs / 3 : HEARTBEAT_EVERY_MS),
  );
  const beat = () => ctx.heartbeat(details?.());
  beat();
  const timer = setInterval(beat, everyMs);
  try {
    return await fn();
  } finally {
    clearInterval(timer);
  }
}
