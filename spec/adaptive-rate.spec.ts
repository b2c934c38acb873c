import { expect } from 'chai';
import { from } from 'rxjs';
import { toKinesis } from '../src/index.js';
import { DEFAULT_RATE_ADAPTATION, TokenBucket, type RateAdaptation } from '../src/limits/shard-limiter.js';
import type { EmulatorStats } from '../src/testing/index.js';
import { EmulatorKit, makeItems, randomKey, toRecord, type Item } from './support/emulator-kit.js';
import { advanceWithRequests, countInFlight } from './support/emulator-time.js';
import { withVirtualTime, type VirtualScheduler } from './support/virtual-time.js';
import { admitInTurn, recordsLimiter } from './support/limiters.js';

/** Halve on a throttle, at most once a second; regain 10% of the rate per second; never below 20%. */
const HALVING: RateAdaptation = { decrease: 0.5, increasePerSecond: 0.1, cooldownMs: 1000, floor: 0.2 };

/** A records-only limiter (bytes unlimited): 100 records/s, capacity 10. */
const limiter = (scheduler: VirtualScheduler, adaptation?: RateAdaptation | false) =>
  recordsLimiter(scheduler, 100, 100, adaptation);

describe('adaptive rate (AIMD per shard)', function () {
  this.timeout(120_000);

  describe('TokenBucket', () => {
    it('slowDown multiplies the rate by the decrease, once per cooldown', () => {
      const bucket = new TokenBucket(1, 100, 0, HALVING); // 1,000/s
      bucket.slowDown(0);
      expect(bucket.ratePerMs).to.equal(0.5);
      bucket.slowDown(1); // the same throttle event: a response full of throttled entries
      bucket.slowDown(999);
      expect(bucket.ratePerMs).to.equal(0.5);
      bucket.slowDown(1000); // a cooldown later: a new event
      expect(bucket.ratePerMs).to.equal(0.25);
      expect(bucket.maxRatePerMs).to.equal(1);
    });

    it('never goes below the floor', () => {
      const bucket = new TokenBucket(1, 100, 0, HALVING);
      const rates: number[] = [];
      for (let t = 0; t <= 10_000; t += 1000) {
        bucket.slowDown(t);
        rates.push(bucket.ratePerMs);
      }
      expect(rates.slice(0, 3)).to.deep.equal([0.5, 0.25, 0.2]);
      expect(Math.min(...rates)).to.equal(0.2);
      expect(rates[rates.length - 1]).to.equal(0.2);
    });

    it('regains the rate additively over time, back to the configured rate and no further', () => {
      const bucket = new TokenBucket(1, 100, 0, HALVING);
      bucket.slowDown(0);
      bucket.refill(1000); // +10% of the configured rate per second
      expect(bucket.ratePerMs).to.be.closeTo(0.6, 1e-12);
      bucket.refill(2500);
      expect(bucket.ratePerMs).to.be.closeTo(0.75, 1e-12);
      bucket.refill(5000);
      expect(bucket.ratePerMs).to.equal(1);
      bucket.refill(60_000);
      expect(bucket.ratePerMs).to.equal(1);
    });

    it('refills at the lowered rate', () => {
      const adaptation = { ...HALVING, increasePerSecond: 0 }; // no recovery: the lowered rate holds
      const slowed = new TokenBucket(1, 100, 0, adaptation);
      const steady = new TokenBucket(1, 100, 0, adaptation);
      slowed.level = steady.level = 0;
      slowed.slowDown(0);
      expect(slowed.refill(40)).to.equal(20);
      expect(steady.refill(40)).to.equal(40);
      expect(slowed.msUntil(30)).to.equal(20); // 10 missing at 0.5 per ms
      expect(slowed.refill(1000)).to.equal(80); // up to the capacity, not beyond
      expect(slowed.level).to.equal(100);
    });

    it('keeps its rate without an adaptation', () => {
      const bucket = new TokenBucket(1, 100, 0);
      for (let t = 0; t <= 5000; t += 1000) bucket.slowDown(t);
      expect(bucket.ratePerMs).to.equal(1);
    });
  });

  describe('ShardLimiters', () => {
    it("a throttle lowers that shard's recordRate alone, once per cooldown", async () => {
      await withVirtualTime(async (scheduler) => {
        const limiters = limiter(scheduler, HALVING);
        await admitInTurn(scheduler, limiters, 'A', [1]);
        await admitInTurn(scheduler, limiters, 'B', [1]);
        expect([limiters.recordRate('A'), limiters.recordRate('B')]).to.deep.equal([100, 100]);

        limiters.throttled('A', 3, 30);
        expect(limiters.recordRate('A')).to.equal(50);
        expect(limiters.recordRate('B')).to.equal(100);
        limiters.throttled('A', 3, 30); // same event
        expect(limiters.recordRate('A')).to.equal(50);

        await scheduler.advance(1000); // regains 10/s, then halves again
        limiters.throttled('A', 1, 10);
        expect(limiters.recordRate('A')).to.be.closeTo(30, 1e-9);
        expect(limiters.recordRate('B')).to.equal(100);
        await limiters.close();
      });
    });

    it('uses the default adaptation unless told otherwise', async () => {
      await withVirtualTime(async (scheduler) => {
        const limiters = limiter(scheduler);
        await admitInTurn(scheduler, limiters, 'A', [1]);
        limiters.throttled('A', 1, 1);
        expect(limiters.recordRate('A')).to.be.closeTo(100 * DEFAULT_RATE_ADAPTATION.decrease, 1e-9);
        expect(DEFAULT_RATE_ADAPTATION.decrease).to.be.within(0, 1);
        await limiters.close();
      });
    });

    it('admits at the lowered rate after a throttle', async () => {
      const after = async (adaptation: RateAdaptation | false) =>
        withVirtualTime(async (scheduler) => {
          const limiters = limiter(scheduler, adaptation);
          await admitInTurn(scheduler, limiters, 's', [10]); // empties the bucket at t = 0
          limiters.throttled('s', 1, 1); // charges one more: −1
          const [t] = await admitInTurn(scheduler, limiters, 's', [10]);
          await limiters.close();
          return t;
        });
      // 11 tokens: 110 ms at 100/s, 220 ms at the halved 50/s.
      expect(await after(false)).to.be.within(110, 112);
      expect(await after({ ...HALVING, increasePerSecond: 0 })).to.be.within(220, 222);
    });

    it('with adaptation: false, throttles charge tokens but never change the rate', async () => {
      await withVirtualTime(async (scheduler) => {
        const limiters = limiter(scheduler, false);
        await admitInTurn(scheduler, limiters, 'A', [1]);
        for (let i = 0; i < 5; i++) {
          limiters.throttled('A', 5, 5);
          await scheduler.advance(2000);
        }
        expect(limiters.recordRate('A')).to.equal(100);
        await limiters.close();
      });
    });

    it('refund gives the tokens back, at once', async () => {
      await withVirtualTime(async (scheduler) => {
        const limiters = limiter(scheduler, false); // capacity 10, one token per 10 ms
        await admitInTurn(scheduler, limiters, 's', [10]); // empty at t = 0
        limiters.refund('s', 4, 1);
        expect(await admitInTurn(scheduler, limiters, 's', [4, 1])).to.deep.equal([0, 10]);

        // Refunded tokens were spent on writes Kinesis did not count, so a bucket that refilled to full
        // meanwhile keeps them too (d6802fa): over the capacity, until spent.
        await scheduler.advance(1000);
        limiters.refund('s', 5, 1);
        const t = scheduler.now();
        expect(await admitInTurn(scheduler, limiters, 's', [10, 5, 1])).to.deep.equal([t, t, t + 10]);
        await limiters.close();
      });
    });
  });

  describe('on the emulator', () => {
    const kit = new EmulatorKit();
    afterEach(() => kit.close());

    /**
     * Writes to a 2-shard stream whose quota is 500 records/s per shard with the producer set to 1,000, both
     * sides on the scheduler's virtual clock (the emulator measures its quota on it).
     */
    async function overQuota(scheduler: VirtualScheduler, adaptiveRate: boolean, seconds: number) {
      const emu = await kit.emulator({
        shards: 2,
        quotas: { recordsPerSecond: 500 },
        keepRecords: false,
        clock: () => scheduler.now(),
      });
      const client = kit.client(emu, 'http1');
      const inFlight = countInFlight(client);
      const items = makeItems(2 * 1000 * (seconds + 2), randomKey, adaptiveRate ? 31 : 32, 16);
      let error: unknown;
      const subscription = from(items)
        .pipe(
          toKinesis<Item>({
            client,
            streamName: emu.streamName,
            toRecord,
            adaptiveRate,
            shardRecordsPerSecond: 1000,
            lingerMs: 20,
            maxAttempts: 1000,
            scheduler,
          }),
        )
        .subscribe({ error: (e) => (error = e) });
      return { emu, inFlight, subscription, error: () => error };
    }

    it('throttles far less with adaptiveRate than without, same quota, same producer rate', async () => {
      const seconds = 5;
      const [[adaptiveHalf, adaptive], [fixedHalf, fixed]] = await withVirtualTime(async (scheduler) => {
        const runs = [await overQuota(scheduler, true, seconds), await overQuota(scheduler, false, seconds)];
        const inFlight = () => runs.reduce((sum, r) => sum + r.inFlight(), 0);
        await advanceWithRequests(scheduler, inFlight, (seconds * 1000) / 2);
        const half = runs.map((r) => r.emu.stats());
        await advanceWithRequests(scheduler, inFlight, (seconds * 1000) / 2);
        const end = runs.map((r) => r.emu.stats());
        for (const r of runs) {
          r.subscription.unsubscribe();
          expect(r.error()).to.equal(undefined);
        }
        return [
          [half[0], end[0]],
          [half[1], end[1]],
        ];
      });
      const share = (s: EmulatorStats) => s.throttled / s.accepted;
      const secondHalf = (a: EmulatorStats, b: EmulatorStats) =>
        (b.throttled - a.throttled) / (b.accepted - a.accepted);
      // Both runs wrote at the quota.
      for (const s of [adaptive, fixed]) expect(s.accepted).to.be.within(2 * 500 * 3, 2 * 500 * 7);
      // Without adaptation a throttled entry is charged again, yet the shard keeps being asked for twice its
      // quota: about a third of the writes are throttled (measured 0.35). Adapting, the rate comes down to the
      // quota within a few seconds (measured 0.06 overall, under 0.01 over the last 2.5 s). On the virtual clock:
      // 0.35 without, 0.047 with adaptation, in 0.5 s of real time instead of 5 s.
      expect(share(fixed)).to.be.greaterThan(0.15);
      expect(share(adaptive)).to.be.below(share(fixed) / 2);
      expect(secondHalf(adaptiveHalf, adaptive)).to.be.below(secondHalf(fixedHalf, fixed) / 4);
    });
  });
});
