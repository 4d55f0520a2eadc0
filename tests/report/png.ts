import * as zlib from 'node:zlib';

/** A decoded 8-bit PNG: `channels` bytes per pixel, rows top to bottom. */
export interface DecodedPng {
  width: number;
  height: number;
  channels: number;
  pixels: Buffer;
}

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * Decode a non-interlaced 8-bit greyscale/RGB/RGBA PNG (what Chromium writes for screenshots):
 * walk the chunks, inflate the IDAT stream and undo the per-row filters (None/Sub/Up/Average/Paeth).
 */
export function decodePng(png: Buffer): DecodedPng {
  if (!png.subarray(0, 8).equals(SIGNATURE)) throw new Error('not a PNG');
  let offset = 8;
  let width = 0;
  let height = 0;
  let channels = 0;
  const idat: Buffer[] = [];
  while (offset < png.length) {
    const length = png.readUInt32BE(offset);
    const type = png.toString('latin1', offset + 4, offset + 8);
    const data = png.subarray(offset + 8, offset + 8 + length);
    if (type === 'IHDR') {
      width = data.readUInt32BE(0);
      height = data.readUInt32BE(4);
      const bitDepth = data[8];
      const colorType = data[9];
      const interlace = data[12];
      const byType: Record<number, number> = { 0: 1, 2: 3, 4: 2, 6: 4 };
      channels = byType[colorType ?? -1] ?? 0;
      if (bitDepth !== 8 || channels === 0 || interlace !== 0) throw new Error(`unsupported PNG: depth ${bitDepth}, colour type ${colorType}, interlace ${interlace}`);
    } else if (type === 'IDAT') {
      idat.push(data);
    } else if (type === 'IEND') {
      break;
    }
    offset += 12 + length;
  }
  const raw = zlib.inflateSync(Buffer.concat(idat));
  const stride = width * channels;
  if (raw.length !== height * (stride + 1)) throw new Error(`IDAT holds ${raw.length} bytes, expected ${height * (stride + 1)}`);
  const pixels = Buffer.alloc(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const src = y * (stride + 1) + 1;
    const dst = y * stride;
    for (let i = 0; i < stride; i++) {
      const x = raw[src + i] ?? 0;
      const a = i >= channels ? (pixels[dst + i - channels] ?? 0) : 0;
      const b = y > 0 ? (pixels[dst - stride + i] ?? 0) : 0;
      const c = y > 0 && i >= channels ? (pixels[dst - stride + i - channels] ?? 0) : 0;
      let v: number;
      switch (filter) {
        case 0:
          v = x;
          break;
        case 1:
          v = x + a;
          break;
        case 2:
          v = x + b;
          break;
        case 3:
          v = x + ((a + b) >> 1);
          break;
        case 4: {
          const p = a + b - c;
          const pa = Math.abs(p - a);
          const pb = Math.abs(p - b);
          const pc = Math.abs(p - c);
          v = x + (pa <= pb && pa <= pc ? a : pb <= pc ? b : c);
          break;
        }
        default:
          throw new Error(`bad PNG filter ${filter} on row ${y}`);
      }
      pixels[dst + i] = v & 0xff;
    }
  }
  return { width, height, channels, pixels };
}

/** Pixel statistics: how many distinct colours, and the fraction of pixels that differ from the most common one. */
export function pixelStats(img: DecodedPng): { distinctColors: number; nonBackgroundFraction: number } {
  const counts = new Map<number, number>();
  const n = img.width * img.height;
  for (let p = 0; p < n; p++) {
    const o = p * img.channels;
    let key = 0;
    for (let ch = 0; ch < Math.min(3, img.channels); ch++) key = key * 256 + (img.pixels[o + ch] ?? 0);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const top = Math.max(...counts.values());
  return { distinctColors: counts.size, nonBackgroundFraction: 1 - top / n };
}
