/** Field decoders shared by the record formats: 64-bit ids travel as decimal strings in JSON. */

const INT64_MAX = 2n ** 63n - 1n;

/** A signed 64-bit integer sent as a decimal string (CQL bigint in JSON), else null. */
export function int64(raw: unknown): bigint | null {
  if (typeof raw !== 'string' || !/^-?\d{1,19}$/.test(raw)) return null;
  const n = BigInt(raw);
  return n > INT64_MAX || n < -INT64_MAX - 1n ? null : n;
}

/** {@link int64}, where null (JSON null or anything unreadable) stands for "none". */
export const bigintOrNull = (raw: unknown): bigint | null => int64(raw);

/** A non-negative integer. */
export const isNat = (v: unknown): v is number =>
  typeof v === 'number' && Number.isInteger(v) && v >= 0;
