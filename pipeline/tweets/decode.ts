/**
 * Decoding of the CDC change events of the `tweets` table (see connectors/cdc/events.ts for the
 * envelope). Never throws: a record is a change to fan out, one with nothing to fan out
 * (`update`: timelines hold ids and bodies are hydrated on read), or bad input for the dead-letter
 * topic with the reason.
 */
import type { RowChangeEvent } from '../../connectors/cdc/events.ts';
import type { SourceRecord } from '../../ports/streams.ts';
import { int64 } from '../../records/values.ts';

/** A change of one tweet that touches its followers' timelines. */
export interface TweetChange {
  readonly op: 'insert' | 'delete';
  readonly tweetId: string;
  /** Known for inserts; a delete carries only the key (read from tweet_authors). */
  readonly authorId: bigint | null;
  /** The change's write time, µs: every timeline write uses it as USING TIMESTAMP. */
  readonly writeTime: bigint;
  /**
   * An insert written with a TTL expires then (seconds since the epoch); its timeline rows and
   * author record expire with it. Null: it lives until deleted.
   */
  readonly expiresAt: number | null;
  /**
   * The change event's id, equal on every replica's copy of one write (null: the event has none;
   * then it is never de-duplicated).
   */
  readonly eventId?: string | null;
}

export type Decoded =
  | { readonly kind: 'fanout'; readonly change: TweetChange }
  | { readonly kind: 'skip'; readonly why: string }
  | { readonly kind: 'dead'; readonly code: string; readonly message: string };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

const dead = (code: string, message: string): Decoded => ({ kind: 'dead', code, message });

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
    case 'insert': {
      const authorId = int64(event.columns?.author_id?.value);
      if (authorId === null)
        return dead(
          'missing-author',
          `insert of ${tweetId} has no author_id (${JSON.stringify(event.columns?.author_id?.value)})`,
        );
      const expiresAt = event.expiresAt ?? null;
      if (expiresAt !== null && !(Number.isSafeInteger(expiresAt) && expiresAt > 0))
        return dead(
          'malformed-ttl',
          `expiresAt is not seconds since the epoch: ${JSON.stringify(expiresAt)}`,
        );
      if (expiresAt === null && event.ttl !== undefined)
        return dead(
          'malformed-ttl',
          `insert of ${tweetId} has a ttl (${JSON.stringify(event.ttl)}) but no expiresAt`,
        );
      return {
        kind: 'fanout',
        change: { op: 'insert', tweetId, authorId, writeTime, expiresAt, eventId },
      };
    }
    case 'update':
      return { kind: 'skip', why: 'update: timelines hold tweet ids only' };
    case 'delete_row':
    case 'delete_partition':
      return {
        kind: 'fanout',
        change: { op: 'delete', tweetId, authorId: null, writeTime, expiresAt: null, eventId },
      };
    default:
      return dead(
        'unexpected-op',
        `op ${JSON.stringify(event.op)} is not a tweets change the fan-out handles`,
      );
  }
}
