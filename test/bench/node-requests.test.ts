import { describe, expect, it } from 'vitest';
import type { CassandraClient } from '../../connectors/cassandra/client.ts';
import { settle } from '../../bench/stream/node-requests.ts';

/**
 * A node whose request counter reads `counts` in turn and whose running compactions read `tasks`
 * in turn (the last of each from then on).
 */
function node(counts: number[], tasks: number[] = [0]) {
  let reads = 0;
  let taskReads = 0;
  const client = {
    execute: async (query: string) => {
      if (query.includes('sstable_tasks')) {
        const n = tasks[Math.min(taskReads++, tasks.length - 1)]!;
        return { rows: Array.from({ length: n }, () => ({ kind: 'compaction' })) };
      }
      const completed = counts[Math.min(reads++, counts.length - 1)];
      return { first: () => ({ get: () => completed }) };
    },
  } as unknown as CassandraClient;
  return { client, reads: () => reads };
}

describe('settle: waiting for the node to be quiet before a run', () => {
  it('waits while the node answers more than a few requests a window, then returns', async () => {
    // Trims behind the last row: 300, then 120 requests a window; then only its own readings.
    const n = node([1_000, 1_300, 1_420, 1_422, 1_430]);
    await settle(n.client, { windowMs: 1 });
    expect(n.reads()).toBe(4);
  });

  it('counts its own readings: a window of exactly the slack is quiet, one more is not', async () => {
    // The first window holds one reading of its own (the counter), later ones two (with the tasks').
    const quiet = node([10, 16]); // 1 reading + 5
    await settle(quiet.client, { windowMs: 1, quietRequests: 5 });
    expect(quiet.reads()).toBe(2);
    const busy = node([10, 17, 24, 30]); // 1 + 6, then 2 + 5: quiet
    await settle(busy.client, { windowMs: 1, quietRequests: 5 });
    expect(busy.reads()).toBe(3);
    const counterOnly = node([10, 17, 23]); // 1 + 6, then 1 + 5 (no tasks read)
    await settle(counterOnly.client, { windowMs: 1, quietRequests: 5, compactions: false });
    expect(counterOnly.reads()).toBe(3);
  });

  it('waits for compactions too, unless told not to', async () => {
    const compacting = node([10], [2, 1, 1, 0]);
    await settle(compacting.client, { windowMs: 1 });
    expect(compacting.reads()).toBe(5);
    const notWaiting = node([10], [2]);
    await settle(notWaiting.client, { windowMs: 1, compactions: false });
    expect(notWaiting.reads()).toBe(2);
  });

  it('gives up after its timeout on a node that never goes quiet', async () => {
    const n = node(Array.from({ length: 10_000 }, (_, i) => i * 100));
    const waited = await settle(n.client, { windowMs: 1, timeoutMs: 20 });
    expect(waited).toBeGreaterThan(20);
    expect(n.reads()).toBeGreaterThan(2);
  });
});
