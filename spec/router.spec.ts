/**
 * The Router stage on its own, in virtual time: loading the shard map, records that wait for it, a key in a
 * gap (wait + refresh), the refresh's rate limit and backoff, and lanes of shards closed by a reshard.
 */
import type { KinesisClient, ListShardsInput, ListShardsOutput } from '@aws-sdk/client-kinesis';
import { expect } from 'chai';
import fc from 'fast-check';
import type { KinesisSinkErrorCode } from '../src/errors.js';
import { InvalidRecordError } from '../src/kinesis/records.js';
import { admitItem, type PendingRecord } from '../src/pipeline/pending.js';
import { MAP_REFRESH_MAX_INTERVAL_MS, MAP_REFRESH_MIN_INTERVAL_MS, Router } from '../src/pipeline/router.js';
import { abortError, fatalError, sdkError, serverError } from './support/fake-kinesis.js';
import { withVirtualTime, type VirtualScheduler } from './support/virtual-time.js';

const TOP = (1n << 128n) - 1n;
const HALF = 1n << 127n;

type Range = [id: string, start: bigint, end: bigint, closed?: boolean];
const shardsOf = (ranges: Range[]): ListShardsOutput => ({
  Shards: ranges.map(([id, start, end, closed]) => ({
    ShardId: id,
    HashKeyRange: { StartingHashKey: start.toString(), EndingHashKey: end.toString() },
    SequenceNumberRange: { StartingSequenceNumber: '1', EndingSequenceNumber: closed ? '2' : undefined },
  })),
});

/** A ListShards that answers from `answers` in turn (an Error rejects), recording when it was called. */
class FakeListShards {
  readonly calls: number[] = [];
  constructor(
    private readonly scheduler: VirtualScheduler,
    private readonly answers: (ListShardsOutput | Error)[],
  ) {}
  get client(): KinesisClient {
    return {
      send: async (command: { input: ListShardsInput }) => {
        expect(command.input).to.deep.equal({ StreamName: 's' });
        this.calls.push(this.scheduler.now());
        const answer = this.answers.length > 1 ? this.answers.shift()! : this.answers[0];
        if (answer instanceof Error) throw answer;
        return answer;
      },
    } as unknown as KinesisClient;
  }
}

/** Stands in for ShardLanes: records what was pushed, and hands back the records of retired lanes. */
class FakeLanes {
  readonly pushed: [shardId: string, key: string, retry: boolean][] = [];
  readonly queued = new Map<string, PendingRecord<string>[]>();
  readonly retired: string[] = [];
  hold = false;
  push(record: PendingRecord<string>, retry = false): void {
    this.pushed.push([record.shardId, record.record.entry.PartitionKey, retry]);
    if (this.hold) {
      const queue = this.queued.get(record.shardId) ?? [];
      queue.push(record);
      this.queued.set(record.shardId, queue);
    }
  }
  shardIds(): string[] {
    return [...this.queued.keys()];
  }
  retire(shardIds: Iterable<string>, reroute: (record: PendingRecord<string>, retry: boolean) => void): void {
    for (const id of shardIds) {
      this.retired.push(id);
      const records = this.queued.get(id) ?? [];
      this.queued.delete(id);
      for (const r of records) reroute(r, r.attempts > 0);
    }
  }
}

/** A record whose key routes to `hashKey` (given explicitly), `attempts` sends so far. */
function record(key: string, hashKey: bigint, attempts = 0): PendingRecord<string> {
  const r = admitItem(
    key,
    {
      maxRecordBytes: 1 << 20,
      toRecord: (k: string) => ({ PartitionKey: k, ExplicitHashKey: hashKey.toString(), Data: 'x' }),
    },
    0,
  );
  if (r instanceof InvalidRecordError) throw r;
  r.attempts = attempts;
  return r;
}

function setup(scheduler: VirtualScheduler, answers: (ListShardsOutput | Error)[]) {
  const list = new FakeListShards(scheduler, answers);
  const lanes = new FakeLanes();
  const failures: [KinesisSinkErrorCode, string][] = [];
  let routed = 0;
  const options = { client: list.client, streamName: 's', scheduler, ...ROUTER_BUDGETS };
  const router: Router<string> = new Router<string>(options, lanes, {
    onFailed: (code, message) => {
      failures.push([code, message]);
      router.close(); // as the pipeline does when it fails
    },
    onRouted: () => routed++,
  });
  return { list, lanes, failures, router, routed: () => routed };
}

const ROUTER_BUDGETS = { recordTtlMs: 60_000, requestTimeoutMs: 6_000, minUploadBytesPerSecond: 256 * 1024 };

const twoShards: Range[] = [
  ['shardId-0', 0n, HALF - 1n],
  ['shardId-1', HALF, TOP],
];

describe('Router (shard map stage, virtual time)', () => {
  it('holds records until the map is loaded, then routes them in order, retries flagged', () =>
    withVirtualTime(async (scheduler) => {
      const { lanes, router, routed, list } = setup(scheduler, [shardsOf(twoShards)]);
      router.route(record('a', 1n));
      router.route(record('b', HALF + 1n, 2));
      router.route(record('c', 5n));
      expect(router.size).to.equal(3);
      expect(lanes.pushed).to.deep.equal([]);
      await scheduler.settle();
      expect(list.calls).to.deep.equal([0]);
      expect(router.size).to.equal(0);
      expect(lanes.pushed).to.deep.equal([
        ['shardId-0', 'a', false],
        ['shardId-1', 'b', true],
        ['shardId-0', 'c', false],
      ]);
      expect(routed()).to.equal(1);
      // Once loaded, routing is immediate (no waiting).
      router.route(record('d', TOP));
      expect(lanes.pushed.at(-1)).to.deep.equal(['shardId-1', 'd', false]);
      expect(router.knows('shardId-1')).to.equal(true);
      expect(router.knows('shardId-9')).to.equal(false);
    }));

  it('a map refused for good at startup (unknown stream) fails with FATAL_REQUEST_ERROR naming the code; nothing is routed', () =>
    withVirtualTime(async (scheduler) => {
      const { lanes, router, failures, list } = setup(scheduler, [fatalError()]);
      router.route(record('a', 1n));
      await scheduler.advance(60_000);
      expect(failures).to.have.length(1);
      expect(failures[0][0]).to.equal('FATAL_REQUEST_ERROR');
      expect(failures[0][1]).to.match(/Kinesis refused ListShards: ResourceNotFoundException \(HTTP 400\)/);
      expect(failures[0][1]).to.match(/does not exist/);
      expect(list.calls).to.deep.equal([0]); // not retried
      expect(lanes.pushed).to.deep.equal([]);
    }));

  it('startup survives: ListShards failing (500, LimitExceeded, no answer) is retried from 250 ms ×1.5, then routes', () =>
    withVirtualTime(async (scheduler) => {
      const limit = sdkError('LimitExceededException', 400);
      const { lanes, router, failures, list } = setup(scheduler, [
        serverError(),
        limit,
        serverError(),
        shardsOf(twoShards),
      ]);
      router.route(record('a', 1n));
      await scheduler.advance(5_000);
      expect(failures).to.deep.equal([]);
      expect(list.calls).to.deep.equal([0, 250, 250 + 375, 250 + 375 + 562.5]);
      expect(lanes.pushed).to.deep.equal([['shardId-0', 'a', false]]);
    }));

  it('a ListShards that never answers is cut at requestTimeoutMs and retried; with no success by the TTL: SHARD_MAP_FAILED with the last cause', () =>
    withVirtualTime(async (scheduler) => {
      const calls: number[] = [];
      const signals: AbortSignal[] = [];
      const stalled = {
        send: (_c: unknown, o: { abortSignal: AbortSignal }) =>
          new Promise((_resolve, reject) => {
            calls.push(scheduler.now());
            signals.push(o.abortSignal);
            o.abortSignal.addEventListener('abort', () => reject(abortError()), { once: true });
          }),
      } as unknown as KinesisClient;
      const failures: [KinesisSinkErrorCode, string, number][] = [];
      const options = { ...ROUTER_BUDGETS, client: stalled, streamName: 's', scheduler, recordTtlMs: 20_000 };
      const router: Router<string> = new Router<string>(options, new FakeLanes(), {
        onFailed: (code, message) => {
          failures.push([code, message, scheduler.now()]);
          router.close(); // as the pipeline does when it fails
        },
        onRouted: () => {},
      });
      router.route(record('a', 1n));
      await scheduler.advance(5_999);
      expect(calls).to.deep.equal([0]);
      expect(signals[0].aborted).to.equal(false);
      await scheduler.advance(1);
      expect(signals[0].aborted).to.equal(true); // the deadline, not the pipeline
      await scheduler.advance(60_000);
      // Each try cut at 6 s, then 250, 375, 562.5 ms of backoff; the record's 20 s ran out during the 4th.
      expect(calls).to.deep.equal([0, 6_250, 12_625, 19_187.5]);
      expect(failures.map(([code, , at]) => [code, at])).to.deep.equal([['SHARD_MAP_FAILED', 20_000]]);
      expect(failures[0][1]).to.match(
        /1 records waited longer than recordTtlMs \(20000 ms\) for a shard map: could not list the stream's shards: RequestTimeoutError ETIMEDOUT: ListShards got no answer within 6000 ms/,
      );
      expect(scheduler.pending).to.equal(0);
    }));

  it('with no record waiting, a failing first load is retried for as long as it takes (an idle producer outlives a bad minute)', () =>
    withVirtualTime(async (scheduler) => {
      const failures = Array.from({ length: 14 }, () => serverError());
      const { router, list, lanes, failures: failed } = setup(scheduler, [...failures, shardsOf(twoShards)]);
      await scheduler.advance(200_000);
      expect(failed).to.deep.equal([]);
      expect(list.calls).to.have.length(15);
      expect(list.calls.at(-1)! - list.calls.at(-2)!).to.equal(MAP_REFRESH_MAX_INTERVAL_MS); // capped at 30 s
      router.route(record('a', 1n));
      expect(lanes.pushed).to.deep.equal([['shardId-0', 'a', false]]);
    }));

  it('a key no open shard covers waits at most recordTtlMs, then SHARD_MAP_FAILED says no shard covers it', () =>
    withVirtualTime(async (scheduler) => {
      const gap = shardsOf([['shardId-0', 0n, HALF - 1n]]);
      const { router, failures, list } = setup(scheduler, [gap]);
      await scheduler.settle();
      router.route(record('gap', TOP));
      await scheduler.advance(59_999);
      expect(failures).to.deep.equal([]);
      expect(list.calls.length).to.be.greaterThan(50); // refreshed about once a second meanwhile
      await scheduler.advance(1);
      expect(failures.map(([code]) => code)).to.deep.equal(['SHARD_MAP_FAILED']);
      expect(failures[0][1]).to.match(
        /1 records waited longer than recordTtlMs \(60000 ms\) for a shard map: no open shard covers/,
      );
      router.close();
    }));

  it('a key in a gap (map read mid-reshard) waits; the refresh comes no sooner than 1 s after the load', () =>
    withVirtualTime(async (scheduler) => {
      const gap: Range[] = [['shardId-0', 0n, HALF - 1n]]; // the upper half's child not listed yet
      const { lanes, router, list, routed } = setup(scheduler, [
        shardsOf(gap),
        shardsOf([...gap, ['shardId-2', HALF, TOP]]),
      ]);
      await scheduler.settle();
      await scheduler.advance(300);
      router.route(record('hi', HALF + 7n));
      expect(router.size).to.equal(1);
      expect(lanes.pushed).to.deep.equal([]);
      await scheduler.advance(699);
      expect(list.calls).to.deep.equal([0]); // still inside the 1 s since the load
      await scheduler.advance(1);
      expect(list.calls).to.deep.equal([0, MAP_REFRESH_MIN_INTERVAL_MS]);
      expect(lanes.pushed).to.deep.equal([['shardId-2', 'hi', false]]);
      expect(routed()).to.equal(2); // the load, then the refresh
    }));

  it('a refresh that keeps failing backs off ×1.5 up to 30 s, and a success resets the interval', () =>
    withVirtualTime(async (scheduler) => {
      const failures = Array.from({ length: 12 }, () => serverError());
      const { router, list } = setup(scheduler, [shardsOf(twoShards), ...failures, shardsOf(twoShards)]);
      await scheduler.settle();
      router.refresh();
      await scheduler.advance(400_000);
      const gaps = list.calls.slice(1).map((t, i) => t - list.calls[i]);
      let expected = MAP_REFRESH_MIN_INTERVAL_MS;
      const want = [expected];
      for (let i = 0; i < 12; i++) {
        expected = Math.min(MAP_REFRESH_MAX_INTERVAL_MS, expected * 1.5);
        want.push(expected);
      }
      expect(gaps.map(Math.round)).to.deep.equal(want.map(Math.round));
      expect(Math.max(...gaps)).to.equal(MAP_REFRESH_MAX_INTERVAL_MS);
      // The success reset the interval: two refreshes asked for back to back are 1 s apart, not 30 s.
      const before = list.calls.length;
      router.refresh();
      await scheduler.settle();
      router.refresh();
      await scheduler.advance(MAP_REFRESH_MAX_INTERVAL_MS);
      const [a, b] = list.calls.slice(before);
      expect(b - a).to.equal(MAP_REFRESH_MIN_INTERVAL_MS);
    }));

  it('a refresh that fails for good while records wait fails the pipeline; with none waiting it backs off', () =>
    withVirtualTime(async (scheduler) => {
      const waiting = setup(scheduler, [shardsOf([['shardId-0', 0n, HALF - 1n]]), fatalError()]);
      await scheduler.settle();
      waiting.router.route(record('gap', TOP)); // waits, asks for a refresh
      await scheduler.advance(MAP_REFRESH_MIN_INTERVAL_MS);
      expect(waiting.failures.map(([code]) => code)).to.deep.equal(['FATAL_REQUEST_ERROR']);
      waiting.router.close();

      // Control: the same refusal with nothing waiting is only retried later.
      const idle = setup(scheduler, [shardsOf(twoShards), fatalError()]);
      await scheduler.settle();
      idle.router.refresh();
      await scheduler.advance(MAP_REFRESH_MIN_INTERVAL_MS * 3);
      expect(idle.failures).to.deep.equal([]);
      expect(idle.list.calls.length).to.be.greaterThan(2);
      idle.router.close();
    }));

  it('after a reshard, lanes of closed shards are retired and their records routed to the children', () =>
    withVirtualTime(async (scheduler) => {
      const { lanes, router } = setup(scheduler, [
        shardsOf(twoShards),
        shardsOf([
          ['shardId-0', 0n, HALF - 1n],
          ['shardId-1', HALF, TOP, true], // closed parent, listed with its end
          ['shardId-2', HALF, HALF + 999n],
          ['shardId-3', HALF + 1000n, TOP],
        ]),
      ]);
      await scheduler.settle();
      lanes.hold = true;
      router.route(record('low', 1n));
      router.route(record('retry', HALF + 5n, 1));
      router.route(record('fresh', HALF + 5000n));
      lanes.pushed.length = 0;
      router.refresh();
      await scheduler.advance(MAP_REFRESH_MIN_INTERVAL_MS);
      expect(lanes.retired).to.deep.equal(['shardId-1']);
      expect(lanes.pushed).to.deep.equal([
        ['shardId-2', 'retry', true],
        ['shardId-3', 'fresh', false],
      ]);
      expect(router.knows('shardId-1')).to.equal(false);
    }));

  it('records held for a refresh (misplaced aggregates) go out only once the map is refreshed', () =>
    withVirtualTime(async (scheduler) => {
      const { lanes, router, list } = setup(scheduler, [shardsOf(twoShards)]);
      await scheduler.settle();
      router.holdForRefresh([record('m1', 1n, 1), record('m2', TOP, 1)]);
      await scheduler.advance(5000);
      expect(lanes.pushed).to.deep.equal([]); // nothing asked for a refresh yet
      router.refresh();
      await scheduler.advance(0);
      expect(list.calls).to.deep.equal([0, 5000]);
      expect(lanes.pushed).to.deep.equal([
        ['shardId-0', 'm1', true],
        ['shardId-1', 'm2', true],
      ]);
    }));

  it('with recordTtlMs Infinity (a spool), records in a gap wait without bound and no TTL timer is set', () =>
    withVirtualTime(async (scheduler) => {
      const list = new FakeListShards(scheduler, [shardsOf([['shardId-0', 0n, HALF - 1n]])]);
      const failures: string[] = [];
      const options = {
        client: list.client,
        streamName: 's',
        scheduler,
        ...ROUTER_BUDGETS,
        recordTtlMs: Infinity,
      };
      const router = new Router<string>(options, new FakeLanes(), {
        onFailed: (code) => failures.push(code),
        onRouted: () => {},
      });
      await scheduler.settle();
      router.route(record('gap', TOP));
      expect(scheduler.pending).to.equal(1); // the refresh only (an Infinity ms timer would fire at once)
      await scheduler.advance(600_000);
      expect(failures).to.deep.equal([]);
      expect(router.size).to.equal(1);
      router.close();
    }));

  it('once closed it routes nothing and leaves no timer', () =>
    withVirtualTime(async (scheduler) => {
      const { lanes, router } = setup(scheduler, [shardsOf([['shardId-0', 0n, HALF - 1n]])]);
      await scheduler.settle();
      router.route(record('gap', TOP)); // schedules a refresh 1 s after the load, and its TTL check
      expect(scheduler.pending).to.equal(2);
      router.close();
      expect(scheduler.pending).to.equal(0);
      router.route(record('a', 1n));
      expect(lanes.pushed).to.deep.equal([]);
    }));

  it('property: every routed record reaches the lane whose range holds its hash key, exactly once', () =>
    withVirtualTime(async (scheduler) => {
      await fc.assert(
        fc.asyncProperty(
          fc.uniqueArray(fc.bigInt({ min: 1n, max: TOP }), { minLength: 0, maxLength: 6 }),
          fc.array(fc.bigInt({ min: 0n, max: TOP }), { maxLength: 40 }),
          async (cuts, keys) => {
            const bounds = [0n, ...cuts.sort((a, b) => (a < b ? -1 : 1)), TOP + 1n];
            const ranges: Range[] = bounds.slice(1).map((end, i) => [`s${i}`, bounds[i], end - 1n]);
            const { lanes, router } = setup(scheduler, [shardsOf(ranges)]);
            keys.forEach((k, i) => router.route(record(`k${i}`, k)));
            await scheduler.settle();
            expect(lanes.pushed).to.have.length(keys.length);
            lanes.pushed.forEach(([shardId, key]) => {
              const k = keys[Number(key.slice(1))];
              const [, start, end] = ranges.find(([id]) => id === shardId)!;
              expect(k >= start && k <= end, `${k} in ${shardId}`).to.equal(true);
            });
            router.close();
          },
        ),
        { numRuns: 50 },
      );
    }));
});
