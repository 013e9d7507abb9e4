/**
 * Change events: what the CDC connector produces, one per row-level change, decoded from the
 * framed mutations of {@link ./mutation.ts}.
 */
import { hash } from 'node:crypto';
import type { CqlType } from './cqltype.ts';
import { CdcError, type CdcErrorCode } from './errors.ts';
import {
  BoundKind,
  type Cell,
  type ColumnData,
  type DeletionTime,
  frameMutation,
  type PartitionUpdate,
  type RangeTombstoneMarker,
  type Row,
} from './mutation.ts';
import type { CdcSchema, ColumnDef, TableDef } from './schema.ts';
import { MESSAGING_VERSION_BY_FILE_VERSION, type FileVersion } from './segment.ts';
import { type JsonValue, decodeValue, formatUuid, unsupportedReason } from './types.ts';

/** Where an event was read: segment id, logical entry position (resume point), file version. */
export interface EventSource {
  /** Commit-log segment id (decimal digits of a 64-bit id). */
  segmentId: string;
  /** `CommitLogPosition.position` of the entry: offset just after it. Resume with "> position". */
  position: number;
  /** Commit-log file version (7 or 8). */
  fileVersion: number;
}

/**
 * The change to one column in one row.
 *
 * Simple (non-collection or frozen) columns: `value` is the new value, or `null` with
 * `deleted: true` for a cell tombstone (`DELETE c FROM ...`, `SET c = null`).
 *
 * Non-frozen collections and UDTs (one cell per element in Cassandra):
 * - `value` holds the elements WRITTEN by this update: list -> array of values in list order;
 *   set -> array of elements; map -> array of `[key, value]` pairs; UDT -> object of written fields.
 *   `null` when none were written.
 * - `cleared`: timestamp of a collection-wide deletion; earlier content is gone. With `value` this is
 *   an overwrite (`SET c = [...]`); without, a delete (`deleted: true` then).
 * - `removed`: elements deleted one by one: set elements, map keys, UDT field names, and for lists
 *   the element ids (timeuuid cell paths; CQL `DELETE l[i]` resolves the index to one).
 */
export interface ColumnChange {
  value: JsonValue;
  /** Write timestamp, microseconds, as decimal string (the newest among the column's cells). */
  ts: string;
  /** Seconds to live, when written with a TTL. */
  ttl?: number;
  /**
   * With `ttl`: when the value expires, seconds since the epoch (Cassandra's local expiration
   * time, set where the write was applied; not derived from `ts`, which a client may choose).
   */
  expiresAt?: number;
  deleted?: true;
  cleared?: string;
  removed?: JsonValue[];
}

/**
 * A clustering bound of a range deletion. Bounds are in CLUSTERING order: on a DESC column the
 * `start` bound holds the larger value (`ts > a AND ts <= b` on `ts DESC` gives start `b`
 * inclusive, end `a` exclusive), as observed on a real 5.0 node.
 */
export interface RangeBound {
  /** Values of the leading clustering columns (a prefix). */
  clustering: Record<string, JsonValue>;
  inclusive: boolean;
}

/**
 * One row-level change: the change-event envelope.
 *
 * - `op`: `insert` (the row's primary-key liveness was written: CQL INSERT), `update` (only cells
 *   written: CQL UPDATE, or a static-only write), `delete_row`, `delete_partition`, `delete_range`.
 * - `key`: partition key columns -> values. `clustering`: clustering columns -> values for row
 *   changes (`{}` in a table without clustering columns); `null` for partition deletes, range
 *   deletes and static-row changes (`static: true`; static rows never carry row liveness, so a
 *   static change is always `update`). `DELETE` of a row in a table without clustering columns is
 *   a partition deletion in Cassandra, hence `delete_partition`.
 * - Within one partition update, events come in Cassandra's order: partition deletion, static
 *   row, then rows and range deletions in clustering order; a row that is both deleted and
 *   rewritten in one update gives `delete_row` then `insert`/`update`.
 * - `range`: `delete_range` only; a `null` bound is open-ended.
 * - `columns`: the columns this change wrote (no before-image; unchanged columns are absent).
 * - `writeTimestamp`: microseconds since the epoch as a decimal string: the row's liveness
 *   timestamp, the deletion's timestamp, or the newest cell timestamp.
 * - `ttl`: row TTL in seconds (INSERT ... USING TTL). Cell TTLs are in `columns`.
 * - `expiresAt`: with `ttl`, when the row expires: seconds since the epoch (Cassandra's local
 *   expiration time, set where the write was applied; not derived from `writeTimestamp`, which a
 *   client may choose).
 * - `eventId`: 32 hex digits: truncated SHA-256 of the partition-update bytes (which begin with
 *   the TableId and partition key) + the change's index in that update (see {@link eventId}).
 *   Every replica logs byte-identical updates, so the RF copies of one write share an `eventId`:
 *   de-duplicate on it.
 */
export interface RowChangeEvent {
  op: 'insert' | 'update' | 'delete_row' | 'delete_partition' | 'delete_range';
  keyspace: string;
  table: string;
  /** TableId, 32 hex digits. A dropped and recreated table gets a new one. */
  tableId: string;
  key: Record<string, JsonValue>;
  clustering: Record<string, JsonValue> | null;
  static?: true;
  range?: { start: RangeBound | null; end: RangeBound | null };
  columns: Record<string, ColumnChange>;
  writeTimestamp: string;
  ttl?: number;
  expiresAt?: number;
  source: EventSource;
  eventId: string;
}

/**
 * A partition update (or the rest of a mutation) the decoder could not decode. Nothing is dropped
 * silently: the bytes travel with the reason so a dead-letter consumer can retry or inspect.
 * `reason.retriable` is true when a schema refresh may help (unknown table or column).
 */
export interface UndecodableEvent {
  op: 'undecodable';
  keyspace: string | null;
  table: string | null;
  tableId: string | null;
  reason: { code: CdcErrorCode; message: string; retriable: boolean };
  /** Base64 of the partition update's bytes, or of the mutation from the failing update on. */
  raw: string;
  source: EventSource;
  eventId: string;
}

export type ChangeEvent = RowChangeEvent | UndecodableEvent;

/** Source position of an entry, as given to {@link decodeMutationEvents}. */
export interface EntrySource {
  segmentId: bigint | string;
  position: number;
  fileVersion: FileVersion;
}

/**
 * Decodes one commit-log entry into change events for the CDC tables of the schema. Mutations of
 * keyspaces without CDC tables, and updates of non-CDC tables, give nothing. Never throws for bad
 * input: undecodable parts become {@link UndecodableEvent}s.
 */
export function decodeMutationEvents(
  payload: Buffer,
  schema: CdcSchema,
  src: EntrySource,
): ChangeEvent[] {
  const source: EventSource = {
    segmentId: String(src.segmentId),
    position: src.position,
    fileVersion: src.fileVersion,
  };
  const framed = frameMutation(payload, schema, MESSAGING_VERSION_BY_FILE_VERSION[src.fileVersion]);
  const events: ChangeEvent[] = [];
  for (const update of framed.updates) {
    if (!update.table.cdc) continue;
    try {
      events.push(...updateEvents(update, source));
    } catch (err) {
      const error =
        err instanceof CdcError
          ? err
          : new CdcError('bad-value', (err as Error).message, { cause: err });
      events.push(undecodable(update.table, update.table.id, error, update.bytes, source));
    }
  }
  const f = framed.failure;
  // framing lost: whatever followed (possibly CDC updates) is unreadable, so always report it,
  // even when the failing update itself belongs to a non-CDC table
  if (f !== undefined) events.push(undecodable(f.table, f.tableId, f.error, f.rest, source));
  return events;
}

function undecodable(
  table: TableDef | null,
  tableId: string | null,
  error: CdcError,
  bytes: Buffer,
  source: EventSource,
): UndecodableEvent {
  return {
    op: 'undecodable',
    keyspace: table?.keyspace ?? null,
    table: table?.table ?? null,
    tableId,
    reason: { code: error.code, message: error.message, retriable: error.retriable },
    raw: bytes.toString('base64'),
    source,
    eventId: eventId(bytes, 0),
  };
}

/**
 * Stable id of the `index`-th change of a partition update: the first 24 hex digits (96 bits) of
 * SHA-256 over the update's bytes, then `index` as 8 hex digits. The update bytes begin with the
 * TableId and the partition key bytes, so they identify key and content; hashing once per update
 * (not per event) keeps the cost at one digest per mutation.
 */
export function eventId(updateBytes: Buffer, index: number): string {
  return eventIds(updateBytes)(index);
}

function eventIds(updateBytes: Buffer): (index: number) => string {
  const prefix = hash('sha256', updateBytes, 'hex').slice(0, 24);
  return (index) => prefix + index.toString(16).padStart(8, '0');
}

const unsupportedCache = new WeakMap<CqlType, string | null>();

function checkColumn(def: ColumnDef | null, type: CqlType, name: string): void {
  if (def?.unsupported !== undefined)
    throw new CdcError('unsupported-type', `column ${name}: ${def.unsupported}`);
  let why = unsupportedCache.get(type);
  if (why === undefined) unsupportedCache.set(type, (why = unsupportedReason(type)));
  if (why !== null) throw new CdcError('unsupported-type', `column ${name}: ${why}`);
}

/** Decodes the partition key bytes into column -> value (composite keys split per component). */
export function decodePartitionKey(table: TableDef, key: Buffer): Record<string, JsonValue> {
  const out: Record<string, JsonValue> = {};
  const pk = table.partitionKey;
  if (pk.length === 1) {
    const c = pk[0]!;
    checkColumn(c, c.type, c.name);
    out[c.name] = decodeValue(c.type, key);
    return out;
  }
  // CompositeType: per component uint16 length, bytes, end-of-component byte
  let p = 0;
  for (const c of pk) {
    checkColumn(c, c.type, c.name);
    if (p + 2 > key.length)
      throw new CdcError('bad-value', `composite partition key too short for ${c.name}`);
    const len = key.readUInt16BE(p);
    if (p + 2 + len + 1 > key.length)
      throw new CdcError('bad-value', `composite partition key component ${c.name} overruns`);
    out[c.name] = decodeValue(c.type, key.subarray(p + 2, p + 2 + len));
    p += 2 + len + 1;
  }
  if (p !== key.length)
    throw new CdcError('bad-value', `composite partition key has ${key.length - p} trailing bytes`);
  return out;
}

function decodeClustering(
  table: TableDef,
  values: Array<Buffer | null>,
): Record<string, JsonValue> {
  const out: Record<string, JsonValue> = {};
  values.forEach((v, i) => {
    const c = table.clustering[i];
    if (c === undefined)
      throw new CdcError(
        'bad-value',
        `clustering value ${i} beyond the table's ${table.clustering.length}`,
      );
    checkColumn(c, c.type, c.name);
    out[c.name] = v === null ? null : decodeValue(c.type, v);
  });
  return out;
}

function updateEvents(u: PartitionUpdate, source: EventSource): RowChangeEvent[] {
  const table = u.table;
  const key = decodePartitionKey(table, u.key);
  const out: RowChangeEvent[] = [];
  const ids = eventIds(u.bytes);
  const base = (op: RowChangeEvent['op'], ts: bigint): RowChangeEvent => ({
    op,
    keyspace: table.keyspace,
    table: table.table,
    tableId: table.id,
    key,
    clustering: null,
    columns: {},
    writeTimestamp: ts.toString(),
    source,
    eventId: ids(out.length),
  });
  if (u.partitionDeletion !== null)
    out.push(base('delete_partition', u.partitionDeletion.markedForDeleteAt));
  if (u.staticRow !== null) rowEvents(u.staticRow, table, base, out);
  let open: { marker: RangeTombstoneMarker; inclusive: boolean; deletion: DeletionTime } | null =
    null;
  for (const x of u.unfiltereds) {
    if (x.type === 'row') {
      rowEvents(x, table, base, out);
      continue;
    }
    const k = x.kind;
    const closes =
      k === BoundKind.EXCL_END_BOUND ||
      k === BoundKind.INCL_END_BOUND ||
      k === BoundKind.EXCL_END_INCL_START_BOUNDARY ||
      k === BoundKind.INCL_END_EXCL_START_BOUNDARY;
    if (closes) {
      const endInclusive =
        k === BoundKind.INCL_END_BOUND || k === BoundKind.INCL_END_EXCL_START_BOUNDARY;
      const deletion = x.deletion;
      const e = base('delete_range', deletion.markedForDeleteAt);
      e.range = {
        start:
          open === null || open.marker.values.length === 0
            ? null
            : {
                clustering: decodeClustering(table, open.marker.values),
                inclusive: open.inclusive,
              },
        end:
          x.values.length === 0
            ? null
            : { clustering: decodeClustering(table, x.values), inclusive: endInclusive },
      };
      out.push(e);
      open = null;
    }
    if (k === BoundKind.INCL_START_BOUND || k === BoundKind.EXCL_START_BOUND) {
      open = { marker: x, inclusive: k === BoundKind.INCL_START_BOUND, deletion: x.deletion };
    } else if (
      k === BoundKind.EXCL_END_INCL_START_BOUNDARY ||
      k === BoundKind.INCL_END_EXCL_START_BOUNDARY
    ) {
      open = {
        marker: x,
        inclusive: k === BoundKind.EXCL_END_INCL_START_BOUNDARY,
        deletion: x.startDeletion ?? x.deletion,
      };
    } else if (!closes) {
      throw new CdcError('bad-value', `unknown range tombstone bound kind ${k}`);
    }
  }
  if (open !== null)
    throw new CdcError('bad-value', 'range tombstone opened but never closed in the update');
  return out;
}

function rowEvents(
  row: Row,
  table: TableDef,
  base: (op: RowChangeEvent['op'], ts: bigint) => RowChangeEvent,
  out: RowChangeEvent[],
): void {
  const clustering = row.static ? null : decodeClustering(table, row.clustering);
  if (row.deletion !== null) {
    const e = base('delete_row', row.deletion.markedForDeleteAt);
    e.clustering = clustering;
    if (row.static) e.static = true;
    out.push(e);
  }
  const columns: Record<string, ColumnChange> = {};
  let newest: bigint | null = null;
  for (const cd of row.columns) {
    const change = columnChange(cd);
    if (change === null) continue;
    columns[cd.column.name] = change.change;
    if (newest === null || change.newest > newest) newest = change.newest;
  }
  if (row.liveness === null && newest === null) return; // nothing left (dropped-column data only)
  const e = base(row.liveness !== null ? 'insert' : 'update', row.liveness?.timestamp ?? newest!);
  e.clustering = clustering;
  if (row.static) e.static = true;
  e.columns = columns;
  if (row.liveness?.ttl != null) {
    e.ttl = row.liveness.ttl;
    if (row.liveness.localExpirationTime != null) e.expiresAt = row.liveness.localExpirationTime;
  }
  out.push(e);
}

function isDroppedData(cd: ColumnData, ts: bigint): boolean {
  return cd.column.droppedTime !== null && ts <= cd.column.droppedTime;
}

function columnChange(cd: ColumnData): { change: ColumnChange; newest: bigint } | null {
  const col = cd.column;
  if ('cell' in cd) {
    const cell = cd.cell;
    if (isDroppedData(cd, cell.timestamp)) return null;
    checkColumn(col.def, col.type, col.name);
    const change: ColumnChange = {
      value: cell.deleted ? null : decodeValue(col.type, cell.value),
      ts: cell.timestamp.toString(),
    };
    if (cell.ttl !== null && !cell.deleted) {
      change.ttl = cell.ttl;
      if (cell.localDeletionTime !== null) change.expiresAt = cell.localDeletionTime;
    }
    if (cell.deleted) change.deleted = true;
    return { change, newest: cell.timestamp };
  }
  const deletion =
    cd.complexDeletion !== null && !isDroppedData(cd, cd.complexDeletion.markedForDeleteAt)
      ? cd.complexDeletion
      : null;
  const cells = cd.cells.filter((c) => !isDroppedData(cd, c.timestamp));
  if (deletion === null && cells.length === 0) return null;
  checkColumn(col.def, col.type, col.name);
  let newest = deletion?.markedForDeleteAt ?? cells[0]!.timestamp;
  let expiring: Cell | null = null;
  const live: Cell[] = [];
  const removed: JsonValue[] = [];
  for (const c of cells) {
    if (c.timestamp > newest) newest = c.timestamp;
    if (c.deleted) removed.push(pathValue(col.type, c.path));
    else {
      live.push(c);
      if (expiring === null && c.ttl !== null) expiring = c;
    }
  }
  const change: ColumnChange = {
    value: live.length === 0 ? null : collectionValue(col.type, live),
    ts: newest.toString(),
  };
  if (expiring !== null) {
    change.ttl = expiring.ttl!;
    if (expiring.localDeletionTime !== null) change.expiresAt = expiring.localDeletionTime;
  }
  if (deletion !== null) {
    change.cleared = deletion.markedForDeleteAt.toString();
    if (live.length === 0) change.deleted = true;
  }
  if (removed.length > 0) change.removed = removed;
  return { change, newest };
}

/** The identity of a complex cell: list timeuuid, set element, map key, UDT field name. */
function pathValue(type: CqlType, path: Buffer | null): JsonValue {
  if (path === null) throw new CdcError('bad-value', 'complex cell without a path');
  switch (type.kind) {
    case 'list':
      if (path.length !== 16)
        throw new CdcError('bad-value', `list cell path of ${path.length} bytes`);
      return formatUuid(path);
    case 'set':
      return decodeValue(type.element, path);
    case 'map':
      return decodeValue(type.key, path);
    case 'udt':
      return udtField(type, path).name;
    default:
      throw new CdcError('bad-value', `complex cell on a ${type.kind} column`);
  }
}

function udtField(
  type: Extract<CqlType, { kind: 'udt' }>,
  path: Buffer,
): { name: string; type: CqlType } {
  if (path.length !== 2) throw new CdcError('bad-value', `UDT cell path of ${path.length} bytes`);
  const i = path.readInt16BE(0);
  const f = type.fields[i];
  if (f === undefined)
    throw new CdcError(
      'unknown-column',
      `field ${i} of user type ${type.name} is not in the loaded schema`,
    );
  return f;
}

function collectionValue(type: CqlType, cells: Cell[]): JsonValue {
  switch (type.kind) {
    case 'list':
      return cells.map((c) => decodeValue(type.element, c.value));
    case 'set':
      return cells.map((c) => decodeValue(type.element, c.path!));
    case 'map':
      return cells.map((c) => [decodeValue(type.key, c.path!), decodeValue(type.value, c.value)]);
    case 'udt': {
      const out: Record<string, JsonValue> = {};
      for (const c of cells) {
        const f = udtField(type, c.path!);
        out[f.name] = decodeValue(f.type, c.value);
      }
      return out;
    }
    default:
      throw new CdcError('bad-value', `complex cells on a ${type.kind} column`);
  }
}
