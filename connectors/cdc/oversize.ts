/**
 * Fits a change event into Kafka's message limit (`cdc.maxEventBytes`). An event that does not fit
 * keeps its envelope, every key and clustering column and every column value that fits; the values
 * that do not, largest first, are replaced by the marker `{"omitted": true, "bytes": N}` (N: the
 * UTF-8 length of the value's JSON). What was left out is told to the caller, for the dead-letter
 * topic. A consumer that needs only the key, the author and the write time (the fan-out) is never
 * held up by a body it does not read; an event stuck forever in a retry loop would hold up every
 * later write of the node (issue #17).
 */
import type { ColumnChange, RowChangeEvent, UndecodableEvent } from './events.ts';

/** The marker that replaces a value left out of an event. */
export interface OmittedValue {
  readonly omitted: true;
  readonly bytes: number;
}

/** One value left out: the column, and the size of its JSON. */
export interface Omission {
  readonly column: string;
  readonly bytes: number;
}

export interface Fitted {
  /** The JSON of the event to produce (the original when it fit). */
  readonly value: string;
  /** Empty when the event fit as it was. */
  readonly omitted: readonly Omission[];
  /** Still over the limit with every value omitted (thousands of columns): not to be produced. */
  readonly tooLarge: boolean;
}

const bytes = (s: string): number => Buffer.byteLength(s, 'utf8');

/** The JSON size a column change contributes through its value and removed elements. */
function valueBytes(change: ColumnChange): number {
  return (
    bytes(JSON.stringify(change.value ?? null)) +
    (change.removed ? bytes(JSON.stringify(change.removed)) : 0)
  );
}

/**
 * Serialises `event` to at most `maxBytes` (less `overhead`: key, headers, record framing), omitting
 * the largest column values first. Pure.
 */
export function fitEvent(event: RowChangeEvent, maxBytes: number, overhead = 0): Fitted {
  const whole = JSON.stringify(event);
  const limit = maxBytes - overhead;
  if (bytes(whole) <= limit) return { value: whole, omitted: [], tooLarge: false };
  const columns: Record<string, ColumnChange> = { ...event.columns };
  const bySize = Object.entries(columns)
    .map(([column, change]) => ({ column, bytes: valueBytes(change) }))
    .sort((a, b) => b.bytes - a.bytes || a.column.localeCompare(b.column));
  let size = bytes(whole);
  const omitted: Omission[] = [];
  for (const candidate of bySize) {
    if (size <= limit) break;
    const change = columns[candidate.column]!;
    const marker: OmittedValue = { omitted: true, bytes: candidate.bytes };
    const { removed: _removed, ...rest } = change;
    const replaced = { ...rest, value: marker } as unknown as ColumnChange;
    size += bytes(JSON.stringify(replaced)) - bytes(JSON.stringify(change));
    columns[candidate.column] = replaced;
    omitted.push(candidate);
  }
  const value = JSON.stringify({ ...event, columns });
  return { value, omitted, tooLarge: bytes(value) > limit };
}

/**
 * The dead letter of an undecodable entry, at most `maxBytes` (less `overhead`). It carries the
 * entry's bytes (base64) when they fit; a bigger entry (a 740 KB+ write to a table dropped since)
 * would make a record librdkafka refuses ("Message size too large"), and a transaction that can
 * never commit holds up every later write of the node. Then `raw` becomes the marker
 * `{"omitted": true, "bytes": N}` (N: the UTF-8 length of its JSON, as for values) and the message
 * says how many bytes of the update were left out and where the entry is in the commit log; the
 * reason, the table and the source position are always kept. Pure.
 */
export function fitUndecodable(event: UndecodableEvent, maxBytes: number, overhead = 0): string {
  const limit = maxBytes - overhead;
  const letter = (e: Omit<UndecodableEvent, 'raw'> & { raw: string | OmittedValue }): string =>
    JSON.stringify({ stage: 'cdc', reason: e.reason, event: e });
  const whole = letter(event);
  if (bytes(whole) <= limit) return whole;
  const updateBytes = Buffer.byteLength(event.raw, 'base64');
  const note = ` [the ${updateBytes}-byte update is omitted from this dead letter (cdc.maxEventBytes ${maxBytes}); it is the commit-log entry of segment ${event.source.segmentId} ending at position ${event.source.position}]`;
  const raw: OmittedValue = { omitted: true, bytes: bytes(JSON.stringify(event.raw)) };
  let message = event.reason.message;
  for (;;) {
    const value = letter({ ...event, reason: { ...event.reason, message: message + note }, raw });
    const excess = bytes(value) - limit;
    // The message is in the letter twice (reason and event.reason): a long one is cut, the note
    // with the size and the position never is.
    if (excess <= 0 || message.length === 0) return value;
    const keep = Math.max(0, bytes(message) - Math.ceil(excess / 2) - bytes('…'));
    const { read } = new TextEncoder().encodeInto(message, new Uint8Array(keep)); // whole characters
    message = read > 0 ? `${message.slice(0, read)}…` : '';
  }
}
