/**
 * Fleet-wide shard quotas: the per-shard buckets in a real redis-server (started here, on a free loopback
 * port), shared by limiters in this process and by producers in child processes writing to one emulated
 * stream. Without /usr/bin/redis-server the Redis specs are skipped loudly, except in CI, where they fail.
 */
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { expect } from 'chai';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { asyncScheduler, from, lastValueFrom, toArray } from 'rxjs';
import { refillSettings } from '../src/limits/shared-buckets.js';
import {
  resolveLimiterOptions,
  type LimiterOptions,
  type ResolvedSharedLimiter,
} from '../src/limits/shared-options.js';
import { toKinesis, type KinesisRecordInput, type PutRecordsEmission } from '../src/index.js';
import { resolveOptions } from '../src/resolve-options.js';
import { ShardLimiters } from '../src/limits/shard-limiter.js';
import { startEmulator, type KinesisEmulator } from '../src/testing/index.js';
import { recordOf } from './support/cluster-child.js';
import { redisAvailable, startRedis, type RedisServer } from './support/redis-server.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const SHARD = 'shardId-000000000000';
const client = {} as KinesisClient; // resolveOptions only checks that one is there

describe('limiter option', () => {
  it('defaults to local buckets; ioredis gets heartbeat 50 ms, a 60 s TTL and the stream as id', () => {
    expect(resolveOptions({ client, streamName: 's' }).limiter).to.equal(undefined);
    expect(resolveOptions({ client, streamName: 's', limiter: { datastore: 'local' } }).limiter).to.equal(
      undefined,
    );
    const shared = { datastore: 'ioredis', clientOptions: { port: 1 } } as const;
    expect(resolveOptions({ client, streamName: 's', limiter: shared }).limiter).to.deep.include({
      id: 's',
      heartbeatInterval: 50,
      timeout: 60_000,
    });
    const arn = 'arn:aws:kinesis:eu-west-1:123456789012:stream/s';
    expect(resolveOptions({ client, streamName: 's', streamARN: arn, limiter: shared }).limiter?.id).to.equal(
      arn,
    );
    expect(resolveLimiterOptions({ ...shared, id: 'fleet' }, 's')?.id).to.equal('fleet');
  });

  it('rejects settings that cannot work, naming the option', () => {
    const bad: [unknown, RegExp][] = [
      [{ datastore: 'redis' }, /use 'ioredis'/],
      [{ datastore: 'memcached' }, /limiter\.datastore/],
      [{ datastore: 'ioredis', heartbeatInterval: 5000 }, /limiter\.heartbeatInterval/],
      [{ datastore: 'ioredis', heartbeatInterval: 0 }, /limiter\.heartbeatInterval/],
      [{ datastore: 'ioredis', timeout: 10 }, /limiter\.timeout/],
      [{ datastore: 'ioredis', client: {} }, /limiter\.client/],
      [{ datastore: 'ioredis', id: '' }, /limiter\.id/],
    ];
    for (const [limiter, message] of bad) {
      expect(() => resolveOptions({ client, streamName: 's', limiter: limiter as LimiterOptions })).to.throw(
        message,
      );
    }
  });

  it('refills Redis in integer steps at exactly the configured rate, up to the capacity', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 100 * 1024 * 1024 }),
        fc.integer({ min: 1, max: 10_000 }),
        (rate, cap) => {
          const s = refillSettings(rate, cap);
          expect(Number.isInteger(s.reservoirIncreaseAmount) && s.reservoirIncreaseAmount >= 1).to.equal(
            true,
          );
          expect((s.reservoirIncreaseAmount * 1000) / s.reservoirIncreaseInterval).to.be.closeTo(
            rate,
            rate * 1e-12,
          );
          expect(s.reservoirIncreaseMaximum).to.equal(cap);
          expect(s.reservoir).to.equal(cap);
        },
      ),
    );
    // 1 MiB/s, which a fixed 100 ms step cannot give in whole bytes.
    expect(refillSettings(1024 * 1024, 104_858)).to.deep.include({ reservoirIncreaseAmount: 10_486 });
  });
});

// Real time, on purpose: the shared buckets live in redis-server, whose reservoir refresh runs on Redis's
// clock and Bottleneck's heartbeat timers; a virtual clock in this process cannot move them.
describe('shared shard buckets in a real Redis', function () {
  this.timeout(90_000);
  let redis: RedisServer | undefined;
  let admin: Redis;
  let run = 0;
  /** A fresh bucket id per test, so no test sees another's Redis state. */
  const freshId = () => `spec-${process.pid}-${++run}`;

  before(async function () {
    if (!redisAvailable(this)) return;
    redis = await startRedis();
    admin = new Redis({ host: redis.host, port: redis.port, lazyConnect: true });
    await admin.connect();
  });
  after(async () => {
    admin?.disconnect();
    await redis?.stop();
  });

  const shared = (overrides: Partial<ResolvedSharedLimiter> = {}): ResolvedSharedLimiter =>
    resolveLimiterOptions(
      { datastore: 'ioredis', clientOptions: { host: redis!.host, port: redis!.port }, ...overrides },
      freshId(),
    )!;

  const limitersFor = (limiter: ResolvedSharedLimiter, recordsPerSecond = 1000, burstMs = 100) =>
    new ShardLimiters({
      recordsPerSecond,
      bytesPerSecond: Infinity,
      burstMs,
      scheduler: asyncScheduler,
      shared: limiter,
    });

  /** Admits chunks on one shard back to back, as a lane does, for `ms`; resolves with the records admitted. */
  async function saturate(limiters: ShardLimiters, ms: number): Promise<number> {
    const until = Date.now() + ms;
    let admitted = 0;
    while (Date.now() < until) {
      const chunk = limiters.maxChunk.records;
      await limiters.admit(SHARD, chunk, chunk * 100);
      if (Date.now() <= until) admitted += chunk;
    }
    return admitted;
  }

  /** Connected clients as Redis counts them (the `admin` connection included). */
  const connections = async () =>
    String(await admin.client('LIST'))
      .trim()
      .split('\n').length;
  async function settles(what: () => Promise<number>, expected: number, ms = 3000): Promise<number> {
    const until = Date.now() + ms;
    let value = await what();
    while (value !== expected && Date.now() < until) {
      await new Promise((resolve) => setTimeout(resolve, 25));
      value = await what();
    }
    return value;
  }

  it('two limiters with one id share each shard’s rate; with different ids they do not', async () => {
    const limiter = shared();
    const [a, b, other] = [limitersFor(limiter), limitersFor(limiter), limitersFor(shared())];
    try {
      const ms = 3000;
      const started = Date.now();
      const [fromA, fromB, fromOther] = await Promise.all([
        saturate(a, ms),
        saturate(b, ms),
        saturate(other, ms),
      ]);
      const elapsed = Date.now() - started;
      // One bucket of 100 records refilled at 1,000/s: at most the burst plus the rate over the run.
      const bound = 100 + elapsed;
      expect(fromA + fromB)
        .to.be.at.most(bound)
        .and.at.least(0.9 * bound);
      expect(fromA).to.be.greaterThan(0);
      expect(fromB).to.be.greaterThan(0);
      // Alone on its id, the third limiter got a whole shard's rate to itself.
      expect(fromOther)
        .to.be.at.most(bound)
        .and.at.least(0.9 * bound);
    } finally {
      await Promise.all([a.close(), b.close(), other.close()]);
    }
  });

  it('keeps its buckets under rx-kinesis:<id>:records|bytes-<ShardId>, with the TTL as timeout', async () => {
    const limiter = shared({ timeout: 5000 });
    const limiters = new ShardLimiters({
      recordsPerSecond: 1000,
      bytesPerSecond: 1024 * 1024,
      burstMs: 100,
      scheduler: asyncScheduler,
      shared: limiter,
    });
    try {
      await limiters.admit(SHARD, 10, 1000);
      for (const dimension of ['records', 'bytes']) {
        const key = `b_rx-kinesis:${limiter.id}:${dimension}-${SHARD}_settings`;
        const ttl = await admin.pttl(key);
        expect(ttl, key).to.be.greaterThan(0).and.at.most(5000);
        const settings = await admin.hgetall(key);
        expect(settings.reservoirIncreaseMaximum, key).to.equal(dimension === 'records' ? '100' : '104858');
      }
      expect(limiters.shardIds()).to.deep.equal([SHARD]);
    } finally {
      await limiters.close();
    }
  });

  it('charges throttled writes to, and refunds failed ones into, the shard’s shared bucket', async () => {
    const limiter = shared();
    // A record every 10 s and a bucket of 10: the reservoir does not move by itself while we look.
    const limiters = limitersFor(limiter, 0.1, 100_000);
    const key = `b_rx-kinesis:${limiter.id}:records-${SHARD}_settings`;
    const reservoir = async () => Number(await admin.hget(key, 'reservoir'));
    try {
      await limiters.admit(SHARD, 4, 0);
      expect(await reservoir()).to.equal(6);
      limiters.throttled(SHARD, 5, 0);
      expect(await settles(reservoir, 1)).to.equal(1);
      limiters.refund(SHARD, 7, 0);
      expect(await settles(reservoir, 8)).to.equal(8);
    } finally {
      await limiters.close();
    }
  });

  describe('toKinesis with limiter: ioredis, in this process', () => {
    let emu: KinesisEmulator;
    let kinesis: KinesisClient;
    beforeEach(async () => {
      emu = await startEmulator({ shards: 2, streamName: 'fleet' });
      kinesis = new KinesisClient({
        endpoint: emu.endpoint,
        region: 'us-east-1',
        credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
        requestHandler: new NodeHttpHandler(),
      });
    });
    afterEach(async () => {
      kinesis.destroy();
      await emu.close();
    });

    const records = (n: number) => Array.from({ length: n }, (_, i) => recordOf('in-process', i));
    const delivered = (emissions: PutRecordsEmission<KinesisRecordInput>[]) =>
      emissions.reduce((n, e) => n + (e.response.Records?.filter((r) => r.SequenceNumber).length ?? 0), 0);

    it('delivers everything and closes its Redis connections on complete, error and unsubscribe', async () => {
      const baseline = await connections();
      const limiter = {
        datastore: 'ioredis',
        clientOptions: { host: redis!.host, port: redis!.port },
      } as const;

      const sent = records(600);
      const emissions = await lastValueFrom(
        from(sent).pipe(toKinesis({ client: kinesis, streamName: 'fleet', limiter }), toArray()),
      );
      expect(delivered(emissions)).to.equal(600);
      expect(emu.missing(sent.map((r) => ({ partitionKey: r.PartitionKey, data: r.Data })))).to.deep.equal(
        [],
      );
      expect(await settles(connections, baseline), 'after complete').to.equal(baseline);

      const failed = await lastValueFrom(
        from(records(10)).pipe(toKinesis({ client: kinesis, streamName: 'no-such-stream', limiter })),
      ).catch((e: Error) => e);
      expect(failed).to.be.instanceOf(Error).with.property('code', 'FATAL_REQUEST_ERROR');
      expect(await settles(connections, baseline), 'after error').to.equal(baseline);

      const subscription = from(records(5000))
        .pipe(toKinesis({ client: kinesis, streamName: 'fleet', limiter }))
        .subscribe();
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(await connections(), 'while running').to.equal(baseline + 2);
      subscription.unsubscribe();
      expect(await settles(connections, baseline), 'after unsubscribe').to.equal(baseline);
    });

    it('admits KPL aggregates through the shared buckets: everything delivered, no shard over its quota', async () => {
      const limiter = {
        datastore: 'ioredis',
        clientOptions: { host: redis!.host, port: redis!.port },
      } as const;
      // 4 MiB over 2 shards: twice what their 1 MiB/s quota and 1 s burst take at once, so the buckets must hold it.
      const sent = Array.from({ length: 40_000 }, (_, i) => ({
        PartitionKey: `k${i % 300}`,
        Data: Buffer.from(`${i}:`.padEnd(100, 'x')),
      }));
      const emissions = await lastValueFrom(
        from(sent).pipe(
          toKinesis({ client: kinesis, streamName: 'fleet', limiter, aggregation: { enabled: true } }),
          toArray(),
        ),
      );
      expect(emissions.flatMap((e) => e.items.flat()).length).to.be.at.least(sent.length);
      expect(emu.missing(sent.map((r) => ({ partitionKey: r.PartitionKey, data: r.Data })))).to.deep.equal(
        [],
      );
      const stats = emu.stats();
      expect(stats.accepted).to.be.below(sent.length / 20); // packed
      expect(stats.throttled).to.equal(0);
      for (const shard of stats.shards) expect(shard.peakPerSecond).to.be.at.most(1000);
    });

    it('uses a caller’s ioredis client for its settings only: never closes or listens to it', async () => {
      const own = new Redis({ host: redis!.host, port: redis!.port, lazyConnect: true });
      await own.connect();
      try {
        const listeners = own.eventNames().map((e) => `${String(e)}:${own.listenerCount(e)}`);
        const baseline = await connections();
        const sent = records(300);
        const emissions = await lastValueFrom(
          from(sent).pipe(
            toKinesis({
              client: kinesis,
              streamName: 'fleet',
              limiter: { datastore: 'ioredis', client: own },
            }),
            toArray(),
          ),
        );
        expect(delivered(emissions)).to.equal(300);
        expect(own.status).to.equal('ready');
        expect(await own.ping()).to.equal('PONG');
        expect(own.eventNames().map((e) => `${String(e)}:${own.listenerCount(e)}`)).to.deep.equal(listeners);
        // Its own two connections (client and subscriber) came and went; the caller's stays.
        expect(await settles(connections, baseline)).to.equal(baseline);
        expect((await admin.keys(`b_rx-kinesis:fleet:records-*_settings`)).length).to.be.greaterThan(0);
      } finally {
        own.disconnect();
      }
    });

    it('falls back to local buckets, with one warning and no credential, when Redis cannot be reached', async () => {
      const unreachable = await startRedis(); // a port that was free: stop it, nothing listens there now
      await unreachable.stop();
      const warnings: Error[] = [];
      const sent = records(1500);
      const emissions = await lastValueFrom(
        from(sent).pipe(
          toKinesis({
            client: kinesis,
            streamName: 'fleet',
            limiter: {
              datastore: 'ioredis',
              clientOptions: { host: '127.0.0.1', port: unreachable.port, password: 'hunter2-secret' },
              onWarning: (w) => warnings.push(w),
            },
          }),
          toArray(),
        ),
      );
      expect(delivered(emissions)).to.equal(1500);
      expect(emu.missing(sent.map((r) => ({ partitionKey: r.PartitionKey, data: r.Data })))).to.deep.equal(
        [],
      );
      expect(warnings).to.have.length(1);
      expect(warnings[0].message).to.match(/local per-process buckets/);
      expect(warnings[0].message).not.to.include('hunter2');
    });
  });
});
