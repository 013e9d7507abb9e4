/**
 * Issue #17, cdc_raw pressure, the whole story on a real node of the test's own (the shared node
 * is never reconfigured): a 4 MiB cdc_total_space with 1 MiB segments; the connector stopped;
 * writes to `tweets` pile up in cdc_raw until Cassandra rejects them (the error the application
 * sees is printed, and quoted in docs/operations.md); the connector, started again, reads the
 * node's real cdc_total_space (not a hand-set number) and warns that cdc_raw is full, consumes and
 * frees the space; writes are accepted again; every accepted write is delivered exactly once.
 */
import { mkdtempSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import cassandra from 'cassandra-driver';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { connectCassandra, type CassandraClient } from '../../../connectors/cassandra/client.ts';
import { applySchema } from '../../../connectors/cassandra/schema.ts';
import { loadConfig } from '../../../config/index.ts';
import { createLogger } from '../../../lib/log.ts';
import { withConnector } from '../../support/cdc.ts';
import { testSettings } from '../../support/config.ts';
import { collect } from '../../support/kafka.ts';
import type { ScratchCassandra } from '../../../services/scratch-cassandra.ts';

/** Far from the shared services' ports and from the other helpers' offsets. */
const PORT_OFFSET = 3_117;

describe('a full cdc_raw (a Cassandra node of its own: 4 MiB cdc_total_space)', () => {
  let node: ScratchCassandra | undefined;
  let client: CassandraClient | undefined;
  afterAll(async () => {
    await client?.shutdown().catch(() => undefined);
    await node?.stop();
  }, 120_000);

  it.runIf(inject('services').source === 'local')(
    'connector stopped: writes rejected; started: space freed, writes accepted, every accepted write delivered once',
    async () => {
      const { startScratchCassandra } = await import('../../../services/scratch-cassandra.ts');
      node = await startScratchCassandra({
        home: mkdtempSync(join(tmpdir(), 'fanout-cdc-full-')),
        portOffset: PORT_OFFSET,
        heapMiB: 512,
        yaml: { cdc_total_space: '4MiB', commitlog_segment_size: '1MiB' },
        log: (l) => process.stderr.write(`[scratch cassandra] ${l}\n`),
      });
      const config = loadConfig({
        env: {},
        sets: testSettings([
          `cassandra.contactPoints=${node.contactPoint}`,
          `cdc.rawDir=${node.cdcRawDir}`,
          'cdc.startFrom=earliest',
        ]),
      });
      client = await connectCassandra(config);
      await applySchema(client, config);
      const insert = `INSERT INTO ${config.cassandra.keyspace}.tweets (tweet_id, author_id, body) VALUES (?, ?, ?)`;
      const accepted: string[] = [];
      const body = 'x'.repeat(2_000);
      const write = async (): Promise<unknown> => {
        const id = cassandra.types.TimeUuid.now().toString();
        try {
          await client!.execute(insert, [id, 1n, body], { prepare: true });
          accepted.push(id);
          return undefined;
        } catch (err) {
          return err;
        }
      };
      const lines: string[] = [];
      const log = createLogger('info', 'fanout', (l) => lines.push(l));

      // The connector runs once (the topics exist, its offset is committed), then stops.
      await withConnector(config, client, log, async (connector) => {
        expect(connector.space).toEqual({
          totalSpaceBytes: 4 * 2 ** 20,
          blockWrites: true,
          segmentBytes: 2 ** 20,
          source: 'system_views.settings',
        });
      });

      // Stopped: writes fill cdc_raw until Cassandra rejects them.
      let rejection: unknown;
      for (let i = 0; i < 20_000 && rejection === undefined; i++) rejection = await write();
      expect(rejection, 'a write was rejected once cdc_raw was full').toBeDefined();
      const seen = `${(rejection as Error).name}: ${(rejection as Error).message}`;
      process.stdout.write(
        `after ${accepted.length} accepted writes the application sees: ${seen}\n`,
      );
      // Native protocol WRITE_FAILURE (0x1500); the node's log says why (CDCWriteException).
      expect((rejection as { code?: number }).code).toBe(0x1500);
      expect(seen).toMatch(/Server failure during write query/);
      const why = (await readFile(join(node.runDir, 'logs', 'cassandra.log'), 'utf8'))
        .split('\n')
        .find((l) => /CDCWriteException|Rejecting mutation/.test(l));
      process.stdout.write(`the node logs: ${why ?? '(nothing about CDC)'}\n`);
      expect(await write(), 'still rejected while nothing consumes cdc_raw').toBeDefined();

      // Started: it sees the node's cdc_total_space, says cdc_raw is full, consumes and frees it.
      await withConnector(config, client, log, async () => {
        const deadline = Date.now() + 120_000;
        let after: unknown = await write();
        while (after !== undefined) {
          if (Date.now() > deadline)
            throw new Error(`writes still rejected: ${(after as Error).message}`);
          await new Promise((r) => setTimeout(r, 250));
          after = await write();
        }
        for (let i = 0; i < 20; i++) expect(await write()).toBeUndefined();
        const records = await collect(
          config,
          [config.topics.tweetsCdc],
          (r) => r.length >= accepted.length,
          120_000,
        );
        const ids = records.map(
          (r) => (JSON.parse(r.value) as { key: { tweet_id: string } }).key.tweet_id,
        );
        expect(ids.length).toBe(accepted.length);
        expect(new Set(ids)).toEqual(new Set(accepted));
      });
      expect(
        lines.some((l) =>
          /% of what cdc_total_space \(4 MiB, less one 1 MiB segment\) holds: Cassandra rejects writes/.test(
            l,
          ),
        ),
        `the connector warned that cdc_raw was full:\n${lines.slice(-20).join('\n')}`,
      ).toBe(true);
    },
  );
});
