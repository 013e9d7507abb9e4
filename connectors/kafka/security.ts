/**
 * Turns librdkafka's security failures into one sentence naming the setting to fix. librdkafka
 * retries a refused SASL login or TLS handshake forever and only logs it; the call that gives up
 * fails with "Broker transport failure", and the client's error events carry no code (the binding
 * passes err2str's text only). Its log lines do say why, at the default log level and from every
 * client (admin, producer, consumer) as soon as it exists: each raw client of the product is
 * created with a {@link SecurityWatch}, which reads them, and its connect or initialisation errors
 * go through the watch.
 */
import type { Config } from '../../config/index.ts';
import { FanoutError } from '../../lib/errors.ts';
import type { Logger } from '../../lib/log.ts';
import { classifyKafkaError, type ClassifyOptions } from './errors.ts';

/** A security failure a client logged: never retriable, the sentence names the setting. */
export interface Refusal {
  readonly code: 'KAFKA_AUTH_FAILED' | 'KAFKA_TLS_FAILED';
  readonly sentence: string;
}

/** A librdkafka log event ('event.log'). */
export interface LogEvent {
  readonly message: string;
  readonly fac?: string;
  readonly severity?: number;
}

/**
 * librdkafka's log lines of each refusal, first match wins: a TLS client on a plaintext listener
 * also logs "SSL handshake failed", so the specific lines come before the untrusted certificate.
 */
const REFUSALS: ReadonlyArray<readonly [RegExp, Refusal]> = [
  [
    /SASL authentication (error|failed)|Authentication failed/i,
    {
      code: 'KAFKA_AUTH_FAILED',
      sentence: 'the broker refused the login: wrong kafka.saslUsername or kafka.saslPassword',
    },
  ],
  [
    /connecting to a PLAINTEXT broker listener|wrong version number/i,
    {
      code: 'KAFKA_TLS_FAILED',
      sentence:
        'the listener does not speak TLS: set kafka.securityProtocol to plaintext or sasl_plaintext, or kafka.brokers to its TLS port',
    },
  ],
  [
    /alert (bad certificate|certificate required|unknown ca|certificate unknown)/i,
    {
      code: 'KAFKA_TLS_FAILED',
      sentence:
        'the broker refused the client certificate: kafka.sslCertificateLocation and kafka.sslKeyLocation must name a certificate signed by a CA the broker trusts',
    },
  ],
  [
    /certificate verify failed|SSL handshake failed/i,
    {
      code: 'KAFKA_TLS_FAILED',
      sentence:
        'the TLS handshake failed: the broker certificate is not signed by a CA in kafka.sslCaLocation, or does not name the host (kafka.sslVerifyHostname)',
    },
  ],
];

/**
 * A SASL mechanism the broker does not enable: librdkafka names it and the ones the broker takes
 * ("SASL SCRAM-SHA-256 mechanism handshake failed: Broker: Unsupported SASL mechanism: broker's
 * supported mechanisms: SCRAM-SHA-512,PLAIN").
 */
const MECHANISM = /SASL (\S+) mechanism handshake failed: .*supported mechanisms: ([^\s(]*)/;

function mechanismRefusal(line: string): Refusal | undefined {
  const m = MECHANISM.exec(line);
  if (m === null) return undefined;
  return {
    code: 'KAFKA_AUTH_FAILED',
    sentence: `the broker does not take kafka.saslMechanism ${m[1]}, only ${m[2] || '(none listed)'}: set kafka.saslMechanism to one of those (plain | scram-sha-256 | scram-sha-512)`,
  };
}

/**
 * A client without TLS (plaintext, sasl_plaintext) on a TLS listener: the listener ends each
 * connection during the ApiVersion request (librdkafka 2.x: "connection closed by peer … in state
 * APIVERSION_QUERY"; older ones say "connecting to a SSL listener?"), where a broker that is down
 * refuses the connection. Taken as a refusal on the second such line, so one connection cut by a
 * broker going down is not.
 */
const TLS_LISTENER =
  /closed by peer.*in state APIVERSION_QUERY|incorrect security\.protocol configuration \(connecting to a SSL listener\?\)/i;
const tlsRequired = (protocol: 'plaintext' | 'sasl_plaintext'): Refusal => ({
  code: 'KAFKA_TLS_FAILED',
  sentence: `the listener speaks TLS: kafka.securityProtocol is ${protocol}; set it to ${protocol === 'plaintext' ? 'ssl or sasl_ssl' : 'sasl_ssl'} (and kafka.sslCaLocation)`,
});

/**
 * A client without SASL on a SASL listener: the listener answers ApiVersion, then ends the
 * connection at the first other request, within milliseconds of librdkafka taking it UP (a TLS
 * client logs "SSL connection closed by peer (after 5ms in state UP)"; a plaintext one is told
 * "broker might require SASL authentication"). Taken within 500 ms of UP and on the second such
 * line, as above: a connection that was up for longer was cut by a broker going down.
 */
function cutAfterUp(line: string): boolean {
  const m =
    /(closed by peer|might require SASL authentication).*\(after (\d+)ms in state UP\b/i.exec(line);
  return m !== null && Number(m[2]) < 500;
}

/** Reads one client's log lines and explains its failed connection from them. */
export class SecurityWatch {
  readonly #config: Config;
  readonly #log: Logger | undefined;
  #refusal: Refusal | undefined;
  #cutInHandshake = 0;
  #cutAfterUp = 0;

  /** `log`: where the client's log lines go (debug: a broker that is down repeats them every second). */
  constructor(config: Config, log?: Logger) {
    this.#config = config;
    this.#log = log;
  }

  /** The client's event handlers: AdminClient.create's second argument, or `on` each of them. */
  readonly handlers = {
    'event.log': (e: LogEvent): void => {
      this.note(e.message);
      this.#log?.debug(e.message, { fac: e.fac, severity: e.severity });
    },
  };

  /** Feeds one librdkafka log line. */
  note(line: string): void {
    this.#refusal =
      mechanismRefusal(line) ??
      REFUSALS.find(([pattern]) => pattern.test(line))?.[1] ??
      this.#refusal;
    const protocol = this.#config.kafka.securityProtocol;
    if (
      (protocol === 'plaintext' || protocol === 'sasl_plaintext') &&
      TLS_LISTENER.test(line) &&
      ++this.#cutInHandshake >= 2
    )
      this.#refusal ??= tlsRequired(protocol);
    if (!protocol.startsWith('sasl') && cutAfterUp(line) && ++this.#cutAfterUp >= 2)
      this.#refusal ??= {
        code: 'KAFKA_AUTH_FAILED',
        sentence: `the listener wants a SASL login: kafka.securityProtocol is ${protocol}; set it to ${protocol === 'ssl' ? 'sasl_ssl' : 'sasl_ssl (or sasl_plaintext)'}, with kafka.saslMechanism, kafka.saslUsername and kafka.saslPassword`,
      };
  }

  /** The last security failure the client logged. */
  get refusal(): Refusal | undefined {
    return this.#refusal;
  }

  /**
   * The error of a failed connect or initialisation: the refusal logged, in one sentence and not
   * retriable, when there was one; otherwise `err` classified.
   */
  failure(err: unknown, what: string, options: ClassifyOptions = {}): FanoutError {
    const refusal = this.#refusal;
    if (refusal === undefined) return classifyKafkaError(err, what, options);
    const where = this.#config.kafka.brokers.join(',');
    return new FanoutError(refusal.code, `Kafka at ${where}: ${refusal.sentence}`, {
      retriable: false,
      cause: err,
    });
  }

  /**
   * For a client that got no answer: the hint that a plaintext client may be talking to a TLS or
   * SASL listener (a closed port and a TLS listener both end its connections), in parentheses; or ''.
   */
  unreachableHint(): string {
    if (this.#refusal !== undefined || this.#config.kafka.securityProtocol !== 'plaintext')
      return '';
    return ' (kafka.securityProtocol is plaintext: if the listener wants TLS or SASL, set it to ssl or sasl_ssl)';
  }
}

/** A librdkafka producer or consumer: it emits its log lines as 'event.log'. */
interface LoggingClient {
  on(event: 'event.log', listener: (e: LogEvent) => void): unknown;
}

/** A watch fed by `client`'s log lines, attached before it connects. */
export function watchSecurity(client: LoggingClient, config: Config, log?: Logger): SecurityWatch {
  const watch = new SecurityWatch(config, log);
  client.on('event.log', watch.handlers['event.log']);
  return watch;
}
