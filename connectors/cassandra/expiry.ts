/**
 * Rows derived from a tweet written with a TTL expire when the tweet does. CQL's `USING TTL` counts
 * from when the write is applied, so a derived row written later gets the seconds LEFT until the
 * tweet's expiry. One already past it gets 1 s (the shortest TTL): the write still lands, with
 * its timestamp, and cannot outlive the tweet by more than that.
 */
export function ttlUntil(expiresAt: number, nowMs: number = Date.now()): number {
  return Math.max(1, expiresAt - Math.floor(nowMs / 1000));
}
