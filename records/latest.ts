/**
 * "Latest value per key, a tombstone deletes": how every compacted topic of the product
 * (checkpoints, tallies, CDC offsets) is read back. Records arrive in offset order per partition.
 */
import type { StateRecord } from '../ports/streams.ts';

/** The live value of each key in `records` (later records win; a null value removes the key). */
export function latestPerKey(
  records: Iterable<StateRecord>,
  accept: (key: string) => boolean = () => true,
): Map<string, Buffer> {
  const latest = new Map<string, Buffer>();
  for (const r of records) {
    if (r.key === null || !accept(r.key)) continue;
    if (r.value === null) latest.delete(r.key);
    else latest.set(r.key, r.value);
  }
  return latest;
}

/**
 * Parses a record value as a JSON object of version `v`; null for anything else. `unversioned`:
 * a value without a `v` field (written before the format had one) is read as version `v`.
 */
export function parseVersioned(
  value: Buffer,
  v: number,
  options: { unversioned?: boolean } = {},
): Record<string, unknown> | null {
  try {
    const parsed: unknown = JSON.parse(value.toString('utf8'));
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return null;
    const obj = parsed as Record<string, unknown>;
    return obj.v === v || (options.unversioned === true && obj.v === undefined) ? obj : null;
  } catch {
    return null;
  }
}
