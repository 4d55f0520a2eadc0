import { cli, withEnv } from '../client/run-cli';
import {
  deviceSlots,
  visibleDevices,
  WorkerSpecError,
  type VisibleDevices,
} from '../../src/workers/device-slots';

// Device slots of a worker (`--devices`, `--gpus-per-job`): which devices each slot's engines are pinned
// to, and a one-line error for what the host cannot meet.

const gpus = (n: number): VisibleDevices => ({
  ids: Array.from({ length: n }, (_, i) => String(i)),
  source: 'nvidia-smi',
});
const cpu: VisibleDevices = { ids: [], source: 'nvidia-smi found no GPU' };

test.each([
  // [case, --devices, --gpus-per-job, host, slots' devices]
  ['a count on a CPU host: unpinned slots', '2', 1, cpu, [[], []]],
  ['a count on a GPU host: the first N GPUs', '2', 1, gpus(4), [['0'], ['1']]],
  ['a list of GPUs', '0,2,3', 1, gpus(4), [['0'], ['2'], ['3']]],
  ['one GPU by index (trailing comma)', '3,', 1, gpus(4), [['3']]],
  [
    'indices into CUDA_VISIBLE_DEVICES',
    '0,1',
    1,
    { ids: ['5', '7'], source: 'CUDA_VISIBLE_DEVICES=5,7' },
    [['5'], ['7']],
  ],
  [
    'two slots of two GPUs',
    '0,1,2,3',
    2,
    gpus(4),
    [
      ['0', '1'],
      ['2', '3'],
    ],
  ],
  ['multi-device slots on a CPU host', '4', 2, cpu, [[], []]],
])('%s', (_case, flag, perJob, host, devices) => {
  expect(deviceSlots(flag, perJob, host).map((s) => s.devices)).toEqual(devices);
});

test.each([
  [
    'a device that does not exist',
    '0,4',
    1,
    gpus(2),
    '--devices: device 4 does not exist: this host has 2 GPUs: 0, 1 (nvidia-smi)',
  ],
  [
    'GPU indices on a CPU host',
    '0,1',
    1,
    cpu,
    '--devices: 0,1 names GPUs, but this host has no GPU (nvidia-smi found no GPU); on a CPU host give a count (--devices 2)',
  ],
  [
    'more than the host has',
    '3',
    1,
    gpus(2),
    '--devices: 3 devices asked, but this host has 2 GPUs: 0, 1 (nvidia-smi)',
  ],
  ['a device twice', '1,1', 1, gpus(2), '--devices: device 1 is listed twice'],
  [
    'not a number',
    'all',
    1,
    gpus(2),
    '--devices: expected a count (2) or device indices (0,1 or 3,), got "all"',
  ],
  ['zero', '0', 1, cpu, '--devices: expected a count >= 1 or a list like 0,1, got 0'],
  [
    'devices that do not split into slots',
    '3',
    2,
    cpu,
    '--gpus-per-job: 3 devices do not split into slots of 2 (give a multiple of 2 devices)',
  ],
])('refused: %s', (_case, flag, perJob, host, message) => {
  let thrown: unknown;
  try {
    deviceSlots(flag, perJob, host);
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(WorkerSpecError);
  expect((thrown as Error).message).toBe(message);
});

test('CUDA_VISIBLE_DEVICES wins over nvidia-smi; -1 hides every GPU', () => {
  expect(visibleDevices({ CUDA_VISIBLE_DEVICES: '2, 3' }).ids).toEqual(['2', '3']);
  expect(visibleDevices({ CUDA_VISIBLE_DEVICES: '-1' }).ids).toEqual([]);
});

test.each([
  [
    'a typo in a queue name',
    ['worker', '--queues', 'control,trails'],
    'agentic-pruner: --queues: unknown queue "trails" (valid: control, trials, train)',
  ],
  [
    'the queue of earlier versions',
    ['worker', '--queues', 'gpu'],
    'agentic-pruner: --queues: unknown queue "gpu" (valid: control, trials, train); gpu was split into trials,train (see docs/upgrades.md)',
  ],
  [
    'a device this host does not have',
    ['worker', '--devices', '0,2'],
    'agentic-pruner: --devices: device 2 does not exist: this host has 2 GPUs: 0, 1 (CUDA_VISIBLE_DEVICES=4,5)',
  ],
  [
    'a bad --gpus-per-job',
    ['worker', '--gpus-per-job', 'two'],
    'agentic-pruner: --gpus-per-job: expected an integer >= 1, got "two"',
  ],
])('worker CLI, %s: one line, exit 2, before connecting', async (_case, args, line) => {
  const r = await withEnv({ CUDA_VISIBLE_DEVICES: '4,5', TEMPORAL_ADDRESS: '127.0.0.1:1' }, () =>
    cli(...args),
  );
  expect(r.code).toBe(2);
  expect(r.err.trim()).toBe(line);
});
