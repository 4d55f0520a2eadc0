/**
 * Reading an `.onnx` file: decode the protobuf, find the default-domain opset, index the
 * initializers by name with their shapes, and read tensor bytes lazily — inline `raw_data`,
 * typed `*_data` fields, or external-data files next to the model. Nothing here interprets ops.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { dirname, isAbsolute, normalize, resolve, sep } from 'node:path';

import { onnx } from 'onnx-proto';

import { OnnxFormatError } from './errors';

/** ONNX `TensorProto.DataType` codes this package reads (the subset with fixed-size elements). */
export const DataType = {
  UNDEFINED: 0,
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  BFLOAT16: 16,
} as const;

const DATA_TYPE_NAMES: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(DataType).map(([name, code]) => [code, name.toLowerCase()]),
);

/** The lower-case ONNX name of a data type code, e.g. `1` → `float`; `type<N>` for codes we do not name. */
export function dataTypeName(code: number): string {
  return DATA_TYPE_NAMES[code] ?? `type${code}`;
}

/** Whether a data type code is a floating-point type (float, double, float16, bfloat16). */
export function isFloatType(code: number): boolean {
  return (
    code === DataType.FLOAT ||
    code === DataType.DOUBLE ||
    code === DataType.FLOAT16 ||
    code === DataType.BFLOAT16
  );
}

const ELEMENT_BYTES: Readonly<Record<number, number>> = {
  [DataType.FLOAT]: 4,
  [DataType.UINT8]: 1,
  [DataType.INT8]: 1,
  [DataType.UINT16]: 2,
  [DataType.INT16]: 2,
  [DataType.INT32]: 4,
  [DataType.INT64]: 8,
  [DataType.BOOL]: 1,
  [DataType.FLOAT16]: 2,
  [DataType.DOUBLE]: 8,
  [DataType.UINT32]: 4,
  [DataType.UINT64]: 8,
  [DataType.BFLOAT16]: 2,
};

/** protobufjs decodes int64 fields as `number` or a Long-like object, depending on the value. */
type Int64Like = number | { toNumber(): number };

/** An int64 protobuf field as a JS number (exact up to 2^53, which every shape and offset is). */
export function toNumber(v: Int64Like | null | undefined): number {
  if (v === null || v === undefined) return 0;
  return typeof v === 'number' ? v : v.toNumber();
}

/** Where an external tensor's bytes are: a file relative to the model's folder, a byte offset and length. */
export interface ExternalDataRef {
  /** Absolute path of the data file (validated to lie inside the model's folder). */
  readonly file: string;
  /** Byte offset into `file`. @default 0 */
  readonly offset: number;
  /** Byte count; when the model omits it, the rest of the file from `offset`. */
  readonly length: number;
}

/**
 * An initializer as the profiler sees it: name, type and shape, and where its bytes are.
 * The bytes themselves are read only on request ({@link OnnxModel.tensorBytes}).
 */
export interface InitializerInfo {
  readonly name: string;
  /** ONNX data type code (see {@link DataType}). */
  readonly dataType: number;
  readonly dims: readonly number[];
  /** Product of `dims` (1 for a scalar). */
  readonly elementCount: number;
  /** Set when the tensor is stored outside the model file. */
  readonly external?: ExternalDataRef;
  /** The decoded proto, kept for lazy reads of inline data. */
  readonly proto: onnx.ITensorProto;
}

/**
 * A decoded ONNX model with indexed initializers. Build with {@link loadOnnxModel}.
 *
 * @example
 * const model = await loadOnnxModel('resnet50.onnx');
 * model.opset;                                   // 17
 * model.initializers.get('fc.weight')?.dims;     // [1000, 2048]
 */
export class OnnxModel {
  /** Initializers by name, in file order. */
  readonly initializers: ReadonlyMap<string, InitializerInfo>;

  /** @internal use {@link loadOnnxModel} */
  constructor(
    /** Path the model was read from. */
    readonly path: string,
    /** The decoded ModelProto; `graph` is guaranteed present. */
    readonly proto: onnx.ModelProto,
    /** Opset version of the default (`ai.onnx`) domain. */
    readonly opset: number,
  ) {
    const graph = this.graph;
    const dir = dirname(resolve(path));
    const inits = new Map<string, InitializerInfo>();
    for (const t of graph.initializer ?? []) {
      const name = t.name ?? '';
      const dims = (t.dims ?? []).map(toNumber);
      const dataType = t.dataType ?? DataType.UNDEFINED;
      const external =
        t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL ? externalRef(path, dir, t) : undefined;
      const base = { name, dataType, dims, elementCount: product(dims), proto: t };
      inits.set(name, external !== undefined ? { ...base, external } : base);
    }
    this.initializers = inits;
  }

  /** The main graph. */
  get graph(): onnx.IGraphProto {
    // The loader rejects models without a graph, so this is always set.
    return this.proto.graph as onnx.IGraphProto;
  }

  /**
   * The raw little-endian bytes of a tensor (an initializer or a `Constant`'s value), read on demand:
   * inline `raw_data` is returned as a view, external data is read from its file (only its range),
   * and typed fields (`float_data`, `int64_data`, ...) are re-encoded.
   * Throws {@link OnnxFormatError} if an external file is shorter than the model claims.
   */
  tensorBytes(tensor: onnx.ITensorProto): Uint8Array {
    const dataType = tensor.dataType ?? DataType.UNDEFINED;
    const count = product((tensor.dims ?? []).map(toNumber));
    if (tensor.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) {
      const ref = externalRef(this.path, dirname(resolve(this.path)), tensor);
      const buf = Buffer.alloc(ref.length);
      const fd = openSync(ref.file, 'r');
      try {
        const n = readSync(fd, buf, 0, ref.length, ref.offset);
        if (n !== ref.length) {
          throw new OnnxFormatError(
            this.path,
            `external data ${ref.file} has ${n} of ${ref.length} bytes at offset ${ref.offset}`,
          );
        }
      } finally {
        closeSync(fd);
      }
      return buf;
    }
    if (tensor.rawData && tensor.rawData.length > 0) return tensor.rawData;
    return encodeTypedFields(tensor, dataType, count);
  }

  /**
   * The elements of a numeric tensor as JS numbers (int64 beyond 2^53 loses precision, which only
   * affects sentinels like INT64_MAX in `Slice` ends). Meant for small tensors: shapes, axes, scalars.
   */
  tensorValues(tensor: onnx.ITensorProto): number[] {
    const dataType = tensor.dataType ?? DataType.UNDEFINED;
    return decodeLittleEndian(this.tensorBytes(tensor), dataType, this.path, tensor.name ?? '');
  }
}

/**
 * Read and decode an ONNX model. External-data files are checked for presence and size but not read.
 * Throws {@link OnnxFormatError} for a missing, truncated or non-ONNX file.
 */
export async function loadOnnxModel(path: string): Promise<OnnxModel> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw new OnnxFormatError(path, `cannot read the file: ${(e as Error).message}`);
  }
  if (bytes.length === 0) throw new OnnxFormatError(path, 'the file is empty');
  let proto: onnx.ModelProto;
  try {
    proto = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new OnnxFormatError(
      path,
      `protobuf decoding failed (truncated or not ONNX): ${(e as Error).message}`,
    );
  }
  if (!proto.graph || (proto.graph.node ?? []).length === 0) {
    throw new OnnxFormatError(path, 'the model has no graph or an empty graph');
  }
  const opsetEntry = (proto.opsetImport ?? []).find((o) => !o.domain || o.domain === 'ai.onnx');
  if (!opsetEntry)
    throw new OnnxFormatError(path, 'the model imports no opset of the default (ai.onnx) domain');
  const model = new OnnxModel(path, proto, toNumber(opsetEntry.version));
  const sizes = new Map<string, number | undefined>();
  for (const init of model.initializers.values()) {
    if (init.external) await checkExternal(path, init.name, init.external, sizes);
  }
  return model;
}

/** Check that an external tensor's bytes exist, without reading them; `sizes` caches file sizes. */
async function checkExternal(
  path: string,
  name: string,
  ref: ExternalDataRef,
  sizes: Map<string, number | undefined>,
): Promise<void> {
  if (!sizes.has(ref.file))
    sizes.set(
      ref.file,
      await stat(ref.file).then(
        (s) => s.size,
        () => undefined,
      ),
    );
  const size = sizes.get(ref.file);
  if (size === undefined)
    throw new OnnxFormatError(path, `initializer ${name}: external data file ${ref.file} is missing`);
  if (ref.offset + ref.length > size) {
    throw new OnnxFormatError(
      path,
      `initializer ${name}: external data file ${ref.file} has ${size} bytes, needs ${ref.offset + ref.length}`,
    );
  }
}

function externalRef(path: string, dir: string, t: onnx.ITensorProto): ExternalDataRef {
  const kv = new Map((t.externalData ?? []).map((e) => [e.key ?? '', e.value ?? '']));
  const location = kv.get('location');
  if (!location)
    throw new OnnxFormatError(path, `initializer ${t.name ?? ''}: external data without a location`);
  // The ONNX spec makes locations relative to the model's folder; refuse ones that escape it.
  const file = resolve(dir, location);
  if (isAbsolute(location) || !normalize(file).startsWith(normalize(dir) + sep)) {
    throw new OnnxFormatError(
      path,
      `initializer ${t.name ?? ''}: external location ${location} is outside the model's folder`,
    );
  }
  const offset = Number(kv.get('offset') ?? '0');
  const bytesPer = ELEMENT_BYTES[t.dataType ?? 0];
  const lengthText = kv.get('length');
  let length: number;
  if (lengthText !== undefined) length = Number(lengthText);
  else if (bytesPer !== undefined) length = product((t.dims ?? []).map(toNumber)) * bytesPer;
  else throw new OnnxFormatError(path, `initializer ${t.name ?? ''}: external data without a length`);
  if (!Number.isInteger(offset) || offset < 0 || !Number.isInteger(length) || length < 0) {
    throw new OnnxFormatError(
      path,
      `initializer ${t.name ?? ''}: bad external offset/length ${offset}/${length}`,
    );
  }
  return { file, offset, length };
}

/** Product of a list of dimensions (1 for the empty list). */
export function product(dims: readonly number[]): number {
  let p = 1;
  for (const d of dims) p *= d;
  return p;
}

function encodeTypedFields(t: onnx.ITensorProto, dataType: number, count: number): Uint8Array {
  const bytesPer = ELEMENT_BYTES[dataType];
  if (bytesPer === undefined) return new Uint8Array(0);
  const out = Buffer.alloc(count * bytesPer);
  const put = (values: readonly number[], write: (v: number, at: number) => void): Uint8Array => {
    values.slice(0, count).forEach((v, i) => write(v, i * bytesPer));
    return out;
  };
  switch (dataType) {
    case DataType.FLOAT:
      return put(t.floatData ?? [], (v, at) => out.writeFloatLE(v, at));
    case DataType.DOUBLE:
      return put(t.doubleData ?? [], (v, at) => out.writeDoubleLE(v, at));
    case DataType.INT64:
      return put((t.int64Data ?? []).map(toNumber), (v, at) => out.writeBigInt64LE(BigInt(v), at));
    case DataType.UINT64:
    case DataType.UINT32:
      return put((t.uint64Data ?? []).map(toNumber), (v, at) =>
        out.writeUIntLE(v, at, Math.min(bytesPer, 6)),
      );
    default:
      // int32_data carries int32 and every narrower type (int8, uint8, int16, uint16, bool, float16 bits).
      return put(t.int32Data ?? [], (v, at) => out.writeIntLE(v, at, Math.min(bytesPer, 4)));
  }
}

function decodeLittleEndian(bytes: Uint8Array, dataType: number, path: string, name: string): number[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const bytesPer = ELEMENT_BYTES[dataType];
  if (bytesPer === undefined)
    throw new OnnxFormatError(path, `tensor ${name}: cannot read elements of type ${dataTypeName(dataType)}`);
  const n = Math.floor(bytes.byteLength / bytesPer);
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const at = i * bytesPer;
    switch (dataType) {
      case DataType.FLOAT:
        out[i] = view.getFloat32(at, true);
        break;
      case DataType.DOUBLE:
        out[i] = view.getFloat64(at, true);
        break;
      case DataType.INT64:
        out[i] = Number(view.getBigInt64(at, true));
        break;
      case DataType.UINT64:
        out[i] = Number(view.getBigUint64(at, true));
        break;
      case DataType.INT32:
        out[i] = view.getInt32(at, true);
        break;
      case DataType.UINT32:
        out[i] = view.getUint32(at, true);
        break;
      case DataType.INT16:
        out[i] = view.getInt16(at, true);
        break;
      case DataType.UINT16:
        out[i] = view.getUint16(at, true);
        break;
      case DataType.INT8:
        out[i] = view.getInt8(at);
        break;
      case DataType.FLOAT16:
        out[i] = halfToFloat(view.getUint16(at, true));
        break;
      case DataType.BFLOAT16:
        out[i] = bf16ToFloat(view.getUint16(at, true));
        break;
      default:
        out[i] = view.getUint8(at); // uint8, bool
    }
  }
  return out;
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

function bf16ToFloat(b: number): number {
  const view = new DataView(new ArrayBuffer(4));
  view.setUint32(0, b << 16);
  return view.getFloat32(0);
}
