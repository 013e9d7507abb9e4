/**
 * The pipeline's own topics, consumer groups and transactional ids for benchmark runs (never the
 * product's): `<tag>.…`. bench/fanout.ts gives all its (d) runs one tag, as a deployed pipeline's
 * topics and groups exist before a tweet comes; each run is a fresh process of the same worker
 * (static membership takes its partitions back at once) and its connector resumes from the
 * offsets the last one committed. The topics are removed once, at the end.
 */
import { Context } from '../../cli/context.ts';

export function deploymentSettings(tag: string): string[] {
  return [
    `topics.cdcPrefix=${tag}`, `topics.cdcOffsets=${tag}.cdc-offsets`, `topics.checkpoints=${tag}.checkpoints`,
    `topics.completed=${tag}.completed`, `topics.tasks=${tag}.tasks`, `topics.deadLetter=${tag}.dead-letter`,
    `pipeline.groupId=${tag}`, `kafka.clientId=${tag}`, 'cdc.startFrom=latest', 'telemetry.enabled=false', 'log.level=warn',
  ];
}

/** Deletes a benchmark deployment: its `<tag>.…` topics and its groups (best effort). */
export async function removeDeployment(tag: string): Promise<void> {
  const ctx = new Context({ set: deploymentSettings(tag) });
  try {
    const admin = await ctx.admin();
    const topics = (await admin.listTopics().catch(() => [])).filter((t) => t.startsWith(`${tag}.`));
    if (topics.length > 0) await admin.deleteTopics({ topics }).catch(() => undefined);
    const groups = [ctx.config.pipeline.groupId, `${ctx.config.pipeline.groupId}.tasks`];
    await admin.deleteGroups(groups).catch(() => undefined);
  } finally {
    await ctx.close();
  }
}
