import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/index.ts';
import { dedupesCopies } from '../../pipeline/connect.ts';

const configWith = (...sets: string[]) => loadConfig({ env: {}, sets });

describe('pipeline.dedupeCopies', () => {
  it('auto: on exactly when the keyspace keeps more than one replica in all (then every replica sends a copy)', () => {
    expect(dedupesCopies(configWith('cassandra.replication=SimpleStrategy:1'))).toBe(false);
    expect(dedupesCopies(configWith('cassandra.replication=SimpleStrategy:3'))).toBe(true);
    expect(dedupesCopies(configWith('cassandra.replication=NetworkTopologyStrategy:dc1=1'))).toBe(
      false,
    );
    // One replica in each of two data centres: two connectors send a copy of each write.
    expect(
      dedupesCopies(configWith('cassandra.replication=NetworkTopologyStrategy:dc1=1,dc2=1')),
    ).toBe(true);
    expect(
      dedupesCopies(configWith('cassandra.replication=NetworkTopologyStrategy:dc1=1,dc2=3')),
    ).toBe(true);
  });

  it('on and off override the replication; anything else is refused with the allowed values', () => {
    expect(
      dedupesCopies(
        configWith('cassandra.replication=SimpleStrategy:1', 'pipeline.dedupeCopies=on'),
      ),
    ).toBe(true);
    expect(
      dedupesCopies(
        configWith('cassandra.replication=SimpleStrategy:3', 'pipeline.dedupeCopies=off'),
      ),
    ).toBe(false);
    expect(() => configWith('pipeline.dedupeCopies=yes')).toThrow(
      /pipeline\.dedupeCopies.*auto.*on.*off/,
    );
  });
});
