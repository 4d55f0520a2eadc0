import { formatBand } from '../core/tolerance-band';
import { formatMacs } from '../core/units';
import type { WatchFrame } from './campaign-client';
import { attemptsTable, finalistsLine, fineTuneLine, scoringPlanLine } from './format';
import { BUSY_AFTER_MS, retryingLine, runningLine, waitingLine, type RunningJob } from './worker-presence';

/**
 * The lines of one frame of `campaign watch`: the campaign's stage and status, each target's strategy log
 * (table, scoring plan, finalists), then the running fine-tunes and the jobs that wait, retry or run.
 */
export function watchFrameLines(id: string, frame: WatchFrame): string[] {
  const lines = [`${id}  stage: ${frame.progress.stage}  status: ${frame.status}`];
  for (const l of frame.logs) {
    lines.push(
      '',
      `${l.targetLabel} -> ${formatMacs(l.targetMacs)} ${formatBand(l.band)} [${l.status}] agent ${l.agent}`,
      attemptsTable(l.attempts),
    );
    const plan = scoringPlanLine(l);
    if (plan) lines.push(plan);
    const finalists = finalistsLine(l);
    if (finalists) lines.push(finalists);
  }
  if (frame.finetunes.length > 0) lines.push('');
  for (const { targetLabel, heartbeat } of frame.finetunes) lines.push(fineTuneLine(targetLabel, heartbeat));
  for (const j of frame.waiting) lines.push(`waiting: ${waitingLine(j)}`);
  for (const j of frame.retrying) lines.push(`retrying: ${retryingLine(j)}`);
  for (const j of frame.running) lines.push(`running: ${runningLine(j)}`);
  return lines;
}

/** Heartbeat fields that move on every beat of a running job; {@link watchFrameKey} leaves them out. */
const MOVING_DETAILS = new Set(['fraction', 'step', 'checkpoints']);

/**
 * What has to change for a log (watch's output to a file or a pipe) to get a new frame: the frame without
 * what moves on every poll. Left out: how long a job has waited (but not whether it waited long enough to
 * find every slot busy), when a retry is next, a heartbeat's age,
 * a running job's step or fraction, and a fine-tune's step within a tenth of its steps (its tenths stay in,
 * so a fine-tune of hours logs ten lines, not one per heartbeat). Everything else is in: the status and
 * stage, every attempt and score, the scoring plan and finalists, which jobs wait or retry (and why), and
 * which job runs at which stage (a sensitivity table's row, a prune trial's stage).
 *
 * @example
 * // Two polls 1 s apart while attempt 4 is scored: its step went 12 -> 14 and its heartbeat aged 3 s.
 * watchFrameKey(first) === watchFrameKey(second) // true: the log gets no second frame
 */
export function watchFrameKey(frame: WatchFrame): string {
  const running = (j: RunningJob) => ({
    activityType: j.activityType,
    workflowId: j.workflowId,
    details: Object.fromEntries(Object.entries(j.details).filter(([k]) => !MOVING_DETAILS.has(k))),
  });
  return JSON.stringify({
    status: frame.status,
    stage: frame.progress.stage,
    logs: frame.logs.map((l) => [
      l.targetLabel,
      l.status,
      l.agent,
      attemptsTable(l.attempts),
      scoringPlanLine(l),
      finalistsLine(l),
    ]),
    finetunes: frame.finetunes.map(({ targetLabel, heartbeat: h }) => [
      targetLabel,
      h.totalSteps ? Math.floor((10 * h.step) / h.totalSteps) : null,
      h.totalSteps,
    ]),
    waiting: frame.waiting.map((j) => [
      j.activityType,
      j.targetLabel,
      j.attempt,
      j.queue,
      j.pollers,
      j.slots,
      j.waitingMs >= BUSY_AFTER_MS,
    ]),
    retrying: frame.retrying.map((j) => [j.activityType, j.targetLabel, j.attempt, j.reason]),
    running: frame.running.map(running),
  });
}

/** Options of {@link watchPrinter}. */
export interface WatchPrinterOptions {
  /** Whether the output is a terminal: then every frame redraws the screen. */
  terminal: boolean;
  /** The clock of a log's frame stamps. @default () => new Date() */
  now?: () => Date;
}

/** ANSI: clear the screen and put the cursor home. */
const CLEAR_SCREEN = '\x1b[2J\x1b[H';

/**
 * What `campaign watch` writes for each frame it polls. On a terminal, every frame, redrawn over the last.
 * To a file or a pipe (a `nohup` log, CI), a frame only when its {@link watchFrameKey} changed (the last,
 * which says how the campaign ended, always has): each headed by its UTC time and set off by a blank line, so that a fine-tune of
 * hours leaves a log of some tens of frames that say when each thing happened, not one frame per second.
 * Returns `undefined` for a frame to skip.
 *
 * @example
 * const print = watchPrinter('c1', { terminal: false });
 * print(frame1) // '[2026-12-07T22:41:03Z] c1  stage: searching  status: RUNNING\n...\n'
 * print(frame1Again) // undefined
 */
export function watchPrinter(
  id: string,
  options: WatchPrinterOptions,
): (frame: WatchFrame) => string | undefined {
  const now = options.now ?? (() => new Date());
  let lastKey: string | undefined;
  return (frame) => {
    const lines = watchFrameLines(id, frame);
    if (options.terminal) return `${CLEAR_SCREEN}${lines.join('\n')}\n`;
    const key = watchFrameKey(frame);
    if (key === lastKey) return undefined;
    const first = lastKey === undefined;
    lastKey = key;
    const stamp = `[${now()
      .toISOString()
      .replace(/\.\d{3}Z$/, 'Z')}] `;
    return `${first ? '' : '\n'}${stamp}${lines.join('\n')}\n`;
  };
}
