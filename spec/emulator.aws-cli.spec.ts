/**
 * The emulator driven by the real AWS CLI (v2, Debian's `awscli`): a client nobody here wrote. It creates a
 * stream, puts records, lists and splits shards, and reads every record back with get-shard-iterator and
 * get-records; what it reads must be exactly what put-records reported, shard by shard, in order.
 */
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import { startEmulator, type KinesisEmulator } from '../src/testing/index.js';
import { AwsCli, awsCliAvailable } from './support/aws-cli.js';

interface Landed {
  key: string;
  data: string; // base64
  shardId: string;
  sequenceNumber: string;
}

const STREAM = 'cli-stream';

describe('emulator driven by the AWS CLI', function () {
  this.timeout(180_000);
  let emu: KinesisEmulator | undefined;
  let cli: AwsCli | undefined;

  before(function () {
    awsCliAvailable(this);
  });

  afterEach(async () => {
    cli?.close();
    await emu?.close();
  });

  async function putRecords(records: { key: string; data: Buffer }[]): Promise<Landed[]> {
    const input = {
      StreamName: STREAM,
      Records: records.map((r) => ({ PartitionKey: r.key, Data: r.data.toString('base64') })),
    };
    const out = await cli!.kinesis('put-records', '--cli-input-json', cli!.inputFile('put.json', input));
    expect(out.FailedRecordCount).to.equal(0);
    expect(out.Records).to.have.length(records.length);
    return records.map((r, i) => ({
      key: r.key,
      data: r.data.toString('base64'),
      shardId: out.Records[i].ShardId,
      sequenceNumber: out.Records[i].SequenceNumber,
    }));
  }

  /** Reads one shard from TRIM_HORIZON to its end (closed) or until caught up (open). */
  async function readShard(shardId: string): Promise<{ read: Landed[]; children: string[] | undefined }> {
    let iterator: string | undefined = (
      await cli!.kinesis(
        'get-shard-iterator',
        '--stream-name',
        STREAM,
        '--shard-id',
        shardId,
        '--shard-iterator-type',
        'TRIM_HORIZON',
      )
    ).ShardIterator;
    const read: Landed[] = [];
    for (;;) {
      const page = await cli!.kinesis('get-records', '--shard-iterator', iterator!, '--limit', '250');
      for (const r of page.Records) {
        expect(r).to.have.all.keys('SequenceNumber', 'ApproximateArrivalTimestamp', 'Data', 'PartitionKey');
        read.push({ key: r.PartitionKey, data: r.Data, shardId, sequenceNumber: r.SequenceNumber });
      }
      iterator = page.NextShardIterator;
      if (iterator === undefined) {
        return { read, children: page.ChildShards.map((c: { ShardId: string }) => c.ShardId) };
      }
      if (page.Records.length === 0 && page.MillisBehindLatest === 0) return { read, children: undefined };
    }
  }

  it('create-stream, put-records, list-shards, split-shard, then get-records reads back every record where put-records said it landed', async () => {
    emu = await startEmulator({ streamName: 'seed' });
    cli = new AwsCli(emu.endpoint);

    await cli.kinesis('create-stream', '--stream-name', STREAM, '--shard-count', '2');
    await cli.kinesis('wait', 'stream-exists', '--stream-name', STREAM); // DescribeStream until ACTIVE
    const streams = await cli.kinesis('list-streams');
    expect(streams.StreamNames).to.deep.equal([STREAM, 'seed']);

    // Random keys and binary data, so routing and the base64 round trip are both exercised.
    const batch = (n: number, tag: string) =>
      Array.from({ length: n }, (_, i) => ({
        key: `${tag}-${randomBytes(4).toString('hex')}`,
        data: Buffer.concat([Buffer.from(`${tag}${i}:`), randomBytes(1 + (i % 50))]),
      }));
    const landed = await putRecords(batch(300, 'a'));
    const before = await cli.kinesis('list-shards', '--stream-name', STREAM);
    expect(before.Shards.map((s: { ShardId: string }) => s.ShardId)).to.deep.equal([
      'shardId-000000000000',
      'shardId-000000000001',
    ]);
    expect(new Set(landed.map((l) => l.shardId)).size, 'both shards got records').to.equal(2);

    const parent = before.Shards[0];
    const mid =
      (BigInt(parent.HashKeyRange.StartingHashKey) + BigInt(parent.HashKeyRange.EndingHashKey) + 1n) / 2n;
    await cli.kinesis(
      'split-shard',
      '--stream-name',
      STREAM,
      '--shard-to-split',
      parent.ShardId,
      '--new-starting-hash-key',
      mid.toString(),
    );
    landed.push(...(await putRecords(batch(300, 'b'))));

    const after = await cli.kinesis('list-shards', '--stream-name', STREAM);
    expect(after.Shards).to.have.length(4);
    expect(after.Shards[0].SequenceNumberRange.EndingSequenceNumber, 'parent closed').to.be.a('string');
    const described = await cli.kinesis('describe-stream', '--stream-name', STREAM);
    expect(described.StreamDescription.Shards).to.deep.equal(after.Shards);

    // Read every shard; a closed shard must end with its children named, an open one must catch up.
    const read: Landed[] = [];
    for (const shard of after.Shards) {
      const { read: fromShard, children } = await readShard(shard.ShardId);
      const closed = shard.SequenceNumberRange.EndingSequenceNumber !== undefined;
      if (closed) expect(children).to.deep.equal(['shardId-000000000002', 'shardId-000000000003']);
      else expect(children).to.equal(undefined);
      const seqs = fromShard.map((r) => BigInt(r.sequenceNumber));
      expect(
        seqs.every((s, i) => i === 0 || s > seqs[i - 1]),
        `${shard.ShardId} in sequence order`,
      ).to.equal(true);
      read.push(...fromShard);
    }
    const byPosition = (a: Landed, b: Landed) =>
      a.shardId === b.shardId
        ? BigInt(a.sequenceNumber) < BigInt(b.sequenceNumber)
          ? -1
          : 1
        : a.shardId < b.shardId
          ? -1
          : 1;
    expect(read.length).to.equal(600);
    expect([...read].sort(byPosition)).to.deep.equal([...landed].sort(byPosition));
    // Control: the comparison sees a single flipped byte.
    const tampered = landed.map((l, i) =>
      i === 0 ? { ...l, data: Buffer.from('x').toString('base64') } : l,
    );
    expect([...read].sort(byPosition)).not.to.deep.equal(tampered.sort(byPosition));
    // And the emulator's own ledger agrees with the CLI.
    expect(emu.records.filter((r) => r.streamName === STREAM)).to.have.length(600);

    await cli.kinesis('delete-stream', '--stream-name', STREAM);
    expect((await cli.kinesis('list-streams')).StreamNames).to.deep.equal(['seed']);
    expect(emu.stats('seed').requests.byOperation.GetRecords).to.be.at.least(4);
  });

  it('reports errors the CLI understands: an unknown stream, an expired-looking iterator', async () => {
    emu = await startEmulator();
    cli = new AwsCli(emu.endpoint);
    let message = '';
    try {
      await cli.kinesis(
        'get-shard-iterator',
        '--stream-name',
        'nope',
        '--shard-id',
        'shardId-000000000000',
        '--shard-iterator-type',
        'LATEST',
      );
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).to.include('ResourceNotFoundException');
    message = '';
    try {
      await cli.kinesis(
        'get-records',
        '--shard-iterator',
        Buffer.from('not an iterator at all, forged').toString('base64'),
      );
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).to.include('InvalidArgumentException');
    expect(message).to.include('Invalid ShardIterator');
  });
});
