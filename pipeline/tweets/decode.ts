/**
 * Decoding of the CDC change events of the `tweets` table (see connectors/cdc/events.ts for the
 * envelope), by what a change SETS, not by its CQL verb (docs/write-forms.md):
 *
 * - `author_id` set to a value (INSERT or UPDATE): an UPSERT, delivered to that author's followers;
 * - `author_id` deleted (a cell tombstone), or the row or partition deleted: a RETRACTION;
 * - neither (an UPDATE of other columns only): nothing to fan out (timelines hold tweet ids,
 *   bodies are hydrated on read);
 * - an INSERT that does not write `author_id` at all: UNAUTHORED. The handler asks whether the
 *   tweet has an author recorded: then it is an edit of other columns (nothing to fan out), else a
 *   tweet created without an author (dead letter).
 *
 * Never throws: anything else is bad input for the dead-letter topic with the reason.
 */
import type { ColumnChange, RowChangeEvent } from '../../connectors/cdc/events.ts';
import type { SourceRecord } from '../../ports/streams.ts';
import { int64 } from '../../records/values.ts';

/** A change of one tweet that touches its followers' timelines. */
export interface TweetChange {
  /** `insert`: an upsert (author_id set, by INSERT or UPDATE); `delete`: a retraction. */
  readonly op: 'insert' | 'delete';
  readonly tweetId: string;
  /** Known for upserts; a retraction carries only the key (read from tweet_authors). */
  readonly authorId: bigint | null;
  /**
   * The change's write time, µs (of its author_id cell when it has one): every timeline write
   * uses it as USING TIMESTAMP.
   */
  readonly writeTime: bigint;
  /**
   * An upsert written with a TTL expires then (seconds since the epoch); its timeline rows and
   * author record expire with it. Null: it lives until deleted.
   */
  readonly expiresAt: number | null;
  /**
   * The change event's id, equal on every replica's copy of one write (null: the event has none).
   * For logs: the claims de-duplicate on {@link changeKey}, whatever the bytes.
   */
  readonly eventId?: string | null;
}

export type Decoded =
  | { readonly kind: 'fanout'; readonly change: TweetChange }
  | { readonly kind: 'skip'; readonly why: string }
  /** An INSERT that does not name `author_id` (`change.authorId` null): see the module comment. */
  | { readonly kind: 'unauthored'; readonly change: TweetChange }
  | { readonly kind: 'dead'; readonly code: string; readonly message: string };

/**
 * What the claims de-duplicate a tweet change on: the tweet, the op and the write time, not the
 * event's `eventId`. Every replica logs byte-identical updates for one write, but a replica also
 * logs the same write again with other bytes: a read repair sends it only the columns that were
 * read, at their original timestamps (the cluster tests saw one tweet's write come back as a
 * second change, with its own eventId, after the graph lane's LOCAL_QUORUM reads of `tweets`).
 * Cassandra orders writes by timestamp, so one tweet's upsert (or delete) at one write time is one
 * change however it was logged. Two different writes of one tweet at the same client-chosen
 * timestamp are one change too: Cassandra keeps one of them cell by cell, the first copy claimed
 * fans out.
 */
export const changeKey = (c: {
  readonly tweetId: string;
  readonly op: 'insert' | 'delete';
  readonly writeTime: bigint;
}): string => `${c.tweetId}/${c.op}/${c.writeTime}`;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

type Dead = Extract<Decoded, { kind: 'dead' }>;

const dead = (code: string, message: string): Dead => ({ kind: 'dead', code, message });

export { int64 } from '../../records/values.ts';

/** Decodes one record of the tweets CDC topic of `keyspace`. */
export function decodeTweetRecord(record: SourceRecord, keyspace: string): Decoded {
  if (record.value === null) return dead('empty-record', 'record has no value (tombstone?)');
  let event: Partial<RowChangeEvent>;
  try {
    event = JSON.parse(record.value.toString('utf8')) as Partial<RowChangeEvent>;
  } catch (err) {
    return dead('malformed-json', `record value is not JSON: ${(err as Error).message}`);
  }
  if (event === null || typeof event !== 'object' || Array.isArray(event))
    return dead('malformed-event', 'record value is not a change-event object');
  if (event.keyspace !== keyspace || event.table !== 'tweets') {
    return dead(
      'unexpected-table',
      `change of ${String(event.keyspace)}.${String(event.table)}, expected ${keyspace}.tweets`,
    );
  }
  const tweetId = event.key?.tweet_id;
  if (typeof tweetId !== 'string' || !UUID.test(tweetId))
    return dead('malformed-key', `key.tweet_id is not a uuid: ${JSON.stringify(tweetId)}`);
  const eventId =
    typeof event.eventId === 'string' && /^[0-9a-f]{32}$/.test(event.eventId)
      ? event.eventId
      : null;
  const writeTime = int64(event.writeTimestamp);
  if (writeTime === null || writeTime < 0n)
    return dead(
      'malformed-timestamp',
      `writeTimestamp is not a µs timestamp: ${JSON.stringify(event.writeTimestamp)}`,
    );
  switch (event.op) {
    case 'insert':
    case 'update':
      return decodeWrite(event, event.op, { tweetId, writeTime, eventId });
    case 'delete_row':
    case 'delete_partition':
      return retraction({ tweetId, writeTime, eventId });
    default:
      return dead(
        'unexpected-op',
        `op ${JSON.stringify(event.op)} is not a tweets change the fan-out handles`,
      );
  }
}

interface Keyed {
  readonly tweetId: string;
  readonly writeTime: bigint;
  readonly eventId: string | null;
}

const retraction = (k: Keyed): Decoded => ({
  kind: 'fanout',
  change: { op: 'delete', authorId: null, expiresAt: null, ...k },
});

/** An INSERT or UPDATE: what it does to `author_id` decides. */
function decodeWrite(event: Partial<RowChangeEvent>, verb: 'insert' | 'update', k: Keyed): Decoded {
  const { tweetId } = k;
  const cell = event.columns?.author_id;
  if (cell === undefined || cell === null) {
    return verb === 'insert'
      ? { kind: 'unauthored', change: { op: 'insert', authorId: null, expiresAt: null, ...k } }
      : { kind: 'skip', why: 'update of other columns than author_id: timelines hold ids only' };
  }
  // The author cell's own time: with several writes merged into one row change, it is the
  // author's that orders this change against the tweet's other upserts and deletes.
  const cellTime = int64(cell.ts);
  const writeTime = cellTime !== null && cellTime >= 0n ? cellTime : k.writeTime;
  if (cell.deleted === true) return retraction({ ...k, writeTime });
  const authorId = int64(cell.value);
  if (authorId === null)
    return dead(
      'missing-author',
      `${verb} of ${tweetId} has no author_id (${JSON.stringify(cell.value)})`,
    );
  const expiry = cellExpiry(cell, writeTime);
  if ('kind' in expiry) return expiry;
  return {
    kind: 'fanout',
    change: { op: 'insert', authorId, expiresAt: expiry.expiresAt, ...k, writeTime },
  };
}

/** When an upsert expires (seconds since the epoch; null: never), or why that is unreadable. */
type Expiry = { readonly expiresAt: number | null } | Dead;

/**
 * An upsert's expiry: its author_id cell's, as Cassandra set it where the write was applied. A
 * tweet lives as long as its author: the row's own TTL differs when a batch merged writes of
 * different TTLs into one change. Not from the write time: a client-chosen USING TIMESTAMP far
 * ahead would give rows a TTL Cassandra refuses, and wedge the partition. An event of a
 * connector that did not carry it: the cell's TTL counted from the write time.
 */
function cellExpiry(cell: ColumnChange, writeTime: bigint): Expiry {
  if (cell.ttl === undefined) return { expiresAt: null };
  if (!(Number.isSafeInteger(cell.ttl) && cell.ttl > 0))
    return dead(
      'malformed-ttl',
      `author_id ttl is not a positive integer: ${JSON.stringify(cell.ttl)}`,
    );
  if (cell.expiresAt === undefined) return { expiresAt: Number(writeTime / 1_000_000n) + cell.ttl };
  if (!(Number.isSafeInteger(cell.expiresAt) && cell.expiresAt > 0))
    return dead(
      'malformed-ttl',
      `author_id expiresAt is not seconds since the epoch: ${JSON.stringify(cell.expiresAt)}`,
    );
  return { expiresAt: cell.expiresAt };
}
