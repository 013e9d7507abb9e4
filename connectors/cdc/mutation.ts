/**
 * Frames a serialized `Mutation` (the payload of a commit-log entry) into partition updates, rows,
 * range tombstone markers and cells, keeping values as raw bytes. Turning values into JSON is
 * {@link ./events.ts}'s job, so a value we cannot decode never loses the framing of what follows.
 *
 * Follows `db/Mutation`, `db/partitions/PartitionUpdate`, `db/rows/UnfilteredRowIteratorSerializer`,
 * `db/SerializationHeader`, `db/rows/UnfilteredSerializer`, `db/rows/Cell`, `db/Columns` and
 * `db/ClusteringPrefix` of Cassandra 5.0 (messaging versions 12 and 13).
 */
import { ByteReader } from './bytes.ts';
import { type CqlType, fixedLength, isMultiCell } from './cqltype.ts';
import { CdcError } from './errors.ts';
import type { CdcSchema, ColumnDef, TableDef } from './schema.ts';

/** `EncodingStats` epochs: 2015-09-22T00:00:00Z in microseconds and in seconds. */
const TIMESTAMP_EPOCH = 1_442_880_000_000_000n;
const DELETION_TIME_EPOCH = 1_442_880_000;
/** `DeletionTime.LIVE.markedForDeleteAt`. */
export const LIVE_MARKED_AT = -(2n ** 63n);

// partition flags (UnfilteredRowIteratorSerializer)
const IS_EMPTY = 0x01;
const IS_REVERSED = 0x02;
const HAS_PARTITION_DELETION = 0x04;
const HAS_STATIC_ROW = 0x08;
const HAS_ROW_ESTIMATE = 0x10;
// unfiltered flags (UnfilteredSerializer)
const END_OF_PARTITION = 0x01;
const IS_MARKER = 0x02;
const HAS_TIMESTAMP = 0x04;
const HAS_TTL = 0x08;
const HAS_DELETION = 0x10;
const HAS_ALL_COLUMNS = 0x20;
const HAS_COMPLEX_DELETION = 0x40;
const EXTENSION_FLAG = 0x80;
const EXT_IS_STATIC = 0x01;
const EXT_HAS_SHADOWABLE_DELETION = 0x02;
// cell flags (Cell.Serializer)
const CELL_IS_DELETED = 0x01;
const CELL_IS_EXPIRING = 0x02;
const CELL_HAS_EMPTY_VALUE = 0x04;
const CELL_USE_ROW_TIMESTAMP = 0x08;
const CELL_USE_ROW_TTL = 0x10;

export interface DeletionTime {
  /** Microseconds; {@link LIVE_MARKED_AT} means "no deletion". */
  markedForDeleteAt: bigint;
  /** Seconds since the epoch, when the tombstone was written. */
  localDeletionTime: number;
}

export interface Liveness {
  timestamp: bigint;
  /** Seconds, when the row was written with a TTL. */
  ttl: number | null;
  /** Expiry (seconds since the epoch), when `ttl` is set. */
  localExpirationTime: number | null;
}

export interface Cell {
  timestamp: bigint;
  deleted: boolean;
  ttl: number | null;
  /** Tombstone: deletion time; expiring cell: expiry time; else null. Seconds since the epoch. */
  localDeletionTime: number | null;
  /** Cell path of a complex column (list timeuuid, set element, map key, UDT field index). */
  path: Buffer | null;
  /** Raw value bytes (native protocol encoding); empty for tombstones and set elements. */
  value: Buffer;
}

/** A column as named in an update's serialization header. */
export interface HeaderColumn {
  name: string;
  type: CqlType;
  complex: boolean;
  /** The current definition, or null when the name only exists among dropped columns. */
  def: ColumnDef | null;
  /** Cells at or before this timestamp (µs) are dropped data: ignore them. */
  droppedTime: bigint | null;
  static: boolean;
}

export type ColumnData =
  | { column: HeaderColumn; cell: Cell }
  | { column: HeaderColumn; complexDeletion: DeletionTime | null; cells: Cell[] };

export interface Row {
  type: 'row';
  static: boolean;
  /** Raw clustering values (null: a null component; empty buffer: an empty value). */
  clustering: Array<Buffer | null>;
  liveness: Liveness | null;
  deletion: DeletionTime | null;
  shadowable: boolean;
  columns: ColumnData[];
}

/** `ClusteringPrefix.Kind` ordinals used by markers. */
export const BoundKind = {
  EXCL_END_BOUND: 0,
  INCL_START_BOUND: 1,
  EXCL_END_INCL_START_BOUNDARY: 2,
  INCL_END_EXCL_START_BOUNDARY: 5,
  INCL_END_BOUND: 6,
  EXCL_START_BOUND: 7,
} as const;

export interface RangeTombstoneMarker {
  type: 'marker';
  kind: number;
  /** Clustering prefix of the bound (may be shorter than the clustering, or empty = unbounded). */
  values: Array<Buffer | null>;
  /** For a bound: its deletion. For a boundary: the deletion of the range that ENDS here. */
  deletion: DeletionTime;
  /** Boundaries only: the deletion of the range that STARTS here. */
  startDeletion: DeletionTime | null;
}

export interface PartitionUpdate {
  table: TableDef;
  /** Partition key bytes (composite keys still composite-encoded). */
  key: Buffer;
  /** The whole serialized update, TableId to end-of-partition flag. */
  bytes: Buffer;
  partitionDeletion: DeletionTime | null;
  staticRow: Row | null;
  unfiltereds: Array<Row | RangeTombstoneMarker>;
}

/**
 * Result of framing one mutation:
 * - `updates`: the partition updates we could frame (CDC and non-CDC tables of the keyspace);
 * - `failure`: framing stopped (unknown table, unknown column, corrupt bytes); `rest` holds the
 *   bytes from the failed update to the end of the payload;
 * - `skipped`: the mutation belongs to a keyspace without CDC tables, or is one update of a
 *   non-CDC table, and was not read past its table id.
 */
export interface FramedMutation {
  updates: PartitionUpdate[];
  failure?: { error: CdcError; tableId: string | null; table: TableDef | null; rest: Buffer };
  skipped?: { keyspace: string; table: string };
}

/**
 * The table a mutation is skipped for, read from its first table id alone: a mutation of a
 * keyspace without CDC tables (its updates all share one keyspace), or a lone update of a non-CDC
 * table (a timeline row sharing the segment with the tweets: most entries of a busy segment).
 * Undefined when the mutation has to be framed: a CDC table, an unknown id, or bytes that do not
 * read. Cheap enough to call on every entry before anything is decoded.
 */
export function skippedTable(
  payload: Buffer,
  schema: CdcSchema,
): { keyspace: string; table: string } | undefined {
  let count: number;
  const r = new ByteReader(payload);
  try {
    count = r.uvint32();
  } catch {
    return undefined;
  }
  if (count < 1 || r.remaining < 16) return undefined;
  const tableId = payload.toString('hex', r.pos, r.pos + 16);
  const other = schema.otherTables.get(tableId);
  if (other !== undefined) return other;
  const table = schema.tables.get(tableId);
  return table !== undefined && !table.cdc && count === 1
    ? { keyspace: table.keyspace, table: table.table }
    : undefined;
}

/** Frames a mutation payload against the schema. Never throws for bad bytes: see `failure`. */
export function frameMutation(
  payload: Buffer,
  schema: CdcSchema,
  messagingVersion: 12 | 13,
): FramedMutation {
  const skipped = skippedTable(payload, schema);
  if (skipped !== undefined) return { updates: [], skipped };
  const r = new ByteReader(payload);
  const updates: PartitionUpdate[] = [];
  let count: number;
  try {
    count = r.uvint32();
    if (count < 1) throw new CdcError('corrupt', `mutation with ${count} partition updates`);
  } catch (err) {
    return {
      updates,
      failure: { error: asCdcError(err), tableId: null, table: null, rest: payload },
    };
  }
  for (let i = 0; i < count; i++) {
    const start = r.pos;
    let tableId: string | null = null;
    let table: TableDef | null = null;
    try {
      tableId = r.bytes(16).toString('hex');
      table = schema.tables.get(tableId) ?? null;
      if (table === null) {
        throw new CdcError(
          'unknown-table',
          `table id ${tableId} is not in the loaded schema (stale schema, or a dropped table)`,
        );
      }
      updates.push(readPartitionUpdate(r, table, start, messagingVersion));
    } catch (err) {
      return {
        updates,
        failure: { error: asCdcError(err), tableId, table, rest: payload.subarray(start) },
      };
    }
  }
  if (r.remaining !== 0) {
    const error = new CdcError('corrupt', `${r.remaining} bytes after the last partition update`);
    return {
      updates,
      failure: { error, tableId: null, table: null, rest: payload.subarray(r.pos) },
    };
  }
  return { updates };
}

function asCdcError(err: unknown): CdcError {
  if (err instanceof CdcError) return err;
  return new CdcError('corrupt', `cannot frame mutation: ${(err as Error).message}`, {
    cause: err,
  });
}

/** Per-update delta-decoding state (`SerializationHeader` + `EncodingStats`). */
interface Ctx {
  r: ByteReader;
  minTimestamp: bigint;
  minLocalDeletionTime: number;
  minTtl: number;
  messagingVersion: 12 | 13;
  clusteringTypes: CqlType[];
  statics: HeaderColumn[];
  regulars: HeaderColumn[];
}

function readPartitionUpdate(
  r: ByteReader,
  table: TableDef,
  start: number,
  messagingVersion: 12 | 13,
): PartitionUpdate {
  const key = r.vintBytes();
  const flags = r.u8();
  const update: PartitionUpdate = {
    table,
    key,
    bytes: r.buf,
    partitionDeletion: null,
    staticRow: null,
    unfiltereds: [],
  };
  if ((flags & IS_EMPTY) !== 0) {
    update.bytes = r.buf.subarray(start, r.pos);
    return update;
  }
  if ((flags & IS_REVERSED) !== 0)
    throw new CdcError('corrupt', 'reversed partition update in a mutation');
  const hasStatic = (flags & HAS_STATIC_ROW) !== 0;
  // EncodingStats
  const minTimestamp = BigInt.asIntN(64, r.uvint() + TIMESTAMP_EPOCH);
  const minLocalDeletionTime = (r.uvint32() + DELETION_TIME_EPOCH) | 0; // int arithmetic in Java
  const minTtl = r.uvint32();
  const ctx: Ctx = {
    r,
    minTimestamp,
    minLocalDeletionTime,
    minTtl,
    messagingVersion,
    clusteringTypes: table.clustering.map((c) => c.type),
    statics: hasStatic ? readColumns(r, table, true) : [],
    regulars: [],
  };
  ctx.regulars = readColumns(r, table, false);
  if ((flags & HAS_PARTITION_DELETION) !== 0) update.partitionDeletion = readDeletionTime(ctx);
  if (hasStatic) {
    const rowFlags = r.u8();
    const ext = (rowFlags & EXTENSION_FLAG) !== 0 ? r.u8() : 0;
    if ((ext & EXT_IS_STATIC) === 0)
      throw new CdcError('corrupt', 'static row without the static flag');
    update.staticRow = readRowBody(ctx, rowFlags, ext, true, []);
  }
  if ((flags & HAS_ROW_ESTIMATE) !== 0) r.uvint32();
  for (;;) {
    const u = readUnfiltered(ctx);
    if (u === null) break;
    update.unfiltereds.push(u);
  }
  update.bytes = r.buf.subarray(start, r.pos);
  return update;
}

/** Resolved header columns per table and name (`s:`/`r:` prefix for static/regular). */
const headerColumnCache = new WeakMap<TableDef, Map<string, HeaderColumn>>();

/** `Columns.Serializer.deserialize`: count, then each name. Resolves names against the schema. */
function readColumns(r: ByteReader, table: TableDef, statics: boolean): HeaderColumn[] {
  const n = r.uvint32();
  const out: HeaderColumn[] = [];
  let cache = headerColumnCache.get(table);
  if (cache === undefined) headerColumnCache.set(table, (cache = new Map<string, HeaderColumn>()));
  for (let i = 0; i < n; i++) {
    const name = r.vintBytes().toString('utf8');
    const key = (statics ? 's:' : 'r:') + name;
    const cached = cache.get(key);
    if (cached !== undefined) {
      out.push(cached);
      continue;
    }
    const def = table.columns.get(name) ?? null;
    const dropped = table.dropped.get(name);
    if (def === null && dropped === undefined) {
      throw new CdcError(
        'unknown-column',
        `column ${name} of ${table.keyspace}.${table.table} is not in the loaded schema`,
      );
    }
    const type = def !== null ? def.type : dropped!.type;
    const column: HeaderColumn = {
      name,
      type,
      complex: isMultiCell(type),
      def,
      droppedTime: dropped === undefined ? null : dropped.droppedTime,
      static: statics,
    };
    cache.set(key, column);
    out.push(column);
  }
  return out;
}

function readTimestamp(c: Ctx): bigint {
  return BigInt.asIntN(64, c.r.uvint() + c.minTimestamp);
}

function readLocalDeletionTime(c: Ctx): number {
  const v = c.r.uvint32() + c.minLocalDeletionTime;
  // messaging 13 (CASSANDRA-14227) reads overflowed ints as unsigned: expiry past 2038
  return v < 0 && c.messagingVersion >= 13 ? v + 0x1_0000_0000 : v;
}

function readTtl(c: Ctx): number {
  return (c.r.uvint32() + c.minTtl) | 0;
}

function readDeletionTime(c: Ctx): DeletionTime {
  const markedForDeleteAt = readTimestamp(c);
  return { markedForDeleteAt, localDeletionTime: readLocalDeletionTime(c) };
}

/** A value of `type` as framed in the commit log: raw if fixed-length, else vint length + bytes. */
function readValue(r: ByteReader, type: CqlType): Buffer {
  const n = fixedLength(type);
  return n >= 0 ? r.bytes(n) : r.vintBytes();
}

/** `ClusteringPrefix.deserializeValuesWithoutSize`: per 32 values a header of 2 bits each. */
function readClusteringValues(c: Ctx, size: number): Array<Buffer | null> {
  const out: Array<Buffer | null> = [];
  const r = c.r;
  for (let offset = 0; offset < size;) {
    const limit = Math.min(size, offset + 32);
    const header = r.uvint();
    if (header === 0n) {
      // the common case: no null or empty component in this block
      for (; offset < limit; offset++) out.push(readValue(r, clusteringType(c, offset, size)));
      continue;
    }
    for (; offset < limit; offset++) {
      const bit = BigInt((offset % 32) * 2);
      if ((header >> (bit + 1n)) & 1n) out.push(null);
      else if ((header >> bit) & 1n) out.push(Buffer.alloc(0));
      else out.push(readValue(r, clusteringType(c, offset, size)));
    }
  }
  return out;
}

function clusteringType(c: Ctx, i: number, size: number): CqlType {
  const type = c.clusteringTypes[i];
  if (type === undefined)
    throw new CdcError(
      'corrupt',
      `clustering prefix of ${size} values, table has ${c.clusteringTypes.length}`,
    );
  return type;
}

function readUnfiltered(c: Ctx): Row | RangeTombstoneMarker | null {
  const r = c.r;
  const flags = r.u8();
  if ((flags & END_OF_PARTITION) !== 0) return null;
  const ext = (flags & EXTENSION_FLAG) !== 0 ? r.u8() : 0;
  if ((flags & IS_MARKER) !== 0) {
    const kind = r.u8();
    const size = r.u16();
    const values = size === 0 ? [] : readClusteringValues(c, size);
    const isBoundary =
      kind === BoundKind.EXCL_END_INCL_START_BOUNDARY ||
      kind === BoundKind.INCL_END_EXCL_START_BOUNDARY;
    const deletion = readDeletionTime(c);
    const startDeletion = isBoundary ? readDeletionTime(c) : null;
    return { type: 'marker', kind, values, deletion, startDeletion };
  }
  if ((ext & EXT_IS_STATIC) !== 0) throw new CdcError('corrupt', 'static flag on a non-static row');
  const clustering =
    c.clusteringTypes.length === 0 ? [] : readClusteringValues(c, c.clusteringTypes.length);
  return readRowBody(c, flags, ext, false, clustering);
}

function readRowBody(
  c: Ctx,
  flags: number,
  ext: number,
  isStatic: boolean,
  clustering: Array<Buffer | null>,
): Row {
  const r = c.r;
  let liveness: Liveness | null = null;
  if ((flags & HAS_TIMESTAMP) !== 0) {
    const timestamp = readTimestamp(c);
    // row liveness: ttl BEFORE local expiration time (cells are the other way round)
    const ttl = (flags & HAS_TTL) !== 0 ? readTtl(c) : null;
    const localExpirationTime = (flags & HAS_TTL) !== 0 ? readLocalDeletionTime(c) : null;
    liveness = { timestamp, ttl, localExpirationTime };
  }
  const deletion = (flags & HAS_DELETION) !== 0 ? readDeletionTime(c) : null;
  const headerColumns = isStatic ? c.statics : c.regulars;
  const present = (flags & HAS_ALL_COLUMNS) !== 0 ? headerColumns : readSubset(r, headerColumns);
  const hasComplexDeletion = (flags & HAS_COMPLEX_DELETION) !== 0;
  const columns: ColumnData[] = [];
  for (const column of present) {
    if (!column.complex) {
      columns.push({ column, cell: readCell(c, column, liveness) });
      continue;
    }
    let complexDeletion: DeletionTime | null = null;
    if (hasComplexDeletion) {
      const d = readDeletionTime(c);
      if (d.markedForDeleteAt !== LIVE_MARKED_AT) complexDeletion = d;
    }
    const n = r.uvint32();
    const cells: Cell[] = [];
    for (let i = 0; i < n; i++) cells.push(readCell(c, column, liveness));
    columns.push({ column, complexDeletion, cells });
  }
  return {
    type: 'row',
    static: isStatic,
    clustering,
    liveness,
    deletion,
    shadowable: (ext & EXT_HAS_SHADOWABLE_DELETION) !== 0,
    columns,
  };
}

/**
 * `Columns.Serializer.deserializeSubset`. Fewer than 64 header columns: a bitmap of MISSING
 * columns. 64 or more: delta = N - present, then present indexes if present < N/2, else missing.
 */
export function readSubset<T>(r: ByteReader, superset: readonly T[]): T[] {
  const encoded = r.uvint();
  const n = superset.length;
  if (encoded === 0n) return superset as T[];
  if (n >= 64) {
    const delta = Number(encoded);
    const presentCount = n - delta;
    if (delta > n) throw new CdcError('corrupt', `column subset delta ${delta} over ${n} columns`);
    const out: T[] = [];
    if (presentCount < Math.floor(n / 2)) {
      for (let i = 0; i < presentCount; i++) out.push(at(superset, r.uvint32()));
    } else {
      let idx = 0;
      for (let skipped = 0; ;) {
        const nextMissing = skipped < delta ? r.uvint32() : n;
        if (nextMissing < idx || nextMissing > n)
          throw new CdcError('corrupt', `column subset index ${nextMissing} out of order`);
        while (idx < nextMissing) out.push(at(superset, idx++));
        if (idx === n) break;
        idx++;
        skipped++;
      }
    }
    return out;
  }
  if (encoded >> BigInt(n) !== 0n)
    throw new CdcError('corrupt', `column subset bitmap ${encoded} has bits past ${n} columns`);
  const out: T[] = [];
  for (let i = 0; i < n; i++) if (((encoded >> BigInt(i)) & 1n) === 0n) out.push(superset[i]!);
  return out;
}

function at<T>(list: readonly T[], i: number): T {
  const v = list[i];
  if (v === undefined) throw new CdcError('corrupt', `column index ${i} out of ${list.length}`);
  return v;
}

function readCell(c: Ctx, column: HeaderColumn, row: Liveness | null): Cell {
  const r = c.r;
  const flags = r.u8();
  const deleted = (flags & CELL_IS_DELETED) !== 0;
  const expiring = (flags & CELL_IS_EXPIRING) !== 0;
  const useRowTtl = (flags & CELL_USE_ROW_TTL) !== 0;
  let timestamp: bigint;
  if ((flags & CELL_USE_ROW_TIMESTAMP) !== 0) {
    if (row === null)
      throw new CdcError(
        'corrupt',
        `cell of ${column.name} uses the row timestamp of a row without one`,
      );
    timestamp = row.timestamp;
  } else {
    timestamp = readTimestamp(c);
  }
  let localDeletionTime: number | null = null;
  let ttl: number | null = null;
  if (useRowTtl) {
    localDeletionTime = row?.localExpirationTime ?? null;
    ttl = row?.ttl ?? null;
  } else {
    // cells: local deletion time BEFORE ttl
    if (deleted || expiring) localDeletionTime = readLocalDeletionTime(c);
    if (expiring) ttl = readTtl(c);
  }
  const path = column.complex ? r.vintBytes() : null;
  const value = (flags & CELL_HAS_EMPTY_VALUE) !== 0 ? EMPTY : readValue(r, column.type);
  return { timestamp, deleted, ttl, localDeletionTime, path, value };
}

const EMPTY = Buffer.alloc(0);
