import { Readable } from 'node:stream';
import { ConfigError } from '../core/errors';

/**
 * Store failpoints: a pause in the middle of an upload, set from the environment, for the fault suite
 * (tests/durability/faults.test.ts) only. The storage twin of the engine's `AP_ENGINE_FAILPOINTS`
 * (engine/agentic_engine/failpoints.py). Unset (the default, and in production), nothing happens.
 *
 * `AP_STORE_FAILPOINTS="<key substring>=<seconds>[,...]"` makes every `put` whose key contains one of the
 * substrings stop for that many seconds once its upload has begun, with a line on stderr saying so, so a
 * test can SIGKILL the process while the upload is known to be half done:
 * - S3: in the HTTP request that carries the object's last bytes (the one PutObject of an object up to one
 *   part; else the UploadPart of the last part, every earlier part having gone before it), after the first
 *   {@link FAILPOINT_AFTER_BYTES} bytes of that request's body (or half of a smaller body) have been sent;
 * - local: after the first {@link FAILPOINT_AFTER_BYTES} bytes went into the temp file (or, for a smaller
 *   object, after all of them), before the commit.
 *
 * A substring may hold `=` (the last `=` splits) but not `,`. A malformed value is a {@link ConfigError}
 * naming the variable: a fault test that arms nothing would prove nothing.
 *
 * @example
 * ```sh
 * AP_STORE_FAILPOINTS='/checkpoints/ckpt-=120' agentic-pruner worker --devices 1
 * # stderr: store failpoint: put campaigns/c-1/t50/checkpoints/ckpt-000000060.pt paused for 120 s after 65536 of 1412923 bytes (AP_STORE_FAILPOINTS)
 * ```
 */
export const STORE_FAILPOINTS_ENV = 'AP_STORE_FAILPOINTS';

/** How far into an upload a failpoint pauses it. */
export const FAILPOINT_AFTER_BYTES = 64 * 1024;

/** One armed failpoint: `put`s whose key contains `keyContains` pause for `seconds`. */
export interface StoreFailpoint {
  keyContains: string;
  seconds: number;
}

/**
 * `"ckpt-=120,finetuned/=2.5"` -> `[{ keyContains: 'ckpt-', seconds: 120 }, { keyContains: 'finetuned/', seconds: 2.5 }]`.
 * Blank entries between commas are skipped; anything else that is not `<substring>=<seconds>` (seconds a
 * plain decimal >= 0), a substring given twice, or a value that arms nothing throws a {@link ConfigError}
 * naming {@link STORE_FAILPOINTS_ENV}.
 */
export function parseStoreFailpoints(raw: string): StoreFailpoint[] {
  const bad = (message: string): never => {
    throw new ConfigError('artifact store environment', [
      { code: 'custom', path: [STORE_FAILPOINTS_ENV], message, input: raw },
    ]);
  };
  const out: StoreFailpoint[] = [];
  for (const item of raw.split(',').map((s) => s.trim())) {
    if (item === '') continue;
    const at = item.lastIndexOf('=');
    const keyContains = at > 0 ? item.slice(0, at).trim() : '';
    const seconds = at > 0 ? item.slice(at + 1).trim() : '';
    if (keyContains === '' || !/^\d+(\.\d+)?$/.test(seconds))
      bad(`${JSON.stringify(item)}: expected <key substring>=<seconds>, e.g. /checkpoints/ckpt-=120`);
    if (out.some((f) => f.keyContains === keyContains)) bad(`${JSON.stringify(keyContains)} is given twice`);
    out.push({ keyContains, seconds: Number(seconds) });
  }
  if (out.length === 0) bad(`${JSON.stringify(raw)} arms nothing: unset it, or name a key substring`);
  return out;
}

/** The failpoint that arms a put of `key`: the first whose substring the key contains. */
export function failpointFor(failpoints: readonly StoreFailpoint[], key: string): StoreFailpoint | undefined {
  return failpoints.find((f) => key.includes(f.keyContains));
}

/** Where a failpoint's line goes. @default stderr */
export type FailpointLog = (line: string) => void;

/** The default {@link FailpointLog}: one line on stderr (a worker's log, which the fault suite reads). */
export const stderrLine: FailpointLog = (line) => {
  process.stderr.write(`${line}\n`);
};

/**
 * The pause itself: say so (the key and the byte count, never a credential or a URL), then sleep. A
 * stored timer (not unref'd): the process is meant to be killed in it.
 */
export function failpointPause(
  fp: StoreFailpoint,
  key: string,
  log: FailpointLog,
): (sentBytes: number, totalBytes: number | undefined) => Promise<void> {
  return (sentBytes, totalBytes) => {
    const of = totalBytes === undefined ? '' : ` of ${totalBytes}`;
    log(
      `store failpoint: put ${key} paused for ${fp.seconds} s after ${sentBytes}${of} bytes (${STORE_FAILPOINTS_ENV})`,
    );
    return new Promise((resolve) => setTimeout(resolve, fp.seconds * 1000));
  };
}

/**
 * `source` again, byte for byte, except that it stops once, in `pause`, after its first `afterBytes`
 * bytes (at its end, when it is shorter).
 */
export function pausingStream(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  afterBytes: number,
  pause: (sentBytes: number) => Promise<void>,
): Readable {
  async function* chunks(): AsyncGenerator<Buffer> {
    let sent = 0;
    let paused = false;
    for await (const c of source) {
      const chunk = Buffer.from(c.buffer, c.byteOffset, c.byteLength);
      if (!paused && sent + chunk.length >= afterBytes) {
        const head = afterBytes - sent;
        if (head > 0) yield chunk.subarray(0, head);
        await pause(afterBytes);
        paused = true;
        if (head < chunk.length) yield chunk.subarray(head);
      } else if (chunk.length > 0) {
        yield chunk;
      }
      sent += chunk.length;
    }
    if (!paused) await pause(sent);
  }
  return Readable.from(chunks(), { objectMode: false });
}
