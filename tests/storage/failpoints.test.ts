// Store failpoints (AP_STORE_FAILPOINTS, test-only): how the variable parses, one case per malformed value,
// and what the pausing stream does to the bytes (nothing) and when it stops (once, after the first bytes).
import type { Readable } from 'node:stream';
import { ConfigError } from '../../src/core/errors';
import { STORE_FAILPOINTS_ENV, parseStoreFailpoints, storeConfigFromEnv } from '../../src/storage';
import { failpointFor, pausingStream } from '../../src/storage/failpoints';

test.each([
  ['one', '/checkpoints/ckpt-=120', [{ keyContains: '/checkpoints/ckpt-', seconds: 120 }]],
  [
    'two, spaces and a blank entry',
    ' ckpt- = 2.5 ,, finetuned/=0 ,',
    [
      { keyContains: 'ckpt-', seconds: 2.5 },
      { keyContains: 'finetuned/', seconds: 0 },
    ],
  ],
  ['a substring holding "=" (the last one splits)', 'a=b=3', [{ keyContains: 'a=b', seconds: 3 }]],
])('%s', (_name, raw, expected) => {
  expect(parseStoreFailpoints(raw)).toEqual(expected);
});

test.each([
  ['no "="', 'ckpt-', /"ckpt-": expected <key substring>=<seconds>/],
  ['no substring', '=120', /"=120": expected <key substring>=<seconds>/],
  ['no seconds', 'ckpt-=', /"ckpt-=": expected/],
  ['seconds not a number', 'ckpt-=soon', /"ckpt-=soon": expected/],
  ['negative seconds', 'ckpt-=-1', /"ckpt-=-1": expected/],
  ['seconds in exponent form', 'ckpt-=1e3', /"ckpt-=1e3": expected/],
  ['infinite seconds', 'ckpt-=Infinity', /"ckpt-=Infinity": expected/],
  ['a substring twice', 'ckpt-=1,ckpt-=2', /"ckpt-" is given twice/],
  ['nothing armed', ' , ', /arms nothing/],
])('malformed, %s: a ConfigError naming the variable', (_name, raw, message) => {
  const err = (() => {
    try {
      parseStoreFailpoints(raw);
    } catch (e) {
      return e;
    }
    return undefined;
  })() as ConfigError;
  expect(err).toBeInstanceOf(ConfigError);
  expect(err.message).toMatch(new RegExp(`^${STORE_FAILPOINTS_ENV}: `, 'm'));
  expect(err.message).toMatch(message);
});

test('read with the store config, for either store; unset or empty, none', () => {
  const local = { AP_STORE_ROOT: '/tmp/x' };
  expect(storeConfigFromEnv({ ...local, AP_STORE_FAILPOINTS: 'ckpt-=5' })).toEqual({
    kind: 'local',
    root: '/tmp/x',
    failpoints: [{ keyContains: 'ckpt-', seconds: 5 }],
  });
  expect(storeConfigFromEnv({ ...local, AP_STORE_FAILPOINTS: '' })).toEqual({
    kind: 'local',
    root: '/tmp/x',
  });
  const s3 = storeConfigFromEnv({
    AP_STORE: 's3',
    AP_S3_ENDPOINT: 'http://127.0.0.1:7070',
    AP_S3_BUCKET: 'agentic-pruner',
    AP_S3_ACCESS_KEY: 'access-key-value',
    AP_S3_SECRET_KEY: 'secret-key-value',
    AP_STORE_FAILPOINTS: 'model.pt=1',
  });
  expect(s3).toMatchObject({ kind: 's3', failpoints: [{ keyContains: 'model.pt', seconds: 1 }] });
  expect(() => storeConfigFromEnv({ ...local, AP_STORE_FAILPOINTS: 'ckpt-' })).toThrow(
    /artifact store environment is invalid:\nAP_STORE_FAILPOINTS: "ckpt-": expected/,
  );
});

test('the first failpoint whose substring the key holds arms it', () => {
  const fps = parseStoreFailpoints('ckpt-=1,checkpoints/=2');
  expect(failpointFor(fps, 'campaigns/c/t/checkpoints/ckpt-000000010.pt')?.seconds).toBe(1);
  expect(failpointFor(fps, 'campaigns/c/t/checkpoints/other.pt')?.seconds).toBe(2);
  expect(failpointFor(fps, 'campaigns/c/t/finetuned/state_dict.pt')).toBeUndefined();
});

/** Drain `stream`, noting each pause. */
async function drain(make: (pause: (sent: number) => Promise<void>) => Readable) {
  let out = Buffer.alloc(0);
  const pauses: number[] = [];
  const stream = make(async (sent) => {
    pauses.push(sent);
  });
  for await (const c of stream) out = Buffer.concat([out, c as Buffer]);
  return { out, pauses };
}

test.each([
  // [chunk sizes, afterBytes] -> one pause, at afterBytes (or at the end when the stream is shorter)
  ['the cut inside a chunk', [100, 100], 150, 150],
  ['the cut on a chunk boundary', [100, 100], 100, 100],
  ['a cut at 0', [100], 0, 0],
  ['a stream shorter than the cut: at its end', [30, 30], 100, 60],
  ['an empty stream: at once', [], 10, 0],
])('pausingStream, %s: the same bytes, one pause after the first bytes', async (_n, sizes, after, at) => {
  const chunks = sizes.map((n, i) => Buffer.alloc(n, i + 1));
  const { out, pauses } = await drain((pause) => pausingStream(chunks, after, pause));
  expect(out.equals(Buffer.concat(chunks))).toBe(true);
  expect(pauses).toEqual([at]);
});
