/**
 * The CQL type model the decoder works with, the parser for the type strings in `system_schema`
 * (`frozen<map<text, int>>`, `list<int>`, `vector<float, 3>`, a UDT name, a quoted custom class),
 * and the framing facts the commit log needs (`AbstractType.valueLengthIfFixed`).
 */
import { CdcError } from './errors.ts';

export const NATIVE_TYPES = [
  'ascii',
  'bigint',
  'blob',
  'boolean',
  'counter',
  'date',
  'decimal',
  'double',
  'duration',
  'float',
  'inet',
  'int',
  'smallint',
  'text',
  'time',
  'timestamp',
  'timeuuid',
  'tinyint',
  'uuid',
  'varchar',
  'varint',
] as const;
export type NativeTypeName = (typeof NATIVE_TYPES)[number];

/** A UDT field. */
export interface UdtField {
  name: string;
  type: CqlType;
}

/**
 * A CQL type. `frozen` matters only at the top of a column's type: a non-frozen list/set/map/UDT
 * column is "complex" (one cell per element); anything nested is frozen by CQL's rules.
 */
export type CqlType =
  | { kind: 'native'; name: NativeTypeName }
  | { kind: 'list'; element: CqlType; frozen: boolean }
  | { kind: 'set'; element: CqlType; frozen: boolean }
  | { kind: 'map'; key: CqlType; value: CqlType; frozen: boolean }
  | { kind: 'tuple'; elements: CqlType[] }
  | { kind: 'udt'; keyspace: string; name: string; fields: UdtField[]; frozen: boolean }
  | { kind: 'vector'; element: CqlType; dimension: number }
  | { kind: 'custom'; className: string };

/** A parsed type whose UDT names are not resolved yet. */
export type ParsedType =
  | { kind: 'native'; name: NativeTypeName }
  | { kind: 'list' | 'set'; element: ParsedType; frozen: boolean }
  | { kind: 'map'; key: ParsedType; value: ParsedType; frozen: boolean }
  | { kind: 'tuple'; elements: ParsedType[] }
  | { kind: 'udt-ref'; keyspace: string | null; name: string; frozen: boolean }
  | { kind: 'vector'; element: ParsedType; dimension: number }
  | { kind: 'custom'; className: string };

const NATIVE_SET: ReadonlySet<string> = new Set(NATIVE_TYPES);

/** `org.apache.cassandra.db.marshal.*` classes that are plain CQL types in disguise. */
const MARSHAL_TO_NATIVE: Readonly<Record<string, NativeTypeName>> = {
  AsciiType: 'ascii',
  LongType: 'bigint',
  BytesType: 'blob',
  BooleanType: 'boolean',
  CounterColumnType: 'counter',
  SimpleDateType: 'date',
  DecimalType: 'decimal',
  DoubleType: 'double',
  DurationType: 'duration',
  FloatType: 'float',
  InetAddressType: 'inet',
  Int32Type: 'int',
  ShortType: 'smallint',
  UTF8Type: 'text',
  TimeType: 'time',
  TimestampType: 'timestamp',
  TimeUUIDType: 'timeuuid',
  ByteType: 'tinyint',
  UUIDType: 'uuid',
  IntegerType: 'varint',
};

/** Parses a CQL type string as found in `system_schema.columns.type` / `types.field_types`. */
export function parseCqlType(text: string): ParsedType {
  const p = new TypeParser(text);
  const t = p.type();
  p.ws();
  if (!p.atEnd()) throw p.error('trailing characters');
  return t;
}

class TypeParser {
  private i = 0;
  private readonly s: string;

  constructor(s: string) {
    this.s = s;
  }

  atEnd(): boolean {
    return this.i >= this.s.length;
  }

  ws(): void {
    while (this.i < this.s.length && /\s/.test(this.s[this.i]!)) this.i++;
  }

  error(what: string): CdcError {
    return new CdcError('bad-type', `cannot parse CQL type "${this.s}" at ${this.i}: ${what}`);
  }

  private expect(ch: string): void {
    this.ws();
    if (this.s[this.i] !== ch) throw this.error(`expected '${ch}'`);
    this.i++;
  }

  private peek(ch: string): boolean {
    this.ws();
    return this.s[this.i] === ch;
  }

  /** An identifier: bare (case-insensitive, lower-cased) or double-quoted (case-sensitive, "" escapes). */
  private ident(): string {
    this.ws();
    if (this.s[this.i] === '"') {
      let out = '';
      this.i++;
      for (;;) {
        const c = this.s[this.i];
        if (c === undefined) throw this.error('unterminated quoted name');
        this.i++;
        if (c === '"') {
          if (this.s[this.i] === '"') {
            out += '"';
            this.i++;
            continue;
          }
          return out;
        }
        out += c;
      }
    }
    const m = /^[A-Za-z0-9_]+/.exec(this.s.slice(this.i));
    if (!m) throw this.error('expected a name');
    this.i += m[0].length;
    return m[0].toLowerCase();
  }

  type(): ParsedType {
    this.ws();
    if (this.s[this.i] === "'") {
      const end = this.s.indexOf("'", this.i + 1);
      if (end < 0) throw this.error('unterminated custom type');
      const className = this.s.slice(this.i + 1, end);
      this.i = end + 1;
      const short = className.slice(className.lastIndexOf('.') + 1);
      const native = MARSHAL_TO_NATIVE[short];
      return native !== undefined
        ? { kind: 'native', name: native }
        : { kind: 'custom', className };
    }
    const quoted = this.s[this.i] === '"';
    let name = this.ident();
    if (!quoted) {
      switch (name) {
        case 'frozen': {
          this.expect('<');
          const inner = this.type();
          this.expect('>');
          return freeze(inner);
        }
        case 'list':
        case 'set': {
          this.expect('<');
          const element = this.type();
          this.expect('>');
          return { kind: name, element, frozen: false };
        }
        case 'map': {
          this.expect('<');
          const key = this.type();
          this.expect(',');
          const value = this.type();
          this.expect('>');
          return { kind: 'map', key, value, frozen: false };
        }
        case 'tuple': {
          this.expect('<');
          const elements = [this.type()];
          while (this.peek(',')) {
            this.i++;
            elements.push(this.type());
          }
          this.expect('>');
          return { kind: 'tuple', elements };
        }
        case 'vector': {
          this.expect('<');
          const element = this.type();
          this.expect(',');
          this.ws();
          const m = /^\d+/.exec(this.s.slice(this.i));
          if (!m) throw this.error('expected a vector dimension');
          this.i += m[0].length;
          this.expect('>');
          return { kind: 'vector', element, dimension: Number(m[0]) };
        }
        default:
          if (NATIVE_SET.has(name)) return { kind: 'native', name: name as NativeTypeName };
      }
    }
    let keyspace: string | null = null;
    if (this.peek('.')) {
      this.i++;
      keyspace = name;
      name = this.ident();
    }
    return { kind: 'udt-ref', keyspace, name, frozen: false };
  }
}

function freeze(t: ParsedType): ParsedType {
  switch (t.kind) {
    case 'list':
    case 'set':
    case 'map':
    case 'udt-ref':
      return { ...t, frozen: true };
    default:
      return t;
  }
}

/** UDT definitions of one keyspace as found in `system_schema.types` (field types still strings). */
export type UdtDefinitions = ReadonlyMap<
  string,
  { fieldNames: readonly string[]; fieldTypes: readonly string[] }
>;

/**
 * Resolves UDT references against `udts` (the keyspace's `system_schema.types` rows). A missing
 * UDT is a `bad-type` error.
 */
export function resolveType(
  t: ParsedType,
  keyspace: string,
  udts: UdtDefinitions,
  depth = 0,
): CqlType {
  if (depth > 64) throw new CdcError('bad-type', 'UDT nesting too deep (a cycle?)');
  const r = (x: ParsedType): CqlType => resolveType(x, keyspace, udts, depth + 1);
  switch (t.kind) {
    case 'native':
    case 'custom':
      return t;
    case 'list':
    case 'set':
      return { kind: t.kind, element: r(t.element), frozen: t.frozen };
    case 'map':
      return { kind: 'map', key: r(t.key), value: r(t.value), frozen: t.frozen };
    case 'tuple':
      return { kind: 'tuple', elements: t.elements.map(r) };
    case 'vector':
      return { kind: 'vector', element: r(t.element), dimension: t.dimension };
    case 'udt-ref': {
      const def = udts.get(t.name);
      if (def === undefined)
        throw new CdcError('bad-type', `unknown user type ${keyspace}.${t.name}`);
      const fields = def.fieldNames.map((name, i) => {
        const ft = def.fieldTypes[i];
        if (ft === undefined)
          throw new CdcError('bad-type', `user type ${t.name} has fewer types than fields`);
        return { name, type: r(parseCqlType(ft)) };
      });
      return { kind: 'udt', keyspace, name: t.name, fields, frozen: t.frozen };
    }
  }
}

/** True for a non-frozen collection or UDT: a complex column, one cell per element/field. */
export function isMultiCell(t: CqlType): boolean {
  return (
    (t.kind === 'list' || t.kind === 'set' || t.kind === 'map' || t.kind === 'udt') && !t.frozen
  );
}

/**
 * `valueLengthIfFixed`: the byte length of every value of the type, or -1 when values are written
 * with a vint length. Only these types are fixed in Cassandra 5.0 (grep of `db/marshal`): boolean 1,
 * int/float 4, bigint/double/timestamp 8, uuid/timeuuid 16, and vectors of fixed-length elements.
 * Note date, time, smallint, tinyint and counter are NOT fixed.
 */
export function fixedLength(t: CqlType): number {
  switch (t.kind) {
    case 'native':
      switch (t.name) {
        case 'boolean':
          return 1;
        case 'int':
        case 'float':
          return 4;
        case 'bigint':
        case 'double':
        case 'timestamp':
          return 8;
        case 'uuid':
        case 'timeuuid':
          return 16;
        default:
          return -1;
      }
    case 'vector': {
      const e = fixedLength(t.element);
      return e < 0 ? -1 : e * t.dimension;
    }
    case 'custom': {
      const short = t.className.slice(t.className.lastIndexOf('.') + 1);
      if (short === 'DateType') return 8;
      if (short === 'LexicalUUIDType') return 16;
      if (short === 'EmptyType') return 0;
      return -1;
    }
    default:
      return -1;
  }
}

/** The type as CQL text (for messages and the schema JSON of fixtures). */
export function formatCqlType(t: CqlType): string {
  switch (t.kind) {
    case 'native':
      return t.name;
    case 'list':
    case 'set': {
      const s = `${t.kind}<${formatCqlType(t.element)}>`;
      return t.frozen ? `frozen<${s}>` : s;
    }
    case 'map': {
      const s = `map<${formatCqlType(t.key)}, ${formatCqlType(t.value)}>`;
      return t.frozen ? `frozen<${s}>` : s;
    }
    case 'tuple':
      return `frozen<tuple<${t.elements.map(formatCqlType).join(', ')}>>`;
    case 'udt':
      return t.frozen ? `frozen<${t.name}>` : t.name;
    case 'vector':
      return `vector<${formatCqlType(t.element)}, ${t.dimension}>`;
    case 'custom':
      return `'${t.className}'`;
  }
}
