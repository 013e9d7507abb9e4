import { servicesUp } from '../../services/launcher.ts';
import type { SeedOptions } from '../seed-graph.ts';
import type { Context } from '../context.ts';
import { schemaApply } from './schema.ts';
import { seed } from './seed.ts';
import { timeline, tweet } from './tweet.ts';

/**
 * README command 1: starts what it needs and walks the product's path once. Services are
 * started only when the config points at the local ones (the default).
 */
export async function demo(ctx: Context, options: SeedOptions): Promise<void> {
  const local = ctx.config.kafka.brokers.every((b) => b.startsWith('127.0.0.1:') || b.startsWith('localhost:'));
  if (local) await servicesUp(undefined, { log: (l) => process.stderr.write(`[services] ${l}\n`) });
  await schemaApply(ctx);
  await seed(ctx, options, 16);
  process.stdout.write(`tweet by @${options.author}: `);
  await tweet(ctx, String(options.author), ['hello from the fan-out demo']);
  const sample = options.firstFollower;
  console.log(`timeline of follower ${sample}:`);
  await timeline(ctx, String(sample), 5);
}
