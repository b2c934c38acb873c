/**
 * BatchCollector on its own, in virtual time: it seals a request when the next record would pass 500
 * records or 5 MiB (data + keys), or `lingerMs` after the request's oldest record, and never reorders.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { queueScheduler } from 'rxjs';
import type { Outgoing } from '../../src/pipeline/aggregation.js';
import { BatchCollector, type BatchLimits } from '../../src/pipeline/batch-collector.js';
import type { PendingRecord } from '../../src/pipeline/pending.js';
import { pending, type Item } from '../support/fixtures.js';
import { withVirtualTime, type VirtualScheduler } from '../support/virtual-time.js';

const KINESIS: BatchLimits = { maxRecords: 500, maxBytes: 5 * 1024 * 1024, lingerMs: 100 };

/** An item of `size` data bytes and key `k<id>` (so it counts size + key bytes). */
const item = (id: number, size: number): Item => ({ id, key: `k${id}`, data: new Uint8Array(size) });

function collector(limits: BatchLimits, scheduler: VirtualScheduler) {
  const batches: { at: number; ids: number[]; bytes: number }[] = [];
  const c = new BatchCollector<Item>(limits, scheduler, (batch: Outgoing<Item>[]) =>
    batches.push({
      at: scheduler.now(),
      ids: batch.map((r) => (r as PendingRecord<Item>).item.id),
      bytes: batch.reduce((sum, r) => sum + r.record.bytes, 0),
    }),
  );
  return { c, batches };
}

/** Every request within the PutRecords limits: 1..500 records, at most 5 MiB. */
function withinKinesisLimits(batches: readonly { ids: number[]; bytes: number }[]): void {
  for (const b of batches) {
    expect(b.ids.length).to.be.within(1, 500);
    expect(b.bytes).to.be.at.most(5 * 1024 * 1024);
  }
}

describe('BatchCollector (stage)', () => {
  it('control: the limit check fails for a collector allowed 501 records', async () => {
    await withVirtualTime(async (scheduler) => {
      const { c, batches } = collector({ ...KINESIS, maxRecords: 501 }, scheduler);
      c.add(Array.from({ length: 501 }, (_, i) => pending(item(i, 1))));
      expect(() => withinKinesisLimits(batches)).to.throw(/expected 501 to be within 1\.\.500/);
    });
  });

  it('property: never more than 500 records or 5 MiB per request, in order, nothing lost', async () => {
    await fc.assert(
      fc.asyncProperty(
        // Chunks of records sized from tiny to 1 MiB − key, so both limits are reached.
        fc.array(
          fc.array(
            fc.oneof(
              { weight: 8, arbitrary: fc.integer({ min: 0, max: 64 }) },
              { weight: 1, arbitrary: fc.integer({ min: 100_000, max: 1024 * 1024 - 8 }) },
            ),
            { maxLength: 300 },
          ),
          { maxLength: 12 },
        ),
        async (chunks) => {
          await withVirtualTime(async (scheduler) => {
            const { c, batches } = collector(KINESIS, scheduler);
            let id = 0;
            for (const sizes of chunks) c.add(sizes.map((size) => pending(item(id++, size))));
            await scheduler.advance(KINESIS.lingerMs);
            expect(c.size).to.equal(0);
            withinKinesisLimits(batches);
            expect(batches.flatMap((b) => b.ids)).to.deep.equal(Array.from({ length: id }, (_, i) => i));
          });
        },
      ),
      { numRuns: 40 },
    );
  });

  it('seals a full request at once, and the rest after lingerMs of virtual time, not before', async () => {
    await withVirtualTime(async (scheduler) => {
      const { c, batches } = collector({ maxRecords: 3, maxBytes: Infinity, lingerMs: 50 }, scheduler);
      c.add([0, 1, 2, 3, 4].map((i) => pending(item(i, 1))));
      expect(batches).to.deep.equal([{ at: 0, ids: [0, 1, 2], bytes: 3 * 3 }]);
      await scheduler.advance(49);
      expect(batches).to.have.length(1); // control: the linger has not run yet
      await scheduler.advance(1);
      expect(batches.map((b) => [b.at, b.ids])).to.deep.equal([
        [0, [0, 1, 2]],
        [50, [3, 4]],
      ]);
    });
  });

  it('lingers from the oldest record, not the newest', async () => {
    await withVirtualTime(async (scheduler) => {
      const { c, batches } = collector({ maxRecords: 500, maxBytes: Infinity, lingerMs: 50 }, scheduler);
      c.add([pending(item(0, 1))]);
      await scheduler.advance(30);
      c.add([pending(item(1, 1))]);
      await scheduler.advance(20);
      expect(batches.map((b) => [b.at, b.ids])).to.deep.equal([[50, [0, 1]]]);
    });
  });

  it('seals before the record that would pass maxBytes (keys count)', async () => {
    await withVirtualTime(async (scheduler) => {
      // Each record: 8 data bytes + 2 key bytes ('k0'..'k9') = 10.
      const { c, batches } = collector({ maxRecords: 500, maxBytes: 25, lingerMs: 10 }, scheduler);
      c.add([0, 1, 2, 3, 4].map((i) => pending(item(i, 8))));
      await scheduler.advance(10);
      expect(batches.map((b) => [b.ids, b.bytes])).to.deep.equal([
        [[0, 1], 20],
        [[2, 3], 20],
        [[4], 10],
      ]);
    });
  });

  it('flush() seals at once; close() and drain() leave no timer behind', async () => {
    await withVirtualTime(async (scheduler) => {
      const { c, batches } = collector(KINESIS, scheduler);
      c.add([pending(item(0, 1))]);
      expect(scheduler.pending).to.equal(1); // control: a linger is scheduled
      c.flush();
      expect(batches.map((b) => b.ids)).to.deep.equal([[0]]);
      expect(scheduler.pending).to.equal(0);
      c.add([pending(item(1, 1))]);
      c.drain();
      expect(c.size).to.equal(0);
      expect(scheduler.pending).to.equal(0);
      await scheduler.advance(1000);
      expect(batches).to.have.length(1); // the drained record is never sealed
    });
  });

  it('with a synchronous scheduler (lingerMs 0 on queueScheduler) seals every add at once and keeps no timer', () => {
    const batches: number[][] = [];
    const c = new BatchCollector<Item>(
      { maxRecords: 500, maxBytes: Infinity, lingerMs: 0 },
      queueScheduler,
      (b) => batches.push(b.map((r) => (r as PendingRecord<Item>).item.id)),
    );
    c.add([pending(item(0, 1)), pending(item(1, 1))]);
    c.add([pending(item(2, 1))]);
    expect(batches).to.deep.equal([[0, 1], [2]]);
    expect(c.size).to.equal(0);
  });
});
