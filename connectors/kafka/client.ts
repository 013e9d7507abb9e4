/**
 * The KafkaJS-style client of @confluentinc/kafka-javascript. No producer, consumer or admin of
 * the product uses it any more (they are librdkafka's own: ./transactions.ts, ./source.ts,
 * ./read-to-end.ts, ./admin.ts); test helpers still write and read fixtures through it.
 * The admin, topic and property helpers are re-exported here for importers not switched yet.
 */
import kafkaJs from '@confluentinc/kafka-javascript';
import type { Config } from '../../config/index.ts';
import type { Logger } from '../../lib/log.ts';
import { baseProps } from './props.ts';

export { connectAdmin, KafkaAdmin, type TopicSpec } from './admin.ts';
export { ensureTopics, productTopics, removeByPrefix } from './topics.ts';
export { baseProps, transactionalProps } from './props.ts';

const { Kafka, logLevel } = kafkaJs.KafkaJS;
export type KafkaClient = InstanceType<typeof Kafka>;

/**
 * A KafkaJS-style client factory, configured with librdkafka property names. librdkafka's own
 * log lines go to our logger, not the console.
 */
export function createKafka(config: Config, log: Logger): KafkaClient {
  const kafkaLog = log.child('kafka');
  return new Kafka({
    ...baseProps(config),
    kafkaJS: {
      logLevel: logLevel.WARN,
      logger: {
        info: (m: string, x?: object) => kafkaLog.debug(m, x),
        debug: (m: string, x?: object) => kafkaLog.debug(m, x),
        // Connection refusals repeat every second while a broker is down: the caller reports those.
        warn: (m: string, x?: object) => kafkaLog.debug(m, x),
        error: (m: string, x?: object) => kafkaLog.debug(m, x),
        namespace() {
          return this;
        },
        setLogLevel() {},
      },
    },
  } as never);
}
