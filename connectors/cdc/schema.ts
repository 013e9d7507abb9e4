/**
 * The table metadata the mutation decoder needs, built from `system_schema` rows.
 *
 * A mutation carries one keyspace's updates with no length prefixes, so skipping a table's update
 * means decoding it: we keep full definitions for EVERY table of every keyspace that has at least
 * one CDC table, and only the ids of the rest (whole mutations of those keyspaces are skipped
 * unread).
 */
import type { Client } from 'cassandra-driver';
import { type CqlType, type UdtDefinitions, parseCqlType, resolveType } from './cqltype.ts';
import { CdcError } from './errors.ts';
import type { OwnNode } from './node.ts';

export type ColumnKind = 'partition_key' | 'clustering' | 'regular' | 'static';

export interface ColumnDef {
  name: string;
  type: CqlType;
  kind: ColumnKind;
  /** Position among the partition key or clustering columns; -1 for regular/static. */
  position: number;
  /** Clustering column with `CLUSTERING ORDER ... DESC` (ReversedType: same bytes, other order). */
  reversed: boolean;
  /** Why values of this column cannot be decoded (type string we could not parse), if so. */
  unsupported?: string;
}

export interface DroppedColumnDef {
  name: string;
  type: CqlType;
  kind: 'regular' | 'static';
  /** Drop time in microseconds: cells with a timestamp at or before it are ignored, as Cassandra does. */
  droppedTime: bigint;
}

export interface TableDef {
  /** `system_schema.tables.id` as 32 lower-case hex digits (the TableId in mutations). */
  id: string;
  keyspace: string;
  table: string;
  cdc: boolean;
  partitionKey: readonly ColumnDef[];
  clustering: readonly ColumnDef[];
  /** Regular and static columns by name. */
  columns: ReadonlyMap<string, ColumnDef>;
  dropped: ReadonlyMap<string, DroppedColumnDef>;
}

export interface CdcSchema {
  /** Full definitions, by table id, of every table in keyspaces that hold a CDC table. */
  tables: ReadonlyMap<string, TableDef>;
  /** Ids of tables (and views) in keyspaces without CDC tables: their mutations are skipped whole. */
  otherTables: ReadonlyMap<string, { keyspace: string; table: string }>;
}

/** Raw `system_schema` rows, as plain JSON (what {@link loadSchemaRows} returns and fixtures store). */
export interface SchemaRows {
  tables: Array<{ keyspace_name: string; table_name: string; id: string; cdc: boolean | null }>;
  views?: Array<{ keyspace_name: string; view_name: string; id: string }>;
  columns: Array<{
    keyspace_name: string;
    table_name: string;
    column_name: string;
    clustering_order: string;
    kind: string;
    position: number;
    type: string;
  }>;
  dropped_columns: Array<{
    keyspace_name: string;
    table_name: string;
    column_name: string;
    /** Milliseconds since the epoch (the `timestamp` column). */
    dropped_time: number;
    kind: string | null;
    type: string;
  }>;
  types: Array<{
    keyspace_name: string;
    type_name: string;
    field_names: string[];
    field_types: string[];
  }>;
}

/** `uuid` text -> the 32-hex TableId form. */
export function tableIdHex(uuid: string): string {
  const hex = uuid.replace(/-/g, '').toLowerCase();
  if (!/^[0-9a-f]{32}$/.test(hex)) throw new CdcError('bad-type', `not a table id: ${uuid}`);
  return hex;
}

const keyOf = (ks: string, t: string): string => `${ks}\u0000${t}`;

/** Builds a {@link CdcSchema} from `system_schema` rows. Pure; see {@link loadSchema}. */
export function buildSchema(rows: SchemaRows): CdcSchema {
  const cdcKeyspaces = new Set(
    rows.tables.filter((t) => t.cdc === true).map((t) => t.keyspace_name),
  );

  const udtsByKeyspace = new Map<
    string,
    Map<string, { fieldNames: string[]; fieldTypes: string[] }>
  >();
  for (const u of rows.types) {
    if (!cdcKeyspaces.has(u.keyspace_name)) continue;
    let m = udtsByKeyspace.get(u.keyspace_name);
    if (m === undefined) {
      m = new Map<string, { fieldNames: string[]; fieldTypes: string[] }>();
      udtsByKeyspace.set(u.keyspace_name, m);
    }
    m.set(u.type_name, { fieldNames: u.field_names, fieldTypes: u.field_types });
  }
  const noUdts: UdtDefinitions = new Map();

  const columnsByTable = new Map<string, SchemaRows['columns']>();
  for (const c of rows.columns) {
    if (!cdcKeyspaces.has(c.keyspace_name)) continue;
    const k = keyOf(c.keyspace_name, c.table_name);
    let list = columnsByTable.get(k);
    if (list === undefined) columnsByTable.set(k, (list = []));
    list.push(c);
  }
  const droppedByTable = new Map<string, SchemaRows['dropped_columns']>();
  for (const d of rows.dropped_columns) {
    if (!cdcKeyspaces.has(d.keyspace_name)) continue;
    const k = keyOf(d.keyspace_name, d.table_name);
    let list = droppedByTable.get(k);
    if (list === undefined) droppedByTable.set(k, (list = []));
    list.push(d);
  }

  const tables = new Map<string, TableDef>();
  const otherTables = new Map<string, { keyspace: string; table: string }>();
  for (const t of rows.tables) {
    const id = tableIdHex(t.id);
    if (!cdcKeyspaces.has(t.keyspace_name)) {
      otherTables.set(id, { keyspace: t.keyspace_name, table: t.table_name });
      continue;
    }
    const udts = udtsByKeyspace.get(t.keyspace_name) ?? noUdts;
    const partitionKey: ColumnDef[] = [];
    const clustering: ColumnDef[] = [];
    const columns = new Map<string, ColumnDef>();
    for (const c of columnsByTable.get(keyOf(t.keyspace_name, t.table_name)) ?? []) {
      const kind = c.kind as ColumnKind;
      const def: ColumnDef = {
        name: c.column_name,
        type: { kind: 'custom', className: c.type },
        kind,
        position: kind === 'partition_key' || kind === 'clustering' ? c.position : -1,
        reversed: c.clustering_order === 'desc',
      };
      try {
        def.type = resolveType(parseCqlType(c.type), t.keyspace_name, udts);
      } catch (err) {
        // keep the table decodable for framing; values of this column become `undecodable`
        def.unsupported = (err as Error).message;
      }
      if (kind === 'partition_key') partitionKey.push(def);
      else if (kind === 'clustering') clustering.push(def);
      else columns.set(def.name, def);
    }
    partitionKey.sort((a, b) => a.position - b.position);
    clustering.sort((a, b) => a.position - b.position);
    const dropped = new Map<string, DroppedColumnDef>();
    for (const d of droppedByTable.get(keyOf(t.keyspace_name, t.table_name)) ?? []) {
      let type: CqlType;
      try {
        // dropped UDT columns are stored expanded to tuples (SchemaKeyspace.createDroppedColumnFromRow)
        type = resolveType(parseCqlType(d.type), t.keyspace_name, noUdts);
      } catch {
        type = { kind: 'custom', className: d.type };
      }
      dropped.set(d.column_name, {
        name: d.column_name,
        type,
        kind: d.kind === 'static' ? 'static' : 'regular',
        droppedTime: BigInt(d.dropped_time) * 1000n,
      });
    }
    tables.set(id, {
      id,
      keyspace: t.keyspace_name,
      table: t.table_name,
      cdc: t.cdc === true,
      partitionKey,
      clustering,
      columns,
      dropped,
    });
  }
  for (const v of rows.views ?? []) {
    const id = tableIdHex(v.id);
    if (!tables.has(id)) otherTables.set(id, { keyspace: v.keyspace_name, table: v.view_name });
  }
  return { tables, otherTables };
}

interface RowLike {
  get(name: string): unknown;
}

async function queryAll(client: Client, cql: string, own: OwnNode): Promise<RowLike[]> {
  const out: RowLike[] = [];
  let pageState: string | undefined;
  do {
    const rs = await client.execute(
      cql,
      [],
      pageState === undefined
        ? { ...own, fetchSize: 5000 }
        : { ...own, fetchSize: 5000, pageState },
    );
    out.push(...(rs.rows as unknown as RowLike[]));
    pageState = rs.pageState ?? undefined;
  } while (pageState);
  return out;
}

/** Driver values (strings, Uuid, Long...) to text; every such class has a meaningful toString(). */
const str = (v: unknown): string =>
  v === null || v === undefined
    ? ''
    : typeof v === 'string'
      ? v
      : (v as { toString(): string }).toString();

/**
 * Reads the `system_schema` rows the decoder needs through an application-owned client (library
 * code never creates clients). Returned as plain JSON so it can be stored (fixtures) or diffed.
 * `own`: the node whose commit log is read (./node.ts). A node accepts a write to a new table or
 * column only once it has the schema change, so its own schema, read after the write is in its
 * commit log, knows them; another node may not have the change yet.
 */
export async function loadSchemaRows(client: Client, own: OwnNode = {}): Promise<SchemaRows> {
  const [tables, views, columns, dropped, types] = await Promise.all([
    queryAll(client, 'SELECT keyspace_name, table_name, id, cdc FROM system_schema.tables', own),
    queryAll(client, 'SELECT keyspace_name, view_name, id FROM system_schema.views', own),
    queryAll(
      client,
      'SELECT keyspace_name, table_name, column_name, clustering_order, kind, position, type FROM system_schema.columns',
      own,
    ),
    queryAll(
      client,
      'SELECT keyspace_name, table_name, column_name, dropped_time, kind, type FROM system_schema.dropped_columns',
      own,
    ),
    queryAll(
      client,
      'SELECT keyspace_name, type_name, field_names, field_types FROM system_schema.types',
      own,
    ),
  ]);
  return {
    tables: tables.map((r) => ({
      keyspace_name: str(r.get('keyspace_name')),
      table_name: str(r.get('table_name')),
      id: str(r.get('id')),
      cdc: r.get('cdc') === true,
    })),
    views: views.map((r) => ({
      keyspace_name: str(r.get('keyspace_name')),
      view_name: str(r.get('view_name')),
      id: str(r.get('id')),
    })),
    columns: columns.map((r) => ({
      keyspace_name: str(r.get('keyspace_name')),
      table_name: str(r.get('table_name')),
      column_name: str(r.get('column_name')),
      clustering_order: str(r.get('clustering_order')),
      kind: str(r.get('kind')),
      position: Number(r.get('position')),
      type: str(r.get('type')),
    })),
    dropped_columns: dropped.map((r) => {
      const t = r.get('dropped_time');
      return {
        keyspace_name: str(r.get('keyspace_name')),
        table_name: str(r.get('table_name')),
        column_name: str(r.get('column_name')),
        dropped_time: t instanceof Date ? t.getTime() : Number(t),
        kind: r.get('kind') === null ? null : str(r.get('kind')),
        type: str(r.get('type')),
      };
    }),
    types: types.map((r) => ({
      keyspace_name: str(r.get('keyspace_name')),
      type_name: str(r.get('type_name')),
      field_names: ((r.get('field_names') as unknown[] | null) ?? []).map(str),
      field_types: ((r.get('field_types') as unknown[] | null) ?? []).map(str),
    })),
  };
}

/** Loads and builds the schema through an application-owned `cassandra-driver` client (`own`: see {@link loadSchemaRows}). */
export async function loadSchema(client: Client, own: OwnNode = {}): Promise<CdcSchema> {
  return buildSchema(await loadSchemaRows(client, own));
}
