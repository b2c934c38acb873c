import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { encodeSegmentHeader, frameSizeAt } from './format.js';
import type { Segment } from './recover.js';

/**
 * When appended bytes are forced to the disk with `fdatasync`.
 *
 * @example
 * ```ts
 * const fsync: SpoolFsync = process.env.SPOOL_FAST ? 'interval' : 'batch';
 * ```
 */
export type SpoolFsync =
  /** One fsync per record: the most a spool can pay; what a naive write-then-fsync loop costs. */
  | 'always'
  /** Group commit: appends waiting at the same moment share one write and one fsync. */
  | 'batch'
  /** Appends resolve once written (safe from a process crash); fsync every `fsyncIntervalMs`. */
  | 'interval'
  /** Appends resolve once written; the OS writes back when it likes (safe from a process crash only). */
  | 'never';

/** The frames of one append call that go to one segment. */
export interface WriteJob {
  readonly segment: Segment;
  readonly frames: Buffer[];
}

/** One append call: its jobs in order, and how to tell it the outcome. */
export interface WriteGroup {
  readonly jobs: WriteJob[];
  readonly done: () => void;
  readonly fail: (error: unknown) => void;
}

/**
 * Writes admitted appends to their segments, one group commit at a time: every append queued while a
 * write is in flight goes into the next single write (and fsync). Keeps one segment open; a segment is
 * created on its first frame with its header, and the directory is fsynced so the new file's name is as
 * durable as its data. All file operations run on one promise chain, so a sync never meets a close.
 */
export class SegmentWriter {
  private queue: WriteGroup[] = [];
  private scheduled = false;
  private chain: Promise<void> = Promise.resolve();
  private current: { segment: Segment; handle: FileHandle } | undefined;
  private dirty = false;
  private failure: unknown;
  /** fdatasync calls on segments so far (group commit shows as far fewer than appends). */
  syncs = 0;

  constructor(
    private readonly directory: string,
    private readonly fsync: SpoolFsync,
    /** Called after each group commit, once its groups are told. */
    private readonly written: () => void,
  ) {}

  enqueue(group: WriteGroup): void {
    this.queue.push(group);
    if (this.scheduled) return;
    this.scheduled = true;
    this.chain = this.chain.then(() => this.commit());
  }

  /** Forces written bytes to disk (`fsync: 'interval'`). */
  sync(): Promise<void> {
    this.chain = this.chain.then(() => this.syncCurrent());
    return this.chain;
  }

  /** Writes what is queued, syncs (unless `'never'`) and closes the open segment. */
  close(): Promise<void> {
    this.chain = this.chain.then(async () => {
      if (this.fsync !== 'never') await this.syncCurrent();
      await this.current?.handle.close();
      this.current = undefined;
    });
    return this.chain;
  }

  private async commit(): Promise<void> {
    this.scheduled = false;
    const groups = this.queue;
    this.queue = [];
    try {
      if (this.failure !== undefined) throw this.failure;
      // One write per segment for the whole group commit, not one per append: a syscall each costs
      // more than the appends' own work when they are small.
      const runs: WriteJob[] = [];
      for (const group of groups) {
        for (const job of group.jobs) {
          const last = runs[runs.length - 1];
          if (last?.segment === job.segment) last.frames.push(...job.frames);
          else runs.push({ segment: job.segment, frames: [...job.frames] });
        }
      }
      let created = false;
      const touched = new Set<Segment>();
      for (const run of runs) {
        // A dropped segment (drop-oldest) is never recreated; its entries were reported dropped.
        if (run.segment.deleted) continue;
        created ||= run.segment.written === 0;
        await this.write(await this.handleFor(run.segment), run.segment, run.frames);
        touched.add(run.segment);
      }
      if (this.fsync === 'batch') await this.syncCurrent();
      if (created && (this.fsync === 'batch' || this.fsync === 'always')) await this.syncDirectory();
      // Durable per the policy: readers may now see these frames.
      for (const segment of touched) segment.readable = segment.written;
      for (const group of groups) group.done();
    } catch (error) {
      this.failure ??= error;
      for (const group of groups) group.fail(error);
    }
    this.written();
  }

  private async write(handle: FileHandle, segment: Segment, frames: Buffer[]): Promise<void> {
    const parts = segment.written === 0 ? [encodeSegmentHeader(segment.firstId), ...frames] : frames;
    if (this.fsync === 'always') {
      // One fsync per frame (and the header): an append's frames share a buffer, split here by their lengths.
      const header = segment.written === 0 ? parts[0] : undefined;
      for (const part of parts) {
        for (let at = 0; at < part.length;) {
          const size = part === header ? part.length : frameSizeAt(part, at);
          await writeAll(handle, part.subarray(at, at + size));
          await handle.datasync();
          this.syncs++;
          segment.written += size;
          at += size;
        }
      }
      return;
    }
    const buf = parts.length === 1 ? parts[0] : Buffer.concat(parts);
    await writeAll(handle, buf);
    segment.written += buf.length;
    this.dirty = true;
  }

  private async handleFor(segment: Segment): Promise<FileHandle> {
    if (this.current?.segment === segment) return this.current.handle;
    if (this.current !== undefined) {
      // Leaving a segment for good ('batch' must sync it anyway; 'interval' cannot once it is closed).
      if (this.fsync !== 'never') await this.syncCurrent();
      await this.current.handle.close();
      this.current = undefined;
    }
    // 'wx': a new segment's first id is above every id on disk, so an existing file would be a bug.
    const handle = await open(join(this.directory, segment.name), segment.written === 0 ? 'wx' : 'a');
    this.current = { segment, handle };
    return handle;
  }

  private async syncCurrent(): Promise<void> {
    if (!this.dirty || this.current === undefined) return;
    this.dirty = false;
    await this.current.handle.datasync();
    this.syncs++;
  }

  private async syncDirectory(): Promise<void> {
    const dir = await open(this.directory, 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }
}

/** Writes all of `buf` at the file's position (a write may take fewer bytes than given). */
export async function writeAll(handle: FileHandle, buf: Buffer): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesWritten } = await handle.write(buf, done, buf.length - done);
    done += bytesWritten;
  }
}
