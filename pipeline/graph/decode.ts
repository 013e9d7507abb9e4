/**
 * A change event of `followers` (connectors/cdc/events.ts) as the graph lane sees it: a row
 * written (INSERT, or an UPDATE setting a column) is a FOLLOW of `user_id` (the author) by
 * `follower_id`; a row deleted is an UNFOLLOW. Both at the change's write time. Deleting a whole
 * partition or a range of followers names no follower: dead-lettered, as is anything unreadable.
 */
import type { RowChangeEvent } from '../../connectors/cdc/events.ts';
import type { SourceRecord } from '../../ports/streams.ts';
import { int64 } from '../../records/values.ts';

export interface GraphChange {
  readonly op: 'follow' | 'unfollow';
  /** `user_id`: the one followed. */
  readonly authorId: bigint;
  readonly followerId: bigint;
  /** The change's write time, µs: USING TIMESTAMP of every timeline row it writes. */
  readonly writeTime: bigint;
}

export type DecodedGraph =
  | { readonly kind: 'change'; readonly change: GraphChange }
  | { readonly kind: 'skip'; readonly why: string }
  | { readonly kind: 'dead'; readonly code: string; readonly message: string };

const dead = (code: string, message: string): DecodedGraph => ({ kind: 'dead', code, message });

export function decodeGraphRecord(record: SourceRecord, keyspace: string): DecodedGraph {
  if (record.value === null) return dead('empty-record', 'record has no value (tombstone?)');
  let event: Partial<RowChangeEvent> | null;
  try {
    event = JSON.parse(record.value.toString('utf8')) as Partial<RowChangeEvent> | null;
  } catch (err) {
    return dead('malformed-json', `record value is not JSON: ${(err as Error).message}`);
  }
  if (event === null || typeof event !== 'object' || Array.isArray(event))
    return dead('malformed-event', 'record value is not a change-event object');
  if (event.keyspace !== keyspace || event.table !== 'followers')
    return dead(
      'unexpected-table',
      `change of ${String(event.keyspace)}.${String(event.table)}, expected ${keyspace}.followers`,
    );
  const writeTime = int64(event.writeTimestamp);
  if (writeTime === null || writeTime < 0n)
    return dead(
      'malformed-timestamp',
      `writeTimestamp is not a µs timestamp: ${JSON.stringify(event.writeTimestamp)}`,
    );
  const authorId = int64(event.key?.user_id);
  if (authorId === null)
    return dead('malformed-key', `key.user_id is not a bigint: ${JSON.stringify(event.key)}`);
  if (event.op === 'delete_partition' || event.op === 'delete_range')
    return dead(
      'unsupported-unfollow',
      `${event.op} of the followers of ${authorId} names no follower: delete follows one row at a time`,
    );
  const followerId = int64(event.clustering?.follower_id);
  if (followerId === null)
    return dead(
      'malformed-key',
      `clustering.follower_id is not a bigint: ${JSON.stringify(event.clustering)}`,
    );
  switch (event.op) {
    case 'insert':
    case 'update': {
      // An UPDATE that only deletes cells (`SET followed_at = null`) leaves the follow as it was.
      const written = Object.values(event.columns ?? {}).some((c) => c.deleted !== true);
      if (event.op === 'update' && !written)
        return { kind: 'skip', why: 'update deleting cells only: the follow is unchanged' };
      return { kind: 'change', change: { op: 'follow', authorId, followerId, writeTime } };
    }
    case 'delete_row':
      return { kind: 'change', change: { op: 'unfollow', authorId, followerId, writeTime } };
    default:
      return dead('unexpected-op', `op ${JSON.stringify(event.op)} is not a followers change`);
  }
}
