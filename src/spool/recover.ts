import { readdir, readFile, truncate, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeAcks, inRuns } from './ack-format.js';
import { SpoolError } from './errors.js';
import {
  ACK_RECORD_BYTES,
  ackName,
  FORMAT_VERSION,
  parseSegmentName,
  scanSegment,
  SEGMENT_HEADER_BYTES,
  segmentName,
  segmentVersion,
} from './format.js';

/**
 * Damage found in the spool's files. Never yielded as data; every one is reported through `onCorruption`
 * and counted in `stats()`.
 *
 * @example
 * ```ts
 * const onCorruption = (c: SpoolCorruption) => console.warn(`${c.kind} in ${c.file} at ${c.offset}`);
 * ```
 */
export interface SpoolCorruption {
  readonly kind:
    /**
     * A segment (or ack file) ends in bytes that are no valid frame (record): a write cut short by a
     * crash, or a damaged last frame.
     */
    | 'torn-tail'
    /** Damaged frames inside a segment, skipped up to the next valid frame. */
    | 'corrupt-frames'
    /** The segment header's magic is wrong; its frames were still scanned (they check themselves). */
    | 'corrupt-header'
    /** Damaged ack records, skipped: their entries will be read again (duplicates, never loss). */
    | 'corrupt-acks';
  /** The file's name inside the spool directory. */
  readonly file: string;
  /** Where the damage starts. */
  readonly offset: number;
  /** Bytes skipped. */
  readonly bytes: number;
  /** Entries lost, when the ids around the damage tell (`corrupt-frames`); undefined when unknown. */
  readonly lostEntries: number | undefined;
}

/** A segment's bookkeeping in memory. Its entries live on disk only. */
export interface Segment {
  readonly name: string;
  readonly firstId: number;
  /** Id of its last frame (firstId − 1 while empty). */
  lastId: number;
  /** Bytes the file has, or will have once queued writes land. */
  bytes: number;
  /** Bytes written to the file so far (recovered: up to the last valid frame). */
  written: number;
  /** Bytes a reader may read: up to the last durable append (recovered: the last valid frame). */
  readable: number;
  /** Entries not acknowledged yet. */
  pending: number;
  /** No more frames go to it. */
  sealed: boolean;
  /** Damaged stretches found at open: offset → where the next valid frame starts. */
  readonly skips: Map<number, number>;
  /** Ids acknowledged by an earlier process, as sorted [first, end) runs (skipped when read). */
  readonly acked: [number, number][];
  /** Its ack file exists. */
  hasAckFile: boolean;
  /** Found at open: never written again; its readable end is its last valid frame. */
  readonly recovered: boolean;
  deleted: boolean;
}

/**
 * A new, empty segment starting at `firstId`: what the writer opens next (recovered ones come from
 * {@link recover}).
 *
 * @example
 * ```ts
 * const segment = newSegment(1); // seg name for id 1, lastId 0, header bytes only
 * ```
 */
export function newSegment(firstId: number): Segment {
  return {
    name: segmentName(firstId),
    firstId,
    lastId: firstId - 1,
    bytes: SEGMENT_HEADER_BYTES,
    written: 0,
    readable: 0,
    pending: 0,
    sealed: false,
    skips: new Map(),
    acked: [],
    hasAckFile: false,
    recovered: false,
    deleted: false,
  };
}

/** Whether every frame of a segment is written and readable: a reader can leave it, drop-oldest can drop it. */
export function complete(segment: Segment): boolean {
  return segment.sealed && (segment.recovered || segment.readable === segment.bytes);
}

/** What the files of a spool directory hold, found at open. */
export interface Recovered {
  readonly segments: Segment[];
  /** Entries left unacknowledged. */
  readonly entries: number;
  readonly corruptions: SpoolCorruption[];
  /** The id the next append gets. */
  readonly nextId: number;
}

/**
 * Scans every segment of a directory, one whole segment in memory at a time (bounded by the segment size
 * that wrote it): validates frames by CRC, subtracts acks, deletes segments nothing is left in (fully
 * acknowledged, or no valid frame), and orphaned ack files. Old segments are never written again — a new
 * process starts a new segment — so a torn tail needs no truncation: it is skipped.
 */
export async function recover(directory: string): Promise<Recovered> {
  const names = await readdir(directory);
  const segmentIds = new Map<string, number>();
  for (const name of names) {
    const firstId = parseSegmentName(name);
    if (firstId !== undefined) segmentIds.set(name, firstId);
  }
  for (const name of names) {
    // Ack files whose segment is gone, and lock files a killed opener left half-taken (lock.ts).
    const orphanAcks = name.endsWith('.ack') && !segmentIds.has(name.replace(/\.ack$/, '.log'));
    const deadLockFile = /^lock\.\d+\.tmp$/.test(name) && name !== `lock.${process.pid}.tmp`;
    if (orphanAcks || deadLockFile) await unlink(join(directory, name)).catch(() => undefined);
  }
  const segments: Segment[] = [];
  const corruptions: SpoolCorruption[] = [];
  let entries = 0;
  let nextId = 1;
  const ordered = [...segmentIds].sort((a, b) => a[1] - b[1]);
  for (const [name, firstId] of ordered) {
    const buf = await readFile(join(directory, name));
    const version = segmentVersion(buf);
    if (version !== undefined && version !== FORMAT_VERSION)
      throw new SpoolError(
        'UNSUPPORTED_FORMAT',
        `segment ${name} has format version ${version}; this version reads ${FORMAT_VERSION}`,
      );
    // A file cut inside its header is a creation the crash interrupted (nothing of it was durable, and
    // an empty one is not even torn); a whole header with the wrong magic is damage.
    if (version === undefined && buf.length > 0)
      corruptions.push({
        kind: buf.length < SEGMENT_HEADER_BYTES ? 'torn-tail' : 'corrupt-header',
        file: name,
        offset: 0,
        bytes: Math.min(buf.length, SEGMENT_HEADER_BYTES),
        lostEntries: undefined,
      });
    const ackFile = ackName(name);
    const ackBuf = await readFile(join(directory, ackFile)).catch(() => undefined);
    const acks = decodeAcks(ackBuf ?? Buffer.alloc(0));
    if (acks.damaged > 0)
      corruptions.push({
        kind: 'corrupt-acks',
        file: ackFile,
        offset: 0,
        bytes: acks.damaged * ACK_RECORD_BYTES,
        lostEntries: undefined,
      });
    // Ack files are appended to after a restart: cut a torn record off, or later records would misalign.
    if (acks.tornBytes > 0) await truncate(join(directory, ackFile), ackBuf!.length - acks.tornBytes);
    if (acks.tornBytes > 0)
      corruptions.push({
        kind: 'torn-tail',
        file: ackFile,
        offset: ackBuf!.length - acks.tornBytes,
        bytes: acks.tornBytes,
        lostEntries: undefined,
      });
    let pending = 0;
    let lastId = firstId - 1;
    const scan = scanSegment(buf, firstId, (entry) => {
      lastId = entry.id;
      if (!inRuns(acks.runs, entry.id)) pending++;
    });
    const skips = new Map<number, number>();
    for (const range of scan.damaged) {
      const tail = range.resume === buf.length;
      corruptions.push({
        kind: tail ? 'torn-tail' : 'corrupt-frames',
        file: name,
        offset: range.offset,
        bytes: range.resume - range.offset,
        lostEntries: range.lostEntries,
      });
      if (!tail) skips.set(range.offset, range.resume);
    }
    let bytes = buf.length;
    // Cut a torn tail off (its bytes are no data), so that it is reported once, not at every open.
    // Damage inside a segment cannot be cut out: it is reported at each open while the segment lives.
    if (scan.damaged.at(-1)?.resume === buf.length && scan.validEnd > SEGMENT_HEADER_BYTES) {
      await truncate(join(directory, name), scan.validEnd);
      bytes = scan.validEnd;
    }
    nextId = Math.max(nextId, lastId + 1);
    if (pending === 0) {
      await unlink(join(directory, name));
      await unlink(join(directory, ackFile)).catch(() => undefined);
      continue;
    }
    entries += pending;
    segments.push({
      name,
      firstId,
      lastId,
      bytes,
      written: scan.validEnd,
      readable: scan.validEnd,
      pending,
      sealed: true,
      skips,
      acked: acks.runs,
      hasAckFile: ackBuf !== undefined && ackBuf.length - acks.tornBytes > 0,
      recovered: true,
      deleted: false,
    });
  }
  return { segments, entries, corruptions, nextId };
}
