import { packChunk, type AggregationLimits, type Outgoing } from './aggregation.js';
import { Fifo } from './fifo.js';
import type { PendingRecord } from './pending.js';
import type { ShardLimiters } from '../limits/shard-limiter.js';

interface Lane<T> {
  readonly shardId: string;
  /** Retries go first: they have waited longest and their TTL is running. */
  readonly retries: Fifo<PendingRecord<T>>;
  readonly fresh: Fifo<PendingRecord<T>>;
  /** The bytes of `fresh` (kept without aggregation only): a lane that fits a chunk goes whole, untouched. */
  freshBytes: number;
  /** The chunk waiting for the shard's tokens, and how many user records it holds. */
  admitting: Outgoing<T>[][] | undefined;
  admittingRecords: number;
  pumping: boolean;
  /** Its shard was closed by a reshard: the lane goes once its last admission is through. */
  retired: boolean;
}

/**
 * One queue per shard, each admitted through its own shard's buckets in chunks (one Bottleneck job per
 * chunk, never per record). Lanes drain independently, so a throttled or hot shard only delays itself. A
 * chunk is handed on as one or more arrays, in order: the lane's own arrays when the whole lane goes.
 *
 * @example
 * ```ts
 * const lanes = new ShardLanes(limiters, (chunk, bytes) => collector.addRuns(chunk, bytes), () => collector.flush());
 * lanes.push(record); // record.shardId names its lane
 * ```
 */
export class ShardLanes<T> {
  private readonly lanes = new Map<string, Lane<T>>();
  private queued = 0;
  private closed = false;

  constructor(
    private readonly limiters: ShardLimiters,
    private readonly onAdmitted: (chunk: Outgoing<T>[][], bytes: number) => void,
    /** Nothing is queued or waiting for tokens any more (the producer may then let a lingering request go). */
    private readonly onIdle: () => void = () => {},
    /** Pack each admission's records into KPL aggregates of these limits; undefined sends them as they are. */
    private readonly aggregation?: AggregationLimits,
  ) {}

  /** Records queued or waiting for tokens, across all shards. */
  get size(): number {
    return this.queued;
  }

  push(record: PendingRecord<T>, retry = false): void {
    if (this.closed) return;
    const lane = this.lane(record.shardId);
    if (retry) lane.retries.push(record);
    else {
      lane.fresh.push(record);
      if (!this.aggregation) lane.freshBytes += record.record.bytes;
    }
    this.queued++;
    if (!lane.pumping) void this.pump(lane);
  }

  /**
   * The shards are closed (a reshard): their queued records are handed to `reroute`, in order and each
   * once, and their lanes go as soon as no admission is under way, with their shards' limiters.
   * A chunk already admitted is sent as it is: Kinesis routes it to the open child shard.
   */
  retire(shardIds: Iterable<string>, reroute: (record: PendingRecord<T>, retry: boolean) => void): void {
    for (const shardId of shardIds) {
      const lane = this.lanes.get(shardId);
      if (!lane) continue;
      lane.retired = true;
      const retries = lane.retries.drain();
      const fresh = lane.fresh.drain();
      lane.freshBytes = 0;
      this.queued -= retries.length + fresh.length;
      if (!lane.pumping) this.dropLane(lane);
      for (const r of retries) reroute(r, true);
      for (const r of fresh) reroute(r, false);
    }
  }

  /** Shards with a lane. */
  shardIds(): string[] {
    return [...this.lanes.keys()];
  }

  private dropLane(lane: Lane<T>): void {
    if (this.lanes.get(lane.shardId) !== lane) return;
    this.lanes.delete(lane.shardId);
    // The lanes hold the limiters, so they drop a closed shard's buckets themselves (no round trip up).
    void this.limiters.remove(lane.shardId);
  }

  /** Removes every queued record (for a fatal error's report). */
  drain(): void {
    for (const lane of this.lanes.values()) {
      lane.retries.drain();
      lane.fresh.drain();
      lane.freshBytes = 0;
      lane.admitting = undefined;
    }
    this.queued = 0;
  }

  close(): void {
    this.closed = true;
  }

  private lane(shardId: string): Lane<T> {
    let lane = this.lanes.get(shardId);
    if (!lane) {
      lane = {
        shardId,
        retries: new Fifo(),
        fresh: new Fifo(),
        freshBytes: 0,
        admitting: undefined,
        admittingRecords: 0,
        pumping: false,
        retired: false,
      };
      this.lanes.set(shardId, lane);
    }
    return lane;
  }

  /**
   * The next admission: records up to one bucket's worth (the limiters' `maxChunk`), counted as the Kinesis
   * records they are sent as — so with aggregation, a bucket admits aggregates, not user records.
   */
  private takeChunk(lane: Lane<T>): { chunk: Outgoing<T>[][]; records: number; bytes: number } {
    const { records: maxRecords, bytes: maxBytes } = this.limiters.maxChunk;
    if (this.aggregation) {
      const { chunk, bytes } = packChunk([lane.retries, lane.fresh], this.aggregation, maxRecords, maxBytes);
      return { chunk: [chunk], records: chunk.length, bytes };
    }
    const { retries, fresh } = lane;
    // The common chunk: no retries, and the whole lane fits. It goes as it is, its records not touched again
    // (with a synchronous source they are cold by now: one cache miss each just to read their bytes), in the
    // lane's own arrays: not even their references are copied.
    if (retries.length === 0 && fresh.length <= maxRecords && lane.freshBytes <= maxBytes) {
      const bytes = lane.freshBytes;
      const records = fresh.length;
      lane.freshBytes = 0;
      return { chunk: fresh.drainChunks(), records, bytes };
    }
    const chunk: PendingRecord<T>[] = [];
    let bytes = 0;
    // The bytes are summed here, once: admitAll passed over every record again to sum them.
    for (let q = 0; q < 2; q++) {
      const queue = q === 0 ? retries : fresh;
      for (let next = queue.peek(); next && chunk.length < maxRecords; next = queue.peek()) {
        const size = next.record.bytes;
        if (chunk.length > 0 && bytes + size > maxBytes)
          return { chunk: [chunk], records: chunk.length, bytes };
        bytes += size;
        chunk.push(queue.shift()!);
        if (q === 1) lane.freshBytes -= size;
      }
    }
    return { chunk: [chunk], records: chunk.length, bytes };
  }

  private async pump(lane: Lane<T>): Promise<void> {
    lane.pumping = true;
    try {
      // The first chunk waits for the records pushed in the same turn (a synchronous source pushes them all):
      // taken at the first push, it was one record, and the next chunk an admission later (3 Bottleneck jobs).
      await null;
      await this.admitAll(lane);
    } finally {
      lane.pumping = false;
    }
    if (lane.retired) this.dropLane(lane);
    // A record pushed after admitAll() saw the lane empty, but before this continuation ran, found the lane
    // still pumping and did not start a pump: take it up, or it would wait forever.
    if (!this.closed && lane.retries.length + lane.fresh.length > 0) return this.pump(lane);
    if (this.queued === 0 && !this.closed) this.onIdle();
  }

  private async admitAll(lane: Lane<T>): Promise<void> {
    while (!this.closed && lane.retries.length + lane.fresh.length > 0) {
      const before = lane.retries.length + lane.fresh.length;
      const { chunk, records, bytes } = this.takeChunk(lane);
      lane.admitting = chunk;
      lane.admittingRecords = before - (lane.retries.length + lane.fresh.length);
      try {
        await this.limiters.admit(lane.shardId, records, bytes);
      } catch {
        // Only a closing limiter rejects; drain() reports the chunk.
        return;
      }
      if (this.closed || lane.admitting !== chunk) return;
      lane.admitting = undefined;
      this.queued -= lane.admittingRecords;
      this.onAdmitted(chunk, bytes);
    }
  }
}
