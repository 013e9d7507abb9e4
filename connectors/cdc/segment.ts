/**
 * Commit-log segment framing: file names, the descriptor header, sync sections (plain and
 * compressed), entries, and the `_cdc.idx` sidecar. Mirrors `db/commitlog/CommitLogDescriptor`,
 * `CommitLogSegmentReader` and `CommitLogReader.readSection` of Cassandra 5.0; see
 * shared/reference/cassandra-commitlog.md.
 *
 * Reading is a generator ({@link iterateSegment}): entries are yielded one at a time as views into
 * the file bytes (or into one decompressed section), so a 32 MiB segment never becomes 32 MiB of
 * objects. Positions are LOGICAL (uncompressed) offsets, the coordinates Cassandra uses for entry
 * positions and for the idx offset.
 */
import { open, readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { ByteReader, crcUpdate, crcUpdateInt, idHalves, toUint32 } from './bytes.ts';
import { compressorFromClass, decompress, type CompressorName } from './compression.ts';
import { CdcError } from './errors.ts';

/** Commit-log file version -> messaging version of the mutations inside. */
export const MESSAGING_VERSION_BY_FILE_VERSION = { 7: 12, 8: 13 } as const;
export type FileVersion = keyof typeof MESSAGING_VERSION_BY_FILE_VERSION;
export type MessagingVersion = (typeof MESSAGING_VERSION_BY_FILE_VERSION)[FileVersion];

const SYNC_MARKER_SIZE = 8;
const ENTRY_OVERHEAD = 12;
/** `CommitLogReader`: a mutation is at least 10 bytes (CASSANDRA-2128). */
const MIN_ENTRY_SIZE = 10;

/** A parsed `CommitLog-<ver>-<id>.log` or `CommitLog-<ver>-<id>_cdc.idx` name. */
export interface SegmentFileName {
  version: number;
  id: bigint;
  kind: 'log' | 'idx';
}

const NAME_RE = /^CommitLog-(\d+)-(\d+)(\.log|_cdc\.idx)$/;

/** Parses a segment or idx file name (a bare name or a path); `null` if it is neither. */
export function parseSegmentFileName(name: string): SegmentFileName | null {
  const m = NAME_RE.exec(basename(name));
  if (!m) return null;
  return { version: Number(m[1]), id: BigInt(m[2]!), kind: m[3] === '.log' ? 'log' : 'idx' };
}

/** `CommitLog-<ver>-<id>.log` */
export function segmentFileName(version: number, id: bigint): string {
  return `CommitLog-${version}-${id}.log`;
}

/** `CommitLog-<ver>-<id>_cdc.idx` */
export function cdcIndexFileName(version: number, id: bigint): string {
  return `CommitLog-${version}-${id}_cdc.idx`;
}

/** The `_cdc.idx` content: durable logical offset, and whether the segment is closed. */
export interface CdcIndex {
  offset: number;
  completed: boolean;
}

/**
 * Parses `_cdc.idx` content. Cassandra rewrites the file in place (`FileWriter`, not atomic), so it
 * can be read empty or cut short: that returns `null` ("read again later"), never an error. A cut
 * can also shorten the number itself, so callers must treat the offset as monotonic and ignore a
 * value lower than one already seen (see {@link mergeCdcIndex}).
 */
export function parseCdcIndex(content: string | Uint8Array): CdcIndex | null {
  const text = typeof content === 'string' ? content : Buffer.from(content).toString('latin1');
  const m = /^(\d+)(\r?\n(COMPLETED)?)?\s*$/.exec(text);
  if (!m) return null;
  const offset = Number(m[1]);
  if (!Number.isSafeInteger(offset)) return null;
  return { offset, completed: m[3] === 'COMPLETED' };
}

/** Keeps the idx monotonic across non-atomic rewrites: never move the offset backwards. */
export function mergeCdcIndex(previous: CdcIndex | null, next: CdcIndex | null): CdcIndex | null {
  if (next === null) return previous;
  if (previous === null) return next;
  return {
    offset: Math.max(previous.offset, next.offset),
    completed: previous.completed || next.completed,
  };
}

/** Reads and parses an idx file; `null` when missing, empty or half-written. */
export async function readCdcIndex(path: string): Promise<CdcIndex | null> {
  try {
    return parseCdcIndex(await readFile(path));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** The segment descriptor header. */
export interface SegmentHeader {
  version: FileVersion;
  messagingVersion: MessagingVersion;
  id: bigint;
  compression: CompressorName | null;
  /** The header's JSON parameters, as written. */
  params: Record<string, unknown>;
  /** Header length in bytes; the first sync marker starts here (file and logical offset). */
  length: number;
}

/**
 * Parses and checks the header: int32 version, int64 id, uint16 paramLen, params JSON, uint32 crc.
 * The crc covers version, id low and high halves, paramLen AS A 4-BYTE INT although only 2 bytes
 * are stored (`CommitLogDescriptor.writeHeader`), then the params bytes.
 *
 * @param expected id and version from the file name; a mismatch is an `id-mismatch` error.
 * @throws CdcError `header-not-ready` (all zeros: just created, retriable), `corrupt` (bad crc),
 *   `unsupported-version`, `encrypted-segment`, `unsupported-compression`, `id-mismatch`.
 */
export function parseSegmentHeader(
  bytes: Uint8Array,
  expected?: { id?: bigint; version?: number },
): SegmentHeader {
  const r = new ByteReader(bytes);
  if (bytes.length < 18 || bytes.subarray(0, 18).every((b) => b === 0)) {
    throw new CdcError('header-not-ready', 'commit-log header not written yet', {
      retriable: true,
    });
  }
  const version = r.i32();
  const id = r.i64();
  const paramLen = r.u16();
  const params = r.bytes(paramLen);
  const stored = r.u32();
  const [lo, hi] = idHalves(id);
  let crc = crcUpdateInt(0, version);
  crc = crcUpdateInt(crc, lo);
  crc = crcUpdateInt(crc, hi);
  crc = crcUpdateInt(crc, paramLen);
  crc = crcUpdate(crc, params);
  if (toUint32(crc) !== stored) {
    throw new CdcError(
      'corrupt',
      `commit-log header crc mismatch (stored ${stored}, computed ${toUint32(crc)})`,
    );
  }
  if (!(version in MESSAGING_VERSION_BY_FILE_VERSION)) {
    throw new CdcError(
      'unsupported-version',
      `commit-log file version ${version} is not supported (7 and 8 are: Cassandra 4.0-5.0)`,
    );
  }
  if (expected?.version !== undefined && expected.version !== version) {
    throw new CdcError(
      'unsupported-version',
      `file name says version ${expected.version}, header says ${version}`,
    );
  }
  if (expected?.id !== undefined && expected.id !== id) {
    throw new CdcError(
      'id-mismatch',
      `segment id mismatch: file name ${expected.id}, header ${id}`,
    );
  }
  let json: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(params.toString('utf8') || '{}');
    json = parsed !== null && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : {};
  } catch (err) {
    throw new CdcError('corrupt', 'commit-log header parameters are not JSON', { cause: err });
  }
  if ('encCipher' in json || 'encKeyAlias' in json || 'encIV' in json) {
    throw new CdcError(
      'encrypted-segment',
      'commit-log segment is encrypted (transparent data encryption); the CDC reader refuses encrypted segments',
    );
  }
  const compressionClass = json['compressionClass'];
  const compression =
    typeof compressionClass === 'string' ? compressorFromClass(compressionClass) : null;
  const v = version as FileVersion;
  return {
    version: v,
    messagingVersion: MESSAGING_VERSION_BY_FILE_VERSION[v],
    id,
    compression,
    params: json,
    length: r.pos,
  };
}

/** One commit-log entry (one serialized `Mutation`). */
export interface SegmentEntry {
  kind: 'entry';
  /** Logical offset just after the entry's trailing crc: Cassandra's `CommitLogPosition.position`. */
  position: number;
  /** The mutation bytes: a view into the segment or its decompressed section, valid until the next section. */
  payload: Buffer;
}

/**
 * Durable bytes skipped as corrupt, reading going on after them, as `CommitLogReader.readSection`
 * does: one entry whose payload crc fails (its size crc held, so where it ends is known), or the
 * rest of a section from an entry whose size cannot be trusted (the sync marker says where the
 * section ends).
 */
export interface SkippedStretch {
  kind: 'skipped';
  /** Logical offset of the first byte skipped. */
  from: number;
  /** Logical offset just after the stretch: a resume point, like an entry's position. */
  position: number;
  reason: string;
}

/** What {@link iterateSegment} yields. */
export type SegmentItem = SegmentEntry | SkippedStretch;

/**
 * Why reading stopped:
 * - `end-of-segment`: a zero sync marker, a zero entry size, or no room for another marker; nothing
 *   more will ever be readable (the segment may still receive no more data, or it is closed);
 * - `limit`: reached the durable limit (idx offset); more may become readable later;
 * - `retry-later`: a torn sync marker (position written, crc not yet) or a section that extends
 *   past the bytes we have; read again later;
 * - `corrupt`: a crc or framing failure in durable data after which nothing can be framed: a sync
 *   marker or a compressed section (`reason` says where);
 * - `paused`: the caller's entry budget was used up (`readSegment` only).
 */
export type SegmentEndKind = 'end-of-segment' | 'limit' | 'retry-later' | 'corrupt' | 'paused';

export interface SegmentEnd {
  end: SegmentEndKind;
  reason?: string;
  /** Resume point: the position of the last entry yielded (or `fromPosition`). */
  position: number;
  /** Uncompressed segments: where a later read can start instead of the file's beginning. */
  resume?: SegmentResume;
}

/**
 * A point to read an uncompressed segment again from: its header and the file offset of the sync
 * marker of the first section not read to its end (every entry after {@link SegmentEnd.position}
 * lies past it). A reader following a growing segment loads only the bytes from there on.
 */
export interface SegmentResume {
  header: SegmentHeader;
  marker: number;
}

export interface IterateOptions {
  /** Yield only entries whose position is greater than this (resume point). Default: none. */
  fromPosition?: number;
  /** Durable logical limit (the idx offset): sections ending past it are not read. */
  limit?: number;
  /** Id and version from the file name, checked against the header. */
  expected?: { id?: bigint; version?: number };
  /**
   * Start at a point an earlier read returned ({@link SegmentEnd.resume}): `bytes` then hold the
   * file from `resume.marker` on, not from its beginning (see {@link loadSegmentFile}).
   */
  resume?: SegmentResume;
}

/**
 * Yields the entries of a segment in order, and the stretches skipped as corrupt between them;
 * returns a {@link SegmentEnd}. Throws only for problems with the header (see
 * {@link parseSegmentHeader}); problems in the body are skipped or end the iteration with an `end`
 * kind instead, so a reader can keep what it got.
 */
export function* iterateSegment(
  bytes: Uint8Array,
  options: IterateOptions = {},
): Generator<SegmentItem, SegmentEnd, void> {
  const { resume } = options;
  const header = resume?.header ?? parseSegmentHeader(bytes, options.expected);
  if (resume && header.compression !== null)
    throw new RangeError('only an uncompressed segment can be read from a resume point');
  const buf = Buffer.isBuffer(bytes)
    ? bytes
    : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  /** File offset of buf[0]; `end`: of the byte after the last one we have. */
  const base = resume?.marker ?? 0;
  const end = base + buf.length;
  const from = options.fromPosition ?? -1;
  // Entries between `from` and the marker are not in the bytes: they would be skipped silently.
  if (resume && from < resume.marker)
    throw new RangeError(
      `cannot resume at marker ${resume.marker} to read after position ${from}: the bytes before the marker are not given`,
    );
  const limit = options.limit ?? Number.POSITIVE_INFINITY;
  const [idLo, idHi] = idHalves(header.id);
  const markerCrcBase = crcUpdateInt(crcUpdateInt(0, idLo), idHi);
  let last = Math.max(from, 0);
  let fileOffset = resume?.marker ?? header.length; // where the next sync marker is, in the file
  let logical = fileOffset; // the same point in logical coordinates
  const done = (kind: SegmentEndKind, reason?: string): SegmentEnd => ({
    end: kind,
    ...(reason === undefined ? {} : { reason }),
    position: last,
    ...(header.compression === null ? { resume: { header, marker: fileOffset } } : {}),
  });

  for (;;) {
    if (logical >= limit) return done('limit');
    if (fileOffset > end - SYNC_MARKER_SIZE) return done('end-of-segment');
    const next = buf.readInt32BE(fileOffset - base);
    const storedCrc = buf.readUInt32BE(fileOffset - base + 4);
    const crc = toUint32(crcUpdateInt(markerCrcBase, fileOffset));
    if (crc !== storedCrc) {
      if (next === 0 && storedCrc === 0) return done('end-of-segment');
      // `next` and the crc are not written atomically (CommitLogSegmentReader.readSyncMarker)
      if (storedCrc === 0)
        return done(
          'retry-later',
          `torn sync marker at ${fileOffset} (next=${next}, crc not written yet)`,
        );
      return done('corrupt', `sync marker crc mismatch at ${fileOffset}`);
    }
    if (next < fileOffset + SYNC_MARKER_SIZE)
      return done('corrupt', `sync marker at ${fileOffset} points backwards to ${next}`);
    if (next > end)
      return done(
        'retry-later',
        `section at ${fileOffset} ends at ${next}, past file offset ${end}, the end of the bytes read`,
      );

    let section: Buffer;
    let sectionStart: number; // logical offset of section[0]
    if (header.compression === null) {
      sectionStart = fileOffset + SYNC_MARKER_SIZE;
      if (next > limit) return done('limit');
      section = buf.subarray(sectionStart - base, next - base);
    } else {
      if (next < fileOffset + SYNC_MARKER_SIZE + 4)
        return done('corrupt', `compressed section at ${fileOffset} too short`);
      const uncompressedLength = buf.readInt32BE(fileOffset + SYNC_MARKER_SIZE);
      if (uncompressedLength < 0)
        return done('corrupt', `negative section length at ${fileOffset}`);
      sectionStart = logical + SYNC_MARKER_SIZE;
      if (sectionStart + uncompressedLength > limit) return done('limit');
      if (sectionStart + uncompressedLength <= from) {
        // wholly before the resume point: skip without decompressing
        fileOffset = next;
        logical = sectionStart + uncompressedLength;
        continue;
      }
      try {
        section = decompress(
          header.compression,
          buf.subarray(fileOffset + SYNC_MARKER_SIZE + 4, next),
          uncompressedLength,
        );
      } catch (err) {
        return done('corrupt', `section at file offset ${fileOffset}: ${(err as Error).message}`);
      }
    }
    const sectionEnd = sectionStart + section.length;

    // entries; seek straight to the resume point when it falls inside this section, as
    // CommitLogReader.readSection does
    let p = from > sectionStart ? from - sectionStart : 0;
    while (p < section.length) {
      if (section.length - p < 4) return done('end-of-segment');
      const size = section.readInt32BE(p);
      if (size === 0) return done('end-of-segment');
      const at = sectionStart + p;
      const crc1 = crcUpdateInt(0, size);
      // A size that cannot be trusted says nothing of where the next entry starts; the section's
      // end is known from its sync marker, so reading goes on from the next section.
      const unframable =
        section.length - p < 8
          ? `entry at ${at} (size ${size}) runs past its section end ${sectionEnd}`
          : toUint32(crc1) !== section.readUInt32BE(p + 4)
            ? `entry size crc mismatch at ${at}`
            : size < MIN_ENTRY_SIZE
              ? `invalid entry size ${size} at ${at}`
              : p + ENTRY_OVERHEAD + size > section.length
                ? `entry at ${at} (size ${size}) runs past its section end ${sectionEnd}`
                : undefined;
      if (unframable !== undefined) {
        if (sectionEnd > from) {
          last = sectionEnd;
          yield {
            kind: 'skipped',
            from: at,
            position: sectionEnd,
            reason: `${unframable}; the rest of the section, ${at} to ${sectionEnd}, is skipped`,
          };
        }
        break;
      }
      const payload = section.subarray(p + 8, p + 8 + size);
      const crc2 = crcUpdate(crc1, payload);
      p += ENTRY_OVERHEAD + size;
      const position = sectionStart + p;
      if (position <= from) continue;
      last = position;
      if (toUint32(crc2) !== section.readUInt32BE(p - 4)) {
        const reason = `entry crc mismatch at ${at} (size ${size}); the entry, ${at} to ${position}, is skipped`;
        yield { kind: 'skipped', from: at, position, reason };
      } else {
        yield { kind: 'entry', position, payload };
      }
    }
    fileOffset = next;
    logical = sectionEnd;
  }
}

/** Result of {@link readSegment}. */
export interface SegmentReadResult extends SegmentEnd {
  header: SegmentHeader;
  entries: SegmentItem[];
}

/**
 * Reads at most `maxEntries` entries (default 1000) after `fromPosition`. When the budget runs
 * out, `end` is `paused` and `position` is where to resume.
 */
export function readSegment(
  bytes: Uint8Array,
  options: IterateOptions & { maxEntries?: number } = {},
): SegmentReadResult {
  const header = options.resume?.header ?? parseSegmentHeader(bytes, options.expected);
  const max = options.maxEntries ?? 1000;
  const entries: SegmentItem[] = [];
  const it = iterateSegment(bytes, options);
  for (;;) {
    if (entries.length >= max) {
      it.return(undefined as never);
      return {
        header,
        entries,
        end: 'paused',
        position: entries.at(-1)?.position ?? Math.max(options.fromPosition ?? 0, 0),
      };
    }
    const step = it.next();
    if (step.done) return { header, entries, ...step.value };
    entries.push(step.value);
  }
}

/**
 * Loads the bytes of a segment file for {@link iterateSegment}. For an uncompressed segment with a
 * `limit`, reads only the first `limit` bytes (the rest is not durable yet); a compressed one is
 * read whole, as its limit is in logical coordinates. With a `resume` point (uncompressed only,
 * and a `limit`), reads from its marker on: a segment followed as it grows is read once, not
 * again from its start at every sync. Returns the name-derived id/version to pass as `expected`.
 */
export async function loadSegmentFile(
  path: string,
  limit?: number,
  resume?: SegmentResume,
): Promise<{ bytes: Buffer; name: SegmentFileName }> {
  const name = parseSegmentFileName(path);
  if (name === null || name.kind !== 'log')
    throw new CdcError('bad-file-name', `not a commit-log segment name: ${path}`);
  if (resume && (resume.header.compression !== null || limit === undefined)) {
    throw new RangeError('a resume point applies to an uncompressed segment read up to a limit');
  }
  const fh = await open(path, 'r');
  try {
    const { size } = await fh.stat();
    let to = size;
    if (limit !== undefined && limit < size) {
      let compressed = false; // a resume point's segment is uncompressed (checked above)
      if (!resume) {
        const head = Buffer.alloc(Math.min(size, 18 + 65535 + 4));
        await fh.read(head, 0, head.length, 0);
        try {
          compressed = parseSegmentHeader(head, name).compression !== null;
        } catch {
          compressed = true; // let the caller's iterateSegment report the header problem on the whole file
        }
      }
      if (!compressed) to = limit;
    }
    const from = resume ? Math.min(resume.marker, to) : 0;
    const bytes = Buffer.alloc(to - from);
    let got = 0;
    while (got < bytes.length) {
      const { bytesRead } = await fh.read(bytes, got, bytes.length - got, from + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return { bytes: got === bytes.length ? bytes : bytes.subarray(0, got), name };
  } finally {
    await fh.close();
  }
}
