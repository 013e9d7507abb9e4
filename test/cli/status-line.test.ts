import { describe, expect, it } from 'vitest';
import { statusLine } from '../../cli/commands/worker.ts';
import type { WorkerStatus } from '../../pipeline/worker.ts';

const base: WorkerStatus = {
  workerId: 'w1',
  state: 'running',
  partitions: [0, 3],
  paused: false,
  inFlight: [],
  uncommitted: 0,
  rowsOutstanding: 0,
  consumerLag: 2,
  taskPartitions: [],
  restoring: { partitions: [], taskPartitions: [] },
  splits: [],
  totals: {
    rowsWritten: 1_000,
    batchesWritten: 20,
    retries: 0,
    deadLetters: 0,
    tweetsCompleted: 4,
    transactions: 5,
  },
};

describe("the worker's status line", () => {
  it("shows the graph lane's partitions, follows in flight, uncommitted and lag when it has one", () => {
    const line = statusLine({
      ...base,
      graph: { partitions: [1, 5], inFlight: 3, uncommitted: 7, consumerLag: 12 },
    });
    expect(line).toBe(
      'worker w1 running: partitions [0,3], 0 tweets in flight, 1000 rows written, 4 tweets completed, lag 2; ' +
        'graph lane: partitions [1,5], 3 follows/unfollows in flight, 7 uncommitted, lag 12',
    );
    expect(
      statusLine({
        ...base,
        graph: { partitions: [], inFlight: 0, uncommitted: 0, consumerLag: undefined },
      }),
    ).toMatch(
      /; graph lane: partitions \[\], 0 follows\/unfollows in flight, 0 uncommitted, lag \?$/,
    );
  });

  it('has no graph part without a graph lane', () => {
    expect(statusLine(base)).toBe(
      'worker w1 running: partitions [0,3], 0 tweets in flight, 1000 rows written, 4 tweets completed, lag 2',
    );
  });
});
