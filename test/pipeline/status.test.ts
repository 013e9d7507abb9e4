import { describe, expect, it } from 'vitest';
import { deliveredSoFar, type TweetProgress, type WorkerStatus } from '../../pipeline/status.ts';

const T = '00000000-0000-1000-8000-000000000001';
const job = (tweetId: string, delivered: number, index: number | null): TweetProgress => ({
  tweetId,
  authorId: '1',
  op: 'insert',
  partition: 0,
  offset: '0',
  delivered,
  cursor: null,
  total: null,
  remaining: null,
  startedAt: new Date(0).toISOString(),
  resumed: false,
  stopped: false,
  splitInto: null,
  retracting: false,
  task: index === null ? null : { splitId: 's', index, count: 10, after: null, upTo: null },
});
const status = (inFlight: TweetProgress[], splits: WorkerStatus['splits'] = []): WorkerStatus => ({
  workerId: 'w',
  state: 'running',
  partitions: [0],
  paused: false,
  inFlight,
  uncommitted: 0,
  rowsOutstanding: 0,
  consumerLag: 0,
  taskPartitions: [0],
  restoring: { partitions: [], taskPartitions: [] },
  splits,
  totals: {
    rowsWritten: 0,
    batchesWritten: 0,
    retries: 0,
    deadLetters: 0,
    tweetsCompleted: 0,
    transactions: 0,
  },
});

describe('deliveredSoFar', () => {
  it('a whole tweet: its own count; a tweet out of sight: undefined', () => {
    expect(deliveredSoFar(status([job(T, 1_234, null), job('other', 9, null)]), T)).toBe(1_234);
    expect(deliveredSoFar(status([job('other', 9, null)]), T)).toBeUndefined();
  });

  it('a split tweet: the tasks counted done plus every one of its tasks in flight', () => {
    const s = status(
      [job(T, 0, null), job(T, 20_000, 3), job(T, 35_000, 4), job('other', 9, 0)],
      [{ tweetId: T, splitId: 's', tasks: 10, tasksDone: 3, delivered: 150_000 }],
    );
    expect(deliveredSoFar(s, T)).toBe(205_000);
    // Every task done, the tally not yet emitted: still in sight, at its full count.
    expect(
      deliveredSoFar(
        status([], [{ tweetId: T, splitId: 's', tasks: 10, tasksDone: 10, delivered: 500_000 }]),
        T,
      ),
    ).toBe(500_000);
  });
});
