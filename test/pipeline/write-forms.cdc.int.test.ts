/**
 * The write-form contract (docs/write-forms.md), one test per row: each form written with plain
 * CQL while the real CDC connector and a worker run, then every follower's timeline (and
 * strangers') read once the worker has committed past the form's change events.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  A,
  A_FOLLOWERS,
  B,
  B_FOLLOWERS,
  C,
  C_FOLLOWERS,
  formsWorld,
  type FormsWorld,
  sorted,
} from './write-forms-world.ts';

let w: FormsWorld;
const tweets = (): string => `${w.ks}.tweets`;
const insert = (): string =>
  `INSERT INTO ${tweets()} (tweet_id, author_id, body, created_at) VALUES (?, ?, ?, ?)`;
const both = sorted(new Set([...A_FOLLOWERS, ...B_FOLLOWERS]));
const onlyA = A_FOLLOWERS.filter((u) => !B_FOLLOWERS.includes(u));
const nowMicros = (): bigint => BigInt(Date.now()) * 1_000n;

describe('write forms on the real connector and worker', () => {
  beforeAll(async () => {
    w = await formsWorld();
  });
  afterAll(async () => {
    await w?.close();
  });

  it('INSERT: every follower of the author, no one else', async () => {
    const id = w.id();
    await w.cql(insert(), [id, A, 'hi', new Date()]);
    expect(await w.processed([id], 1)).toEqual(['insert']);
    expect(await w.holding(id)).toEqual(A_FOLLOWERS);
    expect(await w.completions(id)).toMatchObject([
      { op: 'insert', authorId: '11', followersDelivered: 40 },
    ]);
  });

  it('INSERT … IF NOT EXISTS: delivered when applied; one not applied writes nothing', async () => {
    const id = w.id();
    await w.cql(`${insert()} IF NOT EXISTS`, [id, A, 'first', new Date()]);
    await w.cql(`${insert()} IF NOT EXISTS`, [id, B, 'not applied', new Date()]);
    expect(await w.processed([id], 1)).toEqual(['insert']);
    expect(await w.holding(id)).toEqual(A_FOLLOWERS);
    expect(await w.completions(id)).toHaveLength(1);
  });

  it('UPDATE setting author_id creates the tweet (an upsert): delivered like an INSERT', async () => {
    const id = w.id();
    await w.cql(
      `UPDATE ${tweets()} SET author_id = ?, body = ?, created_at = ? WHERE tweet_id = ?`,
      [A, 'written with UPDATE', new Date(), id],
    );
    expect(await w.processed([id], 1)).toEqual(['update']);
    expect(await w.holding(id)).toEqual(A_FOLLOWERS);
    expect(await w.completions(id)).toMatchObject([{ op: 'insert', followersDelivered: 40 }]);
  });

  it("UPDATE of the author moves the tweet: the old author's followers lose it, a follower of both keeps it", async () => {
    const id = w.id();
    await w.cql(insert(), [id, A, 'hi', new Date()]);
    await w.processed([id], 1);
    await w.cql(`UPDATE ${tweets()} SET author_id = ? WHERE tweet_id = ?`, [B, id]);
    expect(await w.processed([id], 2)).toEqual(['insert', 'update']);
    expect(await w.holding(id)).toEqual(B_FOLLOWERS);
    expect(onlyA.length + B_FOLLOWERS.length).toBe(both.length); // ten follow both
    expect(await w.completions(id)).toMatchObject([
      { authorId: '11', followersDelivered: 40 },
      { authorId: '12', followersDelivered: 30, moved: { from: '11' } },
    ]);
  });

  it('UPDATE of the body only: timelines as they were, no completion', async () => {
    const id = w.id();
    await w.cql(insert(), [id, A, 'hi', new Date()]);
    await w.processed([id], 1);
    await w.cql(`UPDATE ${tweets()} SET body = ? WHERE tweet_id = ?`, ['edited', id]);
    expect(await w.processed([id], 2)).toEqual(['insert', 'update']);
    expect(await w.holding(id)).toEqual(A_FOLLOWERS);
    expect(await w.completions(id)).toHaveLength(1);
  });

  it('INSERT … USING TTL: delivered, the timeline rows expire with the tweet', async () => {
    const id = w.id();
    await w.cql(`${insert()} USING TTL 3600`, [id, A, 'hi', new Date()]);
    await w.processed([id], 1);
    expect(await w.holding(id)).toEqual(A_FOLLOWERS);
    const ttls = await w.ttls(id, A_FOLLOWERS);
    expect(ttls.every((t) => t !== null && t > 3_500 && t <= 3_600)).toBe(true);
  });

  it('UPDATE … USING TTL setting author_id: delivered again with the new expiry', async () => {
    const id = w.id();
    await w.cql(`${insert()} USING TTL 3600`, [id, A, 'hi', new Date()]);
    await w.processed([id], 1);
    await w.cql(`UPDATE ${tweets()} USING TTL 7200 SET author_id = ? WHERE tweet_id = ?`, [A, id]);
    await w.processed([id], 2);
    expect(await w.holding(id)).toEqual(A_FOLLOWERS);
    const ttls = await w.ttls(id, A_FOLLOWERS);
    expect(ttls.every((t) => t !== null && t > 7_000 && t <= 7_200)).toBe(true);
    expect(await w.completions(id)).toHaveLength(2);
  });

  it('UPDATE … USING TTL of the body only: timelines keep their rows as they were (no expiry)', async () => {
    const id = w.id();
    await w.cql(insert(), [id, A, 'hi', new Date()]);
    await w.processed([id], 1);
    await w.cql(`UPDATE ${tweets()} USING TTL 60 SET body = ? WHERE tweet_id = ?`, ['brief', id]);
    await w.processed([id], 2);
    expect(await w.holding(id)).toEqual(A_FOLLOWERS);
    expect(new Set(await w.ttls(id, A_FOLLOWERS))).toEqual(new Set([null]));
    expect(await w.completions(id)).toHaveLength(1);
  });

  it('DELETE of the row: retracted from every timeline', async () => {
    const id = w.id();
    await w.cql(insert(), [id, A, 'hi', new Date()]);
    await w.processed([id], 1);
    await w.cql(`DELETE FROM ${tweets()} WHERE tweet_id = ?`, [id]);
    expect(await w.processed([id], 2)).toEqual(['insert', 'delete_partition']);
    expect(await w.holding(id)).toEqual([]);
    expect(await w.completions(id)).toMatchObject([
      { op: 'insert' },
      { op: 'delete', authorId: '11', followersDelivered: 40 },
    ]);
  });

  it('INSERT that names no author_id: of a tweet with an author, an edit (nothing to deliver); of a new tweet, a dead letter', async () => {
    const [edited, born] = [w.id(), w.id()];
    await w.cql(insert(), [edited, A, 'hi', new Date()]);
    await w.processed([edited], 1);
    const unauthored = `INSERT INTO ${tweets()} (tweet_id, body) VALUES (?, ?)`;
    await w.cql(unauthored, [edited, 'edited by INSERT']);
    await w.cql(unauthored, [born, 'no author at all']);
    expect(await w.processed([edited, born], 3)).toEqual(['insert', 'insert', 'insert']);
    expect(await w.holding(edited)).toEqual(A_FOLLOWERS);
    expect(await w.completions(edited)).toHaveLength(1);
    expect(await w.deadLetters(edited)).toEqual([]);
    expect(await w.holding(born)).toEqual([]);
    expect(await w.completions(born)).toEqual([]);
    expect(await w.deadLetters(born)).toEqual(['missing-author']);
  });

  it('DELETE author_id, SET author_id = null, INSERT with author_id null: retracted (the row stays, with no author)', async () => {
    const ids = [w.id(), w.id(), w.id()];
    for (const id of ids) await w.cql(insert(), [id, A, 'hi', new Date()]);
    await w.processed(ids, 3);
    await w.cql(`DELETE author_id FROM ${tweets()} WHERE tweet_id = ?`, [ids[0]]);
    await w.cql(`UPDATE ${tweets()} SET author_id = null WHERE tweet_id = ?`, [ids[1]]);
    await w.cql(insert(), [ids[2], null, 'anonymous now', new Date()]);
    await w.processed(ids, 6);
    for (const id of ids) {
      expect(await w.holding(id)).toEqual([]);
      expect(await w.completions(id)).toMatchObject([{ op: 'insert' }, { op: 'delete' }]);
    }
  });

  it('a LOGGED batch mixing tables (two tweets, one by UPDATE, and a follow): each tweet delivered, the follow included', async () => {
    const [one, two] = [w.id(), w.id()];
    await w.client.batch(
      [
        { query: insert(), params: [one, C, 'batched', new Date()] },
        {
          query: `UPDATE ${tweets()} SET author_id = ?, body = ? WHERE tweet_id = ?`,
          params: [A, 'batched too', two],
        },
        {
          query: `INSERT INTO ${w.ks}.followers (user_id, follower_id) VALUES (?, ?)`,
          params: [C, 170n],
        },
      ],
      { prepare: true, logged: true },
    );
    await w.processed([one, two], 2);
    expect(await w.holding(one)).toEqual([...C_FOLLOWERS, 170n]);
    expect(await w.holding(two)).toEqual(A_FOLLOWERS);
  });

  it('an UNLOGGED batch mixing tables (a table without CDC first, then two tweets): each delivered', async () => {
    const [one, two] = [w.id(), w.id()];
    await w.client.batch(
      [
        {
          query: `INSERT INTO ${w.ks}.tweet_notes (tweet_id, note) VALUES (?, ?)`,
          params: [one, 'note'],
        },
        { query: insert(), params: [one, A, 'one', new Date()] },
        { query: insert(), params: [two, B, 'two', new Date()] },
      ],
      { prepare: true, logged: false },
    );
    await w.processed([one, two], 2);
    expect(await w.holding(one)).toEqual(A_FOLLOWERS);
    expect(await w.holding(two)).toEqual(B_FOLLOWERS);
  });

  it('races go by write time, as in the table: an older UPDATE of the author or an older DELETE changes nothing', async () => {
    const [moved, deleted] = [w.id(), w.id()];
    const t = nowMicros();
    for (const id of [moved, deleted])
      await w.cql(`${insert()} USING TIMESTAMP ?`, [id, A, 'hi', new Date(), t]);
    await w.processed([moved, deleted], 2);
    await w.cql(`UPDATE ${tweets()} USING TIMESTAMP ? SET author_id = ? WHERE tweet_id = ?`, [
      t - 1_000n,
      B,
      moved,
    ]);
    await w.cql(`DELETE FROM ${tweets()} USING TIMESTAMP ? WHERE tweet_id = ?`, [
      t - 1_000n,
      deleted,
    ]);
    await w.processed([moved, deleted], 4);
    const author = (
      await w.client.execute(`SELECT author_id FROM ${tweets()} WHERE tweet_id = ?`, [moved], {
        prepare: true,
      })
    ).first();
    expect(author?.get('author_id')).toBe(A); // what Cassandra kept ...
    expect(await w.holding(moved)).toEqual(A_FOLLOWERS); // ... is what timelines show
    expect(await w.holding(deleted)).toEqual(A_FOLLOWERS);
    expect(await w.completions(moved)).toMatchObject([
      { authorId: '11' },
      { authorId: '12', retracted: true }, // stale: it took back only rows of its own (none)
    ]);
  });
});
