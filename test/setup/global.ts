/**
 * Finds the real services the integration tests run against, in this order:
 *  1. explicit env: KAFKA_BROKERS and CASSANDRA_CONTACT_POINTS (+ FANOUT_CDC_RAW_DIR),
 *  2. testcontainers, when a Docker engine answers (a laptop),
 *  3. the project's own launcher (Maven jars on loopback), started if not running.
 * Tests read the result with inject('services').
 */
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import type { TestProject } from 'vitest/node';
import { localCdcRawDir } from '../../config/index.ts';
import { removeRunLeftovers } from './leftovers.ts';

export interface Services {
  kafkaBrokers: string;
  cassandraContactPoints: string;
  cdcRawDir: string;
  source: 'env' | 'testcontainers' | 'local';
}

declare module 'vitest' {
  export interface ProvidedContext {
    services: Services;
    /** Starts the names of this run's topics and keyspaces, which its teardown removes. */
    runTag: string;
  }
}

function dockerAnswers(): boolean {
  const host = process.env.DOCKER_HOST;
  return (host !== undefined && host !== '') || existsSync('/var/run/docker.sock');
}

export default async function setup(
  project: TestProject,
): Promise<(() => Promise<void>) | undefined> {
  const env = process.env;
  const runTag = randomUUID().slice(0, 6);
  project.provide('runTag', runTag);
  // Services that outlive the run (given, or the local launcher's) get this run's topics and
  // keyspaces removed at its end; containers go away with theirs.
  const cleanUp = (services: Services) => async (): Promise<void> => {
    process.stderr.write(`[${project.name}] ${await removeRunLeftovers(services, runTag)}\n`);
  };
  if (env.KAFKA_BROKERS && env.CASSANDRA_CONTACT_POINTS) {
    const services: Services = {
      kafkaBrokers: env.KAFKA_BROKERS,
      cassandraContactPoints: env.CASSANDRA_CONTACT_POINTS,
      cdcRawDir: env.FANOUT_CDC_RAW_DIR ?? localCdcRawDir(),
      source: 'env',
    };
    project.provide('services', services);
    return cleanUp(services);
  }
  if (dockerAnswers() && env.FANOUT_TEST_NO_DOCKER !== '1') {
    const { startContainers } = await import('./containers.ts');
    const started = await startContainers().catch((err: unknown) => {
      process.stderr.write(
        `testcontainers unavailable (${(err as Error).message.split('\n')[0]}); using the local launcher\n`,
      );
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
  const services: Services = {
    kafkaBrokers: `${ports.host}:${ports.kafka.broker}`,
    cassandraContactPoints: `${ports.host}:${ports.cassandra.native}`,
    cdcRawDir: localCdcRawDir(),
    source: 'local',
  };
  project.provide('services', services);
  // The launcher's services outlive the test run on purpose (CI stops them; a developer reuses them).
  return cleanUp(services);
}
