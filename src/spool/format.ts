/**
 * The spool's on-disk format, version 1 (documented in `docs/spool-format.md`). Pure functions over
 * buffers: encoding, decoding and the recovery scan, so that the format can be tested without any I/O.
 *
 * Integers are big-endian. Ids are unsigned 64-bit on disk, kept below 2^53 in memory.
 */
import { crc32Of } from './crc.js';
import { SpoolError } from './errors.js';

/**
 * The format version written into every segment and ack file header (`docs/spool-format.md`).
 *
 * @example
 * ```ts
 * console.log(`spool format v${FORMAT_VERSION}`);
 * ```
 */
export const FORMAT_VERSION = 1;
/** 'RXKS': the first four bytes of a segment file. */
export const SEGMENT_MAGIC = 0x52584b53;
/** 'RXKA': the first four bytes of an ack file. */
export const ACK_MAGIC = 0x52584b41;
/**
 * Starts every frame, so a scan can find the next frame after a damaged one. 0xFE never occurs in UTF-8
 * text, so JSON or text payloads cannot contain the marker; any false match must also pass the CRC.
 */
export const FRAME_MARK = 0xfe8bf715;
/** Segment header: magic, version (u16), flags (u16, 0), id of the segment's first frame (u64). */
export const SEGMENT_HEADER_BYTES = 16;
/** Ack file header: magic, version (u16), flags (u16, 0). */
export const ACK_HEADER_BYTES = 8;
/** One ack record: crc32 of the next 12 bytes, first id (u64), count (u32). */
export const ACK_RECORD_BYTES = 16;
/** Frame prefix: mark, crc32, length — the length counts every byte after itself. */
const FRAME_PREFIX_BYTES = 12;
/** Frame fields after the prefix: id (u64), key length (u16), hash key length (u8), flags (u8, 0). */
const FRAME_FIELDS_BYTES = 12;
/** Bytes a frame adds to its record's key, hash key and data. */
export const FRAME_OVERHEAD_BYTES = FRAME_PREFIX_BYTES + FRAME_FIELDS_BYTES;
/**
 * The largest frame length a scan believes: 10 MiB of data (Kinesis's ceiling after `UpdateMaxRecordSize`)
 * plus the largest key fields. Anything longer is damage, so a flipped length cannot make a scan swallow
 * the rest of a segment as one frame.
 */
export const MAX_FRAME_LENGTH = 10 * 1024 * 1024 + 0xffff + 0xff + FRAME_FIELDS_BYTES;

const MARK_BYTES = Buffer.from([0xfe, 0x8b, 0xf7, 0x15]);
const TWO_32 = 2 ** 32;

/**
 * A Kinesis record as the SDK's `PutRecordsRequestEntry` holds it, with `Data` already bytes.
 *
 * @example
 * ```ts
 * const record: SpoolRecord = { PartitionKey: 'device-7', Data: Buffer.from('{"t":21.5}') };
 * ```
 */
export interface SpoolRecord {
  PartitionKey: string;
  ExplicitHashKey?: string;
  Data: Uint8Array;
}

/**
 * A record read back from the spool, with the id `append()` gave it.
 *
 * @example
 * ```ts
 * const delivered = (entries: SpoolEntry[]) => spool.ack(entries.map((e) => e.id));
 * ```
 */
export interface SpoolEntry extends SpoolRecord {
  readonly id: number;
  /**
   * True when an earlier process appended it (its id is below this spool's `firstAppendId`). Set here so
   * that the pipeline emits the entry as it is, with no copy per record.
   */
  readonly replayed: boolean;
}

/** Writes an id as an unsigned 64-bit big-endian integer. */
export function writeId(buf: Buffer, id: number, at: number): void {
  buf.writeUInt32BE(Math.floor(id / TWO_32), at);
  buf.writeUInt32BE(id >>> 0, at + 4);
}

/** Reads an id written by `writeId`. */
export function readId(buf: Buffer, at: number): number {
  return buf.readUInt32BE(at) * TWO_32 + buf.readUInt32BE(at + 4);
}

/**
 * The bytes the record takes on disk as one frame, or why it cannot be framed: the key length field is
 * 16 bits, the hash key's 8 bits (Kinesis allows 256 characters and 39 digits, far below), and data stops
 * at 10 MiB. Each string's UTF-8 length is taken once (it was four times per record: check, size, encode).
 */
export function measureRecord(record: SpoolRecord): number | string {
  const key = record.PartitionKey;
  if (typeof key !== 'string') return 'PartitionKey must be a string';
  const keyLength = Buffer.byteLength(key, 'utf8');
  if (keyLength > 0xffff) return 'PartitionKey exceeds 65,535 bytes';
  const hashKey = record.ExplicitHashKey;
  const hashKeyLength = hashKey === undefined ? 0 : Buffer.byteLength(hashKey, 'utf8');
  if (hashKeyLength > 0xfe) return 'ExplicitHashKey exceeds 254 bytes';
  if (!(record.Data instanceof Uint8Array)) return 'Data must be a Uint8Array';
  const size = FRAME_OVERHEAD_BYTES + keyLength + hashKeyLength + record.Data.byteLength;
  if (size - FRAME_PREFIX_BYTES > MAX_FRAME_LENGTH) return 'record exceeds 10 MiB';
  return size;
}

/** Bytes the record takes on disk as one frame; the caller has checked it (`checkRecord`). */
export function frameBytes(record: SpoolRecord): number {
  return measureRecord(record) as number;
}

/** Why a record cannot be framed (see `measureRecord`), or undefined. */
export function checkRecord(record: SpoolRecord): string | undefined {
  const measured = measureRecord(record);
  return typeof measured === 'string' ? measured : undefined;
}

/**
 * Writes the record's frame into `buf` at `at`; `size` is its `measureRecord`. The frames of one append
 * go into one buffer: a buffer per frame (and a concat per write) was a sixth of the spool's own CPU
 * (bench scenario 13, `--cpu-prof`). Throws if the record no longer measures `size` (changed since).
 */
export function encodeFrameAt(buf: Buffer, at: number, id: number, record: SpoolRecord, size: number): void {
  const keyAt = at + FRAME_OVERHEAD_BYTES;
  const keyLength = writeKey(buf, record.PartitionKey, keyAt);
  const hashKey = record.ExplicitHashKey;
  const hashKeyLength = hashKey === undefined ? 0 : buf.write(hashKey, keyAt + keyLength, 'utf8');
  const dataAt = keyAt + keyLength + hashKeyLength;
  if (dataAt + record.Data.byteLength !== at + size)
    throw new SpoolError('INVALID_RECORD', `record ${id} changed between append() and its encoding`);
  buf.set(record.Data, dataAt);
  buf.writeUInt32BE(FRAME_MARK, at);
  buf.writeUInt32BE(size - FRAME_PREFIX_BYTES, at + 8);
  writeId(buf, id, at + 12);
  buf.writeUInt16BE(keyLength, at + 20);
  buf[at + 22] = hashKey === undefined ? 0 : hashKeyLength + 1;
  buf[at + 23] = 0;
  buf.writeUInt32BE(crc32Of(buf, at + 8, at + size), at + 4);
}

/**
 * Writes a partition key as UTF-8 at `at`, returning its byte length. A short ASCII key (the usual: a
 * device or user id) is copied here: Buffer#write's native call took 65 ns for a 13-character key, this
 * loop 32 ns (measured, 1,000 frames per buffer). Any other key goes to Buffer#write, from the start.
 */
function writeKey(buf: Buffer, key: string, at: number): number {
  if (key.length <= 64) {
    let i = 0;
    for (; i < key.length; i++) {
      const c = key.charCodeAt(i);
      if (c > 0x7f) break;
      buf[at + i] = c;
    }
    if (i === key.length) return i;
  }
  return buf.write(key, at, 'utf8');
}

/** The size of the (well-formed) frame at `at`: its prefix and the length it states. */
export function frameSizeAt(buf: Buffer, at: number): number {
  return FRAME_PREFIX_BYTES + buf.readUInt32BE(at + 8);
}

/** The frame for one record, in a buffer of its own. */
export function encodeFrame(id: number, record: SpoolRecord): Buffer {
  const size = frameBytes(record);
  const buf = Buffer.allocUnsafe(size);
  encodeFrameAt(buf, 0, id, record, size);
  return buf;
}

/** What `decodeFrame` found at an offset. */
export type Decoded =
  | { readonly kind: 'frame'; readonly entry: SpoolEntry; readonly next: number }
  /** The bytes so far are a plausible frame start, but it ends past `end`: read more, or it is torn. */
  | { readonly kind: 'short'; readonly needed: number }
  /** Not a frame: wrong marker, impossible length or a checksum mismatch. */
  | { readonly kind: 'bad' };

/**
 * Decodes the frame at `at` from the bytes `buf[0, end)`; `Data` is a copy, so `buf` can be reused. The
 * entry is `replayed` when its id is below `firstAppendId` (by default, every entry found on disk).
 */
export function decodeFrame(buf: Buffer, at: number, end = buf.length, firstAppendId = Infinity): Decoded {
  if (end - at < FRAME_PREFIX_BYTES) {
    const have = buf.subarray(at, Math.min(end, at + MARK_BYTES.length));
    return MARK_BYTES.subarray(0, have.length).equals(have)
      ? { kind: 'short', needed: FRAME_PREFIX_BYTES }
      : { kind: 'bad' };
  }
  if (buf.readUInt32BE(at) !== FRAME_MARK) return { kind: 'bad' };
  const length = buf.readUInt32BE(at + 8);
  if (length < FRAME_FIELDS_BYTES || length > MAX_FRAME_LENGTH) return { kind: 'bad' };
  const next = at + FRAME_PREFIX_BYTES + length;
  if (next > end) return { kind: 'short', needed: FRAME_PREFIX_BYTES + length };
  if (crc32Of(buf, at + 8, next) !== buf.readUInt32BE(at + 4)) return { kind: 'bad' };
  const keyLength = buf.readUInt16BE(at + 20);
  const hashKeyField = buf.readUInt8(at + 22);
  const hashKeyLength = hashKeyField === 0 ? 0 : hashKeyField - 1;
  const keyAt = at + FRAME_OVERHEAD_BYTES;
  const dataAt = keyAt + keyLength + hashKeyLength;
  if (dataAt > next) return { kind: 'bad' };
  const id = readId(buf, at + 12);
  const PartitionKey = buf.toString('utf8', keyAt, keyAt + keyLength);
  const Data = Uint8Array.prototype.slice.call(buf, dataAt, next);
  const replayed = id < firstAppendId;
  const entry: SpoolEntry =
    hashKeyField === 0
      ? { id, PartitionKey, Data, replayed }
      : {
          id,
          PartitionKey,
          ExplicitHashKey: buf.toString('utf8', keyAt + keyLength, keyAt + keyLength + hashKeyLength),
          Data,
          replayed,
        };
  return { kind: 'frame', entry, next };
}

/** A segment header; `firstId` is the id its first frame has (or would have). */
export function encodeSegmentHeader(firstId: number): Buffer {
  const buf = Buffer.alloc(SEGMENT_HEADER_BYTES);
  buf.writeUInt32BE(SEGMENT_MAGIC, 0);
  buf.writeUInt16BE(FORMAT_VERSION, 4);
  writeId(buf, firstId, 8);
  return buf;
}

/** The header's version, or undefined when the magic is wrong (a damaged or foreign file). */
export function segmentVersion(buf: Buffer): number | undefined {
  if (buf.length < SEGMENT_HEADER_BYTES || buf.readUInt32BE(0) !== SEGMENT_MAGIC) return undefined;
  return buf.readUInt16BE(4);
}

/** A stretch of a segment that held no valid frame. */
export interface DamagedRange {
  readonly offset: number;
  /** Where the next valid frame starts; the file's length for a damaged tail. */
  readonly resume: number;
  /** Entries the stretch held, known from the ids around it; undefined for a tail. */
  readonly lostEntries: number | undefined;
}

/** What a full scan of one segment found. */
export interface SegmentScan {
  readonly damaged: DamagedRange[];
  /** The end of the last valid frame. */
  readonly validEnd: number;
}

/**
 * Walks every frame of a segment held in `buf`, calling `onFrame` for each valid one in order. A damaged
 * frame is skipped up to the next marker that starts a valid frame with a higher id (a flipped bit costs
 * one frame, not the rest of the segment); with none, the rest is a damaged (torn) tail.
 */
export function scanSegment(
  buf: Buffer,
  firstId: number,
  onFrame: (entry: SpoolEntry, offset: number) => void,
): SegmentScan {
  const damaged: DamagedRange[] = [];
  let at = SEGMENT_HEADER_BYTES;
  let validEnd = at;
  let lastId = firstId - 1;
  while (at < buf.length) {
    const decoded = decodeFrame(buf, at);
    if (decoded.kind === 'frame' && decoded.entry.id > lastId) {
      onFrame(decoded.entry, at);
      lastId = decoded.entry.id;
      at = validEnd = decoded.next;
      continue;
    }
    let resume = buf.indexOf(MARK_BYTES, at + 1);
    let found: SpoolEntry | undefined;
    for (; resume >= 0; resume = buf.indexOf(MARK_BYTES, resume + 1)) {
      const candidate = decodeFrame(buf, resume);
      if (candidate.kind === 'frame' && candidate.entry.id > lastId) {
        found = candidate.entry;
        break;
      }
    }
    if (found === undefined) {
      damaged.push({ offset: at, resume: buf.length, lostEntries: undefined });
      break;
    }
    damaged.push({ offset: at, resume, lostEntries: found.id - lastId - 1 });
    at = resume;
  }
  return { damaged, validEnd };
}

/** A segment's file name: its first id, zero-padded so names sort like ids. */
export function segmentName(firstId: number): string {
  return `seg-${String(firstId).padStart(16, '0')}.log`;
}

/** The ack file that belongs to a segment. */
export function ackName(segment: string): string {
  return segment.replace(/\.log$/, '.ack');
}

/** The first id named by a segment file name, or undefined for any other file. */
export function parseSegmentName(name: string): number | undefined {
  const match = /^seg-(\d{16})\.log$/.exec(name);
  return match === null ? undefined : Number(match[1]);
}
