/**
 * What every command gets: the compiled config (from --config, env and --set), a logger, and
 * lazily connected clients that are closed once, whatever happens, when the command ends.
 */
import { configWarnings, loadConfig, type Config } from '../config/index.ts';
import { connectCassandra, type CassandraClient } from '../connectors/cassandra/client.ts';
import {
  connectAdmin,
  createKafka,
  type KafkaAdmin,
  type KafkaClient,
} from '../connectors/kafka/client.ts';
import { createLogger, type Logger } from '../lib/log.ts';

export interface GlobalFlags {
  config?: string | undefined;
  set?: string[] | undefined;
}

export class Context {
  readonly config: Config;
  readonly log: Logger;
  readonly #closers: Array<() => Promise<unknown>> = [];
  #cassandra?: Promise<CassandraClient>;
  #kafka?: KafkaClient;
  #admin?: Promise<KafkaAdmin>;

  constructor(flags: GlobalFlags) {
    this.config = loadConfig({
      ...(flags.config ? { file: flags.config } : {}),
      sets: flags.set ?? [],
    });
    this.log = createLogger(this.config.log);
    for (const warning of configWarnings(this.config)) this.log.warn(warning);
  }

  /** The Cassandra client (keyspace not set: statements name it). */
  cassandra(): Promise<CassandraClient> {
    if (!this.#cassandra) {
      this.#cassandra = connectCassandra(this.config);
      const pending = this.#cassandra;
      this.#closers.push(() =>
        pending.then(
          (c) => c.shutdown(),
          () => undefined,
        ),
      );
    }
    return this.#cassandra;
  }

  kafka(): KafkaClient {
    this.#kafka ??= createKafka(this.config, this.log);
    return this.#kafka;
  }

  admin(): Promise<KafkaAdmin> {
    if (!this.#admin) {
      this.#admin = connectAdmin(this.kafka(), this.config);
      const pending = this.#admin;
      this.#closers.push(() =>
        pending.then(
          (a) => a.disconnect(),
          () => undefined,
        ),
      );
    }
    return this.#admin;
  }

  /** Closes every client opened; runs every step even when one fails. */
  async close(): Promise<void> {
    await Promise.allSettled(this.#closers.splice(0).map((c) => c()));
  }
}
