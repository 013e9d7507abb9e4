/**
 * Segment lifecycle of the CDC connector, with hand-built segments in a cdc_raw of the test's own
 * (same bytes Cassandra writes, for the real table id of a real table): an idx that never becomes
 * COMPLETED is retired once newer data exists; a crash-replayed idx pointing into the zero padding
 * is read to the end; a pre-allocated segment without idx is left alone; a corrupt section goes to
 * the dead-letter topic and newer segments still flow; its segment's bytes are kept, moved to the
 * error directory the dead letter names (issue #17). Consumed segments are deleted.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import cassandra from 'cassandra-driver';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../config/index.ts';
import { connectCassandra } from '../../../connectors/cassandra/client.ts';
import { applySchema } from '../../../connectors/cassandra/schema.ts';
import { loadSchema } from '../../../connectors/cdc/schema.ts';
import { createLogger } from '../../../lib/log.ts';
import { withConnector } from '../../support/cdc.ts';
import { testSettings } from '../../support/config.ts';
import { collect } from '../../support/kafka.ts';
import { buildSegment } from './builders.ts';
import { encodeMutation } from './mutation-builder.ts';

/** Polls until `check` holds, or fails after `ms` (a deadline, not a sleep). */
async function eventually(ms: number, check: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('CDC segment lifecycle (real Kafka, schema from the real Cassandra)', () => {
  const rawDir = mkdtempSync(join(tmpdir(), 'fanout-cdc-raw-'));
  const errorDir = mkdtempSync(join(tmpdir(), 'fanout-cdc-error-'));
  const config = loadConfig({
    env: {},
    // Its segments are written before the connector reads them: the earliest is where it starts.
    sets: testSettings([
      `cdc.rawDir=${rawDir}`,
      `cdc.errorDir=${errorDir}`,
      'cdc.startFrom=earliest',
    ]),
  });
  const log = createLogger(process.env.TEST_LOG === 'debug' ? 'debug' : 'error');
  afterAll(async () => {
    const c = await connectCassandra(config);
    await c.execute(`DROP KEYSPACE IF EXISTS ${config.cassandra.keyspace}`).catch(() => undefined);
    await c.shutdown();
  });

  it('retires, reads replayed idx to the padding, skips pre-allocated, dead-letters corruption', async () => {
    const client = await connectCassandra(config);
    await applySchema(client, config);
    const schema = await loadSchema(client);
    const table = [...schema.tables.values()].find(
      (t) => t.keyspace === config.cassandra.keyspace && t.table === 'tweets',
    )!;
    const ids: string[] = [];
    const insert = (i: number): Buffer => {
      const id = cassandra.types.TimeUuid.fromDate(new Date(1_700_000_000_000 + i), i).toString();
      ids.push(id);
      const author = Buffer.alloc(8);
      author.writeBigInt64BE(BigInt(i));
      return encodeMutation([
        {
          table,
          key: Buffer.from(id.replaceAll('-', ''), 'hex'),
          rows: [
            {
              liveness: { ts: 1_700_000_000_000_000n + BigInt(i) },
              cells: {
                author_id: { value: author },
                body: { value: Buffer.from(`synthetic ${i}`) },
              },
            },
          ],
        },
      ]);
    };
    const put = (id: bigint, bytes: Buffer, idx?: string): void => {
      writeFileSync(join(rawDir, `CommitLog-7-${id}.log`), bytes);
      if (idx !== undefined) writeFileSync(join(rawDir, `CommitLog-7-${id}_cdc.idx`), idx);
    };
    // D (999): one good section, then one whose entry crc is broken; COMPLETED.
    const d = buildSegment({ id: 999n, sections: [[insert(0)], [insert(100)]], zeroTail: 512 });
    ids.pop(); // the corrupt entry's tweet is never delivered
    d.bytes[d.markers[1]! + 8 + 12]! ^= 0xff; // a payload byte of the second section's entry
    put(999n, d.bytes, `${d.sectionEnds[1]}\nCOMPLETED`);
    // A (1000): two sections, idx stuck below COMPLETED (the node crashed).
    const a = buildSegment({
      id: 1000n,
      sections: [
        [insert(1), insert(2), insert(3)],
        [insert(4), insert(5), insert(6)],
      ],
      zeroTail: 1024,
    });
    put(1000n, a.bytes, `${a.sectionEnds[1]}`);
    // B (1001): crash-replayed idx: file length + COMPLETED, pointing into the zero padding.
    const b = buildSegment({ id: 1001n, sections: [[insert(7), insert(8)]], zeroTail: 4096 });
    put(1001n, b.bytes, `${b.bytes.length}\nCOMPLETED`);
    // C (1002): pre-allocated, never written: header and zeros, no idx.
    put(1002n, buildSegment({ id: 1002n, sections: [], zeroTail: 4096 }).bytes);

    await withConnector(config, client, log, async (connector) => {
      const records = await collect(
        config,
        [config.topics.tweetsCdc],
        (r) => r.length >= 9,
        60_000,
      );
      const seen = records.map(
        (r) => (JSON.parse(r.value) as { key: { tweet_id: string } }).key.tweet_id,
      );
      expect([...seen].sort()).toEqual([...ids].sort()); // each once
      for (const p of new Set(records.map((r) => r.partition))) {
        const inPartition = records
          .filter((r) => r.partition === p)
          .map((r) => (JSON.parse(r.value) as { key: { tweet_id: string } }).key.tweet_id);
        expect(inPartition, `partition ${p} keeps segment order`).toEqual(
          ids.filter((id) => inPartition.includes(id)),
        );
      }
      const dead = await collect(config, [config.topics.deadLetter], (r) => r.length >= 1, 30_000);
      const letter = JSON.parse(dead[0]!.value) as { reason: { code: string; message: string } };
      expect(letter.reason.code).toBe('corrupt');
      const kept = join(errorDir, 'CommitLog-7-999.log');
      expect(letter.reason.message).toContain(kept);
      // D and B are COMPLETED and fully committed: deleted. A is retired once B proves it is over.
      await eventually(
        20_000,
        () => !existsSync(join(rawDir, 'CommitLog-7-1000.log')),
        'segment 1000 retired',
      );
      await eventually(
        5_000,
        () => readdirSync(rawDir).sort().join() === 'CommitLog-7-1002.log',
        `only the pre-allocated segment left (have ${readdirSync(rawDir).join()})`,
      );
      // The corrupt segment was not deleted: its bytes are in the error directory, as they were.
      await eventually(5_000, () => existsSync(kept), `${kept} kept`);
      expect(readFileSync(kept).equals(d.bytes)).toBe(true);
      expect(existsSync(join(errorDir, 'CommitLog-7-999_cdc.idx'))).toBe(true);
      expect(connector.state).toBe('running');
    }).finally(() => client.shutdown());
  });
});
