import { describe, expect, it } from 'vitest';
import { ByteReader, crcUpdateInt, idHalves } from '../../../connectors/cdc/bytes.ts';
import { CdcError } from '../../../connectors/cdc/errors.ts';
import { crcInt, uvint } from './builders.ts';

describe('unsigned vint (VIntCoding)', () => {
  it('decodes the documented layouts', () => {
    expect(new ByteReader(Buffer.of(0x05)).uvint()).toBe(5n);
    expect(new ByteReader(Buffer.of(0x80, 0x80)).uvint()).toBe(128n); // 1 extra byte
    expect(new ByteReader(Buffer.of(0xc0, 0x40, 0x00)).uvint()).toBe(0x4000n); // 2 extra bytes
    expect(
      new ByteReader(Buffer.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)).uvint(),
    ).toBe(2n ** 64n - 1n);
  });

  it('round-trips the test encoder at every size', () => {
    for (let bits = 0; bits <= 64; bits++) {
      const v = bits === 0 ? 0n : (1n << BigInt(bits)) - 1n;
      const r = new ByteReader(uvint(v));
      expect(r.uvint()).toBe(v);
      expect(r.remaining).toBe(0);
    }
  });

  it('uvint32: negative ints come sign-extended in 9 bytes', () => {
    const b = uvint(-1n);
    expect(b.length).toBe(9);
    expect(new ByteReader(b).uvint32()).toBe(-1);
    expect(new ByteReader(uvint(-2147483648n)).uvint32()).toBe(-2147483648);
    expect(new ByteReader(uvint(2147483647n)).uvint32()).toBe(2147483647);
    expect(() => new ByteReader(uvint(2147483648n)).uvint32()).toThrow(CdcError);
    expect(() => new ByteReader(uvint(-2147483649n)).uvint32()).toThrow(/out of range/);
  });

  it('uvintNumber refuses lengths beyond 2^49', () => {
    expect(new ByteReader(uvint(2n ** 48n)).uvintNumber()).toBe(2 ** 48);
    expect(() => new ByteReader(uvint(2n ** 60n)).uvintNumber()).toThrow(/too large/);
  });

  it('every read is bounds-checked', () => {
    const r = new ByteReader(Buffer.of(1, 2, 3), 0, 2);
    expect(() => r.i32()).toThrow(expect.objectContaining({ code: 'truncated' }));
    expect(() => new ByteReader(Buffer.of(0xc0, 0x01)).uvint()).toThrow(CdcError);
    expect(r.u16()).toBe(0x0102);
    expect(() => r.u8()).toThrow(CdcError);
  });
});

describe('crc helpers', () => {
  it('"update with int" feeds 4 big-endian bytes', () => {
    expect(crcUpdateInt(0, 7)).toBe(crcInt(0, 7));
    expect(crcUpdateInt(0, -1)).toBe(crcInt(0, -1));
  });

  it('splits a segment id into Java int halves', () => {
    expect(idHalves(0x1_0000_0002n)).toEqual([2, 1]);
    expect(idHalves(0xffff_ffffn)).toEqual([-1, 0]);
  });
});
