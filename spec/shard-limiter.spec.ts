import { expect } from 'chai';
import Bottleneck from 'bottleneck';
import fc from 'fast-check';
import { asyncScheduler } from 'rxjs';
import { leaseLimiters } from '../src/limits/client-limiters.js';
import { ShardLimiters, TokenBucket } from '../src/limits/shard-limiter.js';
import { withVirtualTime } from './support/virtual-time.js';
import { admitInTurn, recordsLimiter } from './support/limiters.js';

/** The bucket size the limiter uses for a rate: `burstMs` of it, and at least 1. */
const capacityOf = (perSecond: number, burstMs: number) =>
  Math.max(1, Math.ceil((perSecond * burstMs) / 1000));

describe('TokenBucket', () => {
  it('starts full, refills at its rate up to its capacity, carrying fractions', () => {
    const bucket = new TokenBucket(0.25, 10, 0); // 250/s
    expect(bucket.level).to.equal(10);
    bucket.level -= 10;
    expect(bucket.msUntil(3)).to.equal(12);
    expect(bucket.refill(6)).to.equal(1); // 1.5 tokens: one whole
    expect(bucket.refill(10)).to.equal(1); // 2.5 in all: the half carried over
    expect(bucket.level).to.equal(2.5);
    expect(bucket.msUntil(3)).to.equal(2);
    expect(bucket.refill(1_000_000)).to.equal(8); // capped at the capacity
    expect(bucket.level).to.equal(10);
  });

  it('keeps what accrued while a waiting refill ran late, past the capacity up to the ceiling', () => {
    const bucket = new TokenBucket(1, 100, 0, undefined, 1000); // 1,000/s, 100 ms of capacity, 1 s ceiling
    bucket.level = 0;
    expect(bucket.refill(250, 150)).to.equal(250); // due at 100 ms, ran at 250: all 250 kept
    bucket.level = 0;
    expect(bucket.refill(5250, 5150)).to.equal(1000); // never past the ceiling
    // Control: on time (or idle), the capacity caps it as before.
    bucket.level = 0;
    expect(bucket.refill(5500)).to.equal(100);
  });

  it('asks a weight above the capacity to wait only for a full bucket', () => {
    const bucket = new TokenBucket(1, 5, 0);
    expect(bucket.msUntil(50)).to.equal(0);
    bucket.level = -7;
    expect(bucket.msUntil(50)).to.equal(12);
  });
});

describe('ShardLimiters (virtual time)', () => {
  it('admits by time t at most capacity + rate·t per shard, and no slower than the rate allows', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 5, max: 2000 }), // records per second
        fc.integer({ min: 1, max: 1000 }), // burst ms
        fc.array(fc.integer({ min: 1, max: 400 }), { minLength: 1, maxLength: 30 }),
        async (perSecond, burstMs, rawWeights) => {
          const capacity = capacityOf(perSecond, burstMs);
          const weights = rawWeights.map((w) => Math.min(w, capacity));
          const rate = perSecond / 1000;
          await withVirtualTime(async (scheduler) => {
            const limiters = recordsLimiter(scheduler, perSecond, burstMs);
            expect(limiters.maxChunk.records).to.equal(capacity);
            const times = await admitInTurn(scheduler, limiters, 's', weights);
            // Over any span [t_i, t_k] of admissions, at most capacity + rate·(t_k − t_i) tokens.
            for (let i = 0; i < times.length; i++) {
              let sum = 0;
              for (let k = i; k < times.length; k++) {
                sum += weights[k];
                expect(sum, `admissions ${i}..${k}`).to.be.at.most(
                  capacity + rate * (times[k] - times[i]) + 1e-9,
                );
              }
            }
            // Nor much slower: the k-th admission comes once its tokens have accrued, give or take the
            // rounding of each wait up to a whole millisecond (what accrues past a full bucket then is lost).
            let total = 0;
            for (let k = 0; k < times.length; k++) {
              total += weights[k];
              const ideal = Math.max(0, (total - capacity) / rate);
              expect(times[k], `admission ${k}`).to.be.at.most(Math.ceil(ideal) + k + 1);
            }
            await limiters.close();
            expect(scheduler.pending).to.equal(0);
          });
        },
      ),
      { numRuns: 100 },
    );
  });

  it('limits bytes the same way; a record larger than the bucket goes alone and is paid back', async () => {
    await withVirtualTime(async (scheduler) => {
      const limiters = new ShardLimiters({
        recordsPerSecond: Infinity,
        bytesPerSecond: 10_000, // 10 per ms
        burstMs: 100, // a 1,000-byte bucket
        scheduler,
      });
      // Chunks ask for half a bucket of bytes, so the bucket keeps filling while one is admitted.
      expect(limiters.maxChunk).to.deep.equal({ records: Infinity, bytes: 500 });
      const times: number[] = [];
      void (async () => {
        for (const bytes of [4000, 4000, 1000, 3000, 500]) {
          await limiters.admit('s', 1, bytes);
          times.push(scheduler.now());
        }
      })();
      await scheduler.runUntil(() => times.length === 5);
      // 4,000 from the full bucket leaves −3,000: the next waits for a full bucket again (400 ms), and so on.
      expect(times).to.deep.equal([0, 400, 800, 900, 1150]);
      await limiters.close();
    });
  });

  it('takes the records only once the bytes are there too, so they are not spent early', async () => {
    await withVirtualTime(async (scheduler) => {
      const limiters = new ShardLimiters({
        recordsPerSecond: 20, // one record per 50 ms, a bucket of 1
        bytesPerSecond: 1000, // one byte per ms, a bucket of 100
        burstMs: 50,
        scheduler,
      });
      const times: number[] = [];
      void (async () => {
        for (const [records, bytes] of [
          [1, 100],
          [1, 50],
          [1, 1],
        ]) {
          await limiters.admit('s', records, bytes);
          times.push(scheduler.now());
        }
      })();
      await scheduler.runUntil(() => times.length === 3);
      // The first leaves the bytes 50 in debt, so the second waits 100 ms for its bytes (its record was there
      // at 50 ms) and takes its record at 100 ms. The third, whose byte is there 1 ms later, must still wait
      // 50 ms for a record: had the second's record been taken at 50 ms, one would have refilled by 100 ms.
      expect(times).to.deep.equal([0, 100, 150]);
      await limiters.close();
    });
  });

  it("alone on its limiters, a pipeline's admission that finds its tokens there and nobody waiting goes in the same turn, without a Bottleneck job; one that must wait, and any while pipelines share the limiters, queue in Bottleneck (controls)", async () => {
    await withVirtualTime(async (scheduler) => {
      const limiters = new ShardLimiters({
        recordsPerSecond: 1000,
        bytesPerSecond: 1000,
        burstMs: 100,
        scheduler,
      });
      const schedule = Bottleneck.prototype.schedule;
      let jobs = 0;
      Bottleneck.prototype.schedule = function (this: Bottleneck, ...args: unknown[]) {
        jobs++;
        return (schedule as (...a: unknown[]) => Promise<unknown>).apply(this, args);
      } as typeof schedule;
      const counts: number[] = [];
      try {
        for (const shardId of ['a', 'a', 'b', 'c']) {
          if (shardId === 'c') limiters.holders = 2; // a second pipeline leased them
          jobs = 0;
          let admitted = false;
          const admission = limiters.admit(shardId, 60, 60).then(() => (admitted = true));
          for (let i = 0; i < 10; i++) await null; // microtasks only: no timer, no Bottleneck step
          counts.push(admitted ? jobs : -1);
          await scheduler.runUntil(() => admitted);
          await admission;
          if (counts.at(-1) === -1) counts[counts.length - 1] = jobs;
        }
      } finally {
        Bottleneck.prototype.schedule = schedule;
      }
      // 'a' first: admitted within microtasks. 'a' again (a control): 40 of its 60 bytes are there, so one
      // job waits for them (20 ms); its records have refilled by then and both are taken in that turn. 'b'
      // first: within microtasks. 'c' first, the limiters shared (a control): three jobs.
      expect(counts).to.deep.equal([0, 1, 0, 3]);
      expect(scheduler.now()).to.equal(20);
      limiters.holders = 1;
      await limiters.close();
    });
  });

  it('holds both rates over any span when records and bytes bind in turn (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 5, max: 500 }),
        fc.integer({ min: 500, max: 50_000 }),
        fc.integer({ min: 1, max: 500 }),
        fc.array(fc.tuple(fc.integer({ min: 1, max: 50 }), fc.integer({ min: 0, max: 2000 })), {
          minLength: 1,
          maxLength: 40,
        }),
        async (recordsPerSecond, bytesPerSecond, burstMs, raw) => {
          const recordCapacity = capacityOf(recordsPerSecond, burstMs);
          const byteCapacity = capacityOf(bytesPerSecond, burstMs);
          // As a shard lane asks: at most a bucket of records; bytes may pass the bucket (one large record).
          const asks = raw.map(([r, b]) => [Math.min(r, recordCapacity), b] as const);
          const overshoot = Math.max(0, ...asks.map(([, b]) => b - byteCapacity));
          await withVirtualTime(async (scheduler) => {
            const limiters = new ShardLimiters({ recordsPerSecond, bytesPerSecond, burstMs, scheduler });
            const times: number[] = [];
            void (async () => {
              for (const [records, bytes] of asks) {
                await limiters.admit('s', records, bytes);
                times.push(scheduler.now());
              }
            })();
            await scheduler.runUntil(() => times.length === asks.length);
            for (let i = 0; i < times.length; i++) {
              let records = 0;
              let bytes = 0;
              for (let k = i; k < times.length; k++) {
                records += asks[k][0];
                bytes += asks[k][1];
                const span = times[k] - times[i];
                const where = `admissions ${i}..${k}`;
                expect(records, where).to.be.at.most(
                  recordCapacity + (recordsPerSecond * span) / 1000 + 1e-6,
                );
                expect(bytes, where).to.be.at.most(
                  byteCapacity + overshoot + (bytesPerSecond * span) / 1000 + 1e-6,
                );
              }
            }
            await limiters.close();
            expect(scheduler.pending).to.equal(0);
          });
        },
      ),
      { numRuns: 60 },
    );
  });

  it('lets a hot shard wait alone: another shard is admitted at once and at its own pace', async () => {
    await withVirtualTime(async (scheduler) => {
      const limiters = recordsLimiter(scheduler, 100, 100); // capacity 10, 0.1 per ms
      const hot: number[] = [];
      void (async () => {
        for (let i = 0; i < 50; i++) {
          await limiters.admit('hot', 10, 1);
          hot.push(scheduler.now());
        }
      })();
      await scheduler.advance(250); // the hot shard is now waiting for tokens, with a long backlog
      expect(hot).to.deep.equal([0, 100, 200]);
      const quiet = await admitInTurn(scheduler, limiters, 'quiet', [10, 10, 5]);
      expect(quiet).to.deep.equal([250, 350, 400]);
      expect(hot.length).to.be.at.most(5);
      await scheduler.runUntil(() => hot.length === 50);
      expect(hot.at(-1)).to.equal(4900);
      expect(limiters.shardIds().sort()).to.deep.equal(['hot', 'quiet']);
      await limiters.close();
    });
  });

  it('admits a weight above the capacity from a full bucket, and the debt delays the next admission', async () => {
    await withVirtualTime(async (scheduler) => {
      const limiters = recordsLimiter(scheduler, 100, 100); // capacity 10, 0.1 per ms
      const times = await admitInTurn(scheduler, limiters, 's', [35, 1, 10]);
      // 35 from a full 10 leaves −25: 1 more needs 26 tokens (260 ms), then 10 more (100 ms).
      expect(times).to.deep.equal([0, 260, 360]);
      // And it waited for a full bucket first: after a partial drain, a large weight waits for the refill.
      const again = await admitInTurn(scheduler, limiters, 's', [35]);
      expect(again).to.deep.equal([460]);
      await limiters.close();
    });
  });

  it('charges throttled records again, delaying later admissions', async () => {
    await withVirtualTime(async (scheduler) => {
      const limiters = recordsLimiter(scheduler, 100, 100);
      await admitInTurn(scheduler, limiters, 's', [10]);
      limiters.throttled('s', 20, 100);
      const times = await admitInTurn(scheduler, limiters, 's', [10]);
      // 30 tokens owed before 10 are available: 300 ms at the configured rate, longer if it adapts down.
      expect(times[0]).to.be.at.least(300);
      await limiters.close();
    });
  });

  it('a refund while an admission waits brings it forward: admitted when the tokens are there, not at the old timer (control: 100 ms)', async () => {
    await withVirtualTime(async (scheduler) => {
      const limiters = recordsLimiter(scheduler, 100, 100); // capacity 10, 0.1 per ms
      await admitInTurn(scheduler, limiters, 's', [10]); // the bucket is empty now
      let admittedAt: number | undefined;
      void limiters.admit('s', 10, 1).then(() => (admittedAt = scheduler.now()));
      await scheduler.advance(20); // 2 tokens accrued; the waiter's timer is set for t = 100
      limiters.refund('s', 5, 0); // 7 tokens: the 3 missing accrue by t = 50
      await scheduler.runUntil(() => admittedAt !== undefined);
      expect(admittedAt).to.equal(50);
      await limiters.close();
    });
  });

  it('still admits when throttled records are charged while an admission is being registered', async () => {
    await withVirtualTime(async (scheduler) => {
      const limiters = recordsLimiter(scheduler, 100, 100); // capacity 10, 0.1 per ms
      limiters.holders = 2; // shared by pipelines, so the admission goes through Bottleneck even with the tokens there
      let admittedAt: number | undefined;
      // The bucket is full, so the admission needs no timer; Bottleneck takes a few event-loop turns to run
      // it, and a throttled response charged meanwhile leaves the bucket short.
      void limiters.admit('s', 10, 1).then(() => (admittedAt = scheduler.now()));
      await new Promise((resolve) => setImmediate(resolve)); // the admission is now inside Bottleneck
      limiters.throttled('s', 15, 100);
      await scheduler.runUntil(() => admittedAt !== undefined);
      expect(admittedAt).to.be.at.least(150); // from −5 to 10 tokens: 150 ms at the configured rate
      limiters.holders = 1;
      await limiters.close();
    });
  });

  it('admits at once, with no bucket and no timer, when the rates are Infinity', async () => {
    await withVirtualTime(async (scheduler) => {
      const limiters = new ShardLimiters({
        recordsPerSecond: Infinity,
        bytesPerSecond: Infinity,
        burstMs: 100,
        scheduler,
      });
      expect(limiters.maxChunk).to.deep.equal({ records: Infinity, bytes: Infinity });
      const times = await admitInTurn(scheduler, limiters, 's', [1e6, 1e6, 1e6]);
      expect(times).to.deep.equal([0, 0, 0]);
      expect(scheduler.pending).to.equal(0);
      await limiters.close();
    });
  });

  it('close() rejects admissions waiting for tokens and leaves nothing scheduled', async () => {
    await withVirtualTime(async (scheduler) => {
      const limiters = new ShardLimiters({
        recordsPerSecond: 10,
        bytesPerSecond: 100,
        burstMs: 100,
        scheduler,
      });
      await limiters.admit('a', 1, 1);
      await limiters.admit('b', 1, 50);
      const waiting = [limiters.admit('a', 1, 1), limiters.admit('c', 1, 1)]; // 'a' needs a record token
      const waitingBytes = limiters.admit('b', 1, 50); // 'b' needs 50 byte tokens
      const settled = waiting.concat(waitingBytes).map((p) =>
        p.then(
          () => 'admitted',
          () => 'rejected',
        ),
      );
      await scheduler.settle();
      expect(scheduler.pending).to.be.greaterThan(0);
      await limiters.close();
      await scheduler.settle();
      expect(await Promise.all(settled)).to.deep.equal(['rejected', 'admitted', 'rejected']);
      expect(scheduler.pending).to.equal(0);
    });
  });

  it('after close(), an admission is refused: no limiter, bucket or refill timer is made for it', async () => {
    // ShardLimiters.admit waits for the bytes, then takes the records: a shard's first admission makes its
    // records limiter only then, possibly after close() stopped the limiters it knew. Such a limiter was
    // never stopped, and an admission waiting on it kept a refill timer running.
    await withVirtualTime(async (scheduler) => {
      const options = { recordsPerSecond: 10, bytesPerSecond: 100, burstMs: 100, scheduler };
      const settle = (p: Promise<void>) =>
        p.then(
          () => 'admitted',
          () => 'rejected',
        );
      // Control: open, the second admission waits for a record token (capacity 1), on a timer.
      const open = new ShardLimiters(options);
      const waiting = [settle(open.admit('s', 1, 1)), settle(open.admit('s', 1, 1))];
      await scheduler.settle();
      expect(scheduler.pending).to.be.greaterThan(0);
      await open.close();
      await scheduler.settle();
      expect(await Promise.all(waiting)).to.deep.equal(['admitted', 'rejected']);

      const limiters = new ShardLimiters(options);
      await limiters.admit('known', 1, 1);
      await limiters.close();
      const late = [limiters.admit('known', 1, 1), limiters.admit('new', 1, 1), limiters.admit('new', 1, 1)];
      await scheduler.settle();
      expect(await Promise.all(late.map(settle))).to.deep.equal(['rejected', 'rejected', 'rejected']);
      expect(scheduler.pending).to.equal(0);
      expect(limiters.shardIds()).to.deep.equal([]);
    });
  });

  it('close() leaves no real timer behind with the default scheduler', async () => {
    const count = () => process.getActiveResourcesInfo().filter((t) => t === 'Timeout').length;
    await new Promise((r) => setTimeout(r, 10));
    const baseline = count();
    const limiters = new ShardLimiters({
      recordsPerSecond: 1,
      bytesPerSecond: 1,
      burstMs: 1000,
      scheduler: asyncScheduler,
    });
    await limiters.admit('s', 1, 1);
    const waiting = limiters.admit('s', 1, 1).then(
      () => 'admitted',
      () => 'rejected',
    );
    await new Promise((r) => setTimeout(r, 10));
    expect(count()).to.be.greaterThan(baseline); // the refill timer
    await limiters.close();
    expect(await waiting).to.equal('rejected');
    await new Promise((r) => setTimeout(r, 10));
    expect(count()).to.be.at.most(baseline);
  });
});

describe('ShardLimiters shared by pipelines (virtual time)', () => {
  it('admits many concurrent admissions to one shard in order, at the rate, with one refill timer', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 1, max: 100 }), { minLength: 2, maxLength: 30 }),
        async (weights) => {
          await withVirtualTime(async (scheduler) => {
            const limiters = recordsLimiter(scheduler, 1000, 100); // capacity 100
            const order: number[] = [];
            const times: number[] = [];
            // All asked at once, as pipelines sharing a client do (one lane each).
            const all = weights.map((w, i) =>
              limiters.admit('s', w, 0).then(() => {
                order.push(i);
                times.push(scheduler.now());
              }),
            );
            await scheduler.advance(1);
            expect(scheduler.pending, 'one refill timer, not one per waiter').to.be.at.most(1);
            await scheduler.advance(10_000);
            await Promise.all(all);
            expect(order).to.deep.equal(weights.map((_, i) => i));
            const total = weights.reduce((a, b) => a + b, 0);
            // Control of the rate: the last is admitted no earlier than its tokens could accrue.
            expect(times.at(-1)!).to.be.at.least(Math.max(0, total - 100) - 1);
            await limiters.close();
            expect(scheduler.pending).to.equal(0);
          });
        },
      ),
      { numRuns: 40 },
    );
  });

  it('leases one set to pipelines on the same client, stream and limits; the last release closes it', async () => {
    const options = {
      recordsPerSecond: 1000,
      bytesPerSecond: 1 << 20,
      burstMs: 100,
      scheduler: asyncScheduler,
    };
    const client = {};
    const a = leaseLimiters(client, 's', options);
    const b = leaseLimiters(client, 's', options);
    expect(b.limiters).to.equal(a.limiters);
    // While shared, a closed shard's buckets stay (another pipeline may wait on them); alone, they go.
    await a.limiters.admit('closed', 1, 1);
    await a.limiters.remove('closed');
    expect(a.limiters.shardIds()).to.include('closed');
    // Controls: another client, stream or rate gets its own.
    const others = [
      leaseLimiters({}, 's', options),
      leaseLimiters(client, 't', options),
      leaseLimiters(client, 's', { ...options, recordsPerSecond: 5 }),
    ];
    for (const other of others) expect(other.limiters).not.to.equal(a.limiters);
    await Promise.all(others.map((o) => o.release()));
    await a.release();
    await a.release(); // twice counts once
    expect(b.limiters.holders).to.equal(1);
    await b.limiters.remove('closed');
    expect(b.limiters.shardIds()).not.to.include('closed');
    const c = leaseLimiters(client, 's', options);
    expect(c.limiters).to.equal(b.limiters);
    await Promise.all([b.release(), c.release()]);
    // The last one out closed it: the next lease starts a fresh set.
    const d = leaseLimiters(client, 's', options);
    expect(d.limiters).not.to.equal(b.limiters);
    await d.release();
  });
});
