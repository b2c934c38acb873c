/**
 * ShardLanes on its own, with limiters that admit at once: each chunk holds at most a bucket's records and
 * bytes (a lone record larger than the bytes goes alone), the bytes it reports are its records' bytes,
 * retries go before fresh records, each lane keeps its order, and every record comes out once. A lane that
 * fits a chunk goes whole without its records being read again, so its bytes are kept as records come and
 * go; these specs are what checks that count.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import type { ShardLimiters } from '../../src/limits/shard-limiter.js';
import type { Outgoing } from '../../src/pipeline/aggregation.js';
import type { PendingRecord } from '../../src/pipeline/pending.js';
import { ShardLanes } from '../../src/pipeline/shard-lanes.js';
import { pending, type Item } from '../support/fixtures.js';

/** Limiters that admit every chunk at once, with a bucket of `records` and a chunk of `bytes`. */
function limiters(records: number, bytes: number): ShardLimiters {
  return {
    maxChunk: { records, bytes },
    admit: async () => {},
    remove: async () => {},
  } as unknown as ShardLimiters;
}

/** Record `id` of lane `shard`, `size` data bytes (plus its key's), sent `attempts` times so far. */
function rec(id: number, size: number, shard: number, attempts: number): PendingRecord<Item> {
  const r = pending({ id, key: `k${id}`, data: new Uint8Array(size) });
  r.shardId = `shardId-${shard}`;
  r.attempts = attempts;
  return r;
}

/** Lets every pump run: each chunk is one admission (a promise) and one turn. */
const settle = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

describe('ShardLanes (stage)', () => {
  it('property: chunks within the bucket, bytes reported right, retries first, lane order kept, each record once', async () => {
    const push = fc.record({
      shard: fc.integer({ min: 0, max: 2 }),
      size: fc.integer({ min: 0, max: 120 }),
      retry: fc.boolean(),
    });
    const step = fc.oneof(
      { weight: 6, arbitrary: fc.array(push, { minLength: 1, maxLength: 30 }) },
      { weight: 1, arbitrary: fc.constant('turn' as const) },
    );
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 12 }),
        fc.integer({ min: 20, max: 400 }),
        fc.array(step, { maxLength: 12 }),
        async (maxRecords, maxBytes, steps) => {
          const chunks: { units: Outgoing<Item>[]; bytes: number }[] = [];
          const lanes = new ShardLanes<Item>(limiters(maxRecords, maxBytes), (chunk, bytes) =>
            chunks.push({ units: chunk.flat(), bytes }),
          );
          const pushed: PendingRecord<Item>[] = [];
          let id = 0;
          for (const s of steps) {
            if (s === 'turn') {
              await settle();
              continue;
            }
            for (const p of s) {
              const r = rec(id++, p.size, p.shard, p.retry ? 1 : 0);
              pushed.push(r);
              lanes.push(r, p.retry);
            }
          }
          await settle();
          expect(lanes.size, 'nothing left queued').to.equal(0);

          const out = chunks.flatMap((c) => c.units as PendingRecord<Item>[]);
          expect(out.map((r) => r.item.id).sort((a, b) => a - b)).to.deep.equal(pushed.map((r) => r.item.id));
          for (const { units, bytes } of chunks) {
            const records = units as PendingRecord<Item>[];
            expect(records.length).to.be.within(1, maxRecords);
            expect(bytes, 'the bytes reported are the records’ bytes').to.equal(
              records.reduce((sum, r) => sum + r.record.bytes, 0),
            );
            if (records.length > 1) expect(bytes).to.be.at.most(maxBytes);
            expect(new Set(records.map((r) => r.shardId)).size, 'one lane a chunk').to.equal(1);
            const firstFresh = records.findIndex((r) => r.attempts === 0);
            if (firstFresh >= 0)
              expect(records.slice(firstFresh).every((r) => r.attempts === 0)).to.equal(true);
          }
          // Each lane's fresh records, and its retries, come out in the order they were pushed.
          for (const shard of [0, 1, 2]) {
            for (const attempts of [0, 1]) {
              const ids = (rs: PendingRecord<Item>[]) =>
                rs
                  .filter((r) => r.shardId === `shardId-${shard}` && r.attempts === attempts)
                  .map((r) => r.item.id);
              expect(ids(out)).to.deep.equal(ids(pushed));
            }
          }
        },
      ),
      { numRuns: 150 },
    );
  });

  it('a lane that fits goes as one chunk; one that does not is cut at the bucket (control)', async () => {
    const run = async (maxRecords: number, maxBytes: number) => {
      const chunks: number[] = [];
      const lanes = new ShardLanes<Item>(limiters(maxRecords, maxBytes), (chunk) =>
        chunks.push(chunk.flat().length),
      );
      for (let i = 0; i < 10; i++) lanes.push(rec(i, 8, 0, 0)); // 10 bytes each: 8 data + key `k<i>`
      await settle();
      return chunks;
    };
    expect(await run(10, 100)).to.deep.equal([10]);
    expect(await run(4, 100)).to.deep.equal([4, 4, 2]);
    expect(await run(10, 35)).to.deep.equal([3, 3, 3, 1]);
  });
});
