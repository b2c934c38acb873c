import { open, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { encodeAckHeader, encodeAcks } from './ack-format.js';
import { ackName } from './format.js';
import type { Segment } from './recover.js';
import { writeAll } from './writer.js';

/**
 * Persists acknowledgements: one ack file per segment (`seg-….ack`), appended with one record per run of
 * consecutive ids, and deleted together with its segment, so acks never need compacting. Acks issued
 * while a write is in flight share the next write (group commit).
 *
 * Acks are written but not fsynced (except by `sync()`, on close and on 'interval' ticks): a process
 * crash loses none (they are in the page cache), and what a power cut can lose only makes entries come
 * back as duplicates — never a loss. That keeps an ack far cheaper than an append.
 */
export class AckLog {
  private pending = new Map<Segment, number[]>();
  private lastSegment: Segment | undefined;
  private lastIds: number[] | undefined;
  private next: Promise<void> | undefined;
  private chain: Promise<void> = Promise.resolve();
  private readonly handles = new Map<Segment, FileHandle>();

  constructor(private readonly directory: string) {}

  /** Queues the ack of `id` in `segment`; `flush()` writes it. */
  add(segment: Segment, id: number): void {
    // Acks come in runs of one segment: look the segment up only when it changes.
    if (this.lastSegment === segment && this.lastIds !== undefined) {
      this.lastIds.push(id);
      return;
    }
    let ids = this.pending.get(segment);
    if (ids === undefined) this.pending.set(segment, (ids = []));
    ids.push(id);
    this.lastSegment = segment;
    this.lastIds = ids;
  }

  /** Writes every queued ack; acks queued meanwhile join the next write. */
  flush(): Promise<void> {
    if (this.next !== undefined) return this.next;
    const next = this.chain.then(() => {
      this.next = undefined;
      return this.write();
    });
    this.next = next;
    this.chain = next.catch(() => undefined);
    return next;
  }

  /** Deletes a segment and its ack file, after any ack write in progress. */
  remove(segment: Segment): Promise<void> {
    this.pending.delete(segment);
    if (this.lastSegment === segment) this.lastIds = this.lastSegment = undefined;
    const removed = this.chain.then(async () => {
      await this.handles.get(segment)?.close();
      this.handles.delete(segment);
      await unlinkIfThere(join(this.directory, segment.name));
      await unlinkIfThere(join(this.directory, ackName(segment.name)));
    });
    this.chain = removed.catch(() => undefined);
    return removed;
  }

  /** Forces written acks to disk. */
  sync(): Promise<void> {
    const synced = this.chain.then(async () => {
      for (const handle of this.handles.values()) await handle.datasync();
    });
    this.chain = synced.catch(() => undefined);
    return synced;
  }

  async close(sync: boolean): Promise<void> {
    await this.flush();
    if (sync) await this.sync();
    await this.chain;
    for (const handle of this.handles.values()) await handle.close();
    this.handles.clear();
  }

  private async write(): Promise<void> {
    const pending = this.pending;
    this.pending = new Map();
    this.lastIds = this.lastSegment = undefined;
    for (const [segment, ids] of pending) {
      if (segment.deleted) continue;
      let handle = this.handles.get(segment);
      if (handle === undefined) {
        handle = await open(join(this.directory, ackName(segment.name)), 'a');
        this.handles.set(segment, handle);
      }
      const records = encodeAcks(ids);
      const buf = segment.hasAckFile ? records : Buffer.concat([encodeAckHeader(), records]);
      segment.hasAckFile = true;
      await writeAll(handle, buf);
    }
  }
}

async function unlinkIfThere(path: string): Promise<void> {
  try {
    await unlink(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}
