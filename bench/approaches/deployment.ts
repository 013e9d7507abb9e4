/**
 * The pipeline's own topics, consumer groups and transactional ids for benchmark runs (never the
 * product's): `<tag>.…`. bench/fanout.ts gives all its (d) runs one tag, as a deployed pipeline's
 * topics and groups exist before a tweet comes; each run is a fresh process of the same worker
 * (static membership takes its partitions back at once) and its connector resumes from the
 * offsets the last one committed. The topics are removed once, at the end. Tags are
 * `bench-<ms since 1970 in base 36>`, all of one length: no tag is a prefix of another.
 */
import { Context } from '../../cli/context.ts';
import { removeByPrefix } from '../../connectors/kafka/topics.ts';

export function deploymentSettings(tag: string): string[] {
  return [
    `topics.cdcPrefix=${tag}`,
    `topics.cdcOffsets=${tag}.cdc-offsets`,
    `topics.checkpoints=${tag}.checkpoints`,
    `topics.completed=${tag}.completed`,
    `topics.tasks=${tag}.tasks`,
    `topics.deadLetter=${tag}.dead-letter`,
    `pipeline.groupId=${tag}`,
    `kafka.clientId=${tag}`,
    'cdc.startFrom=latest',
    'telemetry.enabled=false',
    'log.level=warn',
  ];
}

/** Deletes a benchmark deployment: its `<tag>.…` topics and its groups `<tag>`, `<tag>.tasks`, `<tag>.graph` (best effort). */
export async function removeDeployment(tag: string): Promise<void> {
  const ctx = new Context({ set: deploymentSettings(tag) });
  try {
    await removeByPrefix(await ctx.admin(), tag).catch(() => undefined);
  } finally {
    await ctx.close();
  }
}
