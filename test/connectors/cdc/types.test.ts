import { describe, expect, it } from 'vitest';
import {
  type CqlType,
  fixedLength,
  formatCqlType,
  isMultiCell,
  parseCqlType,
  resolveType,
} from '../../../connectors/cdc/cqltype.ts';
import { CdcError } from '../../../connectors/cdc/errors.ts';
import { decodeValue, formatDecimal, unsupportedReason } from '../../../connectors/cdc/types.ts';
import { enc } from './builders.ts';

const n = (name: string): CqlType => resolveType(parseCqlType(name), 'ks', new Map());

describe('decodeValue: every native type', () => {
  const cases: Array<[string, Buffer, unknown]> = [
    ['ascii', Buffer.from('abc', 'latin1'), 'abc'],
    ['text', enc.text('héllo ✓'), 'héllo ✓'],
    ['varchar', enc.text('v'), 'v'],
    ['blob', Buffer.from([0xca, 0xfe]), 'yv4='],
    ['boolean', enc.boolean(true), true],
    ['boolean', enc.boolean(false), false],
    ['tinyint', enc.tinyint(-128), -128],
    ['smallint', enc.smallint(-300), -300],
    ['int', enc.int(-2147483648), -2147483648],
    ['bigint', enc.bigint(-(2n ** 63n)), '-9223372036854775808'],
    ['counter', enc.bigint(5n), '5'],
    ['float', enc.float(1.5), 1.5],
    ['float', enc.float(Number.NaN), 'NaN'],
    ['double', enc.double(Number.NEGATIVE_INFINITY), '-Infinity'],
    ['double', enc.double(0.1), 0.1],
    ['varint', enc.varint(-123456789012345678901234567890n), '-123456789012345678901234567890'],
    ['varint', enc.varint(255n), '255'],
    ['varint', enc.varint(-1n), '-1'],
    ['decimal', enc.decimal(-12340n, 3), '-12.340'],
    ['decimal', enc.decimal(5n, 4), '0.0005'],
    ['decimal', enc.decimal(-5n, 1), '-0.5'],
    ['decimal', enc.decimal(123n, -2), '12300'],
    ['decimal', enc.decimal(0n, 2), '0.00'],
    [
      'uuid',
      enc.uuid('123e4567-e89b-12d3-a456-426614174000'),
      '123e4567-e89b-12d3-a456-426614174000',
    ],
    [
      'timeuuid',
      enc.uuid('50554d6e-29bb-11e5-b345-feff819cdc9f'),
      '50554d6e-29bb-11e5-b345-feff819cdc9f',
    ],
    ['timestamp', enc.timestamp(1704164645678n), '2024-01-02T03:04:05.678Z'],
    ['timestamp', enc.timestamp(-1n), '1969-12-31T23:59:59.999Z'],
    ['timestamp', enc.timestamp(2n ** 62n), String(2n ** 62n)],
    ['date', enc.date(19782), '2024-02-29'],
    ['date', enc.date(-1), '1969-12-31'],
    ['date', enc.date(0), '1970-01-01'],
    ['time', enc.time(49530123456789n), '13:45:30.123456789'],
    ['time', enc.time(0n), '00:00:00.000000000'],
    [
      'duration',
      enc.duration(1, 2, 11045006007008n),
      { months: 1, days: 2, nanoseconds: '11045006007008' },
    ],
    ['duration', enc.duration(-14, -3, -1n), { months: -14, days: -3, nanoseconds: '-1' }],
    ['inet', Buffer.from([192, 168, 1, 20]), '192.168.1.20'],
    ['inet', Buffer.from('20010db8000000000000000000000001', 'hex'), '2001:db8::1'],
    ['inet', Buffer.from('00000000000000000000000000000001', 'hex'), '::1'],
    ['inet', Buffer.from('20010db8000000010000000000000000', 'hex'), '2001:db8:0:1::'],
    ['inet', Buffer.from('20010db8000100010001000100010001', 'hex'), '2001:db8:1:1:1:1:1:1'],
    ['inet', Buffer.from('00000000000000000000ffffc0a80001', 'hex'), '::ffff:192.168.0.1'],
  ];
  for (const [type, bytes, want] of cases) {
    it(`${type} ${JSON.stringify(want)}`, () => expect(decodeValue(n(type), bytes)).toEqual(want));
  }

  it('empty bytes: "" for text/blob, null otherwise', () => {
    expect(decodeValue(n('text'), Buffer.alloc(0))).toBe('');
    expect(decodeValue(n('blob'), Buffer.alloc(0))).toBe('');
    expect(decodeValue(n('int'), Buffer.alloc(0))).toBeNull();
    expect(decodeValue(n('list<int>'), Buffer.alloc(0))).toBeNull();
  });

  it('rejects wrong lengths', () => {
    expect(() => decodeValue(n('int'), Buffer.alloc(3, 1))).toThrow(CdcError);
    expect(() => decodeValue(n('uuid'), Buffer.alloc(15, 1))).toThrow(/expected 16 bytes/);
    expect(() => decodeValue(n('inet'), Buffer.alloc(5, 1))).toThrow(/address of 5 bytes/);
  });
});

describe('decodeValue: collections, tuples, UDTs, vectors', () => {
  it('list/set with a null element, map as pairs', () => {
    expect(decodeValue(n('frozen<list<int>>'), enc.list([enc.int(1), null, enc.int(3)]))).toEqual([
      1,
      null,
      3,
    ]);
    expect(decodeValue(n('set<text>'), enc.list([enc.text('x'), enc.text('y')]))).toEqual([
      'x',
      'y',
    ]);
    expect(
      decodeValue(
        n('map<int, text>'),
        enc.map([
          [enc.int(2), enc.text('b')],
          [enc.int(1), null],
        ]),
      ),
    ).toEqual([
      [2, 'b'],
      [1, null],
    ]);
    expect(
      decodeValue(
        n('list<frozen<map<text, int>>>'),
        enc.list([enc.map([[enc.text('a'), enc.int(1)]])]),
      ),
    ).toEqual([[['a', 1]]]);
  });

  it('tuple: null and absent trailing elements', () => {
    const t = n('tuple<int, text, boolean>');
    expect(decodeValue(t, enc.tuple([enc.int(7), null, enc.boolean(false)]))).toEqual([
      7,
      null,
      false,
    ]);
    expect(decodeValue(t, enc.tuple([enc.int(7)]))).toEqual([7, null, null]);
  });

  it('UDT by field name, absent trailing fields null, nested collections', () => {
    const udts = new Map([
      [
        'address',
        { fieldNames: ['street', 'zip', 'tags'], fieldTypes: ['text', 'int', 'frozen<set<text>>'] },
      ],
    ]);
    const t = resolveType(parseCqlType('frozen<address>'), 'ks', udts);
    expect(
      decodeValue(t, enc.tuple([enc.text('Main'), enc.int(1), enc.list([enc.text('t')])])),
    ).toEqual({ street: 'Main', zip: 1, tags: ['t'] });
    expect(decodeValue(t, enc.tuple([enc.text('Main')]))).toEqual({
      street: 'Main',
      zip: null,
      tags: null,
    });
  });

  it('vectors of fixed and variable elements', () => {
    expect(
      decodeValue(
        n('vector<float, 3>'),
        Buffer.concat([enc.float(1), enc.float(2.5), enc.float(-3)]),
      ),
    ).toEqual([1, 2.5, -3]);
    const varText = Buffer.concat([Buffer.of(1), enc.text('a'), Buffer.of(2), enc.text('bc')]);
    expect(decodeValue(n('vector<text, 2>'), varText)).toEqual(['a', 'bc']);
  });

  it('rejects trailing bytes', () => {
    expect(() =>
      decodeValue(n('list<int>'), Buffer.concat([enc.list([enc.int(1)]), Buffer.of(0)])),
    ).toThrow(/trailing/);
  });
});

describe('type strings', () => {
  it('parses and formats what system_schema holds', () => {
    for (const s of [
      'int',
      'list<int>',
      'frozen<map<text, int>>',
      'set<frozen<list<uuid>>>',
      'frozen<tuple<int, text>>',
      'vector<float, 3>',
    ]) {
      expect(formatCqlType(n(s))).toBe(s);
    }
    expect(n('tuple<int, text>')).toEqual({
      kind: 'tuple',
      elements: [
        { kind: 'native', name: 'int' },
        { kind: 'native', name: 'text' },
      ],
    });
  });

  it('resolves quoted and keyspace-qualified UDT names', () => {
    const udts = new Map([['My Type', { fieldNames: ['a'], fieldTypes: ['int'] }]]);
    expect(resolveType(parseCqlType('"My Type"'), 'ks', udts)).toMatchObject({
      kind: 'udt',
      name: 'My Type',
      frozen: false,
    });
    expect(resolveType(parseCqlType('frozen<ks."My Type">'), 'ks', udts)).toMatchObject({
      kind: 'udt',
      frozen: true,
    });
    expect(() => resolveType(parseCqlType('nope'), 'ks', udts)).toThrow(
      /unknown user type ks.nope/,
    );
  });

  it('maps marshal class names and keeps unknown custom types', () => {
    expect(n("'org.apache.cassandra.db.marshal.LongType'")).toEqual({
      kind: 'native',
      name: 'bigint',
    });
    const c = n("'com.example.Geo'");
    expect(c).toEqual({ kind: 'custom', className: 'com.example.Geo' });
    expect(unsupportedReason(c)).toMatch(/custom type/);
    expect(unsupportedReason(n('counter'))).toMatch(/shard state/);
    expect(unsupportedReason(n('map<text, int>'))).toBeNull();
  });

  it('rejects garbage', () => {
    expect(() => parseCqlType('map<int>')).toThrow(CdcError);
    expect(() => parseCqlType('list<int')).toThrow(CdcError);
  });

  it('fixed lengths follow AbstractType.valueLengthIfFixed', () => {
    const want: Record<string, number> = {
      boolean: 1,
      int: 4,
      float: 4,
      bigint: 8,
      double: 8,
      timestamp: 8,
      uuid: 16,
      timeuuid: 16,
      date: -1,
      time: -1,
      smallint: -1,
      tinyint: -1,
      counter: -1,
      text: -1,
      varint: -1,
      decimal: -1,
      inet: -1,
      duration: -1,
      'vector<float, 3>': 12,
      'vector<text, 3>': -1,
      'frozen<list<int>>': -1,
    };
    for (const [t, len] of Object.entries(want)) expect([t, fixedLength(n(t))]).toEqual([t, len]);
    expect(isMultiCell(n('list<int>'))).toBe(true);
    expect(isMultiCell(n('frozen<list<int>>'))).toBe(false);
  });

  it('formats decimals', () => {
    expect(formatDecimal(-1n, 3)).toBe('-0.001');
    expect(formatDecimal(10n, 0)).toBe('10');
  });
});
