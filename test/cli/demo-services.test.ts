/**
 * The demo starts the local launcher's plain services only for a config they can serve: one that
 * asks for TLS or SASL is some other cluster's (the secure local set's, or one of your own), which
 * the plain probes cannot reach whether it is up or not.
 */
import { createServer } from 'node:net';
import { describe, expect, it, onTestFinished, vi } from 'vitest';
import { loadConfig } from '../../config/index.ts';
import { needsLocalServices } from '../../cli/commands/demo.ts';

/** Whether nothing listens on this loopback port (it can be bound). */
async function free(port: number): Promise<boolean> {
  const server = createServer();
  const bound = await new Promise<boolean>((r) => {
    server.once('error', () => r(false));
    server.listen(port, '127.0.0.1', () => r(true));
  });
  if (bound) await new Promise<void>((r) => server.close(() => r()));
  return bound;
}

describe('demo: whether to start the local services', () => {
  it('does not start the plain local services for a config that asks for TLS or SASL', async () => {
    // The launcher's own ports (a set shifted by FANOUT_PORT_OFFSET) with nothing on them.
    let offset = 37_000;
    while (!((await free(9092 + offset)) && (await free(9042 + offset)))) offset += 100;
    vi.stubEnv('FANOUT_PORT_OFFSET', String(offset));
    onTestFinished(() => {
      vi.unstubAllEnvs();
    });
    const at = [
      `kafka.brokers=127.0.0.1:${9092 + offset}`,
      `cassandra.contactPoints=127.0.0.1:${9042 + offset}`,
    ];
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
