/** The topic descriptors the record formats (records/) take, from a test's config. */
import type { Config } from '../../config/index.ts';
import type { CheckpointTopic } from '../../records/checkpoint.ts';
import type { WorkTopic } from '../../records/task.ts';

export const checkpointTopic = (config: Config): CheckpointTopic => ({
  name: config.topics.checkpoints,
  partitions: config.topics.cdcPartitions,
});

export const workTopic = (config: Config): WorkTopic => ({
  name: config.topics.tasks,
  partitions: config.topics.tasksPartitions,
});
