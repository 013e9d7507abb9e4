/**
 * Test-only ENCODER for serialized mutations (messaging 12/13), written from the format
 * description independently of the decoder: partition updates, rows, markers, cells, column subsets.
 */
import type { CqlType } from '../../../connectors/cdc/cqltype.ts';
import type { TableDef } from '../../../connectors/cdc/schema.ts';
import { Writer } from './builders.ts';

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
    const m: Record<string, number> = {
      boolean: 1,
      int: 4,
      float: 4,
      bigint: 8,
      double: 8,
      timestamp: 8,
      uuid: 16,
      timeuuid: 16,
    };
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
    return (
      (t.kind === 'list' || t.kind === 'set' || t.kind === 'map' || t.kind === 'udt') && !t.frozen
    );
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
  const min = <T extends number | bigint>(xs: T[], dflt: T): T =>
    xs.length === 0 ? dflt : xs.reduce((a, b) => (b < a ? b : a));
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
  const writeLdt = (l: number | bigint): void =>
    void w.uvint(BigInt(Number(BigInt.asIntN(32, BigInt(l) - BigInt(stats.minLocalDeletionTime)))));
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
    if (!all)
      writeSubset(
        w,
        names.map((n) => header.indexOf(n)),
        header.length,
      );
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
