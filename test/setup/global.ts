/**
 * Finds the real services the integration tests run against, in this order:
 *  1. explicit env: KAFKA_BROKERS and CASSANDRA_CONTACT_POINTS (+ FANOUT_CDC_RAW_DIR),
 *  2. testcontainers, when a Docker engine answers (a laptop),
 *  3. the project's own launcher (Maven jars on loopback), started if not running.
 * Tests read the result with inject('services').
 */
import { existsSync } from 'node:fs';
import type { TestProject } from 'vitest/node';
import { localCdcRawDir } from '../../config/index.ts';

export interface Services {
  kafkaBrokers: string;
  cassandraContactPoints: string;
  cdcRawDir: string;
  source: 'env' | 'testcontainers' | 'local';
}

declare module 'vitest' {
  export interface ProvidedContext {
    services: Services;
  }
}

function dockerAnswers(): boolean {
  const host = process.env.DOCKER_HOST;
  return (host !== undefined && host !== '') || existsSync('/var/run/docker.sock');
}

export default async function setup(project: TestProject): Promise<(() => Promise<void>) | undefined> {
  const env = process.env;
  if (env.KAFKA_BROKERS && env.CASSANDRA_CONTACT_POINTS) {
    project.provide('services', {
      kafkaBrokers: env.KAFKA_BROKERS,
      cassandraContactPoints: env.CASSANDRA_CONTACT_POINTS,
      cdcRawDir: env.FANOUT_CDC_RAW_DIR ?? localCdcRawDir(),
      source: 'env',
    });
    return undefined;
  }
  if (dockerAnswers() && env.FANOUT_TEST_NO_DOCKER !== '1') {
    const { startContainers } = await import('./containers.ts');
    const started = await startContainers().catch((err: unknown) => {
      process.stderr.write(`testcontainers unavailable (${(err as Error).message.split('\n')[0]}); using the local launcher\n`);
      return undefined;
    });
    if (started) {
      project.provide('services', { ...started.services, source: 'testcontainers' });
      return started.stop;
    }
  }
  const { servicesUp, servicePorts } = await import('../../services/launcher.ts');
  await servicesUp(undefined, { log: (l) => process.stderr.write(`[services] ${l}\n`) });
  const ports = servicePorts(); // honours FANOUT_PORT_OFFSET, like the launcher
  project.provide('services', {
    kafkaBrokers: `${ports.host}:${ports.kafka.broker}`,
    cassandraContactPoints: `${ports.host}:${ports.cassandra.native}`,
    cdcRawDir: localCdcRawDir(),
    source: 'local',
  });
  // The launcher's services outlive the test run on purpose (CI stops them; a developer reuses them).
  return undefined;
}
