/**
 * Decode throughput on one core: the real-Cassandra fixture's entries (test/fixtures/commitlog)
 * replicated into a full-size segment, then read (framing + crc) and decoded to change events.
 * Then a segment as a fan-out leaves it: each CDC mutation among `foreignPerCdc` writes of a
 * non-CDC table of the same keyspace (the fixture's `plain` rows, as timeline rows are; a real
 * 500k fan-out segment held 188,487 entries for 580 events), read as the connector reads it
 * (the table id checked first, only the rest decoded) beside decoding every entry.
 *
 *   node connectors/cdc/bench-decode.ts [fixtureDir=test/fixtures/commitlog/v7-plain] [segmentMiB=16] [rounds=5] [foreignPerCdc=300]
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { crcUpdate, crcUpdateInt, idHalves, toUint32 } from './bytes.ts';
import { decodeMutationEvents } from './events.ts';
import { frameMutation, skippedTable } from './mutation.ts';
import { type SchemaRows, buildSchema } from './schema.ts';
import {
  type FileVersion,
  MESSAGING_VERSION_BY_FILE_VERSION,
  iterateSegment,
  parseCdcIndex,
  parseSegmentFileName,
} from './segment.ts';

const dir =
  process.argv[2] ||
  join(dirname(fileURLToPath(import.meta.url)), '../../test/fixtures/commitlog/v7-plain');
const segmentMiB = Number(process.argv[3] ?? 16);
const rounds = Number(process.argv[4] ?? 5);
const foreignPerCdc = Number(process.argv[5] ?? 300);

const expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as {
  keyspace: string;
  segments: string[];
};
const schema = buildSchema(
  JSON.parse(readFileSync(join(dir, 'schema.json'), 'utf8')) as SchemaRows,
);
const seg = expected.segments[0]!;
const name = parseSegmentFileName(seg)!;
const bytes = gunzipSync(readFileSync(join(dir, `${seg}.gz`)));
const idx = parseCdcIndex(readFileSync(join(dir, seg.replace(/\.log$/, '_cdc.idx'))))!;
const fileVersion = name.version as FileVersion;

// the fixture's mutations that touch the CDC keyspace (the others are system-table writes), and
// each update of its non-CDC table as a mutation of its own (a timeline row's entry)
const payloads: Buffer[] = [];
const foreign: Buffer[] = [];
for (const e of iterateSegment(bytes, { limit: idx.offset })) {
  if (e.kind !== 'entry') throw new Error(`fixture ${seg}: ${e.reason}`);
  const evs = decodeMutationEvents(e.payload, schema, {
    segmentId: name.id,
    position: e.position,
    fileVersion,
  });
  if (evs.some((x) => x.keyspace === expected.keyspace)) payloads.push(Buffer.from(e.payload));
  for (const u of frameMutation(e.payload, schema, MESSAGING_VERSION_BY_FILE_VERSION[fileVersion])
    .updates)
    if (!u.table.cdc) foreign.push(Buffer.concat([Buffer.of(1), u.bytes]));
}
if (foreign.length === 0)
  throw new Error(`fixture ${seg}: no write of a non-CDC table in ${expected.keyspace}`);

/** A segment of `mib` MiB of `payloads`, one sync section per ~64 KiB (as a busy node syncs). */
function buildSegment(
  mib: number,
  payloads: readonly Buffer[],
): { bytes: Buffer; entries: number } {
  const id = name.id;
  const header = Buffer.alloc(20);
  header.writeInt32BE(fileVersion, 0);
  header.writeBigInt64BE(id, 4);
  header.writeUInt16BE(2, 12);
  header.write('{}', 14);
  const [lo, hi] = idHalves(id);
  let crc = crcUpdateInt(crcUpdateInt(crcUpdateInt(crcUpdateInt(0, fileVersion), lo), hi), 2);
  header.writeUInt32BE(toUint32(crcUpdate(crc, Buffer.from('{}'))), 16);
  const out = Buffer.alloc(mib * 1024 * 1024);
  header.copy(out);
  let p = 20;
  let entries = 0;
  let i = 0;
  for (;;) {
    const marker = p;
    p += 8;
    const sectionLimit = p + 64 * 1024;
    while (p < sectionLimit) {
      const pl = payloads[i++ % payloads.length]!;
      if (p + 12 + pl.length + 8 > out.length) break;
      out.writeInt32BE(pl.length, p);
      crc = crcUpdateInt(0, pl.length);
      out.writeUInt32BE(toUint32(crc), p + 4);
      pl.copy(out, p + 8);
      out.writeUInt32BE(toUint32(crcUpdate(crc, pl)), p + 8 + pl.length);
      p += 12 + pl.length;
      entries++;
    }
    out.writeInt32BE(p, marker);
    out.writeUInt32BE(
      toUint32(crcUpdateInt(crcUpdateInt(crcUpdateInt(0, lo), hi), marker)),
      marker + 4,
    );
    if (p + 12 + 400 + 8 > out.length || p >= out.length - 16) break;
  }
  return { bytes: out, entries };
}

const big = buildSegment(segmentMiB, payloads);
console.log(
  `fixture: ${payloads.length} CDC mutations (avg ${Math.round(payloads.reduce((n, b) => n + b.length, 0) / payloads.length)} B); segment: ${segmentMiB} MiB, ${big.entries} entries`,
);

for (let r = 0; r < rounds; r++) {
  let events = 0;
  let n = 0;
  const t0 = process.hrtime.bigint();
  for (const e of iterateSegment(big.bytes)) {
    if (e.kind !== 'entry') throw new Error(`built segment: ${e.reason}`);
    events += decodeMutationEvents(e.payload, schema, {
      segmentId: name.id,
      position: e.position,
      fileVersion,
    }).length;
    n++;
  }
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  let framed = 0;
  const t1 = process.hrtime.bigint();
  for (const _ of iterateSegment(big.bytes)) framed++;
  const s1 = Number(process.hrtime.bigint() - t1) / 1e9;
  console.log(
    `round ${r + 1}: ${n} mutations -> ${events} events in ${s.toFixed(3)} s = ${Math.round(n / s)} mutations/s, ${Math.round(events / s)} events/s; ` +
      `framing+crc alone ${Math.round(framed / s1)} entries/s (${Math.round(big.bytes.length / s1 / 1e6)} MB/s)`,
  );
}

// A fan-out's segment: foreignPerCdc non-CDC writes to each CDC mutation.
if (foreign.some((p) => skippedTable(p, schema) === undefined))
  throw new Error('a non-CDC update read as CDC');
const mixed = buildSegment(
  segmentMiB,
  payloads.flatMap((p, i) => [
    p,
    ...Array.from({ length: foreignPerCdc }, (_, j) => foreign[(i + j) % foreign.length]!),
  ]),
);
console.log(
  `fan-out segment: ${foreignPerCdc} writes of a non-CDC table (avg ${Math.round(foreign.reduce((n, b) => n + b.length, 0) / foreign.length)} B) per CDC mutation, ${mixed.entries} entries`,
);
/**
 * Reads the mixed segment. `check`: as the connector reads now, the table id first and only the
 * rest decoded. Otherwise as it read before: every entry through its awaited decode step (a clock
 * read, the decode, the captured-keyspace filter).
 */
async function readMixed(check: boolean): Promise<{ entries: number; events: number; ms: number }> {
  const decode = async (payload: Buffer, position: number): Promise<number> => {
    void Date.now(); // the clock read that starts its change spans
    const evs = decodeMutationEvents(payload, schema, {
      segmentId: name.id,
      position,
      fileVersion,
    });
    return evs.filter((e) => e.keyspace === null || e.keyspace === expected.keyspace).length;
  };
  let entries = 0;
  let events = 0;
  const t0 = process.hrtime.bigint();
  for (const e of iterateSegment(mixed.bytes)) {
    if (e.kind !== 'entry') throw new Error(`built segment: ${e.reason}`);
    entries++;
    if (check && skippedTable(e.payload, schema) !== undefined) continue;
    events += await decode(e.payload, e.position);
  }
  return { entries, events, ms: Number(process.hrtime.bigint() - t0) / 1e6 };
}
for (let r = 0; r < rounds; r++) {
  const every = await readMixed(false);
  const checked = await readMixed(true);
  if (every.events !== checked.events)
    throw new Error(`the table id check lost events: ${checked.events} of ${every.events}`);
  const us = (x: { entries: number; ms: number }): string => ((x.ms * 1000) / x.entries).toFixed(2);
  console.log(
    `round ${r + 1}: ${every.entries} entries -> ${every.events} events; every entry decoded ${every.ms.toFixed(0)} ms (${us(every)} us/entry), ` +
      `table id first ${checked.ms.toFixed(0)} ms (${us(checked)} us/entry): ${(every.ms / checked.ms).toFixed(2)}x`,
  );
}
