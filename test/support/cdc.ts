import type { Config } from '../../config/index.ts';
import type { CassandraClient } from '../../connectors/cassandra/client.ts';
import { CdcConnector, type ConnectorDeps } from '../../connectors/cdc/connector.ts';
import { connectAdmin } from '../../connectors/kafka/admin.ts';
import { createKafka } from '../../connectors/kafka/client.ts';
import type { Logger } from '../../lib/log.ts';

/**
 * Runs an in-process CDC connector around `body`: started and ready first, always closed after.
 * `body` gets its run too (it rejects if the connector fails); `hooks`: its onCommit.
 */
export async function withConnector<T>(
  config: Config,
  client: CassandraClient,
  log: Logger,
  body: (connector: CdcConnector, running: Promise<void>) => Promise<T>,
  hooks: Pick<ConnectorDeps, 'onCommit'> = {},
): Promise<T> {
  const kafka = createKafka(config, log);
  const admin = await connectAdmin(kafka, config);
  const connector = new CdcConnector({ config, kafka, admin, cassandra: client, log, ...hooks });
  const running = connector.start();
  try {
    await Promise.race([connector.ready, running]);
    return await body(connector, running);
  } finally {
    await connector.close();
    await running.catch(() => undefined);
    await admin.disconnect();
  }
}
