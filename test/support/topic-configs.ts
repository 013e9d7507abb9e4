/**
 * A topic's configs as the broker reports them (DescribeConfigs), for tests that check what the
 * product created. @confluentinc/kafka-javascript has no describeConfigs (neither its librdkafka
 * AdminClient binding nor its KafkaJS-style admin, 1.10.1), so this speaks the request itself:
 * DescribeConfigs v1 (v0 is gone since Kafka 4.0, KIP-896), non-flexible, on a plain connection.
 */
import { connect } from 'node:net';

const DESCRIBE_CONFIGS = 32;
const TOPIC = 2;

/** Kafka `STRING`: int16 length, then UTF-8. */
const str = (s: string): Buffer => {
  const b = Buffer.from(s, 'utf8');
  const len = Buffer.alloc(2);
  len.writeInt16BE(b.length);
  return Buffer.concat([len, b]);
};

function request(topic: string, correlationId: number): Buffer {
  const head = Buffer.alloc(8);
  head.writeInt16BE(DESCRIBE_CONFIGS, 0);
  head.writeInt16BE(1, 2); // version
  head.writeInt32BE(correlationId, 4);
  const resources = Buffer.alloc(4);
  resources.writeInt32BE(1);
  const allKeys = Buffer.alloc(4);
  allKeys.writeInt32BE(-1); // null: every config
  const body = Buffer.concat([
    head,
    str('fanout-test'),
    resources,
    Buffer.of(TOPIC),
    str(topic),
    allKeys,
    Buffer.of(0), // include_synonyms
  ]);
  const size = Buffer.alloc(4);
  size.writeInt32BE(body.length);
  return Buffer.concat([size, body]);
}

class Reader {
  #at = 0;
  readonly b: Buffer;
  constructor(b: Buffer) {
    this.b = b;
  }
  i8 = (): number => this.b.readInt8((this.#at += 1) - 1);
  i16 = (): number => this.b.readInt16BE((this.#at += 2) - 2);
  i32 = (): number => this.b.readInt32BE((this.#at += 4) - 4);
  str = (): string | null => {
    const len = this.i16();
    if (len < 0) return null;
    return this.b.toString('utf8', this.#at, (this.#at += len));
  };
}

/** The configs of `topic` (name → value; null for a sensitive one), asked of `broker` (host:port). */
export async function describeTopicConfigs(
  broker: string,
  topic: string,
): Promise<Record<string, string | null>> {
  const [host, port] = [
    broker.slice(0, broker.lastIndexOf(':')),
    broker.slice(broker.lastIndexOf(':') + 1),
  ];
  const response = await new Promise<Buffer>((resolve, reject) => {
    const socket = connect({ host, port: Number(port) }, () => socket.write(request(topic, 1)));
    let got = Buffer.alloc(0);
    socket.setTimeout(10_000, () =>
      socket.destroy(new Error(`DescribeConfigs of ${topic} at ${broker}: no answer in 10 s`)),
    );
    socket.on('data', (chunk) => {
      got = Buffer.concat([got, chunk]);
      if (got.length >= 4 && got.length >= 4 + got.readInt32BE(0)) {
        socket.end();
        resolve(got.subarray(4, 4 + got.readInt32BE(0)));
      }
    });
    socket.on('error', reject);
  });
  const r = new Reader(response);
  r.i32(); // correlation id
  r.i32(); // throttle time
  const results = r.i32();
  const configs: Record<string, string | null> = {};
  for (let i = 0; i < results; i++) {
    const error = r.i16();
    const message = r.str();
    r.i8(); // resource type
    const name = r.str();
    if (error !== 0)
      throw new Error(`DescribeConfigs of ${name} at ${broker}: error ${error} (${message ?? ''})`);
    const n = r.i32();
    for (let j = 0; j < n; j++) {
      const key = r.str()!;
      configs[key] = r.str();
      r.i8(); // read only
      r.i8(); // source
      r.i8(); // sensitive
      for (let k = r.i32(); k > 0; k--) {
        r.str();
        r.str();
        r.i8();
      }
    }
  }
  return configs;
}
