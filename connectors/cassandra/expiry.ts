/**
 * Rows derived from a tweet written with a TTL expire when the tweet does. CQL's `USING TTL` counts
 * from when the write is applied, so a derived row written later gets the seconds LEFT until the
 * tweet's expiry. One already past it gets 1 s (the shortest TTL): the write still lands, with
 * its timestamp, and cannot outlive the tweet by more than that. One further away than Cassandra's
 * longest TTL (a tweet of that TTL seen by a worker whose clock is behind the node's) gets the
 * longest: a longer one is refused, and the write could never succeed.
 */

/** `Attributes.MAX_TTL`: 20 years; a longer `USING TTL` is refused ("ttl is too large"). */
const MAX_TTL = 630_720_000;

export function ttlUntil(expiresAt: number, nowMs: number = Date.now()): number {
  return Math.min(MAX_TTL, Math.max(1, expiresAt - Math.floor(nowMs / 1000)));
}
