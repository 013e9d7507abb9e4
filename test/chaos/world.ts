/**
 * The chaos suite's world: a follow graph (small authors, a few with thousands of followers, one
 * above pipeline.splitThreshold), a stream of plain CQL writes to `tweets` (inserts, updates,
 * deletes, a few bad rows without an author, one 2 MB body) that remembers what it must produce,
 * and the final checks. A write whose outcome is unknown (the node died under it) is read back
 * and written again only if it did not land, as an application would.
 */
import cassandra from 'cassandra-driver';
import type { CassandraClient } from '../../connectors/cassandra/client.ts';
import { mulberry32 } from '../../cli/seed-graph.ts';
import type { TimelineDiff } from './loss.ts';

/** A seeded random source, so a failing run can be replayed from its seed. */
export const seeded = mulberry32;

export interface Graph {
  /** author -> followers */
  readonly followers: Map<bigint, bigint[]>;
  /** every user id, followers and non-followers alike */
  readonly users: bigint[];
  readonly small: bigint[];
  readonly big: bigint[];
  readonly celebrity: bigint;
}

export interface GraphSize {
  users: number;
  small: number;
  big: number;
  bigFollowers: number;
  celebrityFollowers: number;
}

/** Authors are ids 1..; users (followers) from 1000 up. */
export function makeGraph(size: GraphSize, random: () => number): Graph {
  const users = Array.from({ length: size.users }, (_, i) => 1_000n + BigInt(i));
  const pick = (n: number): bigint[] => {
    const chosen = new Set<bigint>();
    while (chosen.size < Math.min(n, users.length))
      chosen.add(users[Math.floor(random() * users.length)]!);
    return [...chosen];
  };
  const followers = new Map<bigint, bigint[]>();
  const small = Array.from({ length: size.small }, (_, i) => BigInt(i + 1));
  const big = Array.from({ length: size.big }, (_, i) => BigInt(size.small + i + 1));
  const celebrity = BigInt(size.small + size.big + 1);
  for (const a of small) followers.set(a, pick(1 + Math.floor(random() * 30)));
  for (const a of big) followers.set(a, pick(size.bigFollowers));
  followers.set(celebrity, pick(size.celebrityFollowers));
  return { followers, users, small, big, celebrity };
}

export async function seedGraph(client: CassandraClient, ks: string, g: Graph): Promise<void> {
  const rows = [...g.followers].flatMap(([a, fs]) => fs.map((f) => [a, f] as const));
  const q = `INSERT INTO ${ks}.followers (user_id, follower_id, followed_at) VALUES (?, ?, ?)`;
  for (let i = 0; i < rows.length; i += 256) {
    await Promise.all(
      rows
        .slice(i, i + 256)
        .map(([a, f]) => client.execute(q, [a, f, new Date()], { prepare: true })),
    );
  }
}

/** One tweet's life as the writer made it. */
export interface TweetState {
  readonly id: string;
  readonly author: bigint | null; // null: a bad row
  readonly big: boolean;
  writtenAt: number;
  /** When each acknowledged write of it (insert, updates, delete) was acknowledged. */
  acks: Array<{ op: 'insert' | 'update' | 'delete'; at: number }>;
  inserted: boolean;
  updates: number;
  deleted: boolean;
}

const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Runs `write` until it is known to have landed: on an error it asks `landed` (a read) once the
 * node answers again, and writes again only if it did not.
 */
async function surely(
  write: () => Promise<unknown>,
  landed: () => Promise<boolean>,
): Promise<void> {
  for (;;) {
    try {
      await write();
      return;
    } catch {
      for (;;) {
        await pause(500);
        try {
          if (await landed()) return;
          break; // the node answers and the write is not there: write it again
        } catch {
          // still down
        }
      }
    }
  }
}

export class Writer {
  readonly tweets = new Map<string, TweetState>();
  readonly #client: CassandraClient;
  readonly #ks: string;
  readonly #g: Graph;
  readonly #random: () => number;
  readonly #bigBody: string;

  constructor(client: CassandraClient, ks: string, g: Graph, random: () => number) {
    this.#client = client;
    this.#ks = ks;
    this.#g = g;
    this.#random = random;
    this.#bigBody = 'B'.repeat(2 * 1024 * 1024);
  }

  #exec(q: string, params: unknown[]): Promise<unknown> {
    return this.#client.execute(q, params, { prepare: true });
  }

  async #row(id: string): Promise<{ body: string | null } | null> {
    const rs = await this.#client.execute(
      `SELECT body, author_id FROM ${this.#ks}.tweets WHERE tweet_id = ?`,
      [id],
      { prepare: true },
    );
    const r = rs.first();
    return r ? { body: (r.get('body') as string | null) ?? null } : null;
  }

  /** The i-th write of the stream: mostly new tweets, some updates and deletes, a few bad rows. */
  async step(i: number, options: { bad: boolean; big: boolean }): Promise<void> {
    const r = this.#random();
    const live = [...this.tweets.values()].filter((t) => t.inserted && !t.deleted && t.author);
    if (!options.bad && !options.big && live.length > 10 && r < 0.12) {
      const t = live[Math.floor(this.#random() * live.length)]!;
      const body = `update ${t.updates + 1} of ${t.id} (${i})`;
      await surely(
        () => this.#exec(`UPDATE ${this.#ks}.tweets SET body = ? WHERE tweet_id = ?`, [body, t.id]),
        async () => (await this.#row(t.id))?.body === body,
      );
      t.updates++;
      t.acks.push({ op: 'update', at: Date.now() });
      return;
    }
    if (!options.bad && !options.big && live.length > 10 && r < 0.22) {
      const t = live[Math.floor(this.#random() * live.length)]!;
      await surely(
        () => this.#exec(`DELETE FROM ${this.#ks}.tweets WHERE tweet_id = ?`, [t.id]),
        async () => (await this.#row(t.id)) === null,
      );
      t.deleted = true;
      t.acks.push({ op: 'delete', at: Date.now() });
      return;
    }
    const id = cassandra.types.TimeUuid.now().toString();
    const author = options.bad ? null : this.#author();
    const t: TweetState = {
      id,
      author,
      big: options.big,
      writtenAt: Date.now(),
      acks: [],
      inserted: false,
      updates: 0,
      deleted: false,
    };
    this.tweets.set(id, t);
    const body = options.big ? this.#bigBody : `tweet ${i} by ${author ?? 'nobody'}`;
    await surely(
      () =>
        author === null
          ? this.#exec(`INSERT INTO ${this.#ks}.tweets (tweet_id, body) VALUES (?, ?)`, [id, body])
          : this.#exec(
              `INSERT INTO ${this.#ks}.tweets (tweet_id, author_id, body, created_at) VALUES (?, ?, ?, ?)`,
              [id, author, body, new Date()],
            ),
      async () => (await this.#row(id)) !== null,
    );
    t.inserted = true;
    t.acks.push({ op: 'insert', at: Date.now() });
  }

  /**
   * After a SIGKILL of the node at `killedAt`: Cassandra acknowledges a write before its periodic
   * commit-log sync (commitlog_sync: periodic, 300 ms in the launcher) and replays only synced
   * sections, so the writes acknowledged in the last moments before the kill may be gone. Reads
   * back every write acknowledged within `windowMs` before it and takes what Cassandra lost out of
   * the model; returns those lost. Anything lost outside the window would be a real loss: the
   * final checks catch it.
   */
  async reconcile(killedAt: number, windowMs: number): Promise<string[]> {
    const lost: string[] = [];
    for (const t of this.tweets.values()) {
      const recent = t.acks.filter((a) => a.at >= killedAt - windowMs && a.at <= killedAt + 1_000);
      if (recent.length === 0) continue;
      let row: { body: string | null } | null | undefined;
      while (row === undefined) {
        row = await this.#row(t.id).catch(async () => {
          await pause(500); // the node is back, the driver not reconnected yet
          return undefined;
        });
      }
      const last = recent[recent.length - 1]!;
      if (last.op === 'delete' && row !== null) {
        t.deleted = false;
        lost.push(`delete of ${t.id} (acknowledged ${killedAt - last.at} ms before the kill)`);
      } else if (last.op === 'insert' && row === null) {
        t.inserted = false;
        lost.push(`insert of ${t.id} (acknowledged ${killedAt - last.at} ms before the kill)`);
      }
    }
    return lost;
  }

  #author(): bigint {
    const r = this.#random();
    if (r < 0.01) return this.#g.celebrity;
    if (r < 0.08) return this.#g.big[Math.floor(this.#random() * this.#g.big.length)]!;
    return this.#g.small[Math.floor(this.#random() * this.#g.small.length)]!;
  }

  /** How many completions each (tweet, op) must have: one per insert and delete (updates fan out nothing and complete none). */
  expectedCompletions(): Map<string, number> {
    const m = new Map<string, number>();
    for (const t of this.tweets.values()) {
      if (!t.inserted || t.author === null) continue;
      m.set(`${t.id}/insert`, 1);
      if (t.deleted) m.set(`${t.id}/delete`, 1);
    }
    return m;
  }

  /** Every user's expected timeline: the live tweets of the authors they follow. */
  expectedTimelines(): Map<bigint, Set<string>> {
    const m = new Map<bigint, Set<string>>(this.#g.users.map((u) => [u, new Set<string>()]));
    for (const t of this.tweets.values()) {
      if (!t.inserted || t.deleted || t.author === null) continue;
      for (const f of this.#g.followers.get(t.author) ?? []) m.get(f)!.add(t.id);
    }
    return m;
  }
}

/** Every user whose timeline differs from what it must be, with what differs. */
export async function timelineDiffs(
  client: CassandraClient,
  ks: string,
  expected: Map<bigint, Set<string>>,
): Promise<TimelineDiff[]> {
  const diffs: TimelineDiff[] = [];
  const users = [...expected.keys()];
  const q = `SELECT tweet_id FROM ${ks}.timelines WHERE user_id = ?`;
  for (let i = 0; i < users.length; i += 64) {
    const part = users.slice(i, i + 64);
    const got = await Promise.all(
      part.map(async (u) => {
        const rs = await client.execute(q, [u], { prepare: true, fetchSize: 10_000 });
        return new Set(rs.rows.map((r) => String(r.get('tweet_id'))));
      }),
    );
    part.forEach((user, j) => {
      const want = expected.get(user)!;
      const have = got[j]!;
      const missing = [...want].filter((t) => !have.has(t));
      const extra = [...have].filter((t) => !want.has(t));
      if (missing.length + extra.length > 0) diffs.push({ user, missing, extra });
    });
  }
  return diffs;
}
