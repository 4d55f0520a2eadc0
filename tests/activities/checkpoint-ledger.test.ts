// The fine-tune's checkpoint bookkeeping on a real LocalArtifactStore, with a hand-driven clock: what is
// kept, when old checkpoints are deleted, how resuming falls back past a bad checkpoint.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CheckpointLedger, type CheckpointRef } from '../../src/activities/checkpoint-ledger';
import { checkpointKey, LocalArtifactStore } from '../../src/storage';
import { hashBytes } from '../../src/storage/hashing';

const GRACE_MS = 1000;

function setup(prior: CheckpointRef[] = []) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ap-ledger-'));
  const store = new LocalArtifactStore(path.join(dir, 'store'));
  let now = 0;
  const warnings: string[] = [];
  const ledger = new CheckpointLedger(
    {
      store,
      keyOf: (step) => checkpointKey('c-1', 't1', step),
      keep: 2,
      retireGraceMs: GRACE_MS,
      now: () => now,
      warn: (m) => warnings.push(m),
    },
    prior,
  );
  const write = (step: number) => {
    const file = path.join(dir, `engine-${step}.pt`);
    const bytes = Buffer.from(`weights at step ${step}`);
    fs.writeFileSync(file, bytes);
    return { file, sha256: hashBytes(bytes) };
  };
  const stored = async () => (await store.list('campaigns/c-1/t1/checkpoints/')).map((l) => l.key);
  return { dir, store, ledger, warnings, write, stored, tick: (ms: number) => (now += ms) };
}

test('record uploads under the checkpoint key and appends; retire keeps the newest `keep`', async () => {
  const { ledger, write, stored, tick } = setup();
  for (const step of [10, 20, 30]) {
    const { file, sha256 } = write(step);
    const c = await ledger.record(step, file, sha256);
    expect(c.ref.key).toBe(checkpointKey('c-1', 't1', step));
    expect(ledger.latest()).toEqual(c);
    await ledger.retire();
    tick(10);
  }
  expect(ledger.checkpoints.map((c) => c.step)).toEqual([20, 30]);
  // step 10 left the list 20 ms ago: still stored, a late heartbeat may name it
  expect(await stored()).toHaveLength(3);
  tick(GRACE_MS);
  await ledger.retire();
  expect(await stored()).toEqual([checkpointKey('c-1', 't1', 20), checkpointKey('c-1', 't1', 30)]);
});

test('flush deletes every retired checkpoint at once', async () => {
  const { ledger, write, stored } = setup();
  for (const step of [10, 20, 30, 40]) {
    const { file, sha256 } = write(step);
    await ledger.record(step, file, sha256);
    await ledger.retire();
  }
  expect(await stored()).toHaveLength(4);
  await ledger.flush();
  expect(await stored()).toEqual([checkpointKey('c-1', 't1', 30), checkpointKey('c-1', 't1', 40)]);
});

test('a checkpoint whose bytes are not the engine sha256 is refused and not listed', async () => {
  const { ledger, write } = setup();
  const { file } = write(10);
  await expect(ledger.record(10, file, '0'.repeat(64))).rejects.toThrow('changed while uploading');
  expect(ledger.checkpoints).toEqual([]);
});

test('resume downloads the newest usable checkpoint, forgetting a corrupt newer one', async () => {
  const first = setup();
  const refs: CheckpointRef[] = [];
  for (const step of [10, 20]) {
    const { file, sha256 } = first.write(step);
    refs.push(await first.ledger.record(step, file, sha256));
  }
  const corrupt = { step: 20, ref: { ...refs[1]!.ref, sha256: 'f'.repeat(64) } };
  const { ledger, warnings, dir } = setup([refs[0]!, corrupt]);
  // the second ledger has its own store: give it the first one's objects
  fs.cpSync(path.join(first.dir, 'store'), path.join(dir, 'store'), { recursive: true });
  const resume = await ledger.resume(path.join(dir, 'resume'));
  expect(resume?.step).toBe(10);
  expect(fs.readFileSync(resume!.file, 'utf8')).toBe('weights at step 10');
  expect(ledger.checkpoints).toEqual([refs[0]]);
  expect(warnings).toEqual([expect.stringContaining('checkpoint at step 20 unusable')]);
});

test('resume with no usable checkpoint starts over', async () => {
  const { ledger, dir } = setup();
  expect(await ledger.resume(path.join(dir, 'resume'))).toBeUndefined();
});
