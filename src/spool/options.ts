import type { SpoolCorruption } from './recover.js';
import type { SpoolFsync } from './writer.js';

/**
 * What an append does when it would take the spool past `maxBytes`.
 *
 * @example
 * ```ts
 * const hotSource = true; // e.g. a UDP socket: it cannot be paused, so shed the oldest instead
 * const whenFull: SpoolWhenFull = hotSource ? 'drop-oldest' : 'block';
 * ```
 */
export type SpoolWhenFull =
  /** Wait until acks free whole segments (backpressure: a cold source is simply pulled later). */
  | 'block'
  /** Fail the append with `SpoolFullError`; nothing of it is stored (Greengrass `RejectNewData`). */
  | 'reject'
  /** Delete the oldest segment, reported through `onDrop` (Greengrass `OverwriteOldestData`). */
  | 'drop-oldest';

/**
 * A segment deleted by `whenFull: 'drop-oldest'`.
 *
 * @example
 * ```ts
 * const onDrop = (d: SpoolDrop) => console.warn(`spool full: dropped ${d.entries} entries of ${d.file}`);
 * ```
 */
export interface SpoolDrop {
  readonly file: string;
  readonly firstId: number;
  readonly lastId: number;
  /** Unacknowledged entries it held (entries read but not yet acked are among them). */
  readonly entries: number;
}

/**
 * How to open a spool. Only `directory` is required.
 *
 * @example
 * ```ts
 * const options: SpoolOptions = { directory: '/var/spool/sensors', maxBytes: 1024 ** 3, fsync: 'batch' };
 * ```
 */
export interface SpoolOptions {
  /** The spool's directory (created if missing); one process at a time. */
  directory: string;
  /**
   * Disk the segment files may take. Default 256 MiB, Greengrass stream manager's default per stream: at
   * the 1 MiB/s one shard accepts that is over 4 minutes of full-rate outage, and hours for a sensor
   * gateway sending a few KiB/s. Ack files (16 bytes per run of acked ids) are not counted.
   */
  maxBytes?: number;
  /**
   * Size at which a segment is closed and a new one started. Default 16 MiB (Greengrass's segment size):
   * space is freed a segment at a time, so it is also the unit of `drop-oldest`; 16 of them make 256 MiB,
   * and it stays above the 10 MiB record ceiling. A recovery scan holds one segment in memory.
   */
  segmentBytes?: number;
  /**
   * When appends are forced to disk. Default `'batch'`: an item counts as accepted once spooled, and a
   * gateway's typical crash is a power cut, so acceptance should survive one; group commit makes that
   * cost one fsync per write, not per record.
   */
  fsync?: SpoolFsync;
  /** Period of the fsync for `fsync: 'interval'`. Default 1,000 ms. */
  fsyncIntervalMs?: number;
  /**
   * What a full spool does with an append. Default `'block'` (like Vector's disk buffers): a cold source
   * is pulled later and nothing is lost; hot sources choose `'reject'` or `'drop-oldest'`.
   */
  whenFull?: SpoolWhenFull;
  /** The read window: bytes a read fetches from disk at once. Default 1 MiB. */
  readWindowBytes?: number;
  /** Damage found in the files (at open): never read as data, always reported here and in `stats()`. */
  onCorruption?: (corruption: SpoolCorruption) => void;
  /** A segment deleted by `whenFull: 'drop-oldest'`. */
  onDrop?: (drop: SpoolDrop) => void;
}

/** The options with every default filled in. */
export type SpoolDefaults = Required<Omit<SpoolOptions, 'onCorruption' | 'onDrop'>> &
  Pick<SpoolOptions, 'onCorruption' | 'onDrop'>;

/**
 * Counters and sizes of a spool.
 *
 * @example
 * ```ts
 * const { usedBytes, maxBytes } = spool.stats();
 * ```
 */
export interface SpoolStats {
  readonly usedBytes: number;
  readonly maxBytes: number;
  readonly segments: number;
  /** Entries stored and not acknowledged (read or not). */
  readonly unackedEntries: number;
  /** Entries read and not yet acknowledged. */
  readonly inFlightEntries: number;
  /** Appends waiting for space (`whenFull: 'block'`). */
  readonly waitingAppends: number;
  /** Entries an earlier process left, found at open. */
  readonly recoveredEntries: number;
  readonly appendedEntries: number;
  readonly ackedEntries: number;
  /** Entries deleted unacknowledged by `drop-oldest`, and the segments they were in. */
  readonly droppedEntries: number;
  readonly droppedSegments: number;
  /** Appends failed with `SpoolFullError`. */
  readonly rejectedAppends: number;
  /** Damage reports (`onCorruption`), and the entries they are known to have cost. */
  readonly corruptions: number;
  readonly lostEntries: number;
  /** fdatasync calls on segment files: with group commit, far fewer than appends. */
  readonly syncs: number;
  /**
   * Entries `read` handed over from memory (kept since their append, up to `readWindowBytes`: not read
   * back from disk), and entries it read back from disk (an earlier process's, or appended past that).
   */
  readonly readFromMemory: number;
  readonly readFromDisk: number;
}

const MIB = 1024 * 1024;

/** Fills in defaults and checks ranges, naming the option at fault. */
export function resolveSpoolOptions(options: SpoolOptions): SpoolDefaults {
  if (typeof options?.directory !== 'string' || options.directory === '')
    throw new TypeError('spool directory must be a non-empty path');
  const resolved: SpoolDefaults = {
    directory: options.directory,
    maxBytes: options.maxBytes ?? 256 * MIB,
    segmentBytes: options.segmentBytes ?? 16 * MIB,
    fsync: options.fsync ?? 'batch',
    fsyncIntervalMs: options.fsyncIntervalMs ?? 1000,
    whenFull: options.whenFull ?? 'block',
    readWindowBytes: options.readWindowBytes ?? MIB,
    onCorruption: options.onCorruption,
    onDrop: options.onDrop,
  };
  for (const name of ['maxBytes', 'segmentBytes', 'fsyncIntervalMs', 'readWindowBytes'] as const) {
    const value = resolved[name];
    if (!Number.isSafeInteger(value) || value <= 0)
      throw new RangeError(`spool ${name} must be a positive integer`);
  }
  if (resolved.segmentBytes > resolved.maxBytes)
    throw new RangeError(
      `spool segmentBytes (${resolved.segmentBytes}) must not exceed maxBytes (${resolved.maxBytes})`,
    );
  if (!['always', 'batch', 'interval', 'never'].includes(resolved.fsync))
    throw new RangeError(`spool fsync must be 'always', 'batch', 'interval' or 'never'`);
  if (!['block', 'reject', 'drop-oldest'].includes(resolved.whenFull))
    throw new RangeError(`spool whenFull must be 'block', 'reject' or 'drop-oldest'`);
  return resolved;
}
