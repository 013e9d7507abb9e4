import { describe, expect, it } from 'vitest';
import {
  type ChangeEvent,
  decodeMutationEvents,
  type RowChangeEvent,
} from '../../../connectors/cdc/events.ts';
import { frameMutation, skippedTable } from '../../../connectors/cdc/mutation.ts';
import { type SchemaRows, type TableDef, buildSchema } from '../../../connectors/cdc/schema.ts';
import { enc } from './builders.ts';
import {
  LIVE_LDT,
  LIVE_TS,
  type TRow,
  type TUpdate,
  encodeMutation,
  encodeUpdate,
} from './mutation-builder.ts';

const id = (n: number): string => `00000000-0000-0000-0000-${String(n).padStart(12, '0')}`;
const WIDE = Array.from({ length: 70 }, (_, i) => `c${String(i).padStart(2, '0')}`);
const DEEP = Array.from({ length: 34 }, (_, i) => `k${String(i).padStart(2, '0')}`);
const NATIVE: Array<[string, string]> = [
  ['ascii', 'ascii'],
  ['bigint', 'bigint'],
  ['blob', 'blob'],
  ['boolean', 'boolean'],
  ['date', 'date'],
  ['decimal', 'decimal'],
  ['double', 'double'],
  ['duration', 'duration'],
  ['float', 'float'],
  ['inet', 'inet'],
  ['int', 'int'],
  ['smallint', 'smallint'],
  ['text', 'text'],
  ['time', 'time'],
  ['timestamp', 'timestamp'],
  ['timeuuid', 'timeuuid'],
  ['tinyint', 'tinyint'],
  ['uuid', 'uuid'],
  ['varchar', 'varchar'],
  ['varint', 'varint'],
  ['vec', 'vector<float, 2>'],
  ['vtext', 'vector<text, 2>'],
  ['flist', 'frozen<list<int>>'],
  ['fmap', 'frozen<map<text, int>>'],
  ['tup', 'frozen<tuple<int, text>>'],
  ['faddr', 'frozen<address>'],
];

type Col = SchemaRows['columns'][number];
const col = (
  table: string,
  name: string,
  kind: string,
  type: string,
  position = -1,
  order = 'none',
): Col => ({
  keyspace_name: 'app',
  table_name: table,
  column_name: name,
  kind,
  type,
  position,
  clustering_order: order,
});

const rows: SchemaRows = {
  tables: [
    { keyspace_name: 'app', table_name: 't_all', id: id(1), cdc: true },
    { keyspace_name: 'app', table_name: 'tl', id: id(2), cdc: true },
    { keyspace_name: 'app', table_name: 'plain', id: id(3), cdc: false },
    { keyspace_name: 'app', table_name: 'wide', id: id(4), cdc: true },
    { keyspace_name: 'app', table_name: 'deep', id: id(5), cdc: true },
    { keyspace_name: 'app', table_name: 'counts', id: id(6), cdc: true },
    { keyspace_name: 'other', table_name: 'o1', id: id(7), cdc: false },
  ],
  views: [{ keyspace_name: 'other', view_name: 'o1_by_v', id: id(8) }],
  columns: [
    col('t_all', 'id', 'partition_key', 'int', 0),
    ...NATIVE.map(([name, type]) => col('t_all', name, 'regular', type)),
    col('tl', 'user_id', 'partition_key', 'uuid', 0),
    col('tl', 'bucket', 'partition_key', 'int', 1),
    col('tl', 'ts', 'clustering', 'timestamp', 0, 'desc'),
    col('tl', 'seq', 'clustering', 'int', 1, 'asc'),
    col('tl', 'owner', 'static', 'text'),
    col('tl', 'body', 'regular', 'text'),
    col('tl', 'likes', 'regular', 'int'),
    col('tl', 'note', 'regular', 'text'),
    col('tl', 'tags', 'regular', 'set<text>'),
    col('tl', 'm', 'regular', 'map<text, int>'),
    col('tl', 'l', 'regular', 'list<int>'),
    col('tl', 'addr', 'regular', 'address'),
    col('plain', 'id', 'partition_key', 'int', 0),
    col('plain', 'v', 'regular', 'text'),
    col('wide', 'id', 'partition_key', 'int', 0),
    col('wide', 'ck', 'clustering', 'int', 0, 'asc'),
    ...WIDE.map((c) => col('wide', c, 'regular', 'int')),
    col('deep', 'id', 'partition_key', 'int', 0),
    ...DEEP.map((c, i) => col('deep', c, 'clustering', i === 1 ? 'text' : 'int', i, 'asc')),
    col('deep', 'v', 'regular', 'int'),
    col('counts', 'id', 'partition_key', 'int', 0),
    col('counts', 'n', 'regular', 'counter'),
    { ...col('o1', 'id', 'partition_key', 'int', 0), keyspace_name: 'other' },
  ],
  dropped_columns: [
    {
      keyspace_name: 'app',
      table_name: 'tl',
      column_name: 'extra',
      dropped_time: 1_700_000_000_500,
      kind: 'regular',
      type: 'text',
    },
  ],
  types: [
    {
      keyspace_name: 'app',
      type_name: 'address',
      field_names: ['street', 'zip'],
      field_types: ['text', 'int'],
    },
  ],
};
const schema = buildSchema(rows);
const table = (name: string): TableDef =>
  [...schema.tables.values()].find((t) => t.table === name)!;
const T_ALL = table('t_all');
const TL = table('tl');
const U1 = '11111111-1111-1111-1111-111111111111';
const tlKey = enc.composite([enc.uuid(U1), enc.int(7)]);
const TS = 1_700_000_000_000_000n;
const NOW = 1_700_000_000; // seconds
const src = { segmentId: 42n, position: 1234, fileVersion: 7 as const };

function decode(updates: TUpdate[], fileVersion: 7 | 8 = 7): ChangeEvent[] {
  return decodeMutationEvents(encodeMutation(updates), schema, { ...src, fileVersion });
}
function rowEvents(updates: TUpdate[]): RowChangeEvent[] {
  const ev = decode(updates);
  for (const e of ev) expect(e.op).not.toBe('undecodable');
  return ev as RowChangeEvent[];
}
const tsAt = (ms: number): Buffer => enc.timestamp(BigInt(ms));

describe('values of every type inside a row (fixed vs vint framing)', () => {
  it('decodes an INSERT of all types', () => {
    const values: Record<string, [Buffer, unknown]> = {
      ascii: [Buffer.from('a'), 'a'],
      bigint: [enc.bigint(-5n), '-5'],
      blob: [Buffer.from([1, 2]), 'AQI='],
      boolean: [enc.boolean(true), true],
      date: [enc.date(19782), '2024-02-29'],
      decimal: [enc.decimal(15n, 1), '1.5'],
      double: [enc.double(2.25), 2.25],
      duration: [enc.duration(1, 2, 3n), { months: 1, days: 2, nanoseconds: '3' }],
      float: [enc.float(0.5), 0.5],
      inet: [Buffer.from([10, 0, 0, 1]), '10.0.0.1'],
      int: [enc.int(42), 42],
      smallint: [enc.smallint(-2), -2],
      text: [enc.text('hé'), 'hé'],
      time: [enc.time(1_000_000_001n), '00:00:01.000000001'],
      timestamp: [tsAt(0), '1970-01-01T00:00:00.000Z'],
      timeuuid: [
        enc.uuid('50554d6e-29bb-11e5-b345-feff819cdc9f'),
        '50554d6e-29bb-11e5-b345-feff819cdc9f',
      ],
      tinyint: [enc.tinyint(-1), -1],
      uuid: [enc.uuid(U1), U1],
      varchar: [enc.text('x'), 'x'],
      varint: [enc.varint(2n ** 70n), String(2n ** 70n)],
      vec: [Buffer.concat([enc.float(1), enc.float(2)]), [1, 2]],
      vtext: [Buffer.concat([Buffer.of(1), enc.text('a'), Buffer.of(0)]), ['a', '']],
      flist: [enc.list([enc.int(1), enc.int(2)]), [1, 2]],
      fmap: [enc.map([[enc.text('k'), enc.int(1)]]), [['k', 1]]],
      tup: [enc.tuple([enc.int(1), enc.text('one')]), [1, 'one']],
      faddr: [enc.tuple([enc.text('Main'), enc.int(9)]), { street: 'Main', zip: 9 }],
    };
    const cells = Object.fromEntries(Object.entries(values).map(([k, [v]]) => [k, { value: v }]));
    const [e] = rowEvents([
      { table: T_ALL, key: enc.int(1), rows: [{ liveness: { ts: TS }, cells }] },
    ]);
    expect(e).toMatchObject({
      op: 'insert',
      keyspace: 'app',
      table: 't_all',
      tableId: T_ALL.id,
      key: { id: 1 },
      clustering: {},
      writeTimestamp: String(TS),
    });
    expect(e!.columns).toEqual(
      Object.fromEntries(
        Object.entries(values).map(([k, [, want]]) => [k, { value: want, ts: String(TS) }]),
      ),
    );
    expect(e!.source).toEqual({ segmentId: '42', position: 1234, fileVersion: 7 });
  });
});

describe('rows, keys, clustering', () => {
  it('composite partition key, DESC clustering, static row first, INSERT vs UPDATE', () => {
    const ev = rowEvents([
      {
        table: TL,
        key: tlKey,
        staticRow: { cells: { owner: { ts: TS, value: enc.text('alice') } } },
        rows: [
          {
            clustering: [tsAt(2000), enc.int(1)],
            liveness: { ts: TS },
            cells: { body: { value: enc.text('b') } },
          },
          {
            clustering: [tsAt(1000), enc.int(2)],
            cells: { likes: { ts: TS + 5n, value: enc.int(3) } },
          },
        ],
      },
    ]);
    expect(ev.map((e) => [e.op, e.static ?? false, e.clustering])).toEqual([
      ['update', true, null],
      ['insert', false, { ts: '1970-01-01T00:00:02.000Z', seq: 1 }],
      ['update', false, { ts: '1970-01-01T00:00:01.000Z', seq: 2 }],
    ]);
    expect(ev[0]!.key).toEqual({ user_id: U1, bucket: 7 });
    expect(ev[0]!.columns).toEqual({ owner: { value: 'alice', ts: String(TS) } });
    expect(ev[2]!.writeTimestamp).toBe(String(TS + 5n));
  });

  it('clustering values: null, empty, and more than 32 columns (two header blocks)', () => {
    const deep = table('deep');
    const clustering = DEEP.map((_, i) =>
      i === 1 ? Buffer.alloc(0) : i === 33 ? null : enc.int(i),
    );
    const [e] = rowEvents([
      {
        table: deep,
        key: enc.int(1),
        rows: [{ clustering, liveness: { ts: TS }, cells: { v: { value: enc.int(1) } } }],
      },
    ]);
    expect(e!.clustering).toEqual(
      Object.fromEntries(DEEP.map((c, i) => [c, i === 1 ? '' : i === 33 ? null : i])),
    );
  });

  it('an empty partition update gives nothing', () => {
    expect(decode([{ table: TL, key: tlKey, empty: true }])).toEqual([]);
  });
});

describe('deletions', () => {
  it('partition, row, cell', () => {
    const ev = rowEvents([
      {
        table: TL,
        key: tlKey,
        partitionDeletion: { ts: TS, ldt: NOW },
        rows: [
          { clustering: [tsAt(5), enc.int(1)], deletion: { ts: TS + 1n, ldt: NOW }, cells: {} },
          {
            clustering: [tsAt(4), enc.int(1)],
            cells: { body: { ts: TS + 2n, deleted: true, ldt: NOW } },
          },
        ],
      },
    ]);
    expect(ev.map((e) => [e.op, e.writeTimestamp, e.clustering])).toEqual([
      ['delete_partition', String(TS), null],
      ['delete_row', String(TS + 1n), { ts: '1970-01-01T00:00:00.005Z', seq: 1 }],
      ['update', String(TS + 2n), { ts: '1970-01-01T00:00:00.004Z', seq: 1 }],
    ]);
    expect(ev[2]!.columns).toEqual({ body: { value: null, ts: String(TS + 2n), deleted: true } });
  });

  it('range tombstones: bounds, a boundary, open ends', () => {
    const d = (i: number): { ts: bigint; ldt: number } => ({ ts: TS + BigInt(i), ldt: NOW });
    const ev = rowEvents([
      {
        table: TL,
        key: tlKey,
        rows: [
          { kind: 'marker', bound: 1, values: [tsAt(900)], deletion: d(1) }, // INCL_START
          {
            kind: 'marker',
            bound: 2,
            values: [tsAt(800), enc.int(3)],
            deletion: d(1),
            startDeletion: d(2),
          }, // EXCL_END_INCL_START
          { kind: 'marker', bound: 6, values: [tsAt(700)], deletion: d(2) }, // INCL_END
          { kind: 'marker', bound: 7, values: [tsAt(100)], deletion: d(3) }, // EXCL_START
          { kind: 'marker', bound: 0, values: [], deletion: d(3) }, // EXCL_END, unbounded
        ],
      },
    ]);
    expect(ev.map((e) => [e.op, e.writeTimestamp, e.range])).toEqual([
      [
        'delete_range',
        String(TS + 1n),
        {
          start: { clustering: { ts: '1970-01-01T00:00:00.900Z' }, inclusive: true },
          end: { clustering: { ts: '1970-01-01T00:00:00.800Z', seq: 3 }, inclusive: false },
        },
      ],
      [
        'delete_range',
        String(TS + 2n),
        {
          start: { clustering: { ts: '1970-01-01T00:00:00.800Z', seq: 3 }, inclusive: true },
          end: { clustering: { ts: '1970-01-01T00:00:00.700Z' }, inclusive: true },
        },
      ],
      [
        'delete_range',
        String(TS + 3n),
        { start: { clustering: { ts: '1970-01-01T00:00:00.100Z' }, inclusive: false }, end: null },
      ],
    ]);
    expect(ev.every((e) => e.clustering === null)).toBe(true);
  });

  it('collections: overwrite, append, element removal, whole-column delete, LIVE complex deletion of a sibling', () => {
    const cell = (path: Buffer, value?: Buffer, extra: object = {}): object => ({
      path,
      value,
      ...extra,
    });
    const ev = rowEvents([
      {
        table: TL,
        key: tlKey,
        rows: [
          {
            clustering: [tsAt(1), enc.int(1)],
            cells: {
              // overwrite: complex deletion at ts-1 + new cells
              tags: {
                complexDeletion: { ts: TS - 1n, ldt: NOW },
                cells: [
                  cell(enc.text('a'), undefined, { ts: TS }),
                  cell(enc.text('b'), undefined, { ts: TS }),
                ],
              },
              // map put + element removal, LIVE complex deletion (9-byte vints) because a sibling has one
              m: {
                cells: [
                  cell(enc.text('k1'), undefined, { ts: TS, deleted: true, ldt: NOW }),
                  cell(enc.text('k2'), enc.int(2), { ts: TS }),
                ],
              },
              l: {
                cells: [
                  cell(enc.uuid('50554d6e-29bb-11e5-b345-feff819cdc9f'), enc.int(9), { ts: TS }),
                ],
              },
              addr: { complexDeletion: { ts: TS, ldt: NOW }, cells: [] },
            },
          },
        ],
      },
    ]);
    expect(ev).toHaveLength(1);
    expect(ev[0]!.op).toBe('update');
    expect(ev[0]!.columns).toEqual({
      tags: { value: ['a', 'b'], ts: String(TS), cleared: String(TS - 1n) },
      m: { value: [['k2', 2]], ts: String(TS), removed: ['k1'] },
      l: { value: [9], ts: String(TS) },
      addr: { value: null, ts: String(TS), cleared: String(TS), deleted: true },
    });
  });

  it('non-frozen UDT fields by field index, list element removal by timeuuid', () => {
    const fld = (i: number): Buffer => enc.smallint(i);
    const [e] = rowEvents([
      {
        table: TL,
        key: tlKey,
        rows: [
          {
            clustering: [tsAt(1), enc.int(1)],
            cells: {
              l: { cells: [{ ts: TS, deleted: true, ldt: NOW, path: enc.uuid(U1) }] },
              addr: {
                cells: [
                  { ts: TS, path: fld(1), value: enc.int(12345) },
                  { ts: TS, path: fld(0), deleted: true, ldt: NOW },
                ],
              },
            },
          },
        ],
      },
    ]);
    expect(e!.columns).toEqual({
      l: { value: null, ts: String(TS), removed: [U1] },
      addr: { value: { zip: 12345 }, ts: String(TS), removed: ['street'] },
    });
  });
});

describe('TTL', () => {
  it('row TTL (cells using the row TTL) and a cell with its own TTL', () => {
    const [e] = rowEvents([
      {
        table: TL,
        key: tlKey,
        rows: [
          {
            clustering: [tsAt(1), enc.int(1)],
            // deltas chosen so that reading ttl and expiry in the wrong order gives other numbers
            liveness: { ts: TS, ttl: 3600, ldt: NOW + 3600 },
            cells: {
              body: { useRowTtl: true, value: enc.text('x') },
              likes: { ttl: 100, ldt: NOW + 50, value: enc.int(1) },
              note: { ttl: 200, ldt: NOW + 1000, value: enc.text('o') },
            },
          },
        ],
      },
    ]);
    expect(e).toMatchObject({ op: 'insert', ttl: 3600, expiresAt: NOW + 3600 }); // the row's expiry, not a cell's
    expect(e!.columns).toEqual({
      body: { value: 'x', ts: String(TS), ttl: 3600, expiresAt: NOW + 3600 },
      likes: { value: 1, ts: String(TS), ttl: 100, expiresAt: NOW + 50 },
      note: { value: 'o', ts: String(TS), ttl: 200, expiresAt: NOW + 1000 },
    });
  });

  it('expiry past 2038: messaging 13 reads the overflowed int as unsigned, 12 does not', () => {
    const far = 2 ** 31 + 100;
    const u: TUpdate = {
      table: TL,
      key: tlKey,
      rows: [
        {
          clustering: [tsAt(1), enc.int(1)],
          cells: { body: { ts: TS, ttl: 10, ldt: far, value: enc.text('x') } },
        },
      ],
    };
    const bytes = encodeMutation([u]);
    const ldt = (v: 12 | 13): number | null => {
      const row = frameMutation(bytes, schema, v).updates[0]!.unfiltereds[0]!;
      if (row.type !== 'row') throw new Error('row expected');
      const cd = row.columns[0]!;
      return 'cell' in cd ? cd.cell.localDeletionTime : null;
    };
    expect(ldt(13)).toBe(far);
    expect(ldt(12)).toBe(far - 2 ** 32);
    // the event (TTL, value, expiry) as Cassandra 5.0 with storage_compatibility_mode NONE wrote it
    expect((decode([u], 8)[0] as RowChangeEvent).columns).toEqual({
      body: { value: 'x', ts: String(TS), ttl: 10, expiresAt: far },
    });
  });
});

describe('column subsets', () => {
  const wide = table('wide');
  const vals = (names: string[], base: number): TRow['cells'] =>
    Object.fromEntries(names.map((c, i) => [c, { value: enc.int(base + i) }]));
  const small = ['c05', 'c66'];
  const large = WIDE.filter((c) => c !== 'c10' && c !== 'c50');

  it('>= 64 columns: all, present indexes (< half), missing indexes (>= half)', () => {
    const ev = rowEvents([
      {
        table: wide,
        key: enc.int(1),
        regulars: WIDE,
        rows: [
          { clustering: [enc.int(1)], liveness: { ts: TS }, cells: vals(WIDE, 0) },
          { clustering: [enc.int(2)], liveness: { ts: TS }, cells: vals(small, 100) },
          { clustering: [enc.int(3)], liveness: { ts: TS }, cells: vals(large, 200) },
          { clustering: [enc.int(4)], liveness: { ts: TS }, cells: vals(WIDE.slice(0, 35), 300) }, // exactly half
          {
            clustering: [enc.int(5)],
            liveness: { ts: TS },
            cells: vals(WIDE, 400),
            forceSubset: true,
          }, // subset encoding 0
        ],
      },
    ]);
    const cols = (names: string[], base: number): object =>
      Object.fromEntries(names.map((c, i) => [c, { value: base + i, ts: String(TS) }]));
    expect(ev.map((e) => e.columns)).toEqual([
      cols(WIDE, 0),
      cols(small, 100),
      cols(large, 200),
      cols(WIDE.slice(0, 35), 300),
      cols(WIDE, 400),
    ]);
  });

  it('< 64 columns: bitmap of missing columns', () => {
    const ev = rowEvents([
      {
        table: TL,
        key: tlKey,
        regulars: ['body', 'likes'],
        rows: [
          { clustering: [tsAt(1), enc.int(1)], cells: { likes: { ts: TS, value: enc.int(1) } } },
          { clustering: [tsAt(0), enc.int(1)], cells: { body: { ts: TS, value: enc.text('b') } } },
        ],
      },
    ]);
    expect(ev.map((e) => e.columns)).toEqual([
      { likes: { value: 1, ts: String(TS) } },
      { body: { value: 'b', ts: String(TS) } },
    ]);
  });
});

describe('mutations with several tables, unknown and unsupported parts', () => {
  const plainUpdate: TUpdate = {
    table: table('plain'),
    key: enc.int(1),
    rows: [{ liveness: { ts: TS }, cells: { v: { value: enc.text('p') } } }],
  };
  const allUpdate: TUpdate = {
    table: T_ALL,
    key: enc.int(1),
    rows: [{ liveness: { ts: TS }, cells: { int: { value: enc.int(5) } } }],
  };

  it('decodes a non-CDC update first (to skip it) and emits only the CDC one', () => {
    const ev = rowEvents([plainUpdate, allUpdate]);
    expect(ev.map((e) => [e.table, e.columns])).toEqual([
      ['t_all', { int: { value: 5, ts: String(TS) } }],
    ]);
    expect(
      frameMutation(encodeMutation([plainUpdate, allUpdate]), schema, 12).updates.map(
        (u) => u.table.table,
      ),
    ).toEqual(['plain', 't_all']);
  });

  it('skips a mutation that is one update of a non-CDC table without decoding it', () => {
    const bytes = encodeMutation([plainUpdate]);
    expect(frameMutation(bytes, schema, 12)).toEqual({
      updates: [],
      skipped: { keyspace: 'app', table: 'plain' },
    });
    // Not read past its table id: a body that cannot be decoded is still just skipped.
    const garbled = Buffer.concat([bytes.subarray(0, 1 + 16), Buffer.alloc(8, 0xff)]);
    expect(frameMutation(garbled, schema, 12).skipped).toEqual({ keyspace: 'app', table: 'plain' });
    expect(decodeMutationEvents(garbled, schema, src)).toEqual([]);
  });

  it('skips whole mutations of keyspaces without CDC tables, views included', () => {
    const other = {
      ...T_ALL,
      id: '00000000000000000000000000000007',
      columns: new Map(),
      keyspace: 'other',
      table: 'o1',
    };
    const bytes = encodeMutation([{ table: other, key: enc.int(1), empty: true }]);
    expect(frameMutation(bytes, schema, 12).skipped).toEqual({ keyspace: 'other', table: 'o1' });
    expect(decodeMutationEvents(bytes, schema, src)).toEqual([]);
    expect(schema.otherTables.get('00000000000000000000000000000008')).toEqual({
      keyspace: 'other',
      table: 'o1_by_v',
    });
  });

  it('tells from the first table id alone which mutations are skipped (the connector asks before decoding)', () => {
    const other = {
      ...T_ALL,
      id: '00000000000000000000000000000007',
      keyspace: 'other',
      table: 'o1',
    };
    const ghost = { ...T_ALL, id: 'ffffffffffffffffffffffffffffffff' };
    const lone = encodeMutation([plainUpdate]);
    expect(skippedTable(lone, schema)).toEqual({ keyspace: 'app', table: 'plain' });
    // a non-CDC update beside a CDC one, a CDC update, an unknown table: framed and decoded
    expect(skippedTable(encodeMutation([plainUpdate, allUpdate]), schema)).toBeUndefined();
    expect(skippedTable(encodeMutation([allUpdate]), schema)).toBeUndefined();
    expect(skippedTable(encodeMutation([{ ...allUpdate, table: ghost }]), schema)).toBeUndefined();
    // a keyspace without CDC tables: skipped however many updates it holds
    const others = encodeMutation([
      { table: other, key: enc.int(1), empty: true },
      { table: other, key: enc.int(2), empty: true },
    ]);
    expect(skippedTable(others, schema)).toEqual({ keyspace: 'other', table: 'o1' });
    // bytes that do not reach a table id are left to framing, which reports them
    expect(skippedTable(lone.subarray(0, 10), schema)).toBeUndefined();
    expect(skippedTable(Buffer.concat([Buffer.of(0), lone.subarray(1)]), schema)).toBeUndefined();
    expect(frameMutation(lone.subarray(0, 10), schema, 12).failure?.error.code).toBe('truncated');
  });

  it('an unknown table id becomes a retriable undecodable event carrying the bytes', () => {
    const ghost = { ...T_ALL, id: 'ffffffffffffffffffffffffffffffff' };
    const ghostBytes = encodeUpdate({ ...allUpdate, table: ghost });
    const payload = encodeMutation([allUpdate, { ...allUpdate, table: ghost }]);
    const ev = decodeMutationEvents(payload, schema, src);
    expect(ev.map((e) => e.op)).toEqual(['insert', 'undecodable']);
    expect(ev[1]).toMatchObject({
      tableId: 'ffffffffffffffffffffffffffffffff',
      reason: { code: 'unknown-table', retriable: true },
      raw: ghostBytes.toString('base64'),
    });
  });

  it('an unknown column is reported, not thrown', () => {
    const bad: TUpdate = {
      ...allUpdate,
      rows: [{ liveness: { ts: TS }, cells: { nope: { value: enc.int(1) } } }],
      extraTypes: { nope: { kind: 'native', name: 'int' } },
    };
    const [e] = decode([bad]);
    expect(e).toMatchObject({
      op: 'undecodable',
      keyspace: 'app',
      table: 't_all',
      reason: { code: 'unknown-column', retriable: true },
    });
  });

  it('a field added to a user type since the schema was read is unknown, frozen or not: retriable', () => {
    // ALTER TYPE address ADD country text: every new value has a third field, even a null one
    // (-1 length): a schema read again knows it.
    const frozen = enc.tuple([enc.text('Main'), enc.int(9), enc.text('NL')]);
    const [f] = decode([
      { ...allUpdate, rows: [{ liveness: { ts: TS }, cells: { faddr: { value: frozen } } }] },
    ]);
    expect(f).toMatchObject({
      op: 'undecodable',
      table: 't_all',
      reason: { code: 'unknown-column', retriable: true },
    });
    expect((f as { reason: { message: string } }).reason.message).toMatch(/address/);
    const [m] = decode([
      {
        table: TL,
        key: tlKey,
        rows: [
          {
            clustering: [enc.timestamp(1n), enc.int(1)],
            cells: { addr: { cells: [{ ts: TS, path: enc.smallint(2), value: enc.text('NL') }] } },
          },
        ],
      },
    ]);
    expect(m).toMatchObject({ reason: { code: 'unknown-column', retriable: true } });
  });

  it('a counter update is undecodable (shard state) and the next update still decodes', () => {
    const counter: TUpdate = {
      table: table('counts'),
      key: enc.int(1),
      rows: [{ liveness: { ts: TS }, cells: { n: { value: Buffer.alloc(34, 1) } } }],
    };
    const ev = decode([counter, allUpdate]);
    expect(ev.map((e) => e.op)).toEqual(['undecodable', 'insert']);
    expect(ev[0]).toMatchObject({
      table: 'counts',
      reason: { code: 'unsupported-type', retriable: false },
      raw: encodeUpdate(counter).toString('base64'),
    });
  });

  it('corrupt bytes are reported as undecodable with the remaining bytes', () => {
    const payload = encodeMutation([allUpdate]);
    const cut = payload.subarray(0, payload.length - 3);
    const [e] = decodeMutationEvents(cut, schema, src);
    expect(e).toMatchObject({
      op: 'undecodable',
      reason: { code: 'truncated' },
      raw: cut.subarray(1).toString('base64'),
    });
  });
});

describe('dropped columns', () => {
  it('ignores cells at or before the drop time, keeps later ones', () => {
    const dropMicros = 1_700_000_000_500n * 1000n;
    const u = (ts: bigint): TUpdate => ({
      table: TL,
      key: tlKey,
      extraTypes: { extra: { kind: 'native', name: 'text' } },
      rows: [
        {
          clustering: [tsAt(1), enc.int(1)],
          cells: { body: { ts, value: enc.text('b') }, extra: { ts, value: enc.text('old') } },
        },
      ],
    });
    expect((decode([u(dropMicros)])[0] as RowChangeEvent).columns).toEqual({
      body: { value: 'b', ts: String(dropMicros) },
    });
    expect((decode([u(dropMicros + 1n)])[0] as RowChangeEvent).columns).toEqual({
      body: { value: 'b', ts: String(dropMicros + 1n) },
      extra: { value: 'old', ts: String(dropMicros + 1n) },
    });
  });

  it('a row holding only dropped data gives no event', () => {
    const u: TUpdate = {
      table: TL,
      key: tlKey,
      extraTypes: { extra: { kind: 'native', name: 'text' } },
      rows: [
        { clustering: [tsAt(1), enc.int(1)], cells: { extra: { ts: TS, value: enc.text('x') } } },
      ],
    };
    expect(decode([u])).toEqual([]);
  });
});

describe('event ids', () => {
  it('are stable for the same bytes and distinct per change', () => {
    const u: TUpdate = {
      table: TL,
      key: tlKey,
      rows: [
        {
          clustering: [tsAt(1), enc.int(1)],
          liveness: { ts: TS },
          cells: { body: { value: enc.text('a') } },
        },
        {
          clustering: [tsAt(0), enc.int(1)],
          liveness: { ts: TS },
          cells: { body: { value: enc.text('a') } },
        },
      ],
    };
    const a = rowEvents([u]);
    const b = decodeMutationEvents(encodeMutation([u]), schema, {
      ...src,
      segmentId: 99n,
      position: 7,
    }) as RowChangeEvent[];
    expect(a.map((e) => e.eventId)).toEqual(b.map((e) => e.eventId)); // same write on another replica
    expect(new Set(a.map((e) => e.eventId)).size).toBe(2);
    const changed = rowEvents([
      { ...u, rows: [{ ...(u.rows![0] as TRow), liveness: { ts: TS + 1n } }] },
    ]);
    expect(changed[0]!.eventId).not.toBe(a[0]!.eventId);
  });
});

describe('deletion times', () => {
  it('a LIVE complex deletion among real ones is not reported', () => {
    const ev = rowEvents([
      {
        table: TL,
        key: tlKey,
        rows: [
          {
            clustering: [tsAt(1), enc.int(1)],
            cells: {
              tags: {
                complexDeletion: { ts: LIVE_TS, ldt: LIVE_LDT },
                cells: [{ ts: TS, path: enc.text('z') }],
              },
              m: { complexDeletion: { ts: TS, ldt: NOW }, cells: [] },
            },
          },
        ],
      },
    ]);
    expect(ev[0]!.columns['tags']).toEqual({ value: ['z'], ts: String(TS) });
  });
});
