// What `campaign watch` writes, frame by frame: to a terminal every poll redraws the screen; to a file or a pipe
// (a nohup log, CI) a frame only when something a reader cares about changed, stamped with its time. Before,
// a pipe got the whole frame every second: a fine-tune of hours logged tens of thousands of identical frames.
import type { Attempt } from '../../src/core/attempt';
import { baseStrategy } from '../../src/core/strategy';
import type { WatchFrame } from '../../src/client/campaign-client';
import { attemptsTable } from '../../src/client/format';
import {
  attemptLine,
  printProgress,
  progressFollower,
  watchFrameKey,
  watchFrameLines,
  watchPrinter,
} from '../../src/client/watch-view';
import type { RunningJob, WaitingJob } from '../../src/client/worker-presence';
import type { StrategyLog } from '../../src/workflows/definitions';

const attempt = (index: number, deviation: number): Attempt => ({
  index,
  agent: 'solver',
  strategy: baseStrategy(0.3, { rationale: `step ${index}` }),
  macs: 10e6 * (1 + deviation),
  params: 1e5,
  deviation,
  inBand: deviation >= -0.05 && deviation <= 0.01,
  wallMs: 100,
});

const log = (attempts: Attempt[]): StrategyLog => ({
  campaignId: 'c1',
  targetLabel: 't50',
  model: 'democnn',
  targetMacs: 10e6,
  band: { lo: -0.05, hi: 0.01 },
  agent: 'solver',
  status: 'running',
  reason: null,
  attempts,
  chosenIndex: null,
  events: [],
});

/** A finalist's scoring at `step` of 40, its heartbeat `ageMs` old. */
const scoring = (step: number, ageMs: number): RunningJob => ({
  workflowId: 'c1--t50',
  activityType: 'scoreCandidate',
  heartbeatAgeMs: ageMs,
  details: {
    targetLabel: 't50',
    attemptIndex: 2,
    mode: 'recovery',
    rescore: true,
    steps: 40,
    stage: 'train',
    step,
    fraction: step / 40,
    checkpoints: [],
  },
});

const waiting = (waitingMs: number): WaitingJob => ({
  workflowId: 'c1',
  activityType: 'fineTune',
  targetLabel: 't50',
  queue: 'train',
  waitingMs,
  attempt: 1,
  pollers: 1,
  slots: 1,
});

const frame = (over: Partial<WatchFrame> = {}): WatchFrame => ({
  progress: {
    campaignId: 'c1',
    stage: 'search',
    model: 'democnn',
    denseMacs: 20e6,
    targets: [],
    results: [],
  },
  logs: [log([attempt(1, 0.2), attempt(2, -0.02)])],
  warnings: [],
  waiting: [],
  retrying: [],
  running: [],
  finetunes: [],
  done: false,
  status: 'RUNNING',
  ...over,
});

const fineTune = (step: number, etaSec: number): Partial<WatchFrame> => ({
  progress: { ...frame().progress, stage: 'finetune' },
  finetunes: [
    {
      targetLabel: 't50',
      heartbeat: { step, totalSteps: 400, loss: 0.5, etaSec, checkpoints: [] },
    },
  ],
});

describe("a frame's lines", () => {
  test('the header, each target with its table, and the jobs', () => {
    const f = frame({ running: [scoring(22, 12_300)], waiting: [waiting(12_000)] });
    expect(watchFrameLines('c1', f)).toEqual([
      'c1  stage: search  status: RUNNING',
      '',
      't50 -> 10.0 M -5%..+1% [running] agent solver',
      attemptsTable(f.logs[0]!.attempts),
      'waiting: fineTune t50: waiting for a slot on task queue "train" for 12 s: 1 worker serves it with 1 slot, all busy',
      'running: t50: scoring attempt 2 again (finalist, 40-step recovery): step 22 of 40 (12 s ago)',
    ]);
  });
});

describe('what a log gets: a frame when something changed', () => {
  test('a running job that only moved on (its step, its heartbeat older) is the same frame', () => {
    expect(watchFrameKey(frame({ running: [scoring(12, 200)] }))).toBe(
      watchFrameKey(frame({ running: [scoring(14, 4100)] })),
    );
  });

  test('a new attempt, another job or another stage of it is a new frame', () => {
    const base = watchFrameKey(frame({ running: [scoring(12, 200)] }));
    const three = [attempt(1, 0.2), attempt(2, -0.02), attempt(3, -0.01)];
    expect(watchFrameKey(frame({ running: [scoring(12, 200)], logs: [log(three)] }))).not.toBe(base);
    const otherStage = scoring(12, 200);
    (otherStage.details as { stage: string }).stage = 'scoring';
    expect(watchFrameKey(frame({ running: [otherStage] }))).not.toBe(base);
    expect(watchFrameKey(frame())).not.toBe(base);
  });

  test('a fine-tune: one frame per tenth of its steps', () => {
    const key = (step: number) => watchFrameKey(frame(fineTune(step, 100)));
    expect(key(10)).toBe(key(39));
    expect(key(40)).not.toBe(key(39));
    expect(key(399)).not.toBe(key(400));
  });

  test('a waiting job: once when it starts waiting, once when it finds every slot busy (after 5 s)', () => {
    const key = (ms: number) => watchFrameKey(frame({ waiting: [waiting(ms)] }));
    expect(key(1000)).toBe(key(4999));
    expect(key(5000)).not.toBe(key(4999));
    expect(key(5000)).toBe(key(600_000));
  });
});

describe('the printer', () => {
  // A campaign polled once a second: a finalist scored (steps 12, 14, 16), a new attempt, a fine-tune of 400
  // steps (10, 20, 30, 40, then 400), then the end.
  const polls: WatchFrame[] = [
    frame({ running: [scoring(12, 300)] }),
    frame({ running: [scoring(14, 1300)] }),
    frame({ running: [scoring(16, 2300)] }),
    frame({ logs: [log([attempt(1, 0.2), attempt(2, -0.02), attempt(3, -0.01)])] }),
    frame(fineTune(10, 390)),
    frame(fineTune(20, 380)),
    frame(fineTune(30, 370)),
    frame(fineTune(40, 360)),
    frame(fineTune(400, 0)),
    frame({ done: true, status: 'COMPLETED', progress: { ...frame().progress, stage: 'done' } }),
  ];

  test('to a log: 6 of the 10 polls, each stamped with its time, set off by a blank line', () => {
    let second = 0;
    const print = watchPrinter('c1', {
      terminal: false,
      now: () => new Date(Date.UTC(2026, 11, 7, 22, 41, second)),
    });
    // Poll i is at 22:41:0i.
    const written = polls.map((f, i) => {
      second = i;
      return print(f);
    });
    expect(written.map((w) => w !== undefined)).toEqual([
      true, // the first
      false, // step 14
      false, // step 16
      true, // attempt 3
      true, // the fine-tune starts
      false, // 20 of 400
      false, // 30 of 400
      true, // 40 of 400: a tenth
      true, // done with its steps
      true, // the end
    ]);
    expect(written[0]).toBe(`[2026-12-07T22:41:00Z] ${watchFrameLines('c1', polls[0]!).join('\n')}\n`);
    expect(written[0]!.split('\n')[0]).toBe('[2026-12-07T22:41:00Z] c1  stage: search  status: RUNNING');
    // Each later frame opens with a blank line, then its stamp: the clock of the poll that printed it.
    expect(written[3]!.startsWith('\n[2026-12-07T22:41:03Z] c1  stage: search  status: RUNNING\n')).toBe(
      true,
    );
    expect(written[7]!).toContain('\nfine-tune t50 ████');
    expect(written[7]!).toContain(' 40/400, loss 0.500, ETA 360 s; last checkpoint step -\n');
    expect(written[9]!.startsWith('\n[2026-12-07T22:41:09Z] c1  stage: done  status: COMPLETED\n')).toBe(
      true,
    );
  });

  test('to a terminal: every poll redraws the screen', () => {
    const print = watchPrinter('c1', { terminal: true });
    const written = polls.map(print);
    expect(written.every((w) => w !== undefined && w.startsWith('\x1b[2J\x1b[H'))).toBe(true);
    expect(written[1]).toBe(`\x1b[2J\x1b[H${watchFrameLines('c1', polls[1]!).join('\n')}\n`);
    expect(written[1]).toContain('step 14 of 40 (1 s ago)');
  });
});

describe('what --wait prints while it waits: a line for each thing that happened', () => {
  const trial = (attemptIndex: number, ageMs: number, fraction: number | null): RunningJob => ({
    workflowId: 'c1--t50',
    activityType: 'pruneTrial',
    heartbeatAgeMs: ageMs,
    details: { targetLabel: 't50', attemptIndex, importance: 'l2', ratio: 0.3, stage: 'pruning', fraction },
  });
  const scored = {
    mode: 'zero-shot' as const,
    top1: 0.61328125,
    loss: 1.12,
    count: 256,
    steps: 0,
    wallMs: 400,
  };
  const one = [attempt(1, 0.2)];
  const two = [attempt(1, 0.2), attempt(2, -0.02)];
  const twoScored = [attempt(1, 0.2), { ...attempt(2, -0.02), score: scored }];
  const searching = { progress: { ...frame().progress, stage: 'search' as const } };
  const converged = { ...log(twoScored), status: 'converged' as const, chosenIndex: 2 };

  test('a campaign from its search to its fine-tune, polled eleven times', () => {
    const next = progressFollower();
    const polls: [Partial<WatchFrame>, string[]][] = [
      [
        { ...searching, logs: [log([])], running: [trial(1, 300, null)] },
        ['stage: search', 'running: t50: prune trial attempt 1 (l2, ratio 0.300 as proposed): pruning'],
      ],
      [
        { ...searching, logs: [log(one)], running: [trial(2, 300, null)] },
        [
          't50: attempt 1 (solver): ratio 0.300 l2 -> 12.0 M MACs, +20.00% out',
          'running: t50: prune trial attempt 2 (l2, ratio 0.300 as proposed): pruning',
        ],
      ],
      // The same trial, its heartbeat older and further on: nothing new.
      [{ ...searching, logs: [log(one)], running: [trial(2, 4300, 0.5)] }, []],
      [
        { ...searching, logs: [log(two)], running: [scoring(0, 200)] },
        [
          't50: attempt 2 (solver): ratio 0.300 l2 -> 9.80 M MACs, -2.00% IN band',
          'running: t50: scoring attempt 2 again (finalist, 40-step recovery): step 0 of 40',
        ],
      ],
      [{ ...searching, logs: [log(two)], running: [scoring(20, 2200)] }, []],
      [{ ...searching, logs: [log(twoScored)] }, ['t50: attempt 2 scored 61.3% zero-shot']],
      [
        { ...fineTune(0, 400), logs: [converged] },
        [
          't50: search converged',
          'stage: finetune',
          'fine-tune t50: step 0/400 (0%), loss 0.500, ETA 400 s; last checkpoint step -',
        ],
      ],
      [{ ...fineTune(39, 361), logs: [converged] }, []],
      [
        { ...fineTune(40, 360), logs: [converged], waiting: [waiting(1000)] },
        [
          'waiting: fineTune t50: waiting for a slot on task queue "train" for 1 s: 1 worker serves it with 1 slot',
          'fine-tune t50: step 40/400 (10%), loss 0.500, ETA 360 s; last checkpoint step -',
        ],
      ],
      [{ ...fineTune(41, 359), logs: [converged], waiting: [waiting(3000)] }, []],
      [
        { ...fineTune(42, 358), logs: [converged], waiting: [waiting(6000)] },
        [
          'waiting: fineTune t50: waiting for a slot on task queue "train" for 6 s: 1 worker serves it with 1 slot, all busy',
        ],
      ],
    ];
    for (const [over, lines] of polls) expect(next(frame(over))).toEqual(lines);
  });

  test('each line stamped with the time of its poll; a frame that cannot be read ends the progress quietly', async () => {
    async function* frames(): AsyncGenerator<WatchFrame> {
      yield frame({ ...searching, logs: [log([])] });
      yield frame({ ...searching, logs: [log(one)] });
      yield frame({ ...searching, logs: [log(one)] });
      throw new Error('connection refused');
    }
    const written: string[] = [];
    let second = 0;
    await printProgress(
      frames(),
      (line) => written.push(line),
      () => new Date(Date.UTC(2026, 11, 7, 22, 41, second++)),
    );
    expect(written).toEqual([
      '[2026-12-07T22:41:00Z] stage: search',
      '[2026-12-07T22:41:01Z] t50: attempt 1 (solver): ratio 0.300 l2 -> 12.0 M MACs, +20.00% out',
    ]);
  });

  test("a poll without a search's log (its query failed once) does not make the next say its attempts again", () => {
    const next = progressFollower();
    expect(next(frame({ ...searching, logs: [log([])] }))).toEqual(['stage: search']);
    expect(next(frame({ ...searching, logs: [log(two)] }))).toHaveLength(2);
    expect(next(frame({ ...searching, logs: [] }))).toEqual([]);
    expect(next(frame({ ...searching, logs: [log(twoScored)] }))).toEqual([
      't50: attempt 2 scored 61.3% zero-shot',
    ]);
  });

  test("a revision's wait: what its searches did before it began is counted, not said again", () => {
    // The first poll of a `retry --wait`: t50's search reused (ended, 2 attempts), t70's re-run at its first.
    const next = progressFollower();
    const reused = { ...converged, reason: 'converged' };
    const rerun = { ...log(one), targetLabel: 't70' };
    expect(next(frame({ ...searching, logs: [reused, rerun] }))).toEqual([
      'stage: search',
      't50: 2 attempts so far',
      't50: search converged',
      't70: 1 attempt so far',
    ]);
    const rerun2 = {
      ...log(two),
      targetLabel: 't70',
      status: 'diverged' as const,
      reason: 'no progress in 4 attempts',
    };
    expect(next(frame({ ...searching, logs: [reused, rerun2] }))).toEqual([
      't70: attempt 2 (solver): ratio 0.300 l2 -> 9.80 M MACs, -2.00% IN band',
      't70: search diverged: no progress in 4 attempts',
    ]);
  });

  test('a fine-tune that does not know its steps yet: no line', () => {
    const next = progressFollower();
    const unknown: Partial<WatchFrame> = {
      logs: [],
      finetunes: [
        {
          targetLabel: 't50',
          heartbeat: { step: 0, totalSteps: null, loss: null, etaSec: null, checkpoints: [] },
        },
      ],
    };
    expect(next(frame(unknown))).toEqual(['stage: search']);
  });

  test('a warning (no worker at all): under the header, in the key, said by --wait when it starts to hold', () => {
    const w =
      "no worker is polling any of the campaign's task queues (control, trials, train): start one with `agentic-pruner worker` (every queue in one process)";
    const warned = frame({ warnings: [w], logs: [] });
    expect(watchFrameLines('c1', warned)).toEqual(['c1  stage: search  status: RUNNING', `warning: ${w}`]);
    expect(watchFrameKey(warned)).not.toBe(watchFrameKey(frame({ logs: [] })));
    const next = progressFollower();
    expect(next(warned)).toEqual(['stage: search', `warning: ${w}`]);
    expect(next(warned)).toEqual([]);
    expect(next(frame({ logs: [] }))).toEqual([]);
    expect(next(warned)).toEqual([`warning: ${w}`]);
  });

  test('an attempt that failed says why', () => {
    const failed = { ...attempt(3, 0), error: 'EngineError: bad ratio' };
    expect(attemptLine(failed)).toBe('attempt 3 (solver): ratio 0.300 l2 -> error: EngineError: bad ratio');
  });
});
