/**
 * Protocol-level readiness probes: one real request/response with each server, without loading a
 * client library (the launcher must not need librdkafka or a driver to say "ready").
 */
import { createConnection } from 'node:net';

/** Sends `request` and resolves with the bytes received once `complete(bytes)` says they are enough. */
function roundTrip(
  host: string,
  port: number,
  request: Buffer,
  complete: (received: Buffer) => boolean,
  timeoutMs: number,
): Promise<Buffer> {
  return new Promise((resolvePromise, reject) => {
    const socket = createConnection({ host, port });
    let received = Buffer.alloc(0);
    let settled = false;
    const finish = (error: Error | undefined): void => {
      if (settled) return;
      settled = true;
      socket.destroy();
      if (error === undefined) resolvePromise(received);
      else reject(error);
    };
    socket.setTimeout(timeoutMs, () =>
      finish(new Error(`no answer from ${host}:${port} within ${timeoutMs} ms`)),
    );
    socket.once('error', (error) => finish(error));
    socket.once('connect', () => socket.write(request));
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (complete(received)) finish(undefined);
    });
    socket.once('end', () =>
      finish(new Error(`${host}:${port} closed the connection after ${received.length} bytes`)),
    );
  });
}

/** What a Kafka Metadata response told. */
export interface KafkaMetadata {
  readonly brokers: number;
  readonly clusterId: string | null;
  readonly controllerId: number;
}

/**
 * A Kafka Metadata request (API key 3, version 4: the oldest that Kafka 4.x still serves, and
 * non-flexible, so plain fixed-width encoding) for no topics; parses the broker list, cluster id
 * and controller id.
 */
export async function kafkaMetadata(
  host: string,
  port: number,
  timeoutMs = 5000,
): Promise<KafkaMetadata> {
  const clientId = Buffer.from('fanout-launcher');
  const correlationId = 0x0fa0;
  const body = Buffer.alloc(2 + 2 + 4 + 2 + clientId.length + 4 + 1);
  let o = 0;
  o = body.writeInt16BE(3, o); // api_key Metadata
  o = body.writeInt16BE(4, o); // api_version
  o = body.writeInt32BE(correlationId, o);
  o = body.writeInt16BE(clientId.length, o);
  o += clientId.copy(body, o);
  o = body.writeInt32BE(0, o); // topics: empty array = no topic metadata, brokers only
  body.writeInt8(0, o); // allow_auto_topic_creation
  const size = Buffer.alloc(4);
  size.writeInt32BE(body.length);
  const response = await roundTrip(
    host,
    port,
    Buffer.concat([size, body]),
    (bytes) => bytes.length >= 4 && bytes.length >= 4 + bytes.readInt32BE(0),
    timeoutMs,
  );
  let r = 4;
  const int16 = (): number => {
    const v = response.readInt16BE(r);
    r += 2;
    return v;
  };
  const int32 = (): number => {
    const v = response.readInt32BE(r);
    r += 4;
    return v;
  };
  const nullableString = (): string | null => {
    const length = int16();
    if (length < 0) return null;
    const v = response.toString('utf8', r, r + length);
    r += length;
    return v;
  };
  if (int32() !== correlationId)
    throw new Error('Kafka answered Metadata with a wrong correlation id');
  int32(); // throttle_time_ms
  const brokers = int32();
  for (let i = 0; i < brokers; i++) {
    int32(); // node_id
    nullableString(); // host
    int32(); // port
    nullableString(); // rack
  }
  const clusterId = nullableString();
  const controllerId = int32();
  return { brokers, clusterId, controllerId };
}

/**
 * A CQL OPTIONS request (native protocol v4); resolves when the server answers SUPPORTED, which it
 * does only once the native transport serves clients.
 */
export async function cqlOptions(host: string, port: number, timeoutMs = 5000): Promise<void> {
  // version 4, flags 0, stream 1, opcode OPTIONS (0x05), body length 0
  const request = Buffer.from([0x04, 0x00, 0x00, 0x01, 0x05, 0x00, 0x00, 0x00, 0x00]);
  const response = await roundTrip(host, port, request, (bytes) => bytes.length >= 9, timeoutMs);
  const opcode = response[4];
  if (response[0] !== 0x84 || opcode !== 0x06) {
    throw new Error(
      `Cassandra answered OPTIONS with version 0x${response[0]?.toString(16)} opcode 0x${opcode?.toString(16)}, not SUPPORTED`,
    );
  }
}

/**
 * An HTTP GET answered 2xx within `timeoutMs`; resolves with the body. For the HTTP services
 * (Jaeger's query API, Prometheus), through Node's own fetch.
 */
export async function httpGet(url: string, timeoutMs = 5000): Promise<string> {
  const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  const body = await response.text();
  if (!response.ok)
    throw new Error(`GET ${url} answered ${response.status}: ${body.slice(0, 200)}`);
  return body;
}
