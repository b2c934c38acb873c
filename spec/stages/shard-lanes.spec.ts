/**
 * ShardLanes on its own, with real shard limiters in virtual time: a lane tells the limiters whether an
 * admission continues its backlog (the quota accrued between two chunks is then all the shard's) or follows
 * an empty lane (an idle shard's bucket stops at its capacity).
 */
import { expect } from 'chai';
import { ShardLimiters } from '../../src/limits/shard-limiter.js';
import type { Outgoing } from '../../src/pipeline/aggregation.js';
import type { PendingRecord } from '../../src/pipeline/pending.js';
import { ShardLanes } from '../../src/pipeline/shard-lanes.js';
import { pending, type Item } from '../support/fixtures.js';
import { withVirtualTime } from '../support/virtual-time.js';

const item = (id: number): Item => ({ id, key: `k${id}`, data: new Uint8Array(10) });

/** Limiters that record each admission's `backlogged` flag, then admit as the real ones do. */
class Recording extends ShardLimiters {
  readonly flags: boolean[] = [];
  override async admit(shardId: string, records: number, bytes: number, backlogged = false): Promise<void> {
    this.flags.push(backlogged);
    return super.admit(shardId, records, bytes, backlogged);
  }
}

describe('ShardLanes (stage)', () => {
  it('admits a backlog chunk by chunk as one backlog, and the first chunk after an empty lane as idle', async () => {
    await withVirtualTime(async (scheduler) => {
      // 100 records/s in buckets of 10 (100 ms).
      const limiters = new Recording({
        recordsPerSecond: 100,
        bytesPerSecond: Infinity,
        burstMs: 100,
        scheduler,
      });
      const admitted: { at: number; ids: number[] }[] = [];
      const lanes = new ShardLanes<Item>(limiters, (chunk: Outgoing<Item>[]) =>
        admitted.push({ at: scheduler.now(), ids: chunk.map((r) => (r as PendingRecord<Item>).item.id) }),
      );
      // The first record starts the lane's pump at once, alone; the others queue behind it.
      for (let id = 0; id < 25; id++) lanes.push(pending(item(id)));
      await scheduler.runUntil(() => admitted.length === 4);
      expect(admitted.map((a) => [a.at, a.ids.length])).to.deep.equal([
        [0, 1],
        [10, 10],
        [110, 10],
        [150, 4],
      ]);
      expect(limiters.flags).to.deep.equal([false, true, true, true]);
      // The lane ran empty: its next record is the start of a new backlog.
      await scheduler.advance(1000);
      lanes.push(pending(item(25)));
      await scheduler.runUntil(() => admitted.length === 5);
      expect(limiters.flags).to.deep.equal([false, true, true, true, false]);
      lanes.close();
      await limiters.close();
      expect(scheduler.pending).to.equal(0);
    });
  });
});
