// The demo's progress bars, as a user sees them on a terminal and in a log. Before, a log (`npm run demo 2>&1 |
// tee`, CI) got every redraw of the bar on one line: 148 copies for the baseline, and the fine-tune's bar
// redrawn on every poll of the campaign even when nothing had moved.
import { progressBar, type ProgressOutput } from '../../src/client/progress-bar';

function output(isTTY: boolean): ProgressOutput & { written: string[] } {
  const written: string[] = [];
  return { isTTY, written, write: (text: string) => written.push(text) };
}

describe('to a log', () => {
  test("the demo's baseline of 148 steps: a line per tenth, 10 in all", () => {
    const out = output(false);
    const bar = progressBar('baseline', out);
    for (let step = 1; step <= 148; step++)
      bar.update({ step, totalSteps: 148, loss: 1 / step, etaSec: 148 - step });
    bar.end();
    // A tenth is 14.8 steps: the lines come at the first step past each.
    expect(out.written).toEqual([
      '  baseline 15/148 (10%) loss 0.067 ETA 133s\n',
      '  baseline 30/148 (20%) loss 0.033 ETA 118s\n',
      '  baseline 45/148 (30%) loss 0.022 ETA 103s\n',
      '  baseline 60/148 (40%) loss 0.017 ETA 88s\n',
      '  baseline 74/148 (50%) loss 0.014 ETA 74s\n',
      '  baseline 89/148 (60%) loss 0.011 ETA 59s\n',
      '  baseline 104/148 (70%) loss 0.010 ETA 44s\n',
      '  baseline 119/148 (80%) loss 0.008 ETA 29s\n',
      '  baseline 134/148 (90%) loss 0.007 ETA 14s\n',
      '  baseline 148/148 (100%) loss 0.007 ETA 0s\n',
    ]);
  });

  test("the demo's fine-tune, polled: nothing before its total is known, nothing for a repeated poll", () => {
    const out = output(false);
    const bar = progressBar('fine-tune', out);
    for (let i = 0; i < 7; i++) bar.update({ step: 0 });
    for (let i = 0; i < 7; i++) bar.update({ step: 5, totalSteps: 74, loss: 1.0124, etaSec: 17.2 });
    for (let i = 0; i < 6; i++) bar.update({ step: 40, totalSteps: 74, loss: 0.53, etaSec: 5 });
    bar.update({ step: 74, totalSteps: 74, loss: 0.41, etaSec: 0 });
    bar.end();
    expect(out.written).toEqual([
      '  fine-tune 40/74 (54%) loss 0.530 ETA 5s\n',
      '  fine-tune 74/74 (100%) loss 0.410 ETA 0s\n',
    ]);
  });
});

describe('on a terminal', () => {
  test('one line redrawn when what it shows changes, ended by a newline', () => {
    const out = output(true);
    const bar = progressBar('fine-tune', out);
    bar.update({ step: 0 });
    for (let i = 0; i < 7; i++) bar.update({ step: 5, totalSteps: 74, loss: 1.0124, etaSec: 17.2 });
    bar.update({ step: 74, totalSteps: 74, loss: 0.41, etaSec: 0 });
    bar.end();
    expect(out.written).toEqual([
      `\r  fine-tune [${'·'.repeat(30)}] 0/?   `,
      `\r  fine-tune [██${'·'.repeat(28)}] 5/74 loss 1.012 ETA 17s   `,
      `\r  fine-tune [${'█'.repeat(30)}] 74/74 loss 0.410 ETA 0s   `,
      '\n',
    ]);
  });

  test('a bar that never drew ends with nothing', () => {
    const out = output(true);
    progressBar('baseline', out).end();
    expect(out.written).toEqual([]);
  });
});
