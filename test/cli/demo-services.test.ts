/**
 * The demo starts the local launcher's plain services only for a config they can serve: one that
 * asks for TLS or SASL is some other cluster's (the secure local set's, or one of your own), which
 * the plain probes cannot reach whether it is up or not.
 */
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/index.ts';
import { needsLocalServices } from '../../cli/commands/demo.ts';

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

describe('demo: whether to start the local services', () => {
  it('does not start the plain local services for a config that asks for TLS or SASL', async () => {
    const port = await closedPort();
    const at = [`kafka.brokers=127.0.0.1:${port}`, `cassandra.contactPoints=127.0.0.1:${port}`];
    expect(await needsLocalServices(loadConfig({ env: {}, sets: at }))).toBe(true); // control
    for (const sets of [
      ['kafka.securityProtocol=ssl'],
      ['kafka.securityProtocol=sasl_ssl', 'kafka.saslUsername=u', 'kafka.saslPassword=pw12'],
      ['cassandra.tls=true'],
    ])
      expect(
        await needsLocalServices(loadConfig({ env: {}, sets: [...at, ...sets] })),
        sets[0],
      ).toBe(false);
  });
});
