import type { Client } from 'cassandra-driver';
import { describe, expect, it } from 'vitest';
import {
  buildSchema,
  loadSchema,
  loadSchemaRows,
  tableIdHex,
  type SchemaRows,
} from '../../../connectors/cdc/schema.ts';

const rows: SchemaRows = {
  tables: [
    {
      keyspace_name: 'app',
      table_name: 'tweets',
      id: '5bc52802-de25-11ee-b1d9-0242ac120002',
      cdc: true,
    },
    {
      keyspace_name: 'app',
      table_name: 'follows',
      id: '6bc52802-de25-11ee-b1d9-0242ac120002',
      cdc: null,
    },
    {
      keyspace_name: 'system',
      table_name: 'local',
      id: '7ad54392-bcdd-35a6-8417-4e047860b377',
      cdc: false,
    },
  ],
  columns: [
    {
      keyspace_name: 'app',
      table_name: 'tweets',
      column_name: 'b',
      kind: 'partition_key',
      position: 1,
      type: 'int',
      clustering_order: 'none',
    },
    {
      keyspace_name: 'app',
      table_name: 'tweets',
      column_name: 'a',
      kind: 'partition_key',
      position: 0,
      type: 'uuid',
      clustering_order: 'none',
    },
    {
      keyspace_name: 'app',
      table_name: 'tweets',
      column_name: 'ts',
      kind: 'clustering',
      position: 0,
      type: 'timestamp',
      clustering_order: 'desc',
    },
    {
      keyspace_name: 'app',
      table_name: 'tweets',
      column_name: 'loc',
      kind: 'regular',
      position: -1,
      type: 'frozen<geo>',
      clustering_order: 'none',
    },
    {
      keyspace_name: 'app',
      table_name: 'tweets',
      column_name: 'owner',
      kind: 'static',
      position: -1,
      type: 'text',
      clustering_order: 'none',
    },
    {
      keyspace_name: 'app',
      table_name: 'tweets',
      column_name: 'odd',
      kind: 'regular',
      position: -1,
      type: 'map<int',
      clustering_order: 'none',
    },
    {
      keyspace_name: 'app',
      table_name: 'follows',
      column_name: 'id',
      kind: 'partition_key',
      position: 0,
      type: 'bigint',
      clustering_order: 'none',
    },
    {
      keyspace_name: 'system',
      table_name: 'local',
      column_name: 'key',
      kind: 'partition_key',
      position: 0,
      type: 'text',
      clustering_order: 'none',
    },
  ],
  dropped_columns: [
    {
      keyspace_name: 'app',
      table_name: 'tweets',
      column_name: 'old',
      dropped_time: 1_700_000_000_123,
      kind: 'regular',
      type: 'frozen<tuple<text, int>>',
    },
  ],
  types: [
    {
      keyspace_name: 'app',
      type_name: 'geo',
      field_names: ['lat', 'lon'],
      field_types: ['double', 'double'],
    },
  ],
};

describe('buildSchema', () => {
  const schema = buildSchema(rows);
  const tweets = schema.tables.get('5bc52802de2511eeb1d90242ac120002')!;

  it('keeps every table of keyspaces with a CDC table, ids only for the others', () => {
    expect([...schema.tables.keys()]).toEqual([
      '5bc52802de2511eeb1d90242ac120002',
      '6bc52802de2511eeb1d90242ac120002',
    ]);
    expect(schema.tables.get('6bc52802de2511eeb1d90242ac120002')!.cdc).toBe(false);
    expect(schema.otherTables.get('7ad54392bcdd35a684174e047860b377')).toEqual({
      keyspace: 'system',
      table: 'local',
    });
  });

  it('orders key columns by position, marks DESC, resolves UDTs, keeps statics', () => {
    expect(tweets.partitionKey.map((c) => c.name)).toEqual(['a', 'b']);
    expect(tweets.clustering).toMatchObject([
      { name: 'ts', reversed: true, type: { kind: 'native', name: 'timestamp' } },
    ]);
    expect(tweets.columns.get('loc')!.type).toEqual({
      kind: 'udt',
      keyspace: 'app',
      name: 'geo',
      frozen: true,
      fields: [
        { name: 'lat', type: { kind: 'native', name: 'double' } },
        { name: 'lon', type: { kind: 'native', name: 'double' } },
      ],
    });
    expect(tweets.columns.get('owner')!.kind).toBe('static');
  });

  it('keeps an unparsable column, marked unsupported', () => {
    expect(tweets.columns.get('odd')!.unsupported).toMatch(/cannot parse/);
  });

  it('reads dropped columns with their time in microseconds', () => {
    expect(tweets.dropped.get('old')).toEqual({
      name: 'old',
      kind: 'regular',
      droppedTime: 1_700_000_000_123_000n,
      type: {
        kind: 'tuple',
        elements: [
          { kind: 'native', name: 'text' },
          { kind: 'native', name: 'int' },
        ],
      },
    });
  });

  it('table ids are 32 hex digits', () => {
    expect(tableIdHex('5BC52802-DE25-11EE-B1D9-0242AC120002')).toBe(
      '5bc52802de2511eeb1d90242ac120002',
    );
    expect(() => tableIdHex('nope')).toThrow();
  });
});

describe('loadSchemaRows through a client', () => {
  // a fake of the driver's execute(): one page per table, values as the driver types them
  const row = (o: Record<string, unknown>): { get(k: string): unknown } => ({ get: (k) => o[k] });
  const asked: Array<{ cql: string; options: Record<string, unknown> }> = [];
  const fake = {
    async execute(cql: string, _params: unknown, options: Record<string, unknown>) {
      asked.push({ cql, options });
      const uuid = { toString: () => '5bc52802-de25-11ee-b1d9-0242ac120002' };
      if (cql.includes('system_schema.tables'))
        return { rows: [row({ keyspace_name: 'app', table_name: 't', id: uuid, cdc: true })] };
      if (cql.includes('system_schema.columns')) {
        return {
          rows: [
            row({
              keyspace_name: 'app',
              table_name: 't',
              column_name: 'id',
              clustering_order: 'none',
              kind: 'partition_key',
              position: 0,
              type: 'int',
            }),
          ],
        };
      }
      if (cql.includes('system_schema.dropped_columns')) {
        return {
          rows: [
            row({
              keyspace_name: 'app',
              table_name: 't',
              column_name: 'x',
              dropped_time: new Date(5),
              kind: null,
              type: 'int',
            }),
          ],
        };
      }
      if (cql.includes('system_schema.types'))
        return {
          rows: [
            row({ keyspace_name: 'app', type_name: 'u', field_names: ['f'], field_types: ['int'] }),
          ],
        };
      return { rows: [] };
    },
  } as unknown as Client;

  it("asks the connector's own node, every query and page (a write to a new column is in its commit log only once it has the column)", async () => {
    const host = { address: '127.0.0.3:9042' };
    asked.length = 0;
    await loadSchema(fake, { host } as never);
    expect(asked).toHaveLength(5);
    for (const q of asked) expect(q.options.host).toBe(host);
  });

  it('maps driver values to plain JSON rows and builds the schema', async () => {
    const r = await loadSchemaRows(fake);
    expect(r.tables).toEqual([
      {
        keyspace_name: 'app',
        table_name: 't',
        id: '5bc52802-de25-11ee-b1d9-0242ac120002',
        cdc: true,
      },
    ]);
    expect(r.dropped_columns).toEqual([
      {
        keyspace_name: 'app',
        table_name: 't',
        column_name: 'x',
        dropped_time: 5,
        kind: null,
        type: 'int',
      },
    ]);
    expect(r.types).toEqual([
      { keyspace_name: 'app', type_name: 'u', field_names: ['f'], field_types: ['int'] },
    ]);
    const s = await loadSchema(fake);
    expect(s.tables.get('5bc52802de2511eeb1d90242ac120002')!.dropped.get('x')!.droppedTime).toBe(
      5000n,
    );
  });
});
