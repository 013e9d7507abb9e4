/**
 * Test-only ENCODER for commit-log segments and mutations, written from the format description
 * (shared/reference/cassandra-commitlog.md) independently of the decoder, so tests can build exact
 * bytes for every case: corrupt, torn, compressed, versions, deletions, column subsets.
 */
import { crc32, deflateSync, zstdCompressSync } from 'node:zlib';

// ---------------------------------------------------------------- primitive writer

export class Writer {
  private readonly chunks: Buffer[] = [];

  raw(b: Uint8Array): this {
    this.chunks.push(Buffer.from(b));
    return this;
  }

  u8(v: number): this {
    return this.raw(Buffer.of(v & 0xff));
  }

  u16(v: number): this {
    const b = Buffer.alloc(2);
    b.writeUInt16BE(v);
    return this.raw(b);
  }

  i32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeInt32BE(v | 0);
    return this.raw(b);
  }

  i64(v: bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigInt64BE(BigInt.asIntN(64, v));
    return this.raw(b);
  }

  /** Unsigned vint of the low 64 bits of `v` (negative numbers: two's complement, 9 bytes). */
  uvint(v: bigint | number): this {
    return this.raw(uvint(v));
  }

  vintBytes(b: Uint8Array): this {
    return this.uvint(b.length).raw(b);
  }

  get length(): number {
    return this.chunks.reduce((n, c) => n + c.length, 0);
  }

  done(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

/** `VIntCoding.writeUnsignedVInt` of the low 64 bits. */
export function uvint(v: bigint | number): Buffer {
  const u = BigInt.asUintN(64, BigInt(v));
  // smallest size whose value bits (7 per byte, 8 for 9 bytes) hold u
  let size = 1;
  while (size < 9 && u >= 1n << BigInt(7 * size)) size++;
  if (size === 9) {
    const b = Buffer.alloc(9);
    b[0] = 0xff;
    b.writeBigUInt64BE(u, 1);
    return b;
  }
  const b = Buffer.alloc(size);
  let x = u;
  for (let i = size - 1; i >= 0; i--) {
    b[i] = Number(x & 0xffn);
    x >>= 8n;
  }
  b[0]! |= (0xff << (8 - (size - 1))) & 0xff;
  return b;
}

const int4 = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeInt32BE(v | 0);
  return b;
};
export const crcInt = (crc: number, v: number): number => crc32(int4(v), crc);

// ---------------------------------------------------------------- segments

export interface HeaderSpec {
  version?: number;
  id: bigint;
  params?: Record<string, unknown>;
  /** Break the crc the way a reader that feeds paramLen as 2 bytes would compute it. */
  crcWithShortParamLen?: boolean;
}

export function buildHeader(h: HeaderSpec): Buffer {
  const version = h.version ?? 7;
  const params = Buffer.from(JSON.stringify(h.params ?? {}), 'utf8');
  const idU = BigInt.asUintN(64, h.id);
  let crc = crcInt(0, version);
  crc = crcInt(crc, Number(idU & 0xffffffffn));
  crc = crcInt(crc, Number(idU >> 32n));
  if (h.crcWithShortParamLen) {
    const b = Buffer.alloc(2);
    b.writeUInt16BE(params.length);
    crc = crc32(b, crc);
  } else {
    crc = crcInt(crc, params.length); // the quirk: 4 bytes although 2 are stored
  }
  crc = crc32(params, crc);
  const w = new Writer().i32(version).i64(h.id).u16(params.length).raw(params);
  const c = Buffer.alloc(4);
  c.writeUInt32BE(crc >>> 0);
  return w.raw(c).done();
}

/** int32 size, crc(size), payload, crc continued over the payload. */
export function buildEntry(payload: Buffer): Buffer {
  const crc1 = crcInt(0, payload.length);
  const crc2 = crc32(payload, crc1);
  const out = Buffer.alloc(12 + payload.length);
  out.writeInt32BE(payload.length, 0);
  out.writeUInt32BE(crc1 >>> 0, 4);
  payload.copy(out, 8);
  out.writeUInt32BE(crc2 >>> 0, 8 + payload.length);
  return out;
}

export function markerCrc(id: bigint, fileOffset: number): number {
  const idU = BigInt.asUintN(64, id);
  return (
    crc32(int4(fileOffset), crcInt(crcInt(0, Number(idU & 0xffffffffn)), Number(idU >> 32n))) >>> 0
  );
}

export type TestCompressor =
  'LZ4Compressor' | 'SnappyCompressor' | 'DeflateCompressor' | 'ZstdCompressor';

export interface SegmentSpec {
  version?: number;
  id: bigint;
  compression?: TestCompressor;
  /** Entry payloads, per sync section. */
  sections: Buffer[][];
  /** Zero bytes appended after the last section (a pre-allocated mmap segment). */
  zeroTail?: number;
}

export interface BuiltSegment {
  bytes: Buffer;
  /** Logical position (after crc2) of each entry, per section. */
  positions: number[][];
  /** File offset of each section's sync marker. */
  markers: number[];
  /** Logical end of each section: what `_cdc.idx` would say after that section synced. */
  sectionEnds: number[];
}

export function buildSegment(s: SegmentSpec): BuiltSegment {
  const header = buildHeader({
    version: s.version ?? 7,
    id: s.id,
    params:
      s.compression === undefined
        ? {}
        : { compressionClass: s.compression, compressionParameters: {} },
  });
  const parts: Buffer[] = [header];
  let file = header.length;
  let logical = header.length;
  const positions: number[][] = [];
  const markers: number[] = [];
  const sectionEnds: number[] = [];
  for (const entries of s.sections) {
    const plain = Buffer.concat(entries.map(buildEntry));
    const dataStart = logical + 8;
    const pos: number[] = [];
    let p = dataStart;
    for (const e of entries) pos.push((p += 12 + e.length));
    positions.push(pos);
    markers.push(file);
    let body: Buffer;
    if (s.compression === undefined) {
      body = plain;
    } else {
      const block = compress(s.compression, plain);
      body = Buffer.concat([int4(plain.length), block]);
    }
    const next = file + 8 + body.length;
    const marker = Buffer.alloc(8);
    marker.writeInt32BE(next, 0);
    marker.writeUInt32BE(markerCrc(s.id, file), 4);
    parts.push(marker, body);
    file = next;
    logical = dataStart + plain.length;
    sectionEnds.push(logical);
  }
  if (s.zeroTail) parts.push(Buffer.alloc(s.zeroTail));
  return { bytes: Buffer.concat(parts), positions, markers, sectionEnds };
}

export function compress(name: TestCompressor, plain: Buffer): Buffer {
  switch (name) {
    case 'LZ4Compressor': {
      const len = Buffer.alloc(4);
      len.writeUInt32LE(plain.length);
      return Buffer.concat([len, lz4CompressBlock(plain)]);
    }
    case 'SnappyCompressor':
      return snappyLiteralOnly(plain);
    case 'DeflateCompressor':
      return deflateSync(plain);
    case 'ZstdCompressor':
      return zstdCompressSync(plain);
  }
}

/** Greedy LZ4 block compressor (4-byte hash matches), honouring the end-of-block rules. */
export function lz4CompressBlock(src: Buffer): Buffer {
  const out: number[] = [];
  const table = new Map<number, number>();
  const lastLiterals = 5;
  const mfLimit = 12;
  let anchor = 0;
  let i = 0;
  const emitLen = (n: number): void => {
    while (n >= 255) {
      out.push(255);
      n -= 255;
    }
    out.push(n);
  };
  while (i + mfLimit <= src.length) {
    const key = src.readUInt32LE(i);
    const cand = table.get(key);
    table.set(key, i);
    if (cand === undefined || i - cand > 0xffff) {
      i++;
      continue;
    }
    let len = 4;
    while (i + len < src.length - lastLiterals && src[cand + len] === src[i + len]) len++;
    const lit = i - anchor;
    const ml = len - 4;
    out.push((Math.min(lit, 15) << 4) | Math.min(ml, 15));
    if (lit >= 15) emitLen(lit - 15);
    for (let k = anchor; k < i; k++) out.push(src[k]!);
    const off = i - cand;
    out.push(off & 0xff, off >> 8);
    if (ml >= 15) emitLen(ml - 15);
    i += len;
    anchor = i;
  }
  const lit = src.length - anchor;
  out.push(Math.min(lit, 15) << 4);
  if (lit >= 15) emitLen(lit - 15);
  for (let k = anchor; k < src.length; k++) out.push(src[k]!);
  return Buffer.from(out);
}

/** Raw Snappy made of literal elements only (valid, if not small). */
export function snappyLiteralOnly(src: Buffer): Buffer {
  const out: number[] = [];
  let n = src.length;
  do {
    out.push((n & 0x7f) | (n > 0x7f ? 0x80 : 0));
    n >>>= 7;
  } while (n > 0);
  for (let p = 0; p < src.length; p += 65536) {
    const chunk = src.subarray(p, Math.min(src.length, p + 65536));
    const len = chunk.length - 1;
    if (len < 60) out.push(len << 2);
    else if (len < 256) out.push(60 << 2, len);
    else out.push(61 << 2, len & 0xff, len >> 8);
    out.push(...chunk);
  }
  return Buffer.from(out);
}

// ---------------------------------------------------------------- values (native protocol)

export const enc = {
  int: (v: number): Buffer => int4(v),
  bigint: (v: bigint): Buffer => {
    const b = Buffer.alloc(8);
    b.writeBigInt64BE(v);
    return b;
  },
  smallint: (v: number): Buffer => {
    const b = Buffer.alloc(2);
    b.writeInt16BE(v);
    return b;
  },
  tinyint: (v: number): Buffer => Buffer.of(v & 0xff),
  boolean: (v: boolean): Buffer => Buffer.of(v ? 1 : 0),
  float: (v: number): Buffer => {
    const b = Buffer.alloc(4);
    b.writeFloatBE(v);
    return b;
  },
  double: (v: number): Buffer => {
    const b = Buffer.alloc(8);
    b.writeDoubleBE(v);
    return b;
  },
  text: (s: string): Buffer => Buffer.from(s, 'utf8'),
  uuid: (s: string): Buffer => Buffer.from(s.replace(/-/g, ''), 'hex'),
  /** Two's complement, minimal length. */
  varint: (v: bigint): Buffer => {
    let n = 1;
    while (v < -(1n << BigInt(8 * n - 1)) || v >= 1n << BigInt(8 * n - 1)) n++;
    const b = Buffer.alloc(n);
    let x = BigInt.asUintN(8 * n, v);
    for (let i = n - 1; i >= 0; i--) {
      b[i] = Number(x & 0xffn);
      x >>= 8n;
    }
    return b;
  },
  decimal: (unscaled: bigint, scale: number): Buffer =>
    Buffer.concat([int4(scale), enc.varint(unscaled)]),
  /** Days since the epoch (may be negative). */
  date: (days: number): Buffer => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE((days + 0x8000_0000) >>> 0);
    return b;
  },
  time: (nanos: bigint): Buffer => enc.bigint(nanos),
  timestamp: (ms: bigint): Buffer => enc.bigint(ms),
  duration: (months: number, days: number, nanos: bigint): Buffer => {
    const zz = (v: bigint): Buffer => uvint(BigInt.asUintN(64, (v << 1n) ^ (v >> 63n)));
    return Buffer.concat([zz(BigInt(months)), zz(BigInt(days)), zz(nanos)]);
  },
  /** A collection / tuple / UDT element: int32 length (-1 = null) + bytes. */
  framed: (b: Buffer | null): Buffer =>
    b === null ? int4(-1) : Buffer.concat([int4(b.length), b]),
  list: (items: Array<Buffer | null>): Buffer =>
    Buffer.concat([int4(items.length), ...items.map(enc.framed)]),
  map: (pairs: Array<[Buffer, Buffer | null]>): Buffer =>
    Buffer.concat([
      int4(pairs.length),
      ...pairs.flatMap(([k, v]) => [enc.framed(k), enc.framed(v)]),
    ]),
  tuple: (items: Array<Buffer | null>): Buffer => Buffer.concat(items.map(enc.framed)),
  /** Composite partition key: per component uint16 length, bytes, end-of-component 0. */
  composite: (parts: Buffer[]): Buffer =>
    Buffer.concat(
      parts.flatMap((p) => {
        const l = Buffer.alloc(2);
        l.writeUInt16BE(p.length);
        return [l, p, Buffer.of(0)];
      }),
    ),
};
