/**
 * The standalone emulator (`rx-kinesis emulator`, a separate process on a free port) driven by the real AWS
 * CLI (v2, Debian's `awscli`): a client nobody here wrote. It creates a stream, puts records, lists and
 * splits shards, and reads every record back with get-shard-iterator and get-records; what it reads must be
 * exactly what put-records reported, shard by shard, in order. Then `rx-kinesis put` writes an NDJSON file
 * into it, and the AWS CLI must read back each record the put summary counts as delivered exactly once, on
 * the shard its key routes to.
 */
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { AwsCli, awsCliAvailable } from './support/aws-cli.js';
import { root, StandaloneEmulator } from './support/standalone-emulator.js';

interface Landed {
  key: string;
  data: string; // base64
  shardId: string;
  sequenceNumber: string;
}

const STREAM = 'cli-stream';

/** A shard as list-shards prints it (the fields read here). */
interface ListedShard {
  ShardId: string;
  HashKeyRange: { StartingHashKey: string; EndingHashKey: string };
  SequenceNumberRange: { EndingSequenceNumber?: string };
}

describe('emulator driven by the AWS CLI', function () {
  this.timeout(180_000);
  let emu: StandaloneEmulator | undefined;
  let cli: AwsCli | undefined;

  before(function () {
    awsCliAvailable(this);
  });

  afterEach(async () => {
    cli?.close();
    await emu?.kill();
    emu = undefined;
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
  async function readShard(
    shardId: string,
    stream = STREAM,
  ): Promise<{ read: Landed[]; children: string[] | undefined }> {
    let iterator: string | undefined = (
      await cli!.kinesis(
        'get-shard-iterator',
        '--stream-name',
        stream,
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
    emu = await StandaloneEmulator.start(['--stream', 'seed:1']);
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

    await cli.kinesis('delete-stream', '--stream-name', STREAM);
    expect((await cli.kinesis('list-streams')).StreamNames).to.deep.equal(['seed']);
    const { code, counters } = await emu.stop();
    expect(code).to.equal(0);
    expect(Object.keys(counters.streams), 'the deleted stream is gone').to.deep.equal(['seed']);
    expect(counters.requests!.byOperation).to.include({ PutRecords: 2, SplitShard: 1, DeleteStream: 1 });
    expect(counters.requests!.byOperation.GetRecords).to.be.at.least(4);
  });

  it('rx-kinesis put writes an NDJSON file; the AWS CLI reads back every delivered record once, on the shard its key routes to', async () => {
    const PUT_STREAM = 'put-stream';
    emu = await StandaloneEmulator.start(['--stream', 'seed:1']);
    cli = new AwsCli(emu.endpoint);
    await cli.kinesis('create-stream', '--stream-name', PUT_STREAM, '--shard-count', '2');
    await cli.kinesis('wait', 'stream-exists', '--stream-name', PUT_STREAM);
    // Split first, so put must find the children (three open shards) and the parent stays empty.
    await cli.kinesis(
      'split-shard',
      '--stream-name',
      PUT_STREAM,
      '--shard-to-split',
      'shardId-000000000000',
      '--new-starting-hash-key',
      (2n ** 126n).toString(),
    );

    // 2,000 unique lines over 50 devices, and 3 invalid ones put must count and skip.
    const valid = Array.from({ length: 2000 }, (_, i) =>
      JSON.stringify({ device: { id: `d${i % 50}` }, i, pad: randomBytes(8).toString('hex') }),
    );
    const lines = [...valid];
    lines.splice(100, 0, '{"device":');
    lines.splice(1000, 0, '{"no":"key"}');
    lines.splice(1500, 0, '[1,2');
    const work = mkdtempSync(join(tmpdir(), 'rx-kinesis-aws-cli-put-'));
    try {
      const file = join(work, 'in.ndjson');
      writeFileSync(file, `${lines.join('\n')}\n`);
      const put = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          'src/cli/main.ts',
          'put',
          '--endpoint-url',
          emu.endpoint,
          '--region',
          'us-east-1',
          '--stream',
          PUT_STREAM,
          '--key',
          'device.id',
          '--ordering',
          'per-key',
          '--json',
          '--quiet',
          file,
        ],
        {
          cwd: root,
          env: {
            ...process.env,
            AWS_ACCESS_KEY_ID: 'x',
            AWS_SECRET_ACCESS_KEY: 'x',
            AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
          },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let out = '';
      let err = '';
      put.stdout.on('data', (c: Buffer) => (out += c.toString()));
      put.stderr.on('data', (c: Buffer) => (err += c.toString()));
      const exitCode = await new Promise<number | null>((r) => put.once('close', r));
      const summary = JSON.parse(out.trim().split('\n').pop()!) as Record<string, number>;
      expect(exitCode, `invalid input, the rest delivered: ${err}`).to.equal(65);
      expect(err).to.include('read 2003, delivered 2000, failed 0, invalid 3, unsent 0');
      expect(summary).to.include({ read: 2003, delivered: 2000, invalid: 3, failed: 0, unsent: 0 });

      const { Shards: shards } = await cli.kinesis('list-shards', '--stream-name', PUT_STREAM);
      expect(shards).to.have.length(4);
      const read: { text: string; key: string; shardId: string }[] = [];
      for (const shard of shards) {
        const { read: fromShard } = await readShard(shard.ShardId, PUT_STREAM);
        for (const r of fromShard) {
          read.push({ text: Buffer.from(r.data, 'base64').toString(), key: r.key, shardId: shard.ShardId });
        }
      }
      // Exactly once each: as many read as put reported delivered, and the set is the valid input.
      expect(read).to.have.length(summary.delivered);
      const texts = read.map((r) => r.text);
      expect(new Set(texts).size, 'no record read twice').to.equal(texts.length);
      expect([...texts].sort()).to.deep.equal([...valid].sort());
      expect([...texts].sort(), 'control: one lost record is seen').not.to.deep.equal(valid.slice(1).sort());
      // Each on the open shard whose hash range holds MD5(key), with its key from the line; none on the parent.
      const open = (shards as ListedShard[]).filter(
        (s) => s.SequenceNumberRange.EndingSequenceNumber === undefined,
      );
      expect(open).to.have.length(3);
      for (const r of read) {
        const line = JSON.parse(r.text) as { device: { id: string }; i: number };
        expect(r.key).to.equal(line.device.id);
        const h = BigInt(`0x${createHash('md5').update(r.key).digest('hex')}`);
        const home = open.find(
          (s) => h >= BigInt(s.HashKeyRange.StartingHashKey) && h <= BigInt(s.HashKeyRange.EndingHashKey),
        )!;
        expect(r.shardId, `record ${line.i}`).to.equal(home.ShardId);
      }
      // --ordering per-key: each device's records in input order (a shard is read in sequence order).
      const last = new Map<string, number>();
      for (const r of read) {
        const { i } = JSON.parse(r.text) as { i: number };
        expect(i, `${r.key} in order`).to.be.greaterThan(last.get(r.key) ?? -1);
        last.set(r.key, i);
      }

      const { code, counters } = await emu.stop();
      expect(code).to.equal(0);
      expect(counters.streams[PUT_STREAM].accepted, 'emulator ledger = put summary').to.equal(
        summary.delivered,
      );
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });

  it('reports errors the CLI understands: an unknown stream, an expired-looking iterator', async () => {
    emu = await StandaloneEmulator.start([]);
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
