/**
 * Test-only ENCODER for commit-log segments and mutations, written from the format description
 * (shared/reference/cassandra-commitlog.md) independently of the decoder, so tests can build exact
 * bytes for every case: corrupt, torn, compressed, versions, deletions, column subsets.
 */
import { crc32, deflateSync, zstdCompressSync } from 'node:zlib';
import type { CqlType } from '../../../connectors/cdc/cqltype.ts';
import type { TableDef } from '../../../connectors/cdc/schema.ts';

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
  return crc32(int4(fileOffset), crcInt(crcInt(0, Number(idU & 0xffffffffn)), Number(idU >> 32n))) >>> 0;
}

export type TestCompressor = 'LZ4Compressor' | 'SnappyCompressor' | 'DeflateCompressor' | 'ZstdCompressor';

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
    params: s.compression === undefined ? {} : { compressionClass: s.compression, compressionParameters: {} },
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
  decimal: (unscaled: bigint, scale: number): Buffer => Buffer.concat([int4(scale), enc.varint(unscaled)]),
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
  framed: (b: Buffer | null): Buffer => (b === null ? int4(-1) : Buffer.concat([int4(b.length), b])),
  list: (items: Array<Buffer | null>): Buffer => Buffer.concat([int4(items.length), ...items.map(enc.framed)]),
  map: (pairs: Array<[Buffer, Buffer | null]>): Buffer => Buffer.concat([int4(pairs.length), ...pairs.flatMap(([k, v]) => [enc.framed(k), enc.framed(v)])]),
  tuple: (items: Array<Buffer | null>): Buffer => Buffer.concat(items.map(enc.framed)),
  /** Composite partition key: per component uint16 length, bytes, end-of-component 0. */
  composite: (parts: Buffer[]): Buffer =>
    Buffer.concat(parts.flatMap((p) => {
      const l = Buffer.alloc(2);
      l.writeUInt16BE(p.length);
      return [l, p, Buffer.of(0)];
    })),
};

// ---------------------------------------------------------------- mutations

const TIMESTAMP_EPOCH = 1_442_880_000_000_000n;
const DELETION_TIME_EPOCH = 1_442_880_000;
export const LIVE_TS = -(2n ** 63n);
export const LIVE_LDT = 2n ** 63n - 1n; // DeletionTime.LIVE.localDeletionTime (Long.MAX_VALUE)

export interface TDeletion {
  ts: bigint;
  ldt: number | bigint;
}

export interface TCell {
  /** Omitted: uses the row's timestamp (flag). */
  ts?: bigint;
  deleted?: boolean;
  ttl?: number;
  /** Local deletion/expiry time (seconds); required with `deleted` or `ttl` unless `useRowTtl`. */
  ldt?: number;
  useRowTtl?: boolean;
  path?: Buffer;
  /** Omitted or empty: the empty-value flag. */
  value?: Buffer;
}

export interface TComplex {
  complexDeletion?: TDeletion;
  cells: TCell[];
}

export interface TRow {
  kind?: 'row';
  static?: boolean;
  clustering?: Array<Buffer | null>;
  liveness?: { ts: bigint; ttl?: number; ldt?: number };
  deletion?: TDeletion;
  shadowable?: boolean;
  /** Column name -> simple cell or complex data, in header order. */
  cells: Record<string, TCell | TComplex>;
  /** Force the subset encoding even when every header column is present. */
  forceSubset?: boolean;
}

export interface TMarker {
  kind: 'marker';
  bound: number;
  values: Array<Buffer | null>;
  deletion: TDeletion;
  startDeletion?: TDeletion;
}

export interface TUpdate {
  table: TableDef;
  key: Buffer;
  partitionDeletion?: TDeletion;
  staticRow?: TRow;
  rows?: Array<TRow | TMarker>;
  /** Header regular/static columns (default: every name used, in first-use order). */
  regulars?: string[];
  statics?: string[];
  /** Types of names that are not (or no longer) in `table.columns` (dropped columns). */
  extraTypes?: Record<string, CqlType>;
  empty?: boolean;
  stats?: { minTimestamp: bigint; minLocalDeletionTime: number; minTtl: number };
}

function fixedLen(t: CqlType): number {
  if (t.kind === 'native') {
    const m: Record<string, number> = { boolean: 1, int: 4, float: 4, bigint: 8, double: 8, timestamp: 8, uuid: 16, timeuuid: 16 };
    return m[t.name] ?? -1;
  }
  if (t.kind === 'vector') {
    const e = fixedLen(t.element);
    return e < 0 ? -1 : e * t.dimension;
  }
  return -1;
}

function writeValue(w: Writer, t: CqlType, v: Buffer): void {
  if (fixedLen(t) >= 0) w.raw(v);
  else w.vintBytes(v);
}

function isComplexData(x: TCell | TComplex): x is TComplex {
  return 'cells' in x;
}

/** Serializes a `Mutation` of the given partition updates (messaging 12/13 layout). */
export function encodeMutation(updates: TUpdate[]): Buffer {
  const w = new Writer().uvint(updates.length);
  for (const u of updates) w.raw(encodeUpdate(u));
  return w.done();
}

export function encodeUpdate(u: TUpdate): Buffer {
  const w = new Writer();
  w.raw(Buffer.from(u.table.id, 'hex'));
  w.vintBytes(u.key);
  const rows = u.rows ?? [];
  if (u.empty) return w.u8(0x01).done();
  const typeOf = (name: string): CqlType => {
    const t = u.table.columns.get(name)?.type ?? u.extraTypes?.[name];
    if (t === undefined) throw new Error(`test builder: no type for ${name}`);
    return t;
  };
  const complex = (name: string): boolean => {
    const t = typeOf(name);
    return (t.kind === 'list' || t.kind === 'set' || t.kind === 'map' || t.kind === 'udt') && !t.frozen;
  };
  const used = (list: TRow[]): string[] => [...new Set(list.flatMap((r) => Object.keys(r.cells)))];
  const regulars = u.regulars ?? used(rows.filter((r): r is TRow => r.kind !== 'marker'));
  const statics = u.statics ?? (u.staticRow ? used([u.staticRow]) : []);

  // stats: minimums over everything written (as EncodingStats.Collector would)
  const ts: bigint[] = [];
  const ldts: number[] = [];
  const ttls: number[] = [];
  const addDel = (d?: TDeletion): void => {
    if (d && d.ts !== LIVE_TS) {
      ts.push(d.ts);
      ldts.push(Number(d.ldt));
    }
  };
  addDel(u.partitionDeletion);
  for (const r of [...(u.staticRow ? [u.staticRow] : []), ...rows]) {
    if (r.kind === 'marker') {
      addDel(r.deletion);
      addDel(r.startDeletion);
      continue;
    }
    if (r.liveness) {
      ts.push(r.liveness.ts);
      if (r.liveness.ttl !== undefined) {
        ttls.push(r.liveness.ttl);
        ldts.push(r.liveness.ldt!);
      }
    }
    addDel(r.deletion);
    for (const c of Object.values(r.cells)) {
      const cells = isComplexData(c) ? c.cells : [c];
      if (isComplexData(c)) addDel(c.complexDeletion);
      for (const cell of cells) {
        if (cell.ts !== undefined) ts.push(cell.ts);
        if (cell.ttl !== undefined) ttls.push(cell.ttl);
        if (cell.ldt !== undefined) ldts.push(cell.ldt);
      }
    }
  }
  const min = <T extends number | bigint>(xs: T[], dflt: T): T => (xs.length === 0 ? dflt : xs.reduce((a, b) => (b < a ? b : a)));
  const stats = u.stats ?? {
    minTimestamp: min(ts, TIMESTAMP_EPOCH),
    minLocalDeletionTime: min(ldts, DELETION_TIME_EPOCH),
    minTtl: min(ttls, 0),
  };

  let flags = 0;
  if (u.partitionDeletion) flags |= 0x04;
  if (u.staticRow) flags |= 0x08;
  flags |= 0x10; // row estimate: always present in the commit log
  w.u8(flags);
  w.uvint(stats.minTimestamp - TIMESTAMP_EPOCH);
  w.uvint(BigInt((stats.minLocalDeletionTime - DELETION_TIME_EPOCH) | 0));
  w.uvint(BigInt(stats.minTtl | 0));
  const writeColumns = (names: string[]): void => {
    w.uvint(names.length);
    for (const n of names) w.vintBytes(Buffer.from(n, 'utf8'));
  };
  if (u.staticRow) writeColumns(statics);
  writeColumns(regulars);

  const writeTs = (t: bigint): void => void w.uvint(t - stats.minTimestamp);
  const writeLdt = (l: number | bigint): void => void w.uvint(BigInt(Number(BigInt.asIntN(32, BigInt(l) - BigInt(stats.minLocalDeletionTime)))));
  const writeTtl = (t: number): void => void w.uvint(BigInt((t - stats.minTtl) | 0));
  const writeDel = (d: TDeletion): void => {
    writeTs(d.ts);
    writeLdt(d.ldt);
  };
  const clusteringTypes = u.table.clustering.map((c) => c.type);
  const writeClustering = (values: Array<Buffer | null>): void => {
    for (let off = 0; off < values.length; off += 32) {
      const block = values.slice(off, off + 32);
      let header = 0n;
      block.forEach((v, i) => {
        if (v === null) header |= 1n << BigInt(i * 2 + 1);
        else if (v.length === 0) header |= 1n << BigInt(i * 2);
      });
      w.uvint(header);
      block.forEach((v, i) => {
        if (v !== null && v.length > 0) writeValue(w, clusteringTypes[off + i]!, v);
      });
    }
  };
  const writeRow = (r: TRow, header: string[]): void => {
    const names = Object.keys(r.cells);
    const all = names.length === header.length && !r.forceSubset;
    const hasComplexDeletion = names.some((n) => {
      const c = r.cells[n]!;
      return isComplexData(c) && c.complexDeletion !== undefined;
    });
    let f = 0;
    if (r.liveness) f |= 0x04;
    if (r.liveness?.ttl !== undefined) f |= 0x08;
    if (r.deletion) f |= 0x10;
    if (all) f |= 0x20;
    if (hasComplexDeletion) f |= 0x40;
    const ext = (r.static ? 0x01 : 0) | (r.shadowable ? 0x02 : 0);
    if (ext) f |= 0x80;
    w.u8(f);
    if (ext) w.u8(ext);
    if (!r.static && clusteringTypes.length > 0) writeClustering(r.clustering ?? []);
    if (r.liveness) {
      writeTs(r.liveness.ts);
      if (r.liveness.ttl !== undefined) {
        writeTtl(r.liveness.ttl);
        writeLdt(r.liveness.ldt!);
      }
    }
    if (r.deletion) writeDel(r.deletion);
    if (!all) writeSubset(w, names.map((n) => header.indexOf(n)), header.length);
    for (const n of header) {
      const c = r.cells[n];
      if (c === undefined) continue;
      const t = typeOf(n);
      if (!complex(n)) {
        writeCell(c as TCell, t, false, r);
        continue;
      }
      const cd = c as TComplex;
      if (hasComplexDeletion) writeDel(cd.complexDeletion ?? { ts: LIVE_TS, ldt: LIVE_LDT });
      w.uvint(cd.cells.length);
      for (const cell of cd.cells) writeCell(cell, t, true, r);
    }
  };
  const writeCell = (c: TCell, t: CqlType, isComplex: boolean, r: TRow): void => {
    const hasValue = c.value !== undefined && c.value.length > 0;
    const expiring = c.ttl !== undefined || (c.useRowTtl === true && !c.deleted);
    let f = 0;
    if (!hasValue) f |= 0x04;
    if (c.deleted) f |= 0x01;
    else if (expiring) f |= 0x02;
    if (c.ts === undefined) f |= 0x08;
    if (c.useRowTtl) f |= 0x10;
    w.u8(f);
    if (c.ts !== undefined) writeTs(c.ts);
    if ((c.deleted || expiring) && !c.useRowTtl) writeLdt(c.ldt!);
    if (expiring && !c.useRowTtl) writeTtl(c.ttl!);
    if (isComplex) w.vintBytes(c.path!);
    if (hasValue) writeValue(w, t, c.value!);
    void r;
  };

  if (u.partitionDeletion) writeDel(u.partitionDeletion);
  if (u.staticRow) writeRow({ ...u.staticRow, static: true }, statics);
  w.uvint(rows.length);
  for (const r of rows) {
    if (r.kind === 'marker') {
      w.u8(0x02).u8(r.bound).u16(r.values.length);
      if (r.values.length > 0) writeClustering(r.values);
      writeDel(r.deletion);
      if (r.startDeletion) writeDel(r.startDeletion);
      continue;
    }
    writeRow(r, regulars);
  }
  w.u8(0x01);
  return w.done();
}

/** `Columns.serializeSubset` for present indexes `present` (ascending) of `n` columns. */
function writeSubset(w: Writer, present: number[], n: number): void {
  if (present.length === n) {
    w.uvint(0);
    return;
  }
  if (n < 64) {
    let bitmap = 0n;
    for (let i = 0; i < n; i++) if (!present.includes(i)) bitmap |= 1n << BigInt(i);
    w.uvint(bitmap);
    return;
  }
  w.uvint(n - present.length);
  if (present.length < Math.floor(n / 2)) {
    for (const i of present) w.uvint(i);
  } else {
    for (let i = 0; i < n; i++) if (!present.includes(i)) w.uvint(i);
  }
}
