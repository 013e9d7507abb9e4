/**
 * A connector asks ITS node (its first contact point) for host_id and CDC settings: with several
 * nodes known, the driver's load balancing would answer from any of them.
 */
import { describe, expect, it } from 'vitest';
import { ownNode } from '../../../connectors/cdc/node.ts';

const hostsOf = (...keys: string[]): never => {
  const map = new Map(keys.map((k) => [k, { address: k }]));
  return {
    hosts: { length: map.size, keys: () => [...map.keys()], get: (k: string) => map.get(k) },
  } as never;
};

describe("the connector's own node", () => {
  it('is the host of the first contact point, the default port 9042 when none is given', async () => {
    const client = hostsOf('127.0.0.2:9042', '127.0.0.3:9042', '127.0.0.4:9042');
    expect((await ownNode(client, '127.0.0.3:9042')).host).toEqual({ address: '127.0.0.3:9042' });
    expect((await ownNode(client, '127.0.0.4')).host).toEqual({ address: '127.0.0.4:9042' });
  });

  it('needs no routing when the driver knows one node', async () => {
    expect(await ownNode(hostsOf('127.0.0.1:9042'), '127.0.0.1:9042')).toEqual({});
  });

  it('refuses a first contact point that is none of the nodes, naming them', async () => {
    const client = hostsOf('127.0.0.2:9042', '127.0.0.3:9042');
    await expect(ownNode(client, '127.0.0.9:9042')).rejects.toThrow(
      /first contact point 127\.0\.0\.9:9042, is none of the nodes the driver knows \(127\.0\.0\.2:9042, 127\.0\.0\.3:9042\)/,
    );
  });
});
