// The fine-tune's checkpoint bookkeeping on a real LocalArtifactStore, with a hand-driven clock: what is
// kept, when old checkpoints are deleted, how resuming falls back past a bad checkpoint.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import {
  CHECKPOINT_STORE_UNAVAILABLE,
  CheckpointLedger,
  classifyCheckpointReadFailure,
  type CheckpointLedgerOptions,
  type CheckpointRef,
} from '../../src/activities/checkpoint-ledger';
import {
  ArtifactIntegrityError,
  ArtifactNotFoundError,
  ArtifactStoreError,
  checkpointFolder,
  checkpointKey,
  LocalArtifactStore,
  type ArtifactStore,
} from '../../src/storage';
import { hashBytes } from '../../src/storage/hashing';
import { testId, testStore } from '../support/test-env';

const GRACE_MS = 1000;

/** The error versitygw's 503 becomes in S3ArtifactStore (what the issue saw: "... failed (transient): ..."). */
const s503 = (key: string) =>
  new ArtifactStoreError(
    'get',
    's3://ap-test',
    key,
    'ServiceUnavailable (HTTP 503): Please reduce your request rate.',
    true,
  );

/** A store whose next `failures` reads fail with `error` (then it reads normally); counts every read. */
function flakyReads(store: ArtifactStore, failures: number, error: (key: string) => Error = s503) {
  let left = failures;
  const reads = { count: 0 };
  const wrapped: ArtifactStore = Object.create(store) as ArtifactStore;
  wrapped.get = async (keyOrRef, dest) => {
    reads.count++;
    const key = typeof keyOrRef === 'string' ? keyOrRef : keyOrRef.key;
    if (left > 0) {
      left--;
      throw error(key);
    }
    return store.get(keyOrRef, dest);
  };
  return { store: wrapped, reads };
}

function setup(
  prior: CheckpointRef[] = [],
  overrides: Partial<CheckpointLedgerOptions> & { wrap?: (s: ArtifactStore) => ArtifactStore } = {},
) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ap-ledger-'));
  const store = new LocalArtifactStore(path.join(dir, 'store'));
  let now = 0;
  const warnings: string[] = [];
  const waits: number[] = [];
  const { wrap, ...opts } = overrides;
  const ledger = new CheckpointLedger(
    {
      store: wrap ? wrap(store) : store,
      keyOf: (step) => checkpointKey('c-1', 't1', step),
      keep: 2,
      retireGraceMs: GRACE_MS,
      now: () => now,
      warn: (m) => warnings.push(m),
      sleep: async (ms) => {
        waits.push(ms);
      },
      ...opts,
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
  return { dir, store, ledger, warnings, waits, write, stored, tick: (ms: number) => (now += ms) };
}

/** Checkpoints at `steps` recorded by a first ledger (attempt 1); its store folder, to copy into another. */
async function firstAttempt(steps: number[]) {
  const first = setup([], { retireGraceMs: 60_000 });
  for (const step of steps) {
    const { file, sha256 } = first.write(step);
    await first.ledger.record(step, file, sha256);
  }
  return first;
}

/** A second ledger (attempt 2) over a copy of `first`'s store, resuming from `prior`. */
function secondAttempt(
  first: { dir: string },
  prior: CheckpointRef[],
  overrides: Parameters<typeof setup>[1] = {},
) {
  const second = setup(prior, overrides);
  fs.cpSync(path.join(first.dir, 'store'), path.join(second.dir, 'store'), { recursive: true });
  return second;
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

test('finish keeps only the newest checkpoint (the one a result names) and deletes the rest at once', async () => {
  const { ledger, write, stored } = setup();
  for (const step of [10, 20, 30, 40]) {
    const { file, sha256 } = write(step);
    await ledger.record(step, file, sha256);
    await ledger.retire();
  }
  expect(await stored()).toHaveLength(4);
  await ledger.finish();
  expect(await stored()).toEqual([checkpointKey('c-1', 't1', 40)]);
  expect(ledger.checkpoints.map((c) => c.step)).toEqual([40]);
  expect(ledger.latest()?.step).toBe(40);
});

test('a step recorded twice (last periodic and final checkpoint): finish keeps its object', async () => {
  const { ledger, write, stored } = setup();
  for (const step of [10, 20, 20]) {
    const { file, sha256 } = write(step);
    await ledger.record(step, file, sha256);
    await ledger.retire();
  }
  // One entry per key: the second recording of step 20 replaced the first.
  expect(ledger.checkpoints.map((c) => c.step)).toEqual([10, 20]);
  await ledger.finish();
  expect(await stored()).toEqual([checkpointKey('c-1', 't1', 20)]);
  expect(ledger.latest()?.step).toBe(20);
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

describe('resume when the store fails transiently', () => {
  test('a read that fails transiently twice is retried with backoff: the newest checkpoint is resumed, nothing skipped', async () => {
    const first = await firstAttempt([10, 20, 30]);
    const prior = first.ledger.checkpoints;
    let flaky: ReturnType<typeof flakyReads> | undefined;
    const retries: number[] = [];
    const second = secondAttempt(first, prior, {
      wrap: (s) => (flaky = flakyReads(s, 2)).store,
      onRetry: () => retries.push(1),
    });
    const resume = await second.ledger.resume(path.join(second.dir, 'resume'));
    expect(resume?.step).toBe(30);
    expect(fs.readFileSync(resume!.file, 'utf8')).toBe('weights at step 30');
    expect(second.ledger.checkpoints).toEqual(prior);
    expect(flaky!.reads.count).toBe(3);
    expect(second.waits).toEqual([1000, 2000]);
    expect(retries).toHaveLength(2);
    expect(second.warnings.join('\n')).not.toMatch(/unusable/);
    expect(second.warnings[0]).toMatch(/step 30: read 1 of 5 failed transiently.*HTTP 503/);
  });

  test('a store that stays unavailable fails the attempt retryably and keeps every checkpoint', async () => {
    const first = await firstAttempt([10, 20, 30]);
    const prior = first.ledger.checkpoints;
    const second = secondAttempt(first, prior, { wrap: (s) => flakyReads(s, 1000).store, readAttempts: 4 });
    const err = await second.ledger.resume(path.join(second.dir, 'resume')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ApplicationFailure);
    expect(err).toMatchObject({ type: CHECKPOINT_STORE_UNAVAILABLE, nonRetryable: false });
    expect((err as Error).message).toMatch(
      /step 30: the store failed 4 reads transiently.*every checkpoint kept/,
    );
    expect(second.ledger.checkpoints).toEqual(prior);
    expect(second.waits).toEqual([1000, 2000, 4000]);
    // and nothing was deleted: the next attempt finds all three
    expect(await second.stored()).toHaveLength(3);
  });

  test('a failure that is neither transient nor a bad checkpoint (e.g. 403) is rethrown, skipping nothing', async () => {
    const first = await firstAttempt([10, 20]);
    const prior = first.ledger.checkpoints;
    const denied = (key: string) =>
      new ArtifactStoreError('get', 's3://ap-test', key, 'AccessDenied (HTTP 403): Access Denied.', false);
    const second = secondAttempt(first, prior, { wrap: (s) => flakyReads(s, 1, denied).store });
    await expect(second.ledger.resume(path.join(second.dir, 'resume'))).rejects.toThrow('AccessDenied');
    expect(second.ledger.checkpoints).toEqual(prior);
    expect(second.waits).toEqual([]);
  });

  test.each([
    ['sha256 mismatch', new ArtifactIntegrityError('k', 'a', 'b'), 'unusable'],
    ['missing object', new ArtifactNotFoundError('s3://b', 'k'), 'unusable'],
    ['S3 503 (transient)', s503('k'), 'transient'],
    ['S3 403', new ArtifactStoreError('get', 's3://b', 'k', 'AccessDenied (HTTP 403)', false), 'fatal'],
    ["a wrapper's ECONNRESET", new Error('read ECONNRESET'), 'transient'],
    ["a wrapper's 502", new Error('upstream said HTTP 502 Bad Gateway'), 'transient'],
    ['anything else', new Error('EACCES: permission denied'), 'fatal'],
  ] as const)('classify %s as %s', (_name, err, kind) => {
    expect(classifyCheckpointReadFailure(err)).toBe(kind);
  });
});

describe('resume deletes what an interrupted attempt left behind', () => {
  test('retired-but-not-deleted and stored-but-never-heartbeated checkpoints go; the resumed list stays', async () => {
    // Attempt 1 stored 10..50, heartbeated [30, 40] last (10, 20 retired inside the grace period), stored 50
    // and was killed before heartbeating it: five objects, two of them named by the server's heartbeat.
    const first = await firstAttempt([10, 20, 30, 40, 50]);
    const heartbeated = first.ledger.checkpoints.filter((c) => c.step === 30 || c.step === 40);
    expect(await first.stored()).toHaveLength(5);
    const second = secondAttempt(first, heartbeated, { prefix: checkpointFolder('c-1', 't1') });
    const resume = await second.ledger.resume(path.join(second.dir, 'resume'));
    expect(resume?.step).toBe(40);
    expect(await second.stored()).toEqual([checkpointKey('c-1', 't1', 30), checkpointKey('c-1', 't1', 40)]);
  });

  test('a corrupt checkpoint that was skipped is deleted too', async () => {
    const first = await firstAttempt([10, 20]);
    const [c10, c20] = first.ledger.checkpoints as [CheckpointRef, CheckpointRef];
    const corrupt = { step: 20, ref: { ...c20.ref, sha256: 'f'.repeat(64) } };
    const second = secondAttempt(first, [c10, corrupt], { prefix: checkpointFolder('c-1', 't1') });
    expect((await second.ledger.resume(path.join(second.dir, 'resume')))?.step).toBe(10);
    expect(await second.stored()).toEqual([checkpointKey('c-1', 't1', 10)]);
  });

  test('the upload it was killed in (a temp file half written) is discarded, and said so; nothing else is', async () => {
    const first = await firstAttempt([10, 20]);
    // Attempt 1 was SIGKILLed uploading step 30: its temp file stays beside the checkpoints (the store's
    // layout: <folder>/.ap-tmp-<12 hex>-<name>); another prefix's temp file is not this ledger's to touch.
    const root = path.join(first.dir, 'store');
    const half = path.join(root, checkpointFolder('c-1', 't1'), `.ap-tmp-0123456789ab-ckpt-000000030.pt`);
    fs.writeFileSync(half, 'half of step 30');
    const other = path.join(root, 'campaigns/c-1/t1/finetuned/.ap-tmp-0123456789ab-state_dict.pt');
    fs.mkdirSync(path.dirname(other), { recursive: true });
    fs.writeFileSync(other, 'not a checkpoint');
    const second = secondAttempt(first, first.ledger.checkpoints, { prefix: checkpointFolder('c-1', 't1') });
    expect((await second.store.listIncompleteUploads('campaigns/c-1/')).map((u) => u.key)).toEqual([
      checkpointKey('c-1', 't1', 30),
      'campaigns/c-1/t1/finetuned/state_dict.pt',
    ]);
    expect((await second.ledger.resume(path.join(second.dir, 'resume')))?.step).toBe(20);
    expect((await second.store.listIncompleteUploads('campaigns/c-1/')).map((u) => u.key)).toEqual([
      'campaigns/c-1/t1/finetuned/state_dict.pt',
    ]);
    expect(second.warnings).toEqual([
      `discarded an incomplete upload of ${checkpointKey('c-1', 't1', 30)} (an interrupted attempt's)`,
    ]);
    expect(await second.stored()).toEqual([checkpointKey('c-1', 't1', 10), checkpointKey('c-1', 't1', 20)]);
  });
});

test('on the real S3-compatible server: two 503s are retried, the newest is resumed, the orphans leave the bucket', async () => {
  const store = testStore();
  const campaign = testId('ledger');
  const folder = checkpointFolder(campaign, 't1');
  const keyOf = (step: number) => checkpointKey(campaign, 't1', step);
  const { write } = setup();
  try {
    // Attempt 1 stored 10..50; the server's last heartbeat named [30, 40].
    const first = new CheckpointLedger({ store, keyOf, keep: 2, retireGraceMs: 60_000 });
    for (const step of [10, 20, 30, 40, 50]) {
      const { file, sha256 } = write(step);
      await first.record(step, file, sha256);
    }
    expect(await store.list(folder)).toHaveLength(5);
    const prior = first.checkpoints.filter((c) => c.step === 30 || c.step === 40);
    const flaky = flakyReads(store, 2);
    const waits: number[] = [];
    const second = new CheckpointLedger(
      {
        store: flaky.store,
        keyOf,
        prefix: folder,
        keep: 2,
        retireGraceMs: 60_000,
        sleep: async (ms) => {
          waits.push(ms);
        },
      },
      prior,
    );
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ap-ledger-s3-'));
    const resume = await second.resume(dir);
    expect(resume?.step).toBe(40);
    expect(fs.readFileSync(resume!.file, 'utf8')).toBe('weights at step 40');
    expect(waits).toEqual([1000, 2000]);
    expect((await store.list(folder)).map((o) => o.key)).toEqual([keyOf(30), keyOf(40)]);
  } finally {
    for (const o of await store.list(folder)) await store.delete(o.key);
    store.destroy();
  }
});
