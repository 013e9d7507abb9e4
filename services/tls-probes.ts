/**
 * Readiness probes of the secure services: a TLS handshake that checks the server certificate
 * against the throwaway CA, then one request that needs no login (Kafka ApiVersions, CQL OPTIONS).
 */
import { readFile } from 'node:fs/promises';
import { connect } from 'node:tls';

async function tlsRoundTrip(
  host: string,
  port: number,
  caPem: string,
  request: Buffer,
  complete: (received: Buffer) => boolean,
  timeoutMs = 5_000,
): Promise<Buffer> {
  const ca = await readFile(caPem);
  return new Promise((resolvePromise, reject) => {
    const socket = connect({ host, port, ca, rejectUnauthorized: true });
    let received = Buffer.alloc(0);
    let settled = false;
    const finish = (error?: Error): void => {
      if (settled) return;
      settled = true;
      socket.destroy();
      if (error === undefined) resolvePromise(received);
      else reject(error);
    };
    socket.setTimeout(timeoutMs, () => finish(new Error(`no TLS answer from ${host}:${port}`)));
    socket.once('error', (error: Error) => finish(error));
    socket.once('secureConnect', () => socket.write(request));
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      if (complete(received)) finish();
    });
    socket.once('end', () => finish(new Error(`${host}:${port} closed the TLS connection`)));
  });
}

/** Kafka ApiVersions v0 over TLS (allowed before SASL authentication). */
export async function kafkaApiVersionsTls(
  host: string,
  port: number,
  caPem: string,
): Promise<void> {
  const clientId = Buffer.from('fanout-launcher');
  const body = Buffer.alloc(2 + 2 + 4 + 2 + clientId.length);
  let o = body.writeInt16BE(18, 0); // api_key ApiVersions
  o = body.writeInt16BE(0, o);
  o = body.writeInt32BE(0x0fa1, o);
  o = body.writeInt16BE(clientId.length, o);
  clientId.copy(body, o);
  const size = Buffer.alloc(4);
  size.writeInt32BE(body.length);
  const response = await tlsRoundTrip(
    host,
    port,
    caPem,
    Buffer.concat([size, body]),
    (b) => b.length >= 4 && b.length >= 4 + b.readInt32BE(0),
  );
  if (response.readInt32BE(4) !== 0x0fa1 || response.readInt16BE(8) !== 0)
    throw new Error('Kafka answered ApiVersions with an error');
}

/** CQL OPTIONS (native protocol v4) over TLS; resolves on SUPPORTED. */
export async function cqlOptionsTls(host: string, port: number, caPem: string): Promise<void> {
  const request = Buffer.from([0x04, 0x00, 0x00, 0x01, 0x05, 0x00, 0x00, 0x00, 0x00]);
  const response = await tlsRoundTrip(host, port, caPem, request, (b) => b.length >= 9);
  if (response[0] !== 0x84 || response[4] !== 0x06)
    throw new Error('Cassandra answered OPTIONS with something other than SUPPORTED');
}
