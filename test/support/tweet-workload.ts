/**
 * A CQL workload on the `tweets` table, written exactly as applications would, that knows which
 * change events it must produce: inserts (unicode, 64 KiB bodies, row TTLs, some inside an
 * unlogged batch whose first statement hits a non-CDC table with the same partition key), updates
 * of some and deletes of some, each key's writes in order. Used by the CDC acceptance tests and
 * bench/cdc-latency.ts.
 */
import cassandra from 'cassandra-driver';
import type { CassandraClient } from '../../connectors/cassandra/client.ts';

export interface ExpectedChange {
  op: 'insert' | 'update' | 'delete_partition';
  body?: string;
  ttl?: number;
  /** With `ttl`: when the write was acknowledged (seconds since the epoch). */
  at?: number;
}

export interface WorkloadResult {
  /** tweet id -> the changes it must produce, in order. */
  expected: Map<string, ExpectedChange[]>;
  events: number;
}

export interface WorkloadOptions {
  tweets: number;
  /** Writes in flight at once (different keys; one key's writes stay ordered). */
  concurrency: number;
  /** Stop early when aborted (the writes done so far are in `expected`). */
  signal?: AbortSignal;
  /** Upper bound on tweets started per second; 0 = as fast as possible. */
  ratePerSecond?: number;
}

export const BIG_BODY = 'ü'.repeat(32 * 1024); // 64 KiB of UTF-8

export function bodyOf(i: number): string {
  if (i % 500 === 7) return `${i}:${BIG_BODY}`;
  return `tweet ${i} — ünïcødé ✓ 🐦 ${'x'.repeat(i % 50)}`;
}

/** Creates the non-CDC side table the batch case needs (same partition key as tweets). */
export async function prepareWorkload(client: CassandraClient, ks: string): Promise<void> {
  await client.execute(
    `CREATE TABLE IF NOT EXISTS ${ks}.tweet_notes (tweet_id timeuuid PRIMARY KEY, note text)`,
  );
}

export async function runWorkload(
  client: CassandraClient,
  ks: string,
  o: WorkloadOptions,
): Promise<WorkloadResult> {
  const expected = new Map<string, ExpectedChange[]>();
  let events = 0;
  let next = 0;
  const started = Date.now();
  const insert = `INSERT INTO ${ks}.tweets (tweet_id, author_id, body, created_at) VALUES (?, ?, ?, ?)`;
  const one = async (i: number): Promise<void> => {
    const id = cassandra.types.TimeUuid.now().toString();
    const body = bodyOf(i);
    const changes: ExpectedChange[] = [];
    expected.set(id, changes);
    const params = [id, BigInt(i % 97), body, new Date()];
    if (i % 100 === 3) {
      await client.batch(
        [
          {
            query: `INSERT INTO ${ks}.tweet_notes (tweet_id, note) VALUES (?, ?)`,
            params: [id, 'non-CDC table first'],
          },
          { query: insert, params },
        ],
        { prepare: true, logged: false },
      );
      changes.push({ op: 'insert', body });
    } else if (i % 50 === 11) {
      await client.execute(`${insert} USING TTL 86400`, params, { prepare: true });
      changes.push({ op: 'insert', body, ttl: 86400, at: Date.now() / 1000 });
    } else {
      await client.execute(insert, params, { prepare: true });
      changes.push({ op: 'insert', body });
    }
    if (i % 10 === 0) {
      const edited = `edited ${i} ✎`;
      await client.execute(`UPDATE ${ks}.tweets SET body = ? WHERE tweet_id = ?`, [edited, id], {
        prepare: true,
      });
      changes.push({ op: 'update', body: edited });
    }
    if (i % 25 === 1) {
      await client.execute(`DELETE FROM ${ks}.tweets WHERE tweet_id = ?`, [id], { prepare: true });
      changes.push({ op: 'delete_partition' });
    }
    events += changes.length;
  };
  const worker = async (): Promise<void> => {
    for (;;) {
      if (o.signal?.aborted) return;
      const i = next++;
      if (i >= o.tweets) return;
      if (o.ratePerSecond) {
        const due = started + (i * 1000) / o.ratePerSecond;
        if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now())); // pacing, not synchronisation
      }
      await one(i);
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, worker));
  return { expected, events };
}

interface SeenEvent {
  op: string;
  key: Record<string, unknown>;
  columns: Record<string, { value: unknown }>;
  ttl?: number;
  expiresAt?: number;
  eventId: string;
}

/**
 * Compares CDC records with what the workload wrote: exactly one event per write (no duplicate
 * event ids, none missing, none extra), the right ops in each key's order, the right values.
 * Returns the problems found (empty = exactly once).
 */
export function checkExactlyOnce(
  values: readonly string[],
  expected: ReadonlyMap<string, ExpectedChange[]>,
): string[] {
  const problems: string[] = [];
  const ids = new Set<string>();
  const byKey = new Map<string, SeenEvent[]>();
  for (const v of values) {
    const e = JSON.parse(v) as SeenEvent;
    if (ids.has(e.eventId))
      problems.push(`duplicate event ${e.eventId} (${e.op} ${String(e.key.tweet_id)})`);
    ids.add(e.eventId);
    const k = String(e.key.tweet_id);
    byKey.set(k, [...(byKey.get(k) ?? []), e]);
  }
  for (const k of byKey.keys())
    if (!expected.has(k)) problems.push(`event for a tweet the workload did not write: ${k}`);
  for (const [id, want] of expected) {
    const got = byKey.get(id) ?? [];
    const ops = got.map((e) => e.op);
    if (ops.join() !== want.map((w) => w.op).join()) {
      problems.push(
        `tweet ${id}: ops ${JSON.stringify(ops)}, expected ${JSON.stringify(want.map((w) => w.op))}`,
      );
      continue;
    }
    want.forEach((w, i) => {
      const e = got[i]!;
      if (w.body !== undefined && e.columns.body?.value !== w.body)
        problems.push(
          `tweet ${id} ${w.op}: wrong body (${String(e.columns.body?.value).slice(0, 40)}...)`,
        );
      if (w.ttl !== undefined && e.ttl !== w.ttl)
        problems.push(`tweet ${id}: ttl ${e.ttl}, expected ${w.ttl}`);
      // Cassandra set the expiry when it applied the write: just before it was acknowledged.
      if (
        w.at !== undefined &&
        !(e.expiresAt !== undefined && Math.abs(e.expiresAt - (w.at + w.ttl!)) <= 2)
      ) {
        problems.push(
          `tweet ${id}: expiresAt ${e.expiresAt}, expected ${Math.floor(w.at + w.ttl!)} ± 2 s`,
        );
      }
    });
  }
  return problems.slice(0, 20);
}
