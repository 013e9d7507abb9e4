/**
 * Decompressors for compressed commit-log sections (`commitlog_compression`). Cassandra's
 * `ICompressor` formats (`io/compress/*Compressor.java`):
 * - LZ4: 4-byte little-endian uncompressed length, then one raw LZ4 block. Decoded here in plain
 *   TypeScript (the block format is tiny) so the project needs no native LZ4 addon.
 * - Snappy: one raw Snappy block (`Snappy.rawCompress`), decoded here too.
 * - Deflate: a zlib stream (`java.util.zip.Deflater` defaults) -> `node:zlib` inflate.
 * - Zstd: one zstd frame -> `node:zlib` zstd (Node >= 22.15 / 23.8).
 */
import { inflateSync, zstdDecompressSync } from 'node:zlib';
import { CdcError } from './errors.ts';

/** The compressors a commit-log header can name, by short class name. */
export type CompressorName =
  'LZ4Compressor' | 'SnappyCompressor' | 'DeflateCompressor' | 'ZstdCompressor';

const KNOWN: ReadonlySet<string> = new Set([
  'LZ4Compressor',
  'SnappyCompressor',
  'DeflateCompressor',
  'ZstdCompressor',
]);

/**
 * Maps a header's `compressionClass` (short or fully qualified) to a {@link CompressorName}, or
 * throws `unsupported-compression`.
 */
export function compressorFromClass(className: string): CompressorName {
  const short = className.slice(className.lastIndexOf('.') + 1);
  if (!KNOWN.has(short)) {
    throw new CdcError(
      'unsupported-compression',
      `commit-log compressor ${className} is not supported (LZ4, Snappy, Deflate, Zstd are)`,
    );
  }
  return short as CompressorName;
}

/** Decompresses one section block and checks it yields exactly `expectedLength` bytes. */
export function decompress(
  name: CompressorName,
  block: Uint8Array,
  expectedLength: number,
): Buffer {
  let out: Buffer;
  try {
    switch (name) {
      case 'LZ4Compressor': {
        if (block.length < 4)
          throw new CdcError('corrupt', 'LZ4 block shorter than its length prefix');
        const len = (block[0]! | (block[1]! << 8) | (block[2]! << 16) | (block[3]! << 24)) >>> 0;
        out = lz4DecodeBlock(block.subarray(4), len);
        break;
      }
      case 'SnappyCompressor':
        out = snappyDecode(block);
        break;
      case 'DeflateCompressor':
        out = inflateSync(block);
        break;
      case 'ZstdCompressor':
        out = zstdDecompressSync(block);
        break;
    }
  } catch (err) {
    if (err instanceof CdcError) throw err;
    throw new CdcError(
      'corrupt',
      `${name} section does not decompress: ${(err as Error).message}`,
      { cause: err },
    );
  }
  if (out.length !== expectedLength) {
    throw new CdcError(
      'corrupt',
      `${name} section decompressed to ${out.length} bytes, header says ${expectedLength}`,
    );
  }
  return out;
}

function corrupt(what: string): CdcError {
  return new CdcError('corrupt', `bad LZ4/Snappy block: ${what}`);
}

/** Decodes one raw LZ4 block (no frame) whose decompressed size is `outLength`. */
export function lz4DecodeBlock(src: Uint8Array, outLength: number): Buffer {
  const out = Buffer.allocUnsafe(outLength);
  let ip = 0;
  let op = 0;
  while (ip < src.length) {
    const token = src[ip++]!;
    let lit = token >>> 4;
    if (lit === 15) {
      let b: number;
      do {
        if (ip >= src.length) throw corrupt('literal length runs past the input');
        b = src[ip++]!;
        lit += b;
      } while (b === 255);
    }
    if (ip + lit > src.length || op + lit > outLength)
      throw corrupt('literals run past the input or output');
    out.set(src.subarray(ip, ip + lit), op);
    ip += lit;
    op += lit;
    if (ip === src.length) break; // the last sequence carries literals only
    if (ip + 2 > src.length) throw corrupt('truncated match offset');
    const offset = src[ip]! | (src[ip + 1]! << 8);
    ip += 2;
    if (offset === 0 || offset > op) throw corrupt(`match offset ${offset} at output ${op}`);
    let len = (token & 15) + 4;
    if ((token & 15) === 15) {
      let b: number;
      do {
        if (ip >= src.length) throw corrupt('match length runs past the input');
        b = src[ip++]!;
        len += b;
      } while (b === 255);
    }
    if (op + len > outLength) throw corrupt('match runs past the output');
    copyMatch(out, op, offset, len);
    op += len;
  }
  if (op !== outLength) throw corrupt(`decoded ${op} bytes, expected ${outLength}`);
  return out;
}

/** Back-reference copy; overlapping copies (offset < len) repeat the pattern, as the formats require. */
function copyMatch(out: Buffer, op: number, offset: number, len: number): void {
  let from = op - offset;
  if (offset >= len) {
    out.copyWithin(op, from, from + len);
    return;
  }
  for (let i = 0; i < len; i++) out[op + i] = out[from++]!;
}

/** Decodes one raw Snappy block. */
export function snappyDecode(src: Uint8Array): Buffer {
  let ip = 0;
  let outLength = 0;
  for (let shift = 0; ; shift += 7) {
    if (ip >= src.length || shift > 28) throw corrupt('bad Snappy length preamble');
    const b = src[ip++]!;
    outLength += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) break;
  }
  const out = Buffer.allocUnsafe(outLength);
  let op = 0;
  while (ip < src.length) {
    const tag = src[ip++]!;
    const kind = tag & 3;
    if (kind === 0) {
      let len = tag >>> 2;
      if (len >= 60) {
        const n = len - 59;
        if (ip + n > src.length) throw corrupt('truncated literal length');
        len = 0;
        for (let i = 0; i < n; i++) len += src[ip + i]! * 2 ** (8 * i);
        ip += n;
      }
      len += 1;
      if (ip + len > src.length || op + len > outLength)
        throw corrupt('literal runs past the input or output');
      out.set(src.subarray(ip, ip + len), op);
      ip += len;
      op += len;
      continue;
    }
    let len: number;
    let offset: number;
    if (kind === 1) {
      if (ip >= src.length) throw corrupt('truncated copy-1');
      len = ((tag >>> 2) & 7) + 4;
      offset = ((tag >>> 5) << 8) | src[ip++]!;
    } else if (kind === 2) {
      if (ip + 2 > src.length) throw corrupt('truncated copy-2');
      len = (tag >>> 2) + 1;
      offset = src[ip]! | (src[ip + 1]! << 8);
      ip += 2;
    } else {
      if (ip + 4 > src.length) throw corrupt('truncated copy-4');
      len = (tag >>> 2) + 1;
      offset = (src[ip]! | (src[ip + 1]! << 8) | (src[ip + 2]! << 16) | (src[ip + 3]! << 24)) >>> 0;
      ip += 4;
    }
    if (offset === 0 || offset > op || op + len > outLength)
      throw corrupt(`copy offset ${offset} length ${len} at ${op}`);
    copyMatch(out, op, offset, len);
    op += len;
  }
  if (op !== outLength) throw corrupt(`decoded ${op} bytes, expected ${outLength}`);
  return out;
}
