/**
 * KPL-format aggregation: the encoder against an independent decoder (the `aws-kinesis-agg` package), the
 * packing invariants, and the operator on the emulator — shard-correct aggregates, nothing lost, limits
 * counted in Kinesis records, per-key order and resharding.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { from, lastValueFrom, tap, toArray, type Observable } from 'rxjs';
import { AggregateBuilder, packChunk, type Outgoing } from '../src/pipeline/aggregation.js';
import { Fifo } from '../src/pipeline/fifo.js';
import { AGGREGATION_MAGIC } from '../src/kinesis/aggregate-format.js';
import { hashKeyOf } from '../src/kinesis/hash-key.js';
import { prepareRecord } from '../src/kinesis/records.js';
import { resolveOptions } from '../src/resolve-options.js';
import {
  MAX_HASH_KEY,
  toKinesis,
  type AggregatedPutRecordsEmission,
  type KinesisRecordInput,
  type ToKinesisOptions,
} from '../src/index.js';
import type { PendingRecord } from '../src/pipeline/pending.js';
import { deaggregate, type AcceptedRecord, type KinesisEmulator } from '../src/testing/index.js';
import { EmulatorKit, expected, makeItems, toRecord, type Item } from './support/emulator-kit.js';
import { decodeWithAwsKinesisAgg } from './support/kpl.js';
import { countInFlight, runOnClock } from './support/emulator-time.js';
import { withVirtualTime } from './support/virtual-time.js';
import { KinesisClient, PutRecordsCommand } from '@aws-sdk/client-kinesis';

function pending(input: KinesisRecordInput, shardId = 'shard'): PendingRecord<KinesisRecordInput> {
  return {
    item: input,
    record: prepareRecord(input, { maxRecordBytes: 10 * 1024 * 1024 }),
    attempts: 0,
    acceptedAt: 0,
    firstSentAt: undefined,
    shardId,
    seq: 0,
    slot: -1,
  };
}

const partitionKey = fc
  .string({ unit: fc.constantFrom('a', 'b', 'z', '0', '-', 'é', '✓', '𝄞'), minLength: 1, maxLength: 12 })
  .filter((k) => k.length <= 256);
const userRecord = fc.record(
  {
    PartitionKey: partitionKey,
    Data: fc.uint8Array({ minLength: 0, maxLength: 300 }),
    ExplicitHashKey: fc.bigInt({ min: 0n, max: MAX_HASH_KEY }).map(String),
  },
  { requiredKeys: ['PartitionKey', 'Data'] },
);

describe('aggregation: the KPL format', () => {
  it('property: aws-kinesis-agg reads back the same records, in order, with their keys', () => {
    fc.assert(
      fc.property(fc.array(userRecord, { minLength: 2, maxLength: 60 }), (inputs) => {
        const builder = new AggregateBuilder<KinesisRecordInput>();
        for (const input of inputs) builder.add(pending(input));
        const unit = builder.seal();
        const entry = unit.record.entry;
        expect(Buffer.from(entry.Data.subarray(0, 4))).to.deep.equal(Buffer.from(AGGREGATION_MAGIC));
        const decoded = decodeWithAwsKinesisAgg(entry);
        expect(decoded.map((r) => r.partitionKey)).to.deep.equal(inputs.map((i) => i.PartitionKey));
        expect(decoded.map((r) => r.data.toString('hex'))).to.deep.equal(
          inputs.map((i) => Buffer.from(i.Data as Uint8Array).toString('hex')),
        );
        inputs.forEach((input, i) => {
          if (input.ExplicitHashKey !== undefined)
            expect(decoded[i].explicitHashKey).to.equal(input.ExplicitHashKey);
        });
        // The emulator's decoder (rx-kinesis/testing) agrees with the independent one.
        expect(deaggregate(entry.Data)!.map((r) => [r.partitionKey, r.data.toString('hex')])).to.deep.equal(
          decoded.map((r) => [r.partitionKey, r.data.toString('hex')]),
        );
      }),
      { numRuns: 300 },
    );
  });

  it('property: the size known before adding a record is the size of the record sent', () => {
    fc.assert(
      fc.property(fc.array(userRecord, { minLength: 2, maxLength: 40 }), (inputs) => {
        const builder = new AggregateBuilder<KinesisRecordInput>();
        let predicted = 0;
        for (const input of inputs) {
          const record = pending(input);
          predicted = builder.bytesWith(record);
          builder.add(record);
        }
        const unit = builder.seal();
        const keyBytes = Buffer.byteLength(unit.record.entry.PartitionKey, 'utf8');
        expect(unit.record.bytes).to.equal(unit.record.entry.Data.byteLength + keyBytes);
        expect(unit.record.bytes).to.equal(predicted);
      }),
    );
  });

  it('sends a lone record as it is, and routes an aggregate by its first record’s hash key', () => {
    const one = new AggregateBuilder<KinesisRecordInput>();
    const only = pending({ PartitionKey: 'solo', Data: 'x' });
    one.add(only);
    expect(one.seal()).to.equal(only);

    const two = new AggregateBuilder<KinesisRecordInput>();
    two.add(pending({ PartitionKey: 'first', Data: 'a' }));
    two.add(pending({ PartitionKey: 'second', Data: 'b' }));
    const entry = two.seal().record.entry;
    expect(entry.PartitionKey).to.equal('first');
    expect(entry.ExplicitHashKey).to.equal(hashKeyOf('first').toString());
  });

  it('property: packing keeps order and never passes the aggregate, chunk or count limits', () => {
    fc.assert(
      fc.property(
        fc.array(userRecord, { minLength: 1, maxLength: 120 }),
        fc.integer({ min: 0, max: 120 }),
        fc.integer({ min: 64, max: 4000 }),
        fc.integer({ min: 2, max: 50 }),
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 100, max: 20_000 }),
        (inputs, retryCount, maxBytes, maxRecords, maxUnits, chunkBytes) => {
          const records = inputs.map((i) => pending(i));
          const retries = new Fifo<PendingRecord<KinesisRecordInput>>();
          const fresh = new Fifo<PendingRecord<KinesisRecordInput>>();
          records.forEach((r, i) => (i < retryCount ? retries : fresh).push(r));
          const { chunk: units, bytes } = packChunk(
            [retries, fresh],
            { maxRecords, maxBytes },
            maxUnits,
            chunkBytes,
          );
          const members = units.flatMap((u: Outgoing<KinesisRecordInput>) =>
            'members' in u ? u.members : [u],
          );
          // A prefix of the queue, in queue order: nothing skipped, nothing reordered.
          expect(members).to.deep.equal(records.slice(0, members.length));
          expect(members.length + retries.length + fresh.length).to.equal(records.length);
          expect(units.length).to.be.within(1, maxUnits);
          let total = 0;
          for (const u of units) {
            total += u.record.bytes;
            if ('members' in u) {
              expect(u.members.length).to.be.within(2, maxRecords);
              expect(u.record.bytes).to.be.at.most(maxBytes);
            }
          }
          expect(bytes, 'the bytes returned are the units’ bytes').to.equal(total);
          if (units.length > 1) expect(total).to.be.at.most(chunkBytes);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('refuses limits it cannot honour', () => {
    const base = { client: {} as KinesisClient, streamName: 's' };
    expect(() =>
      resolveOptions({ ...base, aggregation: { enabled: true, maxBytes: 2 * 1024 * 1024 } }),
    ).to.throw(RangeError, /aggregation.maxBytes/);
    expect(() => resolveOptions({ ...base, aggregation: { enabled: true, maxRecords: 1 } })).to.throw(
      RangeError,
      /aggregation.maxRecords/,
    );
    expect(resolveOptions({ ...base, aggregation: { enabled: false } }).aggregation).to.equal(undefined);
    expect(resolveOptions({ ...base, aggregation: { enabled: true } }).aggregation).to.deep.equal({
      maxRecords: Infinity,
      maxBytes: 50 * 1024,
    });
  });
});

/** Every item's final outcomes, from aggregated emissions ('delivered' or 'failed CODE'). */
function outcomes(emissions: readonly AggregatedPutRecordsEmission<Item>[]): Map<Item, string[]> {
  const ends = new Map<Item, string[]>();
  for (const e of emissions) {
    e.items.forEach((packed, i) => {
      const r = e.response.Records![i];
      packed.forEach((item, j) => {
        if (e.retrying[i][j]) return;
        const how = r.SequenceNumber !== undefined ? 'delivered' : `failed ${r.ErrorCode}`;
        ends.set(item, [...(ends.get(item) ?? []), how]);
      });
    });
  }
  return ends;
}

/** Shard ranges of every shard the stream ever had (closed ones included). */
function ranges(emu: KinesisEmulator): Map<string, [bigint, bigint]> {
  return new Map(
    emu
      .listShards()
      .map((s) => [
        s.ShardId,
        [BigInt(s.HashKeyRange.StartingHashKey), BigInt(s.HashKeyRange.EndingHashKey)],
      ]),
  );
}

function outOfRange(records: readonly AcceptedRecord[], shardRanges: Map<string, [bigint, bigint]>) {
  return records.filter((r) => {
    const [start, end] = shardRanges.get(r.shardId)!;
    const hashKey = r.explicitHashKey !== undefined ? BigInt(r.explicitHashKey) : hashKeyOf(r.partitionKey);
    return hashKey < start || hashKey > end;
  });
}

async function run(observable: Observable<AggregatedPutRecordsEmission<Item>>) {
  return lastValueFrom(observable.pipe(toArray()));
}

describe('aggregation: the emulator reads aggregates as a consumer would', function () {
  const kit = new EmulatorKit();
  afterEach(() => kit.close());

  it('logs an aggregate as its user records, and a corrupted one as the plain record it then is', async () => {
    const emu = await kit.emulator({ shards: 1, streamName: 'read' });
    const builder = new AggregateBuilder<KinesisRecordInput>();
    for (const [key, data] of [
      ['a', 'one'],
      ['b', 'two'],
      ['a', 'three'],
    ])
      builder.add(pending({ PartitionKey: key, Data: data }));
    const entry = builder.seal().record.entry;
    const corrupt = Buffer.from(entry.Data);
    corrupt[corrupt.length - 1] ^= 0xff; // the MD5 no longer matches: not an aggregate to the KCL either
    await kit
      .client(emu)
      .send(
        new PutRecordsCommand({ StreamName: 'read', Records: [entry, { PartitionKey: 'c', Data: corrupt }] }),
      );
    expect(
      emu.records.map((r) => [
        r.partitionKey,
        r.data!.toString('latin1'),
        r.subSequenceNumber,
        r.aggregate?.count,
      ]),
    ).to.deep.equal([
      ['a', 'one', 0, 3],
      ['b', 'two', 1, 3],
      ['a', 'three', 2, 3],
      ['c', corrupt.toString('latin1'), undefined, undefined],
    ]);
    expect(new Set(emu.records.slice(0, 3).map((r) => r.sequenceNumber)).size).to.equal(1);
    expect(emu.stats().accepted).to.equal(2); // quotas and stats count Kinesis records
    expect(deaggregate(corrupt)).to.equal(undefined);
    expect(deaggregate(Buffer.from('plain'))).to.equal(undefined);
  });
});

describe('aggregation: toKinesis on the emulator', function () {
  this.timeout(120_000);
  const kit = new EmulatorKit();
  afterEach(() => kit.close());

  /** 100-byte records, 8-character keys drawn from 1,000: the shape aggregation is for. */
  const smallRecords = (n: number, seed = 7) =>
    makeItems(n, (_id, random) => `k${String(Math.floor(random() * 1000)).padStart(7, '0')}`, seed, 96);

  it('lands every user record on the shard its own key maps to, each once, packed', async () => {
    const emu = await kit.emulator({ shards: 4, streamName: 'agg' });
    const items = smallRecords(20_000);
    const emissions = await run(
      from(items).pipe(
        toKinesis({
          client: kit.client(emu),
          streamName: 'agg',
          toRecord,
          aggregation: { enabled: true },
        }),
      ),
    );
    expect(emu.missing(expected(items))).to.deep.equal([]);
    expect(emu.duplicates().count).to.equal(0);
    expect(outOfRange(emu.records, ranges(emu))).to.deep.equal([]);

    const ends = outcomes(emissions);
    expect(items.filter((item) => ends.get(item)?.join() !== 'delivered').length).to.equal(0);
    // Packed: far fewer Kinesis records than user records, and every aggregate's members share its shard.
    const stats = emu.stats();
    expect(stats.accepted).to.be.below(items.length / 20);
    for (const e of emissions) {
      e.request.Records!.forEach((entry, i) => {
        const landed = e.response.Records![i];
        const decoded = decodeWithAwsKinesisAgg(entry as never);
        expect(decoded.map((r) => r.partitionKey)).to.deep.equal(e.items[i].map((item) => item.key));
        if (landed.ShardId === undefined) return;
        const [start, end] = ranges(emu).get(landed.ShardId)!;
        for (const r of decoded)
          expect(hashKeyOf(r.partitionKey) >= start && hashKeyOf(r.partitionKey) <= end).to.equal(true);
      });
    }
  });

  it('counts Kinesis records against the shard quota: no second holds more than the quota allows', async () => {
    const items = smallRecords(30_000, 11);
    // On one virtual clock: the emulator's per-second quota and the operator's limiter count the same seconds.
    const { emu, emissions } = await withVirtualTime(async (scheduler) => {
      const emu = await kit.emulator({ shards: 2, streamName: 'quota', clock: () => scheduler.now() });
      const client = kit.client(emu);
      const emissions = await runOnClock(
        scheduler,
        countInFlight(client),
        from(items).pipe(
          toKinesis({ client, streamName: 'quota', toRecord, aggregation: { enabled: true }, scheduler }),
        ),
      );
      return { emu, emissions };
    });
    const stats = emu.stats();
    // 30,000 user records over 2 shards could not pass 1,000 records/s per shard in under 15 s un-aggregated;
    // counted as aggregates, the byte quota is what binds and nothing is throttled for records.
    for (const shard of stats.shards) {
      expect(shard.peakPerSecond).to.be.at.most(1000);
    }
    expect(stats.throttled / Math.max(1, stats.accepted + stats.throttled)).to.be.at.most(0.05);
    expect(emissions.flatMap((e) => e.items.flat()).length).to.be.at.least(items.length);
    expect(emu.missing(expected(items))).to.deep.equal([]);
  });

  it("keeps each key's order with ordering: 'per-key' through failures", async () => {
    const emu = await kit.emulator({
      shards: 3,
      streamName: 'ordered',
      quotas: false,
      faults: { seed: 5, recordFailureRate: 0.1 },
    });
    const items = makeItems(4_000, (id) => `key-${id % 80}`, 3, 40);
    const options: ToKinesisOptions<Item, true> = {
      client: kit.client(emu),
      streamName: 'ordered',
      toRecord,
      ordering: 'per-key',
      aggregation: { enabled: true, maxRecords: 25 },
      lingerMs: 5,
      retryBaseDelayMs: 5,
      maxAttempts: 50,
    };
    const emissions = await run(from(items).pipe(toKinesis(options)));
    expect(emu.stats().failed).to.be.above(0);
    expect(emu.missing(expected(items))).to.deep.equal([]);
    expect(emu.orderViolations(expected(items))).to.deep.equal([]);
    expect(emissions.some((e) => e.items.some((packed) => packed.length > 1))).to.equal(true);
  });

  it('re-packs for the new shards after a split, resending only members outside the landed shard: zero avoidable duplicates', async () => {
    const emu = await kit.emulator({ shards: 2, streamName: 'split', quotas: false });
    const items = smallRecords(40_000, 17);
    const misplaced = new Set<Item>();
    let split = false;
    const emissions = await run(
      from(items).pipe(
        toKinesis({
          client: kit.client(emu),
          streamName: 'split',
          toRecord,
          aggregation: { enabled: true },
          shardRecordsPerSecond: 20_000,
          shardBytesPerSecond: 4 * 1024 * 1024,
        }),
        tap((e) => {
          // Split at the first response: aggregates packed for the parent are still coming.
          if (!split) {
            split = true;
            emu.splitShard('shardId-000000000000');
          }
          e.items.forEach((packed, i) =>
            packed.forEach((item, j) => {
              if (e.response.Records![i].SequenceNumber !== undefined && e.retrying[i][j])
                misplaced.add(item);
            }),
          );
        }),
      ),
    );
    const shardRanges = ranges(emu);
    expect(shardRanges.size).to.equal(4);
    const id = (data: Uint8Array) => Buffer.from(data).toString('latin1');
    // Every user record has a copy on the shard its own key maps to...
    const strays = outOfRange(emu.records, shardRanges);
    const strayRecords = new Set(strays);
    const landedRight = new Set(emu.records.filter((r) => !strayRecords.has(r)).map((r) => id(r.data!)));
    expect(items.filter((item) => !landedRight.has(id(item.data))).map((item) => item.id)).to.deep.equal([]);
    // ...exactly one: a member whose key the landed shard covers is kept by a KCL consumer there, so it
    // is delivered, not resent (0.2.0 resent every member: 165 of 300 became duplicates a KCL keeps).
    const inRangeCopies = new Map<string, number>();
    for (const r of emu.records) {
      if (strayRecords.has(r)) continue;
      inRangeCopies.set(id(r.data!), (inRangeCopies.get(id(r.data!)) ?? 0) + 1);
    }
    expect([...inRangeCopies.values()].filter((n) => n > 1).length, 'avoidable duplicates').to.equal(0);
    // ...and copies elsewhere are only of records whose aggregate the producer saw land on the wrong shard.
    expect(misplaced.size).to.be.above(0);
    const misplacedData = new Set([...misplaced].map((item) => id(item.data)));
    expect(strays.filter((r) => !misplacedData.has(id(r.data!))).length).to.equal(0);
    const ends = outcomes(emissions);
    expect(
      items.filter((item) => ends.get(item)?.join() !== 'delivered').map((item) => item.id),
    ).to.deep.equal([]);
  });
});
