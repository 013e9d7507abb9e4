/**
 * Turns librdkafka's security failures into one sentence. librdkafka retries a failed SASL login
 * or TLS handshake forever and only logs it; a request then fails with "Broker transport failure",
 * which says nothing of the cause. The client's log lines are watched for the cause instead.
 */
import type { Config } from '../../config/index.ts';

interface Problem {
  readonly code: string;
  readonly sentence: string;
}

/** Remembers the last security failure a client logged. */
export class SecurityWatch {
  #last: Problem | undefined;

  /** Feeds one librdkafka log line. */
  note(message: string): void {
    if (/SASL authentication (error|failed)|Authentication failed/i.test(message)) {
      this.#last = {
        code: 'KAFKA_AUTH_FAILED',
        sentence: 'the broker refused the login: wrong kafka.saslUsername or kafka.saslPassword',
      };
    } else if (/certificate verify failed|SSL handshake failed/i.test(message)) {
      this.#last = {
        code: 'KAFKA_TLS_FAILED',
        sentence:
          'the TLS handshake failed: the broker certificate is not signed by a CA in kafka.sslCaLocation, or does not name the host (kafka.sslVerifyHostname)',
      };
    }
  }

  /** The cause of a failed connection, when one was logged, or a hint about the protocol. */
  explain(config: Config): Problem | undefined {
    if (this.#last) return this.#last;
    if (config.kafka.securityProtocol === 'plaintext')
      return {
        code: 'KAFKA_UNREACHABLE',
        sentence:
          'kafka.securityProtocol is plaintext: if the listener wants TLS or SASL, set it to ssl or sasl_ssl',
      };
    return undefined;
  }
}

const watches = new WeakMap<object, SecurityWatch>();

/** The watch of a client made by createKafka. */
export function securityWatchOf(client: object): SecurityWatch | undefined {
  return watches.get(client);
}

/** Ties `watch` to `client`. */
export function attachSecurityWatch(client: object, watch: SecurityWatch): void {
  watches.set(client, watch);
}
