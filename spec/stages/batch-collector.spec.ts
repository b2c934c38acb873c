/**
 * BatchCollector on its own, in virtual time, with a sender that takes every request ready (or, in the pull
 * specs, only when the spec gives it room): a request is made once 500 records or 5 MiB (data + keys) are
 * collected, or `lingerMs` after the oldest record; it holds the oldest records across every shard's lane,
 * in acceptance order; a lane's order is never changed and nothing is lost or taken twice.
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

/** Record `id` of lane `shard`, accepted `id`-th (its sequence number, as LiveRecords would give it). */
function rec(id: number, size = 1, shard = 0): PendingRecord<Item> {
  const r = pending(item(id, size));
  r.seq = id;
  r.shardId = `shardId-${shard}`;
  return r;
}

const bytesOf = (units: readonly Outgoing<Item>[]) => units.reduce((sum, r) => sum + r.record.bytes, 0);
const idsOf = (units: readonly Outgoing<Item>[]) => units.map((r) => (r as PendingRecord<Item>).item.id);

/** A collector and a sender that takes every request as soon as it is ready (room for any number). */
function collector(limits: BatchLimits, scheduler: VirtualScheduler) {
  const batches: { at: number; ids: number[]; bytes: number }[] = [];
  const c: BatchCollector<Item> = new BatchCollector<Item>(limits, scheduler, () => {
    for (let batch = c.take(); batch; batch = c.take()) {
      batches.push({ at: scheduler.now(), ids: idsOf(batch), bytes: bytesOf(batch) });
    }
  });
  /** One lane's chunk, as ShardLanes admits it. */
  const add = (units: Outgoing<Item>[]) => c.add(units, bytesOf(units));
  return { c, add, batches };
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
      const { add, batches } = collector({ ...KINESIS, maxRecords: 501 }, scheduler);
      add(Array.from({ length: 501 }, (_, i) => rec(i)));
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
            const { c, add, batches } = collector(KINESIS, scheduler);
            let id = 0;
            for (const sizes of chunks) add(sizes.map((size) => rec(id++, size)));
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

  it('property: with several lanes, taken at any moment: a request is the oldest records collected, each lane keeps its order, nothing is lost or taken twice', async () => {
    await fc.assert(
      fc.asyncProperty(
        // Up to 60 records, each on one of 4 lanes; chunks of a lane's next records added in any order of
        // lanes; between additions, the sender takes 0-2 requests. Up to 8 records a request (the rounds).
        fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 60 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 1, max: 9 }), fc.nat(2))),
        fc.integer({ min: 1, max: 8 }),
        // Lanes out of acceptance order (a record held for its key or a shard map is routed late): then
        // the oldest-first check is off; the rest holds all the same.
        fc.option(fc.array(fc.nat(), { minLength: 60, maxLength: 60 }), { freq: 3 }),
        async (laneOf, steps, maxRecords, disorder) => {
          await withVirtualTime(async (scheduler) => {
            const c = new BatchCollector<Item>(
              { maxRecords, maxBytes: Infinity, lingerMs: 10 },
              scheduler,
              () => {},
            );
            const lanes = [0, 1, 2, 3].map((l) =>
              laneOf.flatMap((lane, id) => (lane === l ? [rec(id, 1, l)] : [])),
            );
            if (disorder) for (const lane of lanes) lane.sort((a, b) => disorder[a.seq] - disorder[b.seq]);
            const laneOrder = lanes.map((lane) => lane.map((r) => r.item.id));
            const collected = new Set<number>();
            const requests: number[][] = [];
            const takeOne = () => {
              const oldest = [...collected].sort((a, b) => a - b);
              const batch = c.take();
              if (!batch) return;
              const ids = idsOf(batch);
              if (!disorder) expect(ids).to.deep.equal(oldest.slice(0, ids.length)); // the oldest, in order
              ids.forEach((id) => collected.delete(id));
              requests.push(ids);
            };
            for (const [lane, size, takes] of steps) {
              const chunk = lanes[lane].splice(0, size);
              if (chunk.length > 0) c.add(chunk, bytesOf(chunk));
              chunk.forEach((r) => collected.add((r as PendingRecord<Item>).item.id));
              for (let t = 0; t < takes; t++) takeOne();
            }
            for (const lane of lanes) if (lane.length > 0) c.add(lane, bytesOf(lane));
            lanes.flat().forEach((r) => collected.add((r as PendingRecord<Item>).item.id));
            c.flush();
            for (let i = 0; i < 100 && c.size > 0; i++) takeOne(); // bounded: a lost record shows below
            const sent = requests.flat();
            expect([...sent].sort((a, b) => a - b)).to.deep.equal(laneOf.map((_, id) => id)); // each once
            for (const r of requests) expect(r.length).to.be.within(1, maxRecords);
            for (let l = 0; l < 4; l++) {
              // Each request takes the next records of the lane: its lane positions continue the last one's.
              const position = new Map(laneOrder[l].map((id, i) => [id, i]));
              let next = 0;
              for (const r of requests) {
                const taken = r.filter((id) => laneOf[id] === l).map((id) => position.get(id)!);
                expect(taken.sort((a, b) => a - b)).to.deep.equal(taken.map((_, i) => next + i));
                next += taken.length;
              }
            }
          });
        },
      ),
      { numRuns: 100 },
    );
  });

  it('takes across lanes in acceptance order (control: with room at each chunk, it went as it came)', async () => {
    await withVirtualTime(async (scheduler) => {
      const limits = { maxRecords: 4, maxBytes: Infinity, lingerMs: 10 };
      const chunks = () => [
        [0, 2, 4, 6, 8].map((id) => rec(id, 1, 0)),
        [1, 3, 5, 7, 9].map((id) => rec(id, 1, 1)),
      ];
      // The sender was busy while both lanes' chunks came: the requests then take from both.
      const c = new BatchCollector<Item>(limits, scheduler, () => {});
      for (const chunk of chunks()) c.add(chunk, bytesOf(chunk));
      await scheduler.advance(10);
      const requests = [c.take(), c.take(), c.take()].map((b) => idsOf(b!));
      expect(requests).to.deep.equal([
        [0, 1, 2, 3],
        [4, 5, 6, 7],
        [8, 9],
      ]);
      // The control: a sender with room takes a request as soon as one is full, from the one lane there.
      const eager = collector(limits, scheduler);
      for (const chunk of chunks()) eager.add(chunk);
      expect(eager.batches[0].ids).to.deep.equal([0, 2, 4, 6]);
    });
  });

  it('makes a request only when the sender asks: records wait for room, then go as full requests of the oldest', async () => {
    await withVirtualTime(async (scheduler) => {
      let ready = 0;
      const c = new BatchCollector<Item>(
        { maxRecords: 3, maxBytes: Infinity, lingerMs: 10 },
        scheduler,
        () => ready++,
      );
      c.add([rec(4, 1, 0), rec(5, 1, 0)], 6);
      expect(ready).to.equal(1); // the sender is told; it has no room, so it does not ask
      c.add([rec(0, 1, 1), rec(1, 1, 1)], 6);
      await scheduler.advance(10);
      expect(c.size).to.equal(4); // nothing was taken while the sender had no room
      expect(idsOf(c.take()!)).to.deep.equal([0, 1, 4]);
      expect(idsOf(c.take()!)).to.deep.equal([5]); // the rest had lingered long enough
      expect(c.take()).to.equal(undefined);
    });
  });

  it('keeps no reference to a record once taken (a run can be a whole lane: sent records would stay reachable)', async () => {
    await withVirtualTime(async (scheduler) => {
      const c = new BatchCollector<Item>(
        { maxRecords: 2, maxBytes: Infinity, lingerMs: 10 },
        scheduler,
        () => {},
      );
      const chunk: (Outgoing<Item> | undefined)[] = [rec(0), rec(1), rec(2)];
      c.add(chunk as Outgoing<Item>[], 9);
      expect(idsOf(c.take()!)).to.deep.equal([0, 1]);
      expect(chunk.map((u) => u === undefined)).to.deep.equal([true, true, false]);
    });
  });

  it('seals a full request at once, and the rest after lingerMs of virtual time, not before', async () => {
    await withVirtualTime(async (scheduler) => {
      const { add, batches } = collector({ maxRecords: 3, maxBytes: Infinity, lingerMs: 50 }, scheduler);
      add([0, 1, 2, 3, 4].map((i) => rec(i)));
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
      const { add, batches } = collector({ maxRecords: 500, maxBytes: Infinity, lingerMs: 50 }, scheduler);
      add([rec(0)]);
      await scheduler.advance(30);
      add([rec(1, 1, 1)]); // another lane
      await scheduler.advance(19);
      expect(batches).to.have.length(0); // control: not yet
      await scheduler.advance(1);
      expect(batches.map((b) => [b.at, b.ids])).to.deep.equal([[50, [0, 1]]]);
    });
  });

  it('seals before the record that would pass maxBytes (keys count)', async () => {
    await withVirtualTime(async (scheduler) => {
      // Each record: 8 data bytes + 2 key bytes ('k0'..'k9') = 10.
      const { add, batches } = collector({ maxRecords: 500, maxBytes: 25, lingerMs: 10 }, scheduler);
      add([0, 1, 2, 3, 4].map((i) => rec(i, 8)));
      await scheduler.advance(10);
      expect(batches.map((b) => [b.ids, b.bytes])).to.deep.equal([
        [[0, 1], 20],
        [[2, 3], 20],
        [[4], 10],
      ]);
    });
  });

  it('flush() lets what is collected go at once, not what comes after; close() and drain() leave no timer behind', async () => {
    await withVirtualTime(async (scheduler) => {
      const { c, add, batches } = collector(KINESIS, scheduler);
      add([rec(0)]);
      expect(scheduler.pending).to.equal(1); // control: a linger is scheduled
      c.flush();
      expect(batches.map((b) => b.ids)).to.deep.equal([[0]]);
      expect(scheduler.pending).to.equal(0);
      add([rec(1)]);
      expect(batches).to.have.length(1); // added after the flush: it lingers
      c.drain();
      expect(c.size).to.equal(0);
      expect(scheduler.pending).to.equal(0);
      await scheduler.advance(1000);
      expect(batches).to.have.length(1); // the drained record is never sealed
    });
  });

  it('with a synchronous scheduler (lingerMs 0 on queueScheduler) seals every add at once and keeps no timer', () => {
    const batches: number[][] = [];
    const c: BatchCollector<Item> = new BatchCollector<Item>(
      { maxRecords: 500, maxBytes: Infinity, lingerMs: 0 },
      queueScheduler,
      () => {
        for (let b = c.take(); b; b = c.take()) batches.push(idsOf(b));
      },
    );
    c.add([rec(0), rec(1)], 6);
    c.add([rec(2)], 3);
    expect(batches).to.deep.equal([[0, 1], [2]]);
    expect(c.size).to.equal(0);
  });
});
