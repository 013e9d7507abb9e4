import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { lz4DecodeBlock, snappyDecode } from '../../../connectors/cdc/compression.ts';
import { CdcError } from '../../../connectors/cdc/errors.ts';
import {
  cdcIndexFileName,
  iterateSegment,
  loadSegmentFile,
  mergeCdcIndex,
  parseCdcIndex,
  parseSegmentFileName,
  parseSegmentHeader,
  readCdcIndex,
  readSegment,
  segmentFileName,
  type SegmentEnd,
  type SegmentEntry,
  type SegmentResume,
  type SkippedStretch,
} from '../../../connectors/cdc/segment.ts';
import {
  buildEntry,
  buildHeader,
  buildSegment,
  crcInt,
  lz4CompressBlock,
  markerCrc,
  snappyLiteralOnly,
  type TestCompressor,
} from './builders.ts';

const ID = 1_795_742_890_293n;
const payload = (n: number, fill = n): Buffer => Buffer.alloc(10 + n, fill);

function readAll(
  bytes: Buffer,
  opts: Parameters<typeof iterateSegment>[1] = {},
): { entries: Array<Omit<SegmentEntry, 'kind'>>; skipped: SkippedStretch[]; end: SegmentEnd } {
  const it = iterateSegment(bytes, opts);
  const entries: Array<Omit<SegmentEntry, 'kind'>> = [];
  const skipped: SkippedStretch[] = [];
  for (;;) {
    const s = it.next();
    if (s.done) return { entries, skipped, end: s.value };
    if (s.value.kind === 'skipped') skipped.push(s.value);
    else entries.push({ position: s.value.position, payload: Buffer.from(s.value.payload) });
  }
}

/** The crc Cassandra stores after an entry's size. */
const sizeCrc = (size: number): number => crcInt(0, size) >>> 0;

function thrown(f: () => unknown): CdcError {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(CdcError);
    return err as CdcError;
  }
  throw new Error('expected a throw');
}

describe('file names', () => {
  it('parses segment and idx names, bare or as paths', () => {
    expect(parseSegmentFileName('CommitLog-7-1795742890293.log')).toEqual({
      version: 7,
      id: ID,
      kind: 'log',
    });
    expect(parseSegmentFileName('/x/cdc_raw/CommitLog-8-12_cdc.idx')).toEqual({
      version: 8,
      id: 12n,
      kind: 'idx',
    });
    expect(parseSegmentFileName('CommitLog-12345.log')).toBeNull();
    expect(parseSegmentFileName('CommitLog-7-1-CDC.idx')).toBeNull();
    expect(segmentFileName(7, ID)).toBe('CommitLog-7-1795742890293.log');
    expect(cdcIndexFileName(7, ID)).toBe('CommitLog-7-1795742890293_cdc.idx');
  });
});

describe('header', () => {
  it('accepts the crc with paramLen fed as 4 bytes (the quirk) and gives a 20-byte header for {}', () => {
    const h = parseSegmentHeader(buildHeader({ id: ID }));
    expect(h).toEqual({
      version: 7,
      messagingVersion: 12,
      id: ID,
      compression: null,
      params: {},
      length: 20,
    });
    expect(parseSegmentHeader(buildHeader({ id: ID, version: 8 })).messagingVersion).toBe(13);
  });

  it('rejects a crc computed with paramLen as 2 bytes', () => {
    expect(
      thrown(() => parseSegmentHeader(buildHeader({ id: ID, crcWithShortParamLen: true }))).code,
    ).toBe('corrupt');
  });

  it('refuses unknown versions, naming the version', () => {
    for (const version of [6, 9]) {
      const e = thrown(() => parseSegmentHeader(buildHeader({ id: ID, version })));
      expect(e.code).toBe('unsupported-version');
      expect(e.message).toContain(`version ${version}`);
      expect(e.retriable).toBe(false);
    }
  });

  it('checks the id against the file name', () => {
    const e = thrown(() => parseSegmentHeader(buildHeader({ id: ID }), { id: ID + 1n }));
    expect(e.code).toBe('id-mismatch');
    expect(e.message).toContain(String(ID + 1n));
  });

  it('refuses encrypted segments and unknown compressors', () => {
    const enc = buildHeader({
      id: ID,
      params: { encCipher: 'AES/CBC/PKCS5Padding', encIV: 'x', encKeyAlias: 'k' },
    });
    expect(thrown(() => parseSegmentHeader(enc)).code).toBe('encrypted-segment');
    const weird = buildHeader({
      id: ID,
      params: { compressionClass: 'com.example.Brotli', compressionParameters: {} },
    });
    expect(thrown(() => parseSegmentHeader(weird)).code).toBe('unsupported-compression');
  });

  it('reads fully qualified compressor names', () => {
    const h = buildHeader({
      id: ID,
      params: {
        compressionClass: 'org.apache.cassandra.io.compress.LZ4Compressor',
        compressionParameters: {},
      },
    });
    expect(parseSegmentHeader(h).compression).toBe('LZ4Compressor');
  });

  it('says "not ready" (retriable) for an all-zero header', () => {
    const e = thrown(() => parseSegmentHeader(Buffer.alloc(64)));
    expect(e.code).toBe('header-not-ready');
    expect(e.retriable).toBe(true);
  });
});

describe('uncompressed sections', () => {
  const seg = buildSegment({
    id: ID,
    sections: [[payload(5), payload(20)], [payload(7)]],
    zeroTail: 4096,
  });

  it('yields every entry with its logical position, then stops at the zero marker', () => {
    const { entries, end } = readAll(seg.bytes);
    expect(entries.map((e) => e.position)).toEqual(seg.positions.flat());
    // header 20, marker 8, entry 12 + 15 -> first position 55
    expect(entries[0]!.position).toBe(20 + 8 + 12 + 15);
    expect(entries.map((e) => e.payload)).toEqual([payload(5), payload(20), payload(7)]);
    expect(end).toMatchObject({ end: 'end-of-segment', position: seg.positions[1]![0] });
  });

  it('stops at end-of-segment when no room is left for a marker', () => {
    const bare = buildSegment({ id: ID, sections: [[payload(1)]] });
    expect(readAll(bare.bytes).end.end).toBe('end-of-segment');
  });

  it('reads only up to the idx offset (limit) and says so', () => {
    const { entries, end } = readAll(seg.bytes, { limit: seg.sectionEnds[0]! });
    expect(entries).toHaveLength(2);
    expect(end).toMatchObject({ end: 'limit', position: seg.positions[0]![1] });
    // a file cut at the idx offset reads the same
    expect(
      readAll(seg.bytes.subarray(0, seg.sectionEnds[0]), { limit: seg.sectionEnds[0]! }).entries,
    ).toHaveLength(2);
  });

  it('resumes after a position with nothing lost or repeated', () => {
    const all = seg.positions.flat();
    for (let i = 0; i < all.length; i++) {
      const { entries } = readAll(seg.bytes, { fromPosition: all[i]! });
      expect(entries.map((e) => e.position)).toEqual(all.slice(i + 1));
    }
    expect(readAll(seg.bytes, { fromPosition: 0 }).entries).toHaveLength(3);
  });

  it('follows a growing segment from its resume points: only the new bytes, the same entries as one full read', () => {
    const growing = buildSegment({
      id: ID,
      sections: [
        [payload(5), payload(20)],
        [payload(7)],
        [payload(3), payload(9), payload(1)],
        [payload(30)],
      ],
      zeroTail: 64,
    });
    const full = readAll(growing.bytes);
    // The durable limit (idx offset) moves section by section, and once to the middle of a
    // marker; each read gets the bytes from the last resume marker up to the limit.
    const limits = [
      growing.sectionEnds[0]!,
      growing.sectionEnds[0]! + 4,
      growing.sectionEnds[1]!,
      growing.sectionEnds[3]!,
      growing.bytes.length,
    ];
    const seen: number[] = [];
    const markers: number[] = [];
    let from = 0;
    let resume: SegmentResume | undefined;
    for (const limit of limits) {
      const bytes = resume
        ? growing.bytes.subarray(resume.marker, limit)
        : growing.bytes.subarray(0, limit);
      const { entries, end } = readAll(bytes, {
        fromPosition: from,
        limit,
        ...(resume ? { resume } : {}),
      });
      seen.push(...entries.map((e) => e.position));
      from = end.position;
      resume = end.resume;
      markers.push(resume!.marker);
    }
    expect(seen).toEqual(full.entries.map((e) => e.position));
    // Each time: the marker of the first section not read to its end (last: the zero marker).
    const m = growing.markers;
    expect(markers).toEqual([m[1], m[1], m[2], growing.sectionEnds[3], growing.sectionEnds[3]]);
    // A resume point is refused for a read that starts before its marker (those bytes are not
    // given: the entries would be skipped silently), and readSegment takes one too.
    const at = { header: parseSegmentHeader(growing.bytes), marker: m[2]! };
    expect(() =>
      readAll(growing.bytes.subarray(m[2]), { resume: at, fromPosition: m[2]! - 1 }),
    ).toThrow(/cannot resume at marker/);
    expect(() => readAll(growing.bytes.subarray(m[2]), { resume: at })).toThrow(
      /cannot resume at marker/,
    );
    expect(
      readSegment(growing.bytes.subarray(m[2]), { resume: at, fromPosition: m[2]! }).entries.map(
        (e) => e.position,
      ),
    ).toEqual(growing.positions.slice(2).flat());
    // A compressed segment gives no resume point, and refuses one.
    const lz = buildSegment({ id: ID, sections: [[payload(5)]], compression: 'LZ4Compressor' });
    expect(readAll(lz.bytes).end.resume).toBeUndefined();
    expect(() =>
      readAll(lz.bytes, { resume: { header: parseSegmentHeader(lz.bytes), marker: 40 } }),
    ).toThrow(/uncompressed/);
  });

  it('treats a torn marker (next written, crc still zero) as retry-later', () => {
    const b = Buffer.from(seg.bytes);
    b.writeUInt32BE(0, seg.markers[1]! + 4);
    const { entries, end } = readAll(b);
    expect(entries).toHaveLength(2);
    expect(end.end).toBe('retry-later');
    expect(end.position).toBe(seg.positions[0]![1]);
  });

  it('reports a bad marker crc as corrupt', () => {
    const b = Buffer.from(seg.bytes);
    b.writeUInt32BE(markerCrc(ID, 999), seg.markers[1]! + 4);
    expect(readAll(b).end.end).toBe('corrupt');
  });

  it('skips an entry whose payload crc fails, its size crc holding, and reads the ones after it', () => {
    const b = Buffer.from(seg.bytes);
    const [first, second] = seg.positions[0]!;
    b[first! - 6]! ^= 0xff; // inside the first payload
    const { entries, skipped, end } = readAll(b);
    expect(entries.map((e) => e.position)).toEqual([second, seg.positions[1]![0]]);
    expect(skipped).toEqual([
      {
        kind: 'skipped',
        from: 28,
        position: first,
        reason: `entry crc mismatch at 28 (size 15); the entry, 28 to ${first}, is skipped`,
      },
    ]);
    expect(end).toMatchObject({ end: 'end-of-segment', position: seg.positions[1]![0] });
    // resuming after it reads on, without it again
    const resumed = readAll(b, { fromPosition: first! });
    expect(resumed.skipped).toEqual([]);
    expect(resumed.entries.map((e) => e.position)).toEqual([second, seg.positions[1]![0]]);
  });

  it('skips the rest of a section at a size that cannot be trusted, and reads the next section', () => {
    const b = Buffer.from(seg.bytes);
    b.writeUInt32BE(12345, 28 + 4); // the first entry's size crc
    const bad = readAll(b);
    expect(bad.entries.map((e) => e.position)).toEqual([seg.positions[1]![0]]);
    expect(bad.skipped).toEqual([
      {
        kind: 'skipped',
        from: 28,
        position: seg.sectionEnds[0],
        reason: `entry size crc mismatch at 28; the rest of the section, 28 to ${seg.sectionEnds[0]}, is skipped`,
      },
    ]);
    expect(bad.end.end).toBe('end-of-segment');
    const tiny = buildSegment({ id: ID, sections: [[Buffer.alloc(4, 1)], [payload(3)]] });
    const small = readAll(tiny.bytes);
    expect(small.skipped.map((x) => x.reason)).toEqual([
      expect.stringMatching(/^invalid entry size 4 at 28; the rest of the section/),
    ]);
    expect(small.entries.map((e) => e.position)).toEqual([tiny.positions[1]![0]]);
    // a size running past its section's end (size crc intact)
    const long = Buffer.from(seg.bytes);
    const size = 15 + 1000;
    long.writeInt32BE(size, 28);
    long.writeUInt32BE(sizeCrc(size), 32);
    expect(readAll(long).skipped.map((x) => x.reason)).toEqual([
      expect.stringMatching(/^entry at 28 \(size 1015\) runs past its section end/),
    ]);
  });

  it('says retry-later when a section runs past the bytes we have', () => {
    expect(readAll(seg.bytes.subarray(0, seg.markers[1]! + 12)).end.end).toBe('retry-later');
  });

  it('treats a zero entry size inside a section as the end of the segment', () => {
    const b = Buffer.concat([seg.bytes.subarray(0, seg.markers[1]), Buffer.alloc(0)]);
    const extra = Buffer.alloc(8 + 12 + 4);
    const marker = seg.markers[1]!;
    extra.writeInt32BE(marker + extra.length, 0);
    extra.writeUInt32BE(markerCrc(ID, marker), 4);
    const { entries, end } = readAll(Buffer.concat([b, extra]));
    expect(entries).toHaveLength(2);
    expect(end.end).toBe('end-of-segment');
  });

  it('throws for header problems, with the id checked against the name', () => {
    expect(() => readAll(seg.bytes, { expected: { id: 1n } })).toThrow(/segment id mismatch/);
  });

  it('readSegment pages with a budget', () => {
    const first = readSegment(seg.bytes, { maxEntries: 2 });
    expect(first.entries).toHaveLength(2);
    expect(first.end).toBe('paused');
    const rest = readSegment(seg.bytes, { maxEntries: 2, fromPosition: first.position });
    expect(rest.entries.map((e) => e.position)).toEqual([seg.positions[1]![0]]);
    expect(rest.end).toBe('end-of-segment');
  });
});

describe('versions', () => {
  it('reads version 7 and version 8 segments side by side, with their messaging versions', () => {
    const v7 = buildSegment({ id: ID, version: 7, sections: [[payload(3)]] });
    const v8 = buildSegment({ id: ID + 1n, version: 8, sections: [[payload(4)]] });
    expect(readSegment(v7.bytes).header).toMatchObject({ version: 7, messagingVersion: 12 });
    expect(readSegment(v8.bytes, { expected: { id: ID + 1n, version: 8 } })).toMatchObject({
      header: { version: 8, messagingVersion: 13 },
      entries: [{ payload: payload(4) }],
    });
    expect(() => readSegment(v8.bytes, { expected: { version: 7 } })).toThrow(
      /file name says version 7/,
    );
    expect(() =>
      readSegment(buildSegment({ id: ID, version: 9, sections: [[payload(1)]] }).bytes),
    ).toThrow(/version 9 is not supported/);
  });
});

describe('compressed sections use logical positions', () => {
  const sections = [
    [payload(100, 7), payload(3000, 1)],
    [payload(50, 2)],
    [payload(4000, 9), payload(10)],
  ];
  for (const compression of [
    'LZ4Compressor',
    'SnappyCompressor',
    'DeflateCompressor',
    'ZstdCompressor',
  ] as TestCompressor[]) {
    it(compression, () => {
      const seg = buildSegment({ id: ID, compression, sections, zeroTail: 100 });
      const header = parseSegmentHeader(seg.bytes);
      expect(header.compression).toBe(compression);
      const { entries, end } = readAll(seg.bytes);
      expect(entries.map((e) => e.payload)).toEqual(sections.flat());
      expect(entries.map((e) => e.position)).toEqual(seg.positions.flat());
      expect(end.end).toBe('end-of-segment');
      // logical, not file, coordinates: the third section's data starts after 2 markers + plain data
      const plain0 = 12 * 2 + 110 + 3010;
      expect(seg.positions[1]![0]).toBe(header.length + 8 + plain0 + 8 + 12 + 60);
      expect(seg.markers[2]).not.toBe(seg.sectionEnds[1]); // file offsets and logical ones differ
      if (compression !== 'SnappyCompressor')
        expect(seg.bytes.length - 100).toBeLessThan(seg.sectionEnds[2]!);
      // limit and resume in logical coordinates
      expect(readAll(seg.bytes, { limit: seg.sectionEnds[1]! }).entries).toHaveLength(3);
      expect(
        readAll(seg.bytes, { fromPosition: seg.positions[1]![0]! }).entries.map((e) => e.position),
      ).toEqual(seg.positions[2]);
    });
  }

  it('reports an undecompressable section as corrupt', () => {
    const seg = buildSegment({ id: ID, compression: 'LZ4Compressor', sections: [[payload(100)]] });
    const b = Buffer.from(seg.bytes);
    b.fill(0xee, seg.markers[0]! + 12 + 4, seg.markers[0]! + 20);
    expect(readAll(b).end.end).toBe('corrupt');
  });
});

describe('LZ4 and Snappy block decoders', () => {
  it('round-trip text, runs and overlapping matches', () => {
    const inputs = [
      Buffer.from('abcabcabcabcabcabcabcabcabcabcabcabc the end'),
      Buffer.alloc(70000, 0x61),
      Buffer.concat([
        Buffer.from('x'.repeat(300)),
        Buffer.from(Array.from({ length: 2000 }, (_, i) => (i * 7) & 0xff)),
        Buffer.from('x'.repeat(300)),
      ]),
      Buffer.from('short'),
    ];
    for (const input of inputs) {
      expect(lz4DecodeBlock(lz4CompressBlock(input), input.length)).toEqual(input);
      expect(snappyDecode(snappyLiteralOnly(input))).toEqual(input);
    }
  });

  it('decodes Snappy copies (overlapping)', () => {
    // preamble 9; literal "abc"; copy-1 offset 3 length 6
    const block = Buffer.from([9, 2 << 2, 0x61, 0x62, 0x63, 0x01 | ((6 - 4) << 2), 3]);
    expect(snappyDecode(block).toString()).toBe('abcabcabc');
  });

  it('rejects offsets before the start', () => {
    expect(() => lz4DecodeBlock(Buffer.from([0x10, 0x61, 0x05, 0x00, 0x00]), 10)).toThrow(CdcError);
  });
});

describe('_cdc.idx', () => {
  it('parses an offset, with or without COMPLETED', () => {
    expect(parseCdcIndex('63012')).toEqual({ offset: 63012, completed: false });
    expect(parseCdcIndex('63012\nCOMPLETED')).toEqual({ offset: 63012, completed: true });
    expect(parseCdcIndex(Buffer.from('42\nCOMPLETED\n'))).toEqual({ offset: 42, completed: true });
  });

  it('tolerates empty and half-written content', () => {
    expect(parseCdcIndex('')).toBeNull();
    expect(parseCdcIndex('630')).toEqual({ offset: 630, completed: false }); // cut short: a smaller number
    expect(parseCdcIndex('63012\nCOMP')).toBeNull();
    expect(mergeCdcIndex({ offset: 63012, completed: false }, parseCdcIndex('630'))).toEqual({
      offset: 63012,
      completed: false,
    });
    expect(mergeCdcIndex({ offset: 10, completed: false }, null)).toEqual({
      offset: 10,
      completed: false,
    });
  });

  const dirs: string[] = [];
  afterAll(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  it('reads files, missing ones as null', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cdc-idx-'));
    dirs.push(dir);
    await writeFile(join(dir, 'a_cdc.idx'), '100\nCOMPLETED');
    await writeFile(join(dir, 'b_cdc.idx'), '');
    expect(await readCdcIndex(join(dir, 'a_cdc.idx'))).toEqual({ offset: 100, completed: true });
    expect(await readCdcIndex(join(dir, 'b_cdc.idx'))).toBeNull();
    expect(await readCdcIndex(join(dir, 'none_cdc.idx'))).toBeNull();
  });

  it('loads a segment file, only up to the limit when uncompressed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cdc-seg-'));
    dirs.push(dir);
    const seg = buildSegment({ id: ID, sections: [[payload(5)], [payload(6)]], zeroTail: 1000 });
    const path = join(dir, segmentFileName(7, ID));
    await writeFile(path, seg.bytes);
    const full = await loadSegmentFile(path);
    expect(full.bytes.length).toBe(seg.bytes.length);
    expect(full.name).toEqual({ version: 7, id: ID, kind: 'log' });
    const cut = await loadSegmentFile(path, seg.sectionEnds[0]);
    expect(cut.bytes.length).toBe(seg.sectionEnds[0]);
    expect(
      readAll(cut.bytes, { limit: seg.sectionEnds[0]!, expected: cut.name }).entries,
    ).toHaveLength(1);
    // From a resume point: only the bytes from its marker up to the limit.
    const resume = { header: parseSegmentHeader(seg.bytes), marker: seg.markers[1]! };
    const tail = await loadSegmentFile(path, seg.sectionEnds[1], resume);
    expect(tail.bytes).toEqual(seg.bytes.subarray(seg.markers[1], seg.sectionEnds[1]));
    expect(
      readAll(tail.bytes, {
        limit: seg.sectionEnds[1]!,
        fromPosition: seg.positions[0]![0],
        resume,
      }).entries.map((e) => e.payload),
    ).toEqual([payload(6)]);
    await expect(loadSegmentFile(join(dir, 'x.log'))).rejects.toMatchObject({
      code: 'bad-file-name',
    });
  });
});

it('buildEntry matches the documented layout', () => {
  const e = buildEntry(Buffer.alloc(10, 1));
  expect(e.length).toBe(22);
  expect(e.readInt32BE(0)).toBe(10);
});
