import type { Attempt } from '../core/attempt';
import { formatBand } from '../core/tolerance-band';
import { formatMacs, formatPercent } from '../core/units';
import type { WatchFrame } from './campaign-client';
import { attemptsTable, finalistsLine, fineTuneLine, scoreText, scoringPlanLine } from './format';
import { BUSY_AFTER_MS, retryingLine, runningLine, waitingLine, type RunningJob } from './worker-presence';

/**
 * The lines of one frame of `campaign watch`: the campaign's stage and status, each target's strategy log
 * (table, scoring plan, finalists), then the running fine-tunes and the jobs that wait, retry or run.
 */
export function watchFrameLines(id: string, frame: WatchFrame): string[] {
  const lines = [`${id}  stage: ${frame.progress.stage}  status: ${frame.status}`];
  for (const w of frame.warnings) lines.push(`warning: ${w}`);
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
 * what moves on every poll (a warning, such as a queue no worker polls, is in). Left out: how long a job has waited (but not whether it waited long enough to
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
  return JSON.stringify({
    status: frame.status,
    stage: frame.progress.stage,
    warnings: frame.warnings,
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
    ...jobKeys(frame),
  });
}

/**
 * Each waiting, retrying and running job of a frame as a key that changes with what its line says, but not
 * with what moves on every poll (see {@link watchFrameKey}).
 */
function jobKeys(frame: WatchFrame): Record<'waiting' | 'retrying' | 'running', string[]> {
  return {
    waiting: frame.waiting.map((j) =>
      JSON.stringify([
        j.activityType,
        j.targetLabel,
        j.attempt,
        j.queue,
        j.pollers,
        j.slots,
        j.waitingMs >= BUSY_AFTER_MS,
      ]),
    ),
    retrying: frame.retrying.map((j) => JSON.stringify([j.activityType, j.targetLabel, j.attempt, j.reason])),
    running: frame.running.map((j) =>
      JSON.stringify([
        j.activityType,
        j.workflowId,
        Object.entries(j.details).filter(([k]) => !MOVING_DETAILS.has(k)),
      ]),
    ),
  };
}

/** A log line's time stamp, to the second: `[2026-12-07T22:41:03Z]`. */
function utcStamp(at: Date): string {
  return `[${at.toISOString().replace(/\.\d{3}Z$/, 'Z')}]`;
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
    const stamp = `${utcStamp(now())} `;
    return `${first ? '' : '\n'}${stamp}${lines.join('\n')}\n`;
  };
}

/**
 * One attempt as a progress line: its agent, ratio and criterion, then what it measured against the band (or
 * its error).
 *
 * @example
 * attemptLine(attempt5) // 'attempt 5 (solver): ratio 0.223 l2 -> 13.2 M MACs, -3.83% IN band'
 */
export function attemptLine(a: Attempt): string {
  const head = `attempt ${a.index} (${a.agent}): ratio ${a.strategy.pruningRatio.toFixed(3)} ${a.strategy.importance} -> `;
  return (
    head +
    (a.error
      ? `error: ${a.error}`
      : `${formatMacs(a.macs)} MACs, ${formatPercent(a.deviation)} ${a.inBand ? 'IN band' : 'out'}`)
  );
}

/** A running job's line without its heartbeat's age (a progress line is stamped with its own time). */
const runningNow = (j: RunningJob): string => {
  const { heartbeatAgeMs: _age, ...job } = j;
  return runningLine(job as RunningJob);
};

/**
 * What `campaign start --wait` (and `reset`/`retry --wait`) prints on stderr while it waits: from each frame
 * `campaign watch` polls, the lines for what happened since the frame before, in this order: the campaign's
 * next stage when it is the profile or the search; each warning that was not there before (no worker polls a queue the
 * campaign needs); per target, each new attempt ({@link attemptLine}), each new or changed
 * score ({@link scoreText}), the search's end (and why, when the reason says more than the status); the next
 * stage when it is another; the jobs that started waiting, retrying or running (or reached another stage); a
 * fine-tune's first heartbeat that knows its steps, then each next tenth of them. What a search had done
 * when the wait began (a reused search, the attempts a reset keeps) is one line, `t70: 2 attempts so far`. Nothing for what only moved on (a step, a
 * heartbeat's age), so a day-long campaign prints tens of lines, not a line a second.
 *
 * @example
 * const next = progressFollower();
 * next(frame1) // ['stage: search', 'running: t50: prune trial attempt 1 (l2, ratio 0.312 as proposed): starting']
 * next(frame2) // ['t50: attempt 1 (solver): ratio 0.312 l2 -> 10.9 M MACs, -20.32% out']
 */
export function progressFollower(): (frame: WatchFrame) => string[] {
  let prev: WatchFrame | undefined;
  // What each target's lines have said: kept across frames, as a frame may lack a search's log (not started,
  // or its query failed once) and the next frame must not say its attempts again.
  const said = new Map<string, { scores: Map<number, string>; status: string }>();
  const tenths = new Map<string, number>();
  return (frame) => {
    const lines: string[] = [];
    // The stage goes first up to the search, and after what the frame's logs say past it (the last attempts
    // of a search come in the frame that sees the fine-tune start).
    const stage =
      prev?.progress.stage !== frame.progress.stage ? `stage: ${frame.progress.stage}` : undefined;
    const early = frame.progress.stage === 'profile' || frame.progress.stage === 'search';
    if (stage && early) lines.push(stage);
    // A warning when it starts to hold (a worker gone, a query that fails), not on every poll while it does.
    for (const w of frame.warnings) if (!prev?.warnings.includes(w)) lines.push(`warning: ${w}`);
    for (const l of frame.logs) {
      let target = said.get(l.targetLabel);
      if (!target) {
        target = { scores: new Map<number, string>(), status: 'running' };
        said.set(l.targetLabel, target);
        // What a search did before the wait began (a reused search, the attempts a reset keeps): counted, as
        // `campaign log` shows them, not said again one by one.
        if (!prev && l.attempts.length > 0) {
          lines.push(
            `${l.targetLabel}: ${l.attempts.length} attempt${l.attempts.length === 1 ? '' : 's'} so far`,
          );
          for (const a of l.attempts) target.scores.set(a.index, scoreText(a));
        }
      }
      for (const a of l.attempts) {
        const before = target.scores.get(a.index);
        if (before === undefined) lines.push(`${l.targetLabel}: ${attemptLine(a)}`);
        const score = scoreText(a);
        if (score !== '-' && score !== before)
          lines.push(`${l.targetLabel}: attempt ${a.index} scored ${score}`);
        target.scores.set(a.index, score);
      }
      if (l.status !== 'running' && l.status !== target.status)
        lines.push(
          `${l.targetLabel}: search ${l.status}${l.reason && l.reason !== l.status ? `: ${l.reason}` : ''}`,
        );
      target.status = l.status;
    }
    if (stage && !early) lines.push(stage);
    // A job's line when it is new, or says something new (its stage, why it is retried).
    const was = prev ? jobKeys(prev) : { waiting: [], retrying: [], running: [] };
    const now = jobKeys(frame);
    frame.waiting.forEach((j, i) => {
      if (!was.waiting.includes(now.waiting[i]!)) lines.push(`waiting: ${waitingLine(j)}`);
    });
    frame.retrying.forEach((j, i) => {
      if (!was.retrying.includes(now.retrying[i]!)) lines.push(`retrying: ${retryingLine(j)}`);
    });
    frame.running.forEach((j, i) => {
      if (!was.running.includes(now.running[i]!)) lines.push(`running: ${runningNow(j)}`);
    });
    for (const { targetLabel, heartbeat: h } of frame.finetunes) {
      const label = targetLabel ?? '';
      // Lines once the fine-tune knows its steps (its first heartbeats may not).
      if (!h.totalSteps) continue;
      const tenth = Math.floor((10 * Math.min(h.step, h.totalSteps)) / h.totalSteps);
      if (tenth <= (tenths.get(label) ?? -1)) continue;
      tenths.set(label, tenth);
      const share = ` (${Math.floor((100 * h.step) / h.totalSteps)}%)`;
      const loss = h.loss !== null ? `, loss ${h.loss.toFixed(3)}` : '';
      const eta = h.etaSec !== null ? `, ETA ${Math.round(h.etaSec)} s` : '';
      lines.push(
        `fine-tune${targetLabel ? ` ${targetLabel}` : ''}: step ${h.step}/${h.totalSteps}${share}${loss}${eta}; last checkpoint step ${h.checkpoints.at(-1)?.step ?? '-'}`,
      );
    }
    prev = frame;
    return lines;
  };
}

/**
 * Print a campaign's progress lines ({@link progressFollower}) from `frames` (`CampaignClient.watch`), each
 * stamped with its UTC time, until the campaign ends. Progress is a courtesy: a frame that cannot be read
 * ends it quietly, and what waits for the result says what happened.
 */
export async function printProgress(
  frames: AsyncIterable<WatchFrame>,
  write: (line: string) => void,
  now: () => Date = () => new Date(),
): Promise<void> {
  const next = progressFollower();
  try {
    for await (const frame of frames) {
      const stamp = utcStamp(now());
      for (const line of next(frame)) write(`${stamp} ${line}`);
    }
  } catch {
    // The result (or its failure) is what --wait reports; the progress is best-effort.
  }
}
