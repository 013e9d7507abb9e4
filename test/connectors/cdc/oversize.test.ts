import { describe, expect, it } from 'vitest';
import type { RowChangeEvent, UndecodableEvent } from '../../../connectors/cdc/events.ts';
import { fitEvent, fitUndecodable } from '../../../connectors/cdc/oversize.ts';
import { cdcSpaceSettings, parseDataStorage } from '../../../connectors/cdc/node.ts';
import { toRecords } from '../../../connectors/cdc/producer.ts';
import { loadConfig } from '../../../config/index.ts';

function event(columns: Record<string, string>): RowChangeEvent {
  return {
    op: 'insert',
    keyspace: 'ks',
    table: 'tweets',
    tableId: '0'.repeat(32),
    key: { tweet_id: '6f1c2e1a-0000-1000-8000-000000000001' },
    clustering: {},
    columns: Object.fromEntries(
      Object.entries(columns).map(([c, v]) => [c, { value: v, ts: '1700000000000000' }]),
    ),
    writeTimestamp: '1700000000000000',
    source: { segmentId: '1', position: 10, fileVersion: 7 },
    eventId: 'a'.repeat(32),
  };
}

describe('fitEvent (oversized change events)', () => {
  it('leaves an event that fits as it is', () => {
    const e = event({ author_id: '42', body: 'hello' });
    expect(fitEvent(e, 10_000)).toEqual({ value: JSON.stringify(e), omitted: [], tooLarge: false });
  });

  it('omits the 2 MB body, keeps the key, the author and the write time', () => {
    const body = 'x'.repeat(2_000_000);
    const fitted = fitEvent(event({ author_id: '42', body }), 900_000, 1_024);
    expect(fitted.tooLarge).toBe(false);
    expect(fitted.omitted).toEqual([{ column: 'body', bytes: body.length + 2 }]);
    const out = JSON.parse(fitted.value) as RowChangeEvent;
    expect(out.key).toEqual({ tweet_id: '6f1c2e1a-0000-1000-8000-000000000001' });
    expect(out.columns['author_id']!.value).toBe('42');
    expect(out.columns['body']).toEqual({
      value: { omitted: true, bytes: body.length + 2 },
      ts: '1700000000000000',
    });
    expect(out.writeTimestamp).toBe('1700000000000000');
  });

  it('a row of many columns: omits the largest values first, keeps every one that fits', () => {
    const cols: Record<string, string> = {};
    for (let i = 0; i < 300; i++) cols[`c${i}`] = 'v'.repeat(i < 10 ? 50_000 : 1_000);
    const fitted = fitEvent(event(cols), 400_000);
    expect(Buffer.byteLength(fitted.value)).toBeLessThanOrEqual(400_000);
    const out = JSON.parse(fitted.value) as RowChangeEvent;
    const kept = Object.values(out.columns).filter((c) => typeof c.value === 'string');
    // Only large values go, and only as many as needed (9 of the 10 here).
    expect(fitted.omitted.every((o) => /^c\d$/.test(o.column) && o.bytes === 50_002)).toBe(true);
    expect(fitted.omitted.length).toBe(9);
    expect(kept.length).toBe(300 - fitted.omitted.length);
  });

  it('says so when even the markers do not fit', () => {
    const cols: Record<string, string> = {};
    for (let i = 0; i < 2_000; i++) cols[`column_${i}`] = 'v';
    expect(fitEvent(event(cols), 20_000).tooLarge).toBe(true);
  });
});

function undecodable(
  updateBytes: number,
  message = 'unknown table 0f0f… (dropped?)',
): UndecodableEvent {
  return {
    op: 'undecodable',
    keyspace: null,
    table: null,
    tableId: '0f'.repeat(16),
    reason: { code: 'unknown-table', message, retriable: true },
    raw: Buffer.alloc(updateBytes, 7).toString('base64'),
    source: { segmentId: '1700000000123', position: 4_242, fileVersion: 8 },
    eventId: 'b'.repeat(32),
  };
}

describe('fitUndecodable (dead letters of undecodable entries)', () => {
  it('keeps the bytes of an entry that fits', () => {
    const e = undecodable(1_000);
    expect(JSON.parse(fitUndecodable(e, 900_000, 1_024))).toEqual({
      stage: 'cdc',
      reason: e.reason,
      event: e,
    });
  });

  it('a 740 KB write to a dropped table: under cdc.maxEventBytes, bytes omitted, reason and position kept', () => {
    // 740,000 bytes are 986,668 in base64: over librdkafka's 1,000,000-byte limit with the rest.
    const e = undecodable(740_000);
    const value = fitUndecodable(e, 900_000, 1_024);
    expect(Buffer.byteLength(value)).toBeLessThanOrEqual(900_000 - 1_024);
    const letter = JSON.parse(value) as {
      reason: UndecodableEvent['reason'];
      event: Omit<UndecodableEvent, 'raw'> & { raw: unknown };
    };
    expect(letter.event.raw).toEqual({ omitted: true, bytes: e.raw.length + 2 });
    expect(letter.reason.code).toBe('unknown-table');
    expect(letter.reason.message).toMatch(/^unknown table 0f0f… \(dropped\?\)/);
    expect(letter.reason.message).toContain(
      'the 740000-byte update is omitted from this dead letter (cdc.maxEventBytes 900000); it is the commit-log entry of segment 1700000000123 ending at position 4242',
    );
    expect(letter.event.reason).toEqual(letter.reason);
    expect(letter.event.source).toEqual(e.source);
    expect(letter.event.tableId).toBe(e.tableId);
    expect(letter.event.eventId).toBe(e.eventId);
  });

  it("toRecords: the dead letter of a 740 KB undecodable entry fits cdc.maxEventBytes (it was over librdkafka's 1,000,000-byte limit)", () => {
    const config = loadConfig({ env: {}, sets: [] });
    const [letter, ...more] = toRecords(config, undecodable(740_000), { traceparent: 'x' });
    expect(more).toEqual([]);
    expect(letter!.topic).toBe(config.topics.deadLetter);
    expect(letter!.headers).toMatchObject({ 'fanout-reason': 'unknown-table' });
    const size =
      Buffer.byteLength(letter!.key ?? '') +
      Buffer.byteLength(letter!.value ?? '') +
      JSON.stringify(letter!.headers).length;
    expect(size).toBeLessThanOrEqual(config.cdc.maxEventBytes);
  });

  it('cuts a message too long for the smallest limit, never the size and the position', () => {
    const value = fitUndecodable(undecodable(100_000, 'é'.repeat(40_000)), 16_384, 1_024);
    expect(Buffer.byteLength(value)).toBeLessThanOrEqual(16_384 - 1_024);
    const letter = JSON.parse(value) as { reason: { message: string } };
    expect(letter.reason.message).toMatch(
      /^é+… \[the 100000-byte update is omitted .* segment 1700000000123 ending at position 4242\]$/,
    );
  });
});

describe("the node's CDC space settings", () => {
  it('parses Cassandra data-storage values', () => {
    expect(parseDataStorage('2048MiB')).toBe(2048 * 2 ** 20);
    expect(parseDataStorage('4GiB')).toBe(4 * 2 ** 30);
    expect(parseDataStorage('512KiB')).toBe(512 * 1024);
    expect(parseDataStorage('100B')).toBe(100);
    expect(parseDataStorage('lots')).toBeNull();
  });

  it('reads system_views.settings; cdc.totalSpaceMiB overrides it', async () => {
    const rows = [
      { name: 'cdc_total_space', value: '16MiB' },
      { name: 'cdc_block_writes', value: 'true' },
      { name: 'commitlog_segment_size', value: '1MiB' },
    ];
    const client = { execute: async () => ({ rows }) } as never;
    expect(await cdcSpaceSettings(client, 0)).toEqual({
      totalSpaceBytes: 16 * 2 ** 20,
      blockWrites: true,
      segmentBytes: 2 ** 20,
      source: 'system_views.settings',
    });
    expect((await cdcSpaceSettings(client, 64)).totalSpaceBytes).toBe(64 * 2 ** 20);
  });
});
