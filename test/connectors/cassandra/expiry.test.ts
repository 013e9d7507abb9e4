import { expect, it } from 'vitest';
import { ttlUntil } from '../../../connectors/cassandra/expiry.ts';

it('a derived row gets the seconds left until the tweet expires, at least 1', () => {
  const now = 1_700_000_000_500; // ms
  expect(ttlUntil(1_700_003_600, now)).toBe(3_600);
  expect(ttlUntil(1_700_000_001, now)).toBe(1);
  expect(ttlUntil(1_700_000_000, now)).toBe(1); // expiring right now: as short as CQL allows
  expect(ttlUntil(1_600_000_000, now)).toBe(1); // long gone: cannot outlive the tweet by more than 1 s
});

it("never more than Cassandra's longest TTL, which a worker clock behind the node's would ask for", () => {
  const now = 1_700_000_000_500; // ms
  // INSERT … USING TTL 630720000 applied at 1_700_000_002 by the node, seen at 1_700_000_000 here
  expect(ttlUntil(1_700_000_002 + 630_720_000, now)).toBe(630_720_000);
});
