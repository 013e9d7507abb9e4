/** `fanout status`: a group's lag, read from Kafka (admin faked: pure logic). */
import { describe, expect, it } from 'vitest';
import { lagOf } from '../../cli/commands/status.ts';
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
