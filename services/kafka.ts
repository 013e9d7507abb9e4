/**
 * The local Kafka: a single combined broker + controller in KRaft mode on 127.0.0.1:9092/9093.
 */
import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ServiceError } from './errors.ts';
import { KAFKA_VERSION } from './paths.ts';
import type { KafkaPaths, ServicePorts } from './paths.ts';
import type { ServiceDriver } from './driver.ts';
import { exists, run } from './process.ts';
import { kafkaMetadata } from './probes.ts';
import { jvmOptions, renderTemplate } from './templates.ts';
import type { Java } from './toolchain.ts';

/**
 * A new cluster id as Kafka's `Uuid.randomUuid().toString()` makes it: 16 random bytes in
 * unpadded base64url, never starting with '-' (it would read as a command-line flag).
 */
export function randomClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

export function kafkaDriver(paths: KafkaPaths, ports: ServicePorts): ServiceDriver {
  const { host } = ports;
  const { broker, controller } = ports.kafka;
  const vars = {
    host,
    brokerPort: String(broker),
    controllerPort: String(controller),
    dataDir: paths.dataDir,
    logDir: paths.logDir,
    log4jConfig: paths.log4jConfig,
  };
  const classpath = join(paths.jarDir, '*');

  return {
    name: 'kafka',
    title: 'Kafka',
    version: KAFKA_VERSION,
    paths,
    host,
    clientPort: broker,
    ports: [broker, controller],
    mainClass: 'kafka.Kafka',
    readyLine: 'Kafka Server started',
    defaultStartTimeoutMs: 120_000,

    async prepare(java: Java, log: (line: string) => void): Promise<void> {
      await Promise.all(
        [paths.confDir, paths.dataDir, paths.logDir].map((dir) => mkdir(dir, { recursive: true })),
      );
      await renderTemplate('kafka', 'server.properties', paths.serverProperties, vars);
      await renderTemplate('kafka', 'log4j2.yaml', paths.log4jConfig, vars);
      if (await exists(join(paths.dataDir, 'meta.properties'))) return;
      // First start: KRaft refuses to run on an unformatted log dir. Static voters
      // (controller.quorum.voters) mean no --standalone is needed.
      const clusterId = randomClusterId();
      const result = await run(java.command, [
        `-Dlog4j2.configurationFile=${paths.log4jConfig}`,
        '-cp',
        classpath,
        'kafka.tools.StorageTool',
        'format',
        '--ignore-formatted',
        '-t',
        clusterId,
        '-c',
        paths.serverProperties,
      ]);
      if (result.code !== 0) {
        throw new ServiceError(
          'FORMAT_FAILED',
          `Kafka storage format failed (exit ${result.code}):\n${result.output.trim().split('\n').slice(-10).join('\n')}`,
        );
      }
      log(`kafka: formatted KRaft storage in ${paths.dataDir} (cluster id ${clusterId})`);
    },

    async javaArgs(): Promise<string[]> {
      const options = await jvmOptions('kafka', 'jvm.options', vars);
      return [...options, '-cp', classpath, 'kafka.Kafka', paths.serverProperties];
    },

    async probe(): Promise<void> {
      const metadata = await kafkaMetadata(host, broker);
      if (metadata.brokers < 1) throw new Error('Kafka answered Metadata with no broker yet');
    },
  };
}
