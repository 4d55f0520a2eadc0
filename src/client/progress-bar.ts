/** Where a {@link progressBar} writes: stderr, or a test's stand-in. */
export interface ProgressOutput {
  write(text: string): unknown;
  /** True on a terminal: the bar redraws one line in place. */
  isTTY?: boolean;
}

/** A progress display for a training job's events (`step`, `totalSteps`, `loss`, `etaSec`). */
export interface ProgressBar {
  update: (ev: Record<string, unknown>) => void;
  /** Ends the display (on a terminal, the line the bar redrew). */
  end: () => void;
}

const WIDTH = 30;

const num = (v: unknown): number | undefined =>
  v === undefined || v === null || !Number.isFinite(Number(v)) ? undefined : Number(v);

/**
 * A training job's progress on stderr. On a terminal, one line redrawn in place (`\r`) when what it shows
 * changes: `  fine-tune [█████···] 40/74 loss 0.530 ETA 5s`. To a file or a pipe (a CI log, `2> log`), a
 * line per tenth of the steps, `  fine-tune 40/74 (54%) loss 0.530 ETA 5s`, and nothing for events before
 * the total is known: a redrawn bar there would be one line of thousands of copies.
 *
 * @example
 * const bar = progressBar('baseline');
 * await engine.run('finetune', request, { onProgress: bar.update });
 * bar.end();
 */
export function progressBar(label: string, out: ProgressOutput = process.stderr): ProgressBar {
  const terminal = out.isTTY === true;
  let drawn: string | undefined;
  let tenths = 0;
  return {
    update: (ev) => {
      const step = num(ev.step) ?? 0;
      const total = num(ev.totalSteps) ?? 0;
      const share = total > 0 ? Math.min(1, step / total) : 0;
      const eta = num(ev.etaSec) !== undefined ? ` ETA ${Math.round(num(ev.etaSec)!)}s` : '';
      const loss = num(ev.loss) !== undefined ? ` loss ${num(ev.loss)!.toFixed(3)}` : '';
      if (terminal) {
        const filled = Math.round(share * WIDTH);
        const text = `\r  ${label} [${'█'.repeat(filled)}${'·'.repeat(WIDTH - filled)}] ${step}/${total || '?'}${loss}${eta}   `;
        if (text !== drawn) out.write(text);
        drawn = text;
        return;
      }
      if (total <= 0 || Math.floor(share * 10) <= tenths) return;
      tenths = Math.floor(share * 10);
      out.write(`  ${label} ${step}/${total} (${Math.floor(share * 100)}%)${loss}${eta}\n`);
    },
    end: () => {
      if (drawn !== undefined) out.write('\n');
      drawn = undefined;
    },
  };
}
