/** `fanout status`: a group's lag, read from Kafka (admin faked: pure logic). */
import { describe, expect, it } from 'vitest';
import { lagOf, status } from '../../cli/commands/status.ts';
import type { Context } from '../../cli/context.ts';
import { loadConfig } from '../../config/index.ts';
import { FanoutError } from '../../lib/errors.ts';

const offsets = async () => [
  { partition: 0, low: '0', high: '1000' },
  { partition: 1, low: '0', high: '10' },
];

describe('status lag', () => {
  it('is the committed offsets against the ends; none committed yet: from the low watermark', async () => {
    const admin = {
      fetchTopicOffsets: offsets,
      fetchOffsets: async () => [{ topic: 't', partitions: [{ partition: 0, offset: '998' }] }],
    };
    expect(await lagOf(admin, 'g', 't', new Set(['t']))).toEqual([
      { partition: 0, committed: 998, end: 1000, lag: 2 },
      { partition: 1, committed: 0, end: 10, lag: 10 },
    ]);
    expect(await lagOf(admin, 'g', 'absent', new Set(['t']))).toEqual([]);
  });

  it("fails when the group's offsets cannot be read, rather than show it a whole topic behind", async () => {
    const admin = {
      fetchTopicOffsets: offsets,
      fetchOffsets: () =>
        Promise.reject(
          new FanoutError(
            'KAFKA_RETRIABLE',
            'fetch the offsets of group g: Coordinator load in progress',
            {
              retriable: true,
            },
          ),
        ),
    };
    await expect(lagOf(admin, 'g', 't', new Set(['t']))).rejects.toThrow(/Coordinator load/);
  });
});

describe('status --watch', () => {
  const config = loadConfig({ env: {}, sets: [] });
  const failing = (err: Error) =>
    ({
      config,
      admin: () => Promise.resolve({ listTopics: () => Promise.reject(err) }),
    }) as unknown as Context;

  it('says a read Kafka may answer next time failed, and goes on until stopped', async () => {
    const stop = new AbortController();
    const screens: string[] = [];
    const watching = status(
      failing(
        new FanoutError('KAFKA_RETRIABLE', 'list topics: Local: Timed out', { retriable: true }),
      ),
      false,
      {
        watch: true,
        intervalMs: 1,
        signal: stop.signal,
        write: (s) => {
          screens.push(s);
          if (screens.length === 3) stop.abort();
        },
      },
    );
    await watching;
    expect(screens).toHaveLength(3);
    expect(screens[0]).toMatch(
      /status unavailable, trying again in 1 ms: list topics: Local: Timed out/,
    );
  });

  it('ends on a failure retrying cannot help', async () => {
    const err = new FanoutError('KAFKA_AUTH_FAILED', 'the broker refused the login', {
      retriable: false,
    });
    await expect(
      status(failing(err), false, { watch: true, intervalMs: 1, write: () => undefined }),
    ).rejects.toThrow(/refused the login/);
  });
});
