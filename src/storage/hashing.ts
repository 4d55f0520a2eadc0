import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { pipeline } from 'node:stream/promises';
import { Transform, type Readable } from 'node:stream';

/** sha256 (hex) and size of a file, streamed. */
export async function hashFile(file: string): Promise<{ sha256: string; sizeBytes: number }> {
  const h = createHash('sha256');
  let sizeBytes = 0;
  await pipeline(fs.createReadStream(file), async function* (src: AsyncIterable<Buffer>) {
    for await (const chunk of src) {
      h.update(chunk);
      sizeBytes += chunk.length;
    }
    yield* [];
  });
  return { sha256: h.digest('hex'), sizeBytes };
}

/** sha256 (hex) of bytes. */
export function hashBytes(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** A pass-through that hashes and counts what flows through it. */
export function hashingStream(): Transform & { digest(): { sha256: string; sizeBytes: number } } {
  const h = createHash('sha256');
  let sizeBytes = 0;
  const t = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      h.update(chunk);
      sizeBytes += chunk.length;
      cb(null, chunk);
    },
  });
  return Object.assign(t, { digest: () => ({ sha256: h.digest('hex'), sizeBytes }) });
}

/** Write a stream to a file, returning its sha256 and size. */
export async function streamToFile(
  stream: Readable,
  file: string,
): Promise<{ sha256: string; sizeBytes: number }> {
  const hasher = hashingStream();
  await pipeline(stream, hasher, fs.createWriteStream(file));
  return hasher.digest();
}
