import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  ListShardsCommand,
  type KinesisClient,
} from '@aws-sdk/client-kinesis';
import { expect } from 'chai';
import { from, lastValueFrom, tap, toArray } from 'rxjs';
import { startLocalKinesis, type LocalKinesis } from '../examples/support/local-kinesis.js';
import { toKinesis, type KinesisRecordInput } from '../src/index.js';
import { hashKeyOf } from '../src/kinesis/hash-key.js';
import { seededRandom } from './support/fake-kinesis.js';
import { decodeWithAwsKinesisAgg } from './support/kpl.js';

const STREAM = 'to-kinesis-integration';
const SHARDS = 4;
const RECORDS = 50_000;

/** What identifies a record when read back: its key and its bytes. */
const identity = (key: string, data: Uint8Array) => `${key}\u0000${Buffer.from(data).toString('base64')}`;

/** Every record of a shard, from the trim horizon up to the tip. */
async function readShard(client: KinesisClient, shardId: string, streamName = STREAM) {
  const { ShardIterator } = await client.send(
    new GetShardIteratorCommand({
      StreamName: streamName,
      ShardId: shardId,
      ShardIteratorType: 'TRIM_HORIZON',
    }),
  );
  const records: { key: string; data: Uint8Array; sequenceNumber: string }[] = [];
  let iterator = ShardIterator;
  while (iterator) {
    const page = await client.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 10_000 }));
    for (const r of page.Records ?? []) {
      records.push({ key: r.PartitionKey!, data: r.Data!, sequenceNumber: r.SequenceNumber! });
    }
    if ((page.Records ?? []).length === 0) break; // an open shard always has a next iterator: stop at the tip
    iterator = page.NextShardIterator;
  }
  return records;
}

describe('toKinesis against kinesalite', () => {
  let local: LocalKinesis;

  before(async () => {
    local = await startLocalKinesis();
    await local.createStream(STREAM, SHARDS);
  });

  after(async () => {
    await local?.close();
  });

  it(`delivers ${RECORDS.toLocaleString('en')} records byte for byte, each to the shard its emission names`, async () => {
    const random = seededRandom(20240611);
    const records: KinesisRecordInput[] = Array.from({ length: RECORDS }, () => {
      const data = new Uint8Array(10 + Math.floor(random() * 191)); // 10..200 bytes
      for (let i = 0; i < data.length; i++) data[i] = Math.floor(random() * 256);
      return { PartitionKey: `key-${Math.floor(random() * 2 ** 40).toString(36)}`, Data: data };
    });
    const client = local.client();

    // Where each record landed, per the emissions: identity → shard ids (a multiset, in case of repeats).
    const landed = new Map<string, string[]>();
    let finallyFailed = 0;
    await lastValueFrom(
      from(records).pipe(
        toKinesis({
          client,
          streamName: STREAM,
          // kinesalite enforces no per-shard quota; a higher rate than Kinesis's 1,000 records/s keeps this
          // spec quick while still going through the shard limiters.
          shardRecordsPerSecond: 5000,
        }),
        tap((e) =>
          e.items.forEach((item, i) => {
            const result = e.response.Records![i];
            if (result.SequenceNumber === undefined) {
              if (!e.retrying[i]) finallyFailed++;
              return;
            }
            const id = identity(item.PartitionKey!, item.Data as Uint8Array);
            landed.set(id, [...(landed.get(id) ?? []), result.ShardId!]);
          }),
        ),
      ),
    );
    expect(finallyFailed).to.equal(0);
    expect([...landed.values()].reduce((n, shards) => n + shards.length, 0)).to.equal(RECORDS);

    const { Shards } = await client.send(new ListShardsCommand({ StreamName: STREAM }));
    expect(Shards).to.have.length(SHARDS);
    const read = new Map<string, string[]>();
    let total = 0;
    for (const shard of Shards!) {
      const shardRecords = await readShard(client, shard.ShardId!);
      expect(shardRecords.length, `records on ${shard.ShardId}`).to.be.greaterThan(RECORDS / SHARDS / 2);
      total += shardRecords.length;
      for (const r of shardRecords) {
        const id = identity(r.key, r.data);
        read.set(id, [...(read.get(id) ?? []), shard.ShardId!]);
      }
    }
    expect(total).to.equal(RECORDS);

    // Same multiset of (key, data), each read from the shard the emission said it was written to.
    const sortedEntries = (m: Map<string, string[]>) =>
      [...m].map(([id, shards]) => [id, [...shards].sort()] as const).sort(([a], [b]) => (a < b ? -1 : 1));
    const expected = new Map<string, string[]>();
    for (const r of records) {
      const id = identity(r.PartitionKey!, r.Data as Uint8Array);
      expected.set(id, [...(expected.get(id) ?? []), '']);
    }
    expect([...read.keys()].sort()).to.deep.equal([...expected.keys()].sort());
    for (const [id, shards] of read) expect(shards.length).to.equal(expected.get(id)!.length);
    expect(sortedEntries(read)).to.deep.equal(sortedEntries(landed));
  });

  it('aggregated: kinesalite routes each aggregate by its ExplicitHashKey; aws-kinesis-agg unpacks every record on its own shard', async () => {
    const stream = 'aggregated';
    await local.createStream(stream, SHARDS);
    const random = seededRandom(7);
    const records: KinesisRecordInput[] = Array.from({ length: 20_000 }, (_, i) => ({
      PartitionKey: `device-${Math.floor(random() * 500)}`,
      Data: Buffer.from(`${i}:`.padEnd(80, 'x')),
    }));
    const client = local.client();
    const emissions = await lastValueFrom(
      from(records).pipe(
        toKinesis({
          client,
          streamName: stream,
          aggregation: { enabled: true },
          shardBytesPerSecond: 8 * 2 ** 20,
        }),
        toArray(),
      ),
    );
    expect(emissions.flatMap((e) => e.items.flat()).length).to.equal(records.length);

    const { Shards } = await client.send(new ListShardsCommand({ StreamName: stream }));
    const unpacked: string[] = [];
    let kinesisRecords = 0;
    for (const shard of Shards!) {
      const [start, end] = [
        BigInt(shard.HashKeyRange!.StartingHashKey!),
        BigInt(shard.HashKeyRange!.EndingHashKey!),
      ];
      for (const r of await readShard(client, shard.ShardId!, stream)) {
        kinesisRecords++;
        const users = decodeWithAwsKinesisAgg({ PartitionKey: r.key, Data: r.data });
        for (const user of users) {
          const hashKey = hashKeyOf(user.partitionKey);
          expect(hashKey >= start && hashKey <= end, `${user.partitionKey} on ${shard.ShardId}`).to.equal(
            true,
          );
          unpacked.push(identity(user.partitionKey, user.data));
        }
      }
    }
    expect(kinesisRecords).to.be.below(records.length / 20); // packed
    expect(unpacked.sort()).to.deep.equal(
      records.map((r) => identity(r.PartitionKey!, r.Data as Uint8Array)).sort(),
    );
  });
});
