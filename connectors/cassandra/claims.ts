import cassandra from 'cassandra-driver';
import type { CassandraClient } from './client.ts';
import type { ClaimStore } from '../../ports/stores.ts';
import { classifyCassandraError } from '../../lib/errors.ts';

/**
 * ClaimStore over `fanout_claims`: one lightweight transaction (`IF NOT EXISTS`, serial
 * consistency local_serial) per claim, so of the copies of one change event exactly one wins,
 * however many workers try at once. A retried claim whose first try did land finds its own name.
 */
export class CassandraClaimStore implements ClaimStore {
  readonly #client: CassandraClient;
  readonly #ks: string;

  constructor(client: CassandraClient, keyspace: string) {
    this.#client = client;
    this.#ks = keyspace;
  }

  async claim(eventId: string, claimant: string): Promise<string> {
    try {
      const rs = await this.#client.execute(
        `INSERT INTO ${this.#ks}.fanout_claims (event_id, claimed_by) VALUES (?, ?) IF NOT EXISTS`,
        [eventId, claimant],
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
        throw new Error(`claim of ${eventId} not applied and no holder returned`);
      return holder;
    } catch (err) {
      throw classifyCassandraError(err, `claim change event ${eventId}`);
    }
  }
}
