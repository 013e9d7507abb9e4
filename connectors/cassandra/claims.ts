import cassandra from 'cassandra-driver';
import type { CassandraClient } from './client.ts';
import type { ClaimStore } from '../../ports/stores.ts';
import { classifyCassandraError } from '../../lib/errors.ts';

/**
 * ClaimStore over `fanout_claims`: one lightweight transaction (`IF NOT EXISTS`, serial
 * consistency local_serial) per claim, so of the copies of one change exactly one wins, however
 * many workers try at once. A retried claim whose first try did land finds its own name. The
 * column `event_id` holds the change key (it held the copies' eventId before that was found to
 * differ between a write and a replica's re-logging of it).
 */
export class CassandraClaimStore implements ClaimStore {
  readonly #client: CassandraClient;
  readonly #ks: string;

  constructor(client: CassandraClient, keyspace: string) {
    this.#client = client;
    this.#ks = keyspace;
  }

  async claim(key: string, claimant: string): Promise<string> {
    try {
      const rs = await this.#client.execute(
        `INSERT INTO ${this.#ks}.fanout_claims (event_id, claimed_by) VALUES (?, ?) IF NOT EXISTS`,
        [key, claimant],
        {
          prepare: true,
          consistency: cassandra.types.consistencies.localQuorum,
          serialConsistency: cassandra.types.consistencies.localSerial,
        },
      );
      const row = rs.first();
      if (row?.get('[applied]') === true) return claimant;
      const holder = row?.get('claimed_by') as string | null | undefined;
      if (typeof holder !== 'string')
        throw new Error(`claim of ${key} not applied and no holder returned`);
      return holder;
    } catch (err) {
      throw classifyCassandraError(err, `claim change ${key}`);
    }
  }
}
