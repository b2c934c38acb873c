import { PutRecordsCommand, type KinesisClient, type PutRecordsRequestEntry } from '@aws-sdk/client-kinesis';
import { expect } from 'chai';
import fc from 'fast-check';
import { startLocalKinesis, type LocalKinesis } from '../examples/support/local-kinesis.js';
import { hashKeyOf } from '../src/kinesis/hash-key.js';
import { prepareRecord } from '../src/kinesis/records.js';
import { ShardMap } from '../src/kinesis/shard-map.js';

const STREAM = 'routing-spec';
const SHARDS = 4;
const KEYS = 1000;
const BATCH = 500;
const MAX = 2n ** 128n - 1n;

/** Whether a string has a character outside ASCII (so more UTF-8 bytes than characters). */
const isMultiByte = (s: string) => Buffer.byteLength(s, 'utf8') > s.length;
/** Whether a string has an astral character (a surrogate pair). */
const hasAstral = (s: string) => [...s].length < s.length;

/** 1,000 reproducible Unicode partition keys of 1..256 UTF-16 code units, many of them multi-byte. */
function partitionKeys(): string[] {
  const fits = (s: string) => s.length >= 1 && s.length <= 256;
  const handPicked = [
    'a',
    'é',
    '中',
    '😀',
    'device-7',
    'ключ',
    'مفتاح',
    '🇯🇵',
    'e\u0301', // e + combining acute
    'k'.repeat(256),
    '中'.repeat(256),
    '😀'.repeat(128),
    'k'.repeat(254) + '😀',
  ];
  const graphemes = fc.sample(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 }).filter(fits), {
    seed: 20240601,
    numRuns: 600,
  });
  const fullUnicode = fc.sample(
    fc.string({ unit: 'binary', minLength: 1, maxLength: 128, size: 'max' }).filter(fits),
    { seed: 7, numRuns: KEYS - 600 - handPicked.length },
  );
  return [...handPicked, ...graphemes, ...fullUnicode];
}

describe('routing against kinesalite', function () {
  this.timeout(60_000);

  let kinesis: LocalKinesis | undefined;
  let client: KinesisClient | undefined;
  let map: ShardMap;

  before(async () => {
    kinesis = await startLocalKinesis();
    client = kinesis.client();
    await kinesis.createStream(STREAM, SHARDS);
    map = await ShardMap.load(client, { streamName: STREAM });
  });

  after(async () => {
    client?.destroy();
    await kinesis?.close();
  });

  async function put(records: PutRecordsRequestEntry[]): Promise<string[]> {
    const out = await client!.send(new PutRecordsCommand({ StreamName: STREAM, Records: records }));
    expect(out.FailedRecordCount ?? 0).to.equal(0);
    expect(out.Records).to.have.length(records.length);
    return out.Records!.map((r) => r.ShardId!);
  }

  it('loads the stream as contiguous ranges covering 0..2^128−1', () => {
    const shards = map.shards;
    expect(shards).to.have.length(SHARDS);
    expect(shards[0].startingHashKey).to.equal(0n);
    expect(shards[SHARDS - 1].endingHashKey).to.equal(MAX);
    for (let i = 1; i < shards.length; i++) {
      expect(shards[i].startingHashKey).to.equal(shards[i - 1].endingHashKey + 1n);
    }
  });

  it(`routes ${KEYS} random Unicode partition keys to the shard kinesalite picks`, async () => {
    const keys = partitionKeys();
    expect(keys).to.have.length(KEYS);
    expect(keys.filter(isMultiByte).length, 'multi-byte keys').to.be.greaterThan(500);
    expect(keys.filter(hasAstral).length, 'keys with astral characters').to.be.greaterThan(100);
    expect(Math.max(...keys.map((k) => k.length))).to.equal(256);

    const mismatches: Array<{ key: string; predicted: string; actual: string }> = [];
    const seen = new Set<string>();
    for (let i = 0; i < keys.length; i += BATCH) {
      const batch = keys.slice(i, i + BATCH);
      const records = batch.map(
        (key, j) => prepareRecord({ PartitionKey: key, Data: `record ${i + j}` }).entry,
      );
      const actual = await put(records);
      batch.forEach((key, j) => {
        const predicted = map.shardFor(hashKeyOf(key)).shardId;
        seen.add(actual[j]);
        if (predicted !== actual[j]) mismatches.push({ key, predicted, actual: actual[j] });
      });
    }
    expect(mismatches).to.deep.equal([]);
    expect(seen.size, 'every shard received records').to.equal(SHARDS);
  });

  it("routes ExplicitHashKeys at each shard's boundaries where the map predicts", async () => {
    const records: PutRecordsRequestEntry[] = [];
    const expected: string[] = [];
    for (const shard of map.shards) {
      const { startingHashKey: start, endingHashKey: end } = shard;
      for (const k of [start, start + 1n, end - 1n, end]) {
        // A partition key whose MD5 lands in another shard, so only the ExplicitHashKey can route it here.
        const decoy = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'].find(
          (p) => map.shardFor(hashKeyOf(p)).shardId !== shard.shardId,
        )!;
        const prepared = prepareRecord({ PartitionKey: decoy, Data: 'boundary', ExplicitHashKey: String(k) });
        expect(prepared.hashKey).to.equal(k);
        expect(map.shardFor(prepared.hashKey).shardId).to.equal(shard.shardId);
        records.push(prepared.entry);
        expected.push(shard.shardId);
      }
    }
    expect(records.map((r) => r.ExplicitHashKey)).to.include.members(['0', String(MAX)]);
    expect(await put(records)).to.deep.equal(expected);
  });
});
