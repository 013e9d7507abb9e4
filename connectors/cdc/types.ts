/**
 * Decodes CQL values from their native-protocol bytes (the bytes a commit-log cell holds) into
 * JSON-safe values. The JSON mapping, per type:
 *
 * | CQL | JSON |
 * | --- | --- |
 * | ascii, text, varchar | string |
 * | int, smallint, tinyint | number |
 * | bigint, counter, varint | string (decimal digits; exact) |
 * | float, double | number; `"NaN"`, `"Infinity"`, `"-Infinity"` as strings |
 * | decimal | string, plain notation (`"-12.340"`) |
 * | boolean | boolean |
 * | blob | string, base64 |
 * | uuid, timeuuid | string, lower-case 8-4-4-4-12 |
 * | timestamp | string, ISO-8601 UTC with milliseconds (`"2024-01-02T03:04:05.678Z"`) |
 * | date | string `"YYYY-MM-DD"` |
 * | time | string `"HH:MM:SS.nnnnnnnnn"` |
 * | duration | `{ months: number, days: number, nanoseconds: string }` |
 * | inet | string (dotted IPv4, RFC 5952 IPv6) |
 * | list, set, vector, tuple | array (tuple: one entry per element, `null` for absent) |
 * | map | array of `[key, value]` pairs (keys need not be strings) |
 * | UDT | object keyed by field name |
 *
 * An empty byte string is `""` for text/ascii/blob and `null` for every other type (CQL reads an
 * empty int as null).
 */
import { ByteReader, vintExtraBytes } from './bytes.ts';
import { type CqlType, fixedLength, formatCqlType } from './cqltype.ts';
import { CdcError } from './errors.ts';

export type JsonValue =
  null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

const DATE_EPOCH_DAYS = 0x8000_0000; // SimpleDateType: days since 1970-01-01 offset by 2^31
const MS_PER_DAY = 86_400_000;
const MAX_DATE_MS = 8.64e15;

function bad(t: CqlType, why: string): CdcError {
  return new CdcError('bad-value', `bad ${formatCqlType(t)} value: ${why}`);
}

/**
 * Whether {@link decodeValue} can decode values of this type. Counters hold shard state in the
 * commit log (not a delta) and custom classes have no known encoding.
 */
export function unsupportedReason(t: CqlType): string | null {
  switch (t.kind) {
    case 'native':
      return t.name === 'counter'
        ? 'counter cells hold shard state (CounterContext), not a value; not decoded'
        : null;
    case 'custom':
      return `custom type ${t.className} is not decoded`;
    case 'list':
    case 'set':
    case 'vector':
      return unsupportedReason(t.element);
    case 'map':
      return unsupportedReason(t.key) ?? unsupportedReason(t.value);
    case 'tuple':
      for (const e of t.elements) {
        const r = unsupportedReason(e);
        if (r !== null) return r;
      }
      return null;
    case 'udt':
      for (const f of t.fields) {
        const r = unsupportedReason(f.type);
        if (r !== null) return r;
      }
      return null;
  }
}

/** Decodes one value of type `t` from exactly `bytes`. */
export function decodeValue(t: CqlType, bytes: Uint8Array): JsonValue {
  const b = Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  if (b.length === 0) {
    if (
      t.kind === 'native' &&
      (t.name === 'text' || t.name === 'varchar' || t.name === 'ascii' || t.name === 'blob')
    )
      return '';
    return null;
  }
  switch (t.kind) {
    case 'native':
      return decodeNative(t, b);
    case 'list':
    case 'set': {
      const r = new ByteReader(b);
      const n = r.i32();
      if (n < 0) throw bad(t, `negative element count ${n}`);
      const out: JsonValue[] = [];
      for (let i = 0; i < n; i++) out.push(readFramed(r, t.element));
      expectEnd(r, t);
      return out;
    }
    case 'map': {
      const r = new ByteReader(b);
      const n = r.i32();
      if (n < 0) throw bad(t, `negative entry count ${n}`);
      const out: JsonValue[] = [];
      for (let i = 0; i < n; i++) {
        const k = readFramed(r, t.key);
        out.push([k, readFramed(r, t.value)]);
      }
      expectEnd(r, t);
      return out;
    }
    case 'tuple': {
      const r = new ByteReader(b);
      // trailing elements may be absent (values written before the tuple/UDT grew)
      const out = t.elements.map((e) => (r.remaining > 0 ? readFramed(r, e) : null));
      expectEnd(r, t);
      return out;
    }
    case 'udt': {
      const r = new ByteReader(b);
      const out: { [key: string]: JsonValue } = {};
      for (const f of t.fields) out[f.name] = r.remaining > 0 ? readFramed(r, f.type) : null;
      // More fields than the schema read: ALTER TYPE … ADD since (every value written after it
      // carries the new field, null or not). Unknown, as a new column is: a schema read again
      // knows it.
      if (r.remaining !== 0)
        throw new CdcError(
          'unknown-column',
          `a value of user type ${t.name} has more fields than the loaded schema's ${t.fields.length}`,
        );
      return out;
    }
    case 'vector': {
      const r = new ByteReader(b);
      const fixed = fixedLength(t.element);
      const out: JsonValue[] = [];
      for (let i = 0; i < t.dimension; i++) {
        out.push(decodeValue(t.element, fixed >= 0 ? r.bytes(fixed) : r.vintBytes()));
      }
      expectEnd(r, t);
      return out;
    }
    case 'custom':
      throw new CdcError('unsupported-type', `custom type ${t.className} is not decoded`);
  }
}

/** An element inside a collection/tuple/UDT: int32 length (negative = null), then the bytes. */
function readFramed(r: ByteReader, t: CqlType): JsonValue {
  const len = r.i32();
  if (len < 0) return null;
  return decodeValue(t, r.bytes(len));
}

function expectEnd(r: ByteReader, t: CqlType): void {
  if (r.remaining !== 0) throw bad(t, `${r.remaining} trailing bytes`);
}

function fixed(t: CqlType, b: Buffer, n: number): void {
  if (b.length !== n) throw bad(t, `expected ${n} bytes, got ${b.length}`);
}

function decodeNative(t: Extract<CqlType, { kind: 'native' }>, b: Buffer): JsonValue {
  switch (t.name) {
    case 'ascii':
      return b.toString('latin1');
    case 'text':
    case 'varchar':
      return b.toString('utf8');
    case 'blob':
      return b.toString('base64');
    case 'boolean':
      fixed(t, b, 1);
      return b[0] !== 0;
    case 'tinyint':
      fixed(t, b, 1);
      return b.readInt8(0);
    case 'smallint':
      fixed(t, b, 2);
      return b.readInt16BE(0);
    case 'int':
      fixed(t, b, 4);
      return b.readInt32BE(0);
    case 'bigint':
    case 'counter':
      fixed(t, b, 8);
      return b.readBigInt64BE(0).toString();
    case 'float':
      fixed(t, b, 4);
      return jsonNumber(b.readFloatBE(0));
    case 'double':
      fixed(t, b, 8);
      return jsonNumber(b.readDoubleBE(0));
    case 'varint':
      return readVarint(b).toString();
    case 'decimal': {
      if (b.length < 5) throw bad(t, 'shorter than scale + 1 byte');
      return formatDecimal(readVarint(b.subarray(4)), b.readInt32BE(0));
    }
    case 'uuid':
    case 'timeuuid':
      fixed(t, b, 16);
      return formatUuid(b);
    case 'timestamp': {
      fixed(t, b, 8);
      const ms = b.readBigInt64BE(0);
      const n = Number(ms);
      return Math.abs(n) <= MAX_DATE_MS ? new Date(n).toISOString() : ms.toString();
    }
    case 'date': {
      fixed(t, b, 4);
      const days = b.readUInt32BE(0) - DATE_EPOCH_DAYS;
      const ms = days * MS_PER_DAY;
      // years outside 0..9999 come out as "+012345-01-01" / "-000001-01-01", as ISO-8601 extends them
      return Math.abs(ms) <= MAX_DATE_MS ? new Date(ms).toISOString().split('T')[0]! : String(days);
    }
    case 'time': {
      fixed(t, b, 8);
      return formatTime(b.readBigInt64BE(0));
    }
    case 'duration': {
      const r = new ByteReader(b);
      const months = Number(readSignedVint(r));
      const days = Number(readSignedVint(r));
      const nanoseconds = readSignedVint(r).toString();
      expectEnd(r, t);
      return { months, days, nanoseconds };
    }
    case 'inet':
      if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
      if (b.length === 16) return formatIpv6(b);
      throw bad(t, `address of ${b.length} bytes`);
  }
}

function jsonNumber(n: number): number | string {
  return Number.isFinite(n) ? n : String(n);
}

/** Two's-complement big-endian integer (`varint`, decimal's unscaled value). */
export function readVarint(b: Uint8Array): bigint {
  if (b.length === 0) return 0n;
  let v = 0n;
  for (const byte of b) v = (v << 8n) | BigInt(byte);
  return BigInt.asIntN(b.length * 8, v);
}

/** `unscaled * 10^-scale` in plain notation. */
export function formatDecimal(unscaled: bigint, scale: number): string {
  const neg = unscaled < 0n;
  let digits = (neg ? -unscaled : unscaled).toString();
  if (scale <= 0) {
    digits = unscaled === 0n ? '0' : digits + '0'.repeat(-scale);
  } else {
    if (digits.length <= scale) digits = '0'.repeat(scale - digits.length + 1) + digits;
    digits = `${digits.slice(0, digits.length - scale)}.${digits.slice(digits.length - scale)}`;
  }
  return neg ? `-${digits}` : digits;
}

/** Signed (zig-zag) vint: `VIntCoding.readVInt`, used inside duration values. */
function readSignedVint(r: ByteReader): bigint {
  const first = r.u8();
  const extra = vintExtraBytes(first);
  r.need(extra);
  let v = BigInt(first & (0xff >> extra));
  for (let i = 0; i < extra; i++) v = (v << 8n) | BigInt(r.u8());
  return (v >> 1n) ^ -(v & 1n);
}

export function formatUuid(b: Uint8Array): string {
  const h = Buffer.from(b.buffer, b.byteOffset, 16).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function formatTime(nanos: bigint): string {
  const ns = nanos % 1_000_000_000n;
  let s = Number(nanos / 1_000_000_000n);
  const hh = Math.floor(s / 3600);
  s -= hh * 3600;
  const mm = Math.floor(s / 60);
  s -= mm * 60;
  const p2 = (n: number): string => String(n).padStart(2, '0');
  return `${p2(hh)}:${p2(mm)}:${p2(s)}.${ns.toString().padStart(9, '0')}`;
}

/** RFC 5952: lower-case hex, leading zeros dropped, the longest run (>= 2) of zero groups as `::`. */
function formatIpv6(b: Buffer): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i));
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  }
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}
