/**
 * Bounds-checked big-endian reader over a byte range, plus the CRC32 helpers Cassandra's commit log
 * uses. Every read past `end` throws a `truncated` {@link CdcError} instead of returning garbage: a
 * short read in the commit log means a torn or corrupt record, never a value.
 */
import { crc32 } from 'node:zlib';
import { CdcError } from './errors.ts';

const TWO_POW_32 = 0x1_0000_0000;
const INT32_MIN = -0x8000_0000;
const INT32_MAX = 0x7fff_ffff;

/** Number of extra bytes of an unsigned vint whose first byte is `first` (count of leading 1-bits). */
export function vintExtraBytes(first: number): number {
  return Math.clz32(~first & 0xff) - 24;
}

/**
 * Sequential reader over `buf[start, end)`. `pos` is public so callers can remember and restore a
 * position (the mutation decoder needs the byte extent of each partition update).
 */
export class ByteReader {
  readonly buf: Buffer;
  readonly end: number;
  pos: number;

  constructor(bytes: Uint8Array, start = 0, end = bytes.length) {
    this.buf = Buffer.isBuffer(bytes)
      ? bytes
      : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
    if (start < 0 || end > bytes.length || start > end) {
      throw new RangeError(`bad range [${start}, ${end}) over ${bytes.length} bytes`);
    }
    this.pos = start;
    this.end = end;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  /** Throws unless `n` more bytes are available. */
  need(n: number): void {
    if (n < 0 || this.pos + n > this.end) {
      throw new CdcError(
        'truncated',
        `need ${n} bytes at offset ${this.pos}, only ${this.end - this.pos} left`,
      );
    }
  }

  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }

  u16(): number {
    this.need(2);
    const v = this.buf.readUInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  i16(): number {
    this.need(2);
    const v = this.buf.readInt16BE(this.pos);
    this.pos += 2;
    return v;
  }

  i32(): number {
    this.need(4);
    const v = this.buf.readInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  i64(): bigint {
    this.need(8);
    const v = this.buf.readBigInt64BE(this.pos);
    this.pos += 8;
    return v;
  }

  /** A view (no copy) of the next `n` bytes. */
  bytes(n: number): Buffer {
    this.need(n);
    const v = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return v;
  }

  skip(n: number): void {
    this.need(n);
    this.pos += n;
  }

  /**
   * Unsigned vint (`VIntCoding.readUnsignedVInt`) as a 64-bit unsigned bigint. The count of leading
   * 1-bits of the first byte is the number of extra bytes (0..8); the rest of the first byte and the
   * extra bytes are the value, big-endian.
   */
  uvint(): bigint {
    const first = this.u8();
    if (first < 0x80) return BigInt(first);
    const extra = vintExtraBytes(first);
    this.need(extra);
    if (extra <= 6) return BigInt(this.vintSmall(first, extra));
    let v = BigInt(first & (0xff >> extra));
    for (let i = 0; i < extra; i++) v = (v << 8n) | BigInt(this.buf[this.pos++]!);
    return v;
  }

  /**
   * Unsigned vint that must be a non-negative safe integer (lengths, counts). Larger values mean the
   * bytes are not what we think they are.
   */
  uvintNumber(): number {
    const first = this.u8();
    if (first < 0x80) return first;
    const extra = vintExtraBytes(first);
    this.need(extra);
    if (extra <= 6) return this.vintSmall(first, extra);
    this.pos -= 1;
    const big = this.uvint();
    throw new CdcError(
      'corrupt',
      `vint ${big} too large for a length or count at offset ${this.pos}`,
    );
  }

  /**
   * `readUnsignedVInt32`: Cassandra writes 32-bit ints sign-extended to 64 bits, so a negative int is
   * a 9-byte vint. Decode 64 bits, reinterpret as signed, and require it to fit an int32 (as
   * `VIntCoding.checkedCast` does).
   */
  uvint32(): number {
    const first = this.u8();
    if (first < 0x80) return first;
    const extra = vintExtraBytes(first);
    this.need(extra);
    if (extra <= 6) {
      const v = this.vintSmall(first, extra);
      if (v > INT32_MAX)
        throw new CdcError('corrupt', `vint32 out of range: ${v} at offset ${this.pos}`);
      return v;
    }
    this.pos -= 1;
    const signed = BigInt.asIntN(64, this.uvint());
    if (signed < BigInt(INT32_MIN) || signed > BigInt(INT32_MAX)) {
      throw new CdcError('corrupt', `vint32 out of range: ${signed} at offset ${this.pos}`);
    }
    return Number(signed);
  }

  /** Length-prefixed (unsigned vint) bytes, as a view. */
  vintBytes(): Buffer {
    return this.bytes(this.uvintNumber());
  }

  private vintSmall(first: number, extra: number): number {
    // at most 1 + 48 value bits here: exact in a double
    let v = first & (0xff >> extra);
    for (let i = 0; i < extra; i++) v = v * 256 + this.buf[this.pos++]!;
    return v;
  }
}

const intScratch = Buffer.alloc(4);

/** CRC32 (`java.util.zip.CRC32`) continued from `crc` over `data`. */
export function crcUpdate(crc: number, data: Uint8Array): number {
  return crc32(data, crc);
}

/** Cassandra's `updateChecksumInt`: the CRC continued over the 4 big-endian bytes of `v`. */
export function crcUpdateInt(crc: number, v: number): number {
  intScratch.writeInt32BE(v | 0, 0);
  return crc32(intScratch, crc);
}

/** `(int)(id & 0xFFFFFFFF)` and `(int)(id >>> 32)` of a 64-bit segment id. */
export function idHalves(id: bigint): [low: number, high: number] {
  const u = BigInt.asUintN(64, id);
  return [Number(u & 0xffff_ffffn) | 0, Number(u >> 32n) | 0];
}

/** Unsigned interpretation of a 32-bit int. */
export function toUint32(v: number): number {
  return v < 0 ? v + TWO_POW_32 : v;
}
