import { applySchema } from '../../connectors/cassandra/schema.ts';
import { ensureTopics } from '../../connectors/kafka/topics.ts';
import type { Context } from '../context.ts';

/** `fanout schema apply`: the Cassandra data contract and the Kafka topics, idempotently. */
export async function schemaApply(ctx: Context): Promise<void> {
  const [client, admin] = await Promise.all([ctx.cassandra(), ctx.admin()]);
  await applySchema(client, ctx.config);
  const created = await ensureTopics(admin, ctx.config);
  console.log(
    `schema applied: keyspace ${ctx.config.cassandra.keyspace} (tweets with cdc, followers, timelines); ` +
      `topics ${created.length === 0 ? 'already present' : `created: ${created.join(', ')}`}`,
  );
}
