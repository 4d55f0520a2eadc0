import { spawnSync } from 'node:child_process';
import { ExitCode, PrunerError, type ExitCodeValue } from '../core/errors';
import type { EngineRunner } from '../engine/engine-process';
import type { JobOptions } from '../engine/protocol';

/**
 * One slot of a device worker: the devices one job may use (CUDA ids as the engine child must see them
 * in `CUDA_VISIBLE_DEVICES`), or none on a CPU host, where nothing is pinned.
 */
export interface DeviceSlot {
  index: number;
  devices: string[];
}

/**
 * Root of the workers' errors. Thrown when a worker's flags cannot be met on this host: `--devices` naming
 * a GPU that does not exist, `--gpus-per-job` that does not divide them, an unknown `--queues` name.
 * A usage error: one line, exit 2.
 */
export class WorkerSpecError extends PrunerError {
  override readonly name = 'WorkerSpecError';
  override get exitCode(): ExitCodeValue {
    return ExitCode.usage;
  }
  override get messageOnly(): boolean {
    return true;
  }
  constructor(
    readonly flag: string,
    message: string,
  ) {
    super(`${flag}: ${message}`);
  }
}

/** The GPUs this host shows, and how that was found out (for error messages). */
export interface VisibleDevices {
  /** CUDA ids in the order torch numbers them (index i = `cuda:i` in a process that sees them all). */
  ids: string[];
  source: string;
}

/**
 * The GPUs a worker process may pin engines to: `CUDA_VISIBLE_DEVICES` when set (the scheduler's or the
 * user's choice wins), else what `nvidia-smi` lists, else none (a CPU host).
 */
export function visibleDevices(processEnv: NodeJS.ProcessEnv): VisibleDevices {
  const cvd = processEnv.CUDA_VISIBLE_DEVICES;
  if (cvd !== undefined && cvd.trim() !== '') {
    const ids = cvd
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '' && s !== '-1');
    return { ids, source: `CUDA_VISIBLE_DEVICES=${cvd}` };
  }
  const r = spawnSync('nvidia-smi', ['--query-gpu=index', '--format=csv,noheader'], {
    encoding: 'utf8',
    timeout: 15_000,
  });
  if (r.error || r.status !== 0) return { ids: [], source: 'nvidia-smi found no GPU' };
  const ids = r.stdout
    .split('\n')
    .map((s) => s.trim())
    .filter((s) => /^\d+$/.test(s));
  return { ids, source: 'nvidia-smi' };
}

/**
 * The slots of a worker from its `--devices` and `--gpus-per-job` flags.
 *
 * - `--devices N` (a count): N devices; on a GPU host the first N visible ones, pinned; on a CPU host N
 *   unpinned slots.
 * - `--devices 0,2,3` (a list; `3,` names one device): those GPUs (indices into the visible ones), pinned.
 * - `--gpus-per-job K`: slots of K devices each (for `finetune.gpus: K`); the devices must divide by K.
 *
 * @example
 * deviceSlots('0,1', 1, { ids: ['0', '1'], source: 'nvidia-smi' })
 * // [{ index: 0, devices: ['0'] }, { index: 1, devices: ['1'] }]
 * deviceSlots('2', 1, { ids: [], source: 'nvidia-smi found no GPU' })
 * // [{ index: 0, devices: [] }, { index: 1, devices: [] }]
 */
export function deviceSlots(devicesFlag: string, gpusPerJob: number, visible: VisibleDevices): DeviceSlot[] {
  const spec = devicesFlag.trim();
  if (!Number.isInteger(gpusPerJob) || gpusPerJob < 1)
    throw new WorkerSpecError('--gpus-per-job', `expected an integer >= 1, got ${gpusPerJob}`);
  const have = visible.ids.length;
  const haveText =
    have === 0
      ? `this host has no GPU (${visible.source})`
      : `this host has ${have} GPU${have === 1 ? '' : 's'}: ${visible.ids.map((_, i) => i).join(', ')} (${visible.source})`;
  let devices: (string | null)[];
  if (/^\d+$/.test(spec)) {
    const count = Number(spec);
    if (count < 1)
      throw new WorkerSpecError('--devices', `expected a count >= 1 or a list like 0,1, got ${spec}`);
    if (have > 0 && count > have)
      throw new WorkerSpecError('--devices', `${count} devices asked, but ${haveText}`);
    devices = have > 0 ? visible.ids.slice(0, count) : Array.from({ length: count }, () => null);
  } else {
    const parts = spec.split(',').map((s) => s.trim());
    if (parts.at(-1) === '') parts.pop();
    if (parts.length === 0 || parts.some((p) => !/^\d+$/.test(p)))
      throw new WorkerSpecError(
        '--devices',
        `expected a count (2) or device indices (0,1 or 3,), got "${devicesFlag}"`,
      );
    const idx = parts.map(Number);
    const dup = idx.find((d, i) => idx.indexOf(d) !== i);
    if (dup !== undefined) throw new WorkerSpecError('--devices', `device ${dup} is listed twice`);
    if (have === 0)
      throw new WorkerSpecError(
        '--devices',
        `${spec} names GPUs, but ${haveText}; on a CPU host give a count (--devices ${idx.length})`,
      );
    const missing = idx.find((d) => d >= have);
    if (missing !== undefined)
      throw new WorkerSpecError('--devices', `device ${missing} does not exist: ${haveText}`);
    devices = idx.map((d) => visible.ids[d]!);
  }
  if (devices.length % gpusPerJob !== 0)
    throw new WorkerSpecError(
      '--gpus-per-job',
      `${devices.length} devices do not split into slots of ${gpusPerJob} (give a multiple of ${gpusPerJob} devices)`,
    );
  const slots: DeviceSlot[] = [];
  for (let i = 0; i * gpusPerJob < devices.length; i++) {
    const group = devices.slice(i * gpusPerJob, (i + 1) * gpusPerJob);
    slots.push({ index: i, devices: group.filter((d): d is string => d !== null) });
  }
  return slots;
}

/** How a slot's devices read in a log line: `0`, `2+3`, or `cpu`. */
export function slotLabel(slot: DeviceSlot): string {
  return slot.devices.length > 0 ? slot.devices.join('+') : 'cpu';
}

/** The environment an engine child of `slot` gets: pinned to its devices (nothing on a CPU host). */
export function slotEnv(slot: DeviceSlot): Record<string, string> {
  return slot.devices.length > 0 ? { CUDA_VISIBLE_DEVICES: slot.devices.join(',') } : {};
}

/**
 * An engine runner over one runner per slot: each job runs on a free slot's runner (pinned to that slot's
 * devices), so a worker whose task queue takes at most as many jobs as it has slots
 * (`maxConcurrentActivityTaskExecutions`) runs one job per slot and never two on one device. A job that
 * finds every slot busy waits for one (it cannot happen under that bound; the pool stays correct without it).
 */
export class SlotPool implements EngineRunner {
  private readonly free: number[];
  private readonly waiting: ((slot: number) => void)[] = [];

  constructor(
    readonly slots: readonly DeviceSlot[],
    private readonly runners: readonly EngineRunner[],
  ) {
    if (slots.length === 0 || slots.length !== runners.length)
      throw new Error(
        `a slot pool needs one runner per slot (${slots.length} slots, ${runners.length} runners)`,
      );
    this.free = slots.map((s) => s.index);
  }

  async run<T = Record<string, unknown>>(job: string, request: unknown, opts?: JobOptions): Promise<T> {
    const slot = await this.acquire();
    try {
      return await this.runners[slot]!.run<T>(job, request, opts);
    } finally {
      this.release(slot);
    }
  }

  private acquire(): Promise<number> {
    const slot = this.free.shift();
    if (slot !== undefined) return Promise.resolve(slot);
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(slot: number): void {
    const next = this.waiting.shift();
    if (next) next(slot);
    else this.free.unshift(slot);
  }

  async close(): Promise<void> {
    await Promise.all(this.runners.map((r) => r.close()));
  }
}
