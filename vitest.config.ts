import { defineConfig } from 'vitest/config';
// Test files run in child processes, which inherit it: tests drive Kafka clients in-process.
import './connectors/kafka/threadpool.ts';

// Projects: `unit` (pure logic, fakes allowed), `integration` (*.int.test.ts: the real Kafka broker
// and Cassandra node that test/setup/global.ts finds or starts; never mocks), then `cdc` and
// `acceptance`, one file at a time after the others, and last `cluster`, against the local
// 3-node cluster that its file starts once everything else is done (test/setup/cluster.ts stops
// it). FANOUT_CLUSTER=0 leaves `cluster` out: no six more JVMs for a quick local run.
/** The cluster tests' project (see above). */
const clusterProject = {
  test: {
    name: 'cluster',
    include: ['test/**/*.cluster.int.test.ts'],
    globalSetup: ['test/setup/cluster.ts'],
    testTimeout: 600_000,
    hookTimeout: 300_000,
    maxWorkers: 1,
    fileParallelism: false,
    sequence: { groupOrder: 4 },
  },
};

export default defineConfig({
  test: {
    // The global teardowns remove each run's topics, groups and keyspaces (test/setup/leftovers.ts):
    // more than the default 10 s when a failed run left big keyspaces behind.
    teardownTimeout: 180_000,
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/**/*.int.test.ts', 'node_modules/**'],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/**/*.int.test.ts'],
          exclude: [
            'test/**/*.cdc.int.test.ts',
            'test/**/*.acceptance.int.test.ts',
            'test/**/*.cluster.int.test.ts',
            'node_modules/**',
          ],
          globalSetup: ['test/setup/global.ts'],
          testTimeout: 120_000,
          hookTimeout: 300_000,
          // Two cores: two test files at a time against the shared services.
          maxWorkers: 2,
          sequence: { groupOrder: 1 },
        },
      },
      {
        // Tests that run a CDC connector: one file at a time, after the others. A connector deletes
        // the segments it has consumed from the node's one cdc_raw, so two at once would race.
        test: {
          name: 'cdc',
          include: ['test/**/*.cdc.int.test.ts'],
          globalSetup: ['test/setup/global.ts'],
          testTimeout: 600_000,
          hookTimeout: 300_000,
          maxWorkers: 1,
          fileParallelism: false,
          sequence: { groupOrder: 2 },
        },
      },
      {
        // Issue #4's acceptance tests at 500k followers: they load the shared services fully and
        // one of them freezes the local Cassandra for 10 s, so they run alone, last.
        test: {
          name: 'acceptance',
          include: ['test/**/*.acceptance.int.test.ts'],
          globalSetup: ['test/setup/global.ts'],
          testTimeout: 600_000,
          hookTimeout: 300_000,
          maxWorkers: 1,
          fileParallelism: false,
          sequence: { groupOrder: 3 },
        },
      },
      ...(process.env.FANOUT_CLUSTER === '0' ? [] : [clusterProject]),
    ],
  },
});
