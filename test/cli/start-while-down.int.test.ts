/**
 * `fanout worker` started while Kafka and Cassandra are unreachable waits for them (as `fanout
 * cdc` does) and serves once they answer: a supervisor restarting a whole host needs no ordering.
 * "Unreachable" is a loopback port nothing listens on yet; "back" is a TCP relay opened on that
 * port to the real services (the clients bootstrap through it, then follow what the services
 * advertise).
 */
import { createServer, connect, type Server } from 'node:net';
import { describe, expect, it, onTestFinished } from 'vitest';
import {
  produceEvents,
  completionOf,
  newTweet,
  SMALL,
  testEnv,
  tweetEvent,
  within,
} from '../pipeline/fixtures.ts';
import { spawnWorker } from '../pipeline/fixtures.ts';
import type { Config } from '../../config/index.ts';

/** A loopback port free right now. */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** Relays every connection to `port` on to `target` (host:port) until closed. */
async function relay(port: number, target: string): Promise<Server> {
  const [host, to] = target.split(':') as [string, string];
  const server = createServer((inbound) => {
    const outbound = connect(Number(to), host);
    inbound.pipe(outbound).pipe(inbound);
    const end = (): void => {
      inbound.destroy();
      outbound.destroy();
    };
    inbound.on('error', end);
    outbound.on('error', end);
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  onTestFinished(() => new Promise<void>((r) => server.close(() => r())));
  return server;
}

describe('fanout worker started before the services', () => {
  it('waits for Kafka and Cassandra, says what it waits on, and fans out once they answer', async () => {
    const { config } = await testEnv([], { celebrity: false });
    const [kafkaPort, cassandraPort] = [await freePort(), await freePort()];
    const down: Config = {
      ...config,
      kafka: { ...config.kafka, brokers: [`127.0.0.1:${kafkaPort}`] },
      cassandra: { ...config.cassandra, contactPoints: [`127.0.0.1:${cassandraPort}`] },
    };
    const worker = spawnWorker(down, 'early');
    await within(
      60_000,
      'the worker to say it waits for both',
      () =>
        /waiting for kafka/.test(worker.stderr()) && /waiting for cassandra/.test(worker.stderr())
          ? true
          : undefined,
      100,
    );
    expect(worker.child.exitCode).toBeNull(); // still there, waiting
    await relay(kafkaPort, config.kafka.brokers[0]!);
    await relay(cassandraPort, config.cassandra.contactPoints[0]!);
    const { tweetId, writeTime } = newTweet();
    await produceEvents(config, [tweetEvent(config, 'insert', tweetId, SMALL, writeTime)], 0);
    const done = await completionOf(config, tweetId, 'insert', 90_000).catch((err: unknown) => {
      throw new Error(`${String(err)}; the worker said:\n${worker.stderr().slice(-3_000)}`);
    });
    expect(done.followersDelivered).toBe(10);
    expect(await worker.stop()).toBe(0);
  });

  it('a stop while it waits ends it at once, exit 0', async () => {
    const { config } = await testEnv([], { celebrity: false });
    const down: Config = {
      ...config,
      kafka: { ...config.kafka, brokers: [`127.0.0.1:${await freePort()}`] },
    };
    const worker = spawnWorker(down, 'early-stop');
    await within(
      60_000,
      'the worker to say it waits for Kafka',
      () => (/waiting for kafka/.test(worker.stderr()) ? true : undefined),
      100,
    );
    expect(await worker.stop(15_000)).toBe(0);
  });
});
