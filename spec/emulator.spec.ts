import { request as httpRequest } from 'node:http';
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  KinesisClient,
  ListShardsCommand,
  MergeShardsCommand,
  PutRecordCommand,
  PutRecordsCommand,
  SplitShardCommand,
  type PutRecordsRequestEntry,
  type PutRecordsResultEntry,
} from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { expect } from 'chai';
import fc from 'fast-check';
import { hashKeyOf } from '../src/kinesis/hash-key.js';
import { startEmulator, type EmulatorOptions, type KinesisEmulator } from '../src/testing/index.js';

type Protocol = 'http2' | 'http1';
type ServiceError = Error & { $metadata?: { httpStatusCode?: number }; $fault?: string; code?: string };

const MiB = 1024 * 1024;
const TOP = (1n << 128n) - 1n;
const ACCOUNT = '000000000000';
const ARN = `arn:aws:kinesis:us-east-1:${ACCOUNT}:stream/demo`;

const emulators: KinesisEmulator[] = [];
const clients: KinesisClient[] = [];

async function start(options: EmulatorOptions = {}): Promise<KinesisEmulator> {
  const emu = await startEmulator(options);
  emulators.push(emu);
  return emu;
}

/** One attempt by default, so every injected fault reaches the test instead of the SDK's retry loop. */
function clientFor(emu: KinesisEmulator, protocol: Protocol = 'http2', maxAttempts = 1): KinesisClient {
  const client = new KinesisClient({
    endpoint: emu.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
    maxAttempts,
    ...(protocol === 'http1' ? { requestHandler: new NodeHttpHandler() } : {}),
  });
  clients.push(client);
  return client;
}

async function failure(promise: Promise<unknown>): Promise<ServiceError> {
  try {
    await promise;
  } catch (error) {
    return error as ServiceError;
  }
  throw new Error('expected the call to fail');
}

function entries(
  count: number,
  prefix = 'r',
  extra: Partial<PutRecordsRequestEntry> = {},
): PutRecordsRequestEntry[] {
  return Array.from({ length: count }, (_, i) => ({
    PartitionKey: `${prefix}-${i}`,
    Data: Buffer.from(`${prefix}-${i}`),
    ...extra,
  }));
}

/** The ExplicitHashKey at the start of shard `index` of `count` evenly split shards. */
function hashKeyOfShard(index: number, count: number): string {
  return ((BigInt(index) * (TOP + 1n)) / BigInt(count)).toString();
}

function putRecords(
  client: KinesisClient,
  records: PutRecordsRequestEntry[],
  stream: object = { StreamName: 'demo' },
) {
  return client.send(new PutRecordsCommand({ ...stream, Records: records }));
}

/** Counts of each resource kind, to compare before/after without caring about order. */
function resourceCounts(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const kind of process.getActiveResourcesInfo()) counts.set(kind, (counts.get(kind) ?? 0) + 1);
  return counts;
}

function rawPost(
  emu: KinesisEmulator,
  target: string,
  body: string,
): Promise<{ status: number; body: string }> {
  const url = new URL(emu.endpoint);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        method: 'POST',
        agent: false,
        headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': target },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

afterEach(async () => {
  for (const client of clients.splice(0)) client.destroy();
  await Promise.all(emulators.splice(0).map((emu) => emu.close()));
});

describe('Kinesis emulator', () => {
  describe('server', () => {
    it('listens on a free loopback port', async () => {
      const [a, b] = await Promise.all([start(), start()]);
      expect(a.endpoint).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(a.endpoint).not.to.equal(b.endpoint);
      expect(a.streamArn).to.equal(ARN);
    });

    for (const protocol of ['http2', 'http1'] as const) {
      it(`serves the SDK over ${protocol === 'http2' ? 'its default HTTP/2 handler' : 'NodeHttpHandler (HTTP/1.1)'}`, async () => {
        const emu = await start({ shards: 3 });
        const client = clientFor(emu, protocol);
        const out = await putRecords(client, entries(20));
        expect(out.FailedRecordCount).to.equal(0);
        expect(out.Records).to.have.length(20);
        const one = await client.send(
          new PutRecordCommand({ StreamName: 'demo', PartitionKey: 'k', Data: Buffer.from('x') }),
        );
        expect(one.ShardId).to.match(/^shardId-\d{12}$/);
        const listed = await client.send(new ListShardsCommand({ StreamName: 'demo' }));
        expect(listed.Shards?.map((s) => s.ShardId)).to.deep.equal([
          'shardId-000000000000',
          'shardId-000000000001',
          'shardId-000000000002',
        ]);
        const summary = await client.send(new DescribeStreamSummaryCommand({ StreamName: 'demo' }));
        expect(summary.StreamDescriptionSummary).to.include({
          StreamName: 'demo',
          StreamARN: ARN,
          StreamStatus: 'ACTIVE',
          OpenShardCount: 3,
        });
        expect(emu.records).to.have.length(21);
        expect(emu.stats().requests.byOperation).to.include({ PutRecords: 1, PutRecord: 1, ListShards: 1 });
      });
    }

    it('answers malformed requests like AWS', async () => {
      const emu = await start();
      const unknown = await rawPost(emu, 'Kinesis_20131202.DeleteEverything', '{}');
      expect(unknown.status).to.equal(400);
      expect(JSON.parse(unknown.body)).to.have.property('__type', 'UnknownOperationException');
      const garbled = await rawPost(emu, 'Kinesis_20131202.PutRecords', '{"Records": [');
      expect(garbled.status).to.equal(400);
      expect(JSON.parse(garbled.body)).to.have.property('__type', 'SerializationException');
    });
  });

  describe('streams', () => {
    it('addresses a stream by StreamARN, or by both names when they agree', async () => {
      const emu = await start({ shards: 2 });
      const client = clientFor(emu);
      const byArn = await putRecords(client, entries(3), { StreamARN: ARN });
      expect(byArn.FailedRecordCount).to.equal(0);
      const both = await putRecords(client, entries(3), { StreamARN: ARN, StreamName: 'demo' });
      expect(both.FailedRecordCount).to.equal(0);
      const shards = await client.send(new ListShardsCommand({ StreamARN: ARN }));
      expect(shards.Shards).to.have.length(2);
      const summary = await client.send(new DescribeStreamSummaryCommand({ StreamARN: ARN }));
      expect(summary.StreamDescriptionSummary?.StreamName).to.equal('demo');
      const mismatch = await failure(putRecords(client, entries(1), { StreamARN: ARN, StreamName: 'other' }));
      expect(mismatch.name).to.equal('InvalidArgumentException');
    });

    it('refuses an unknown stream with ResourceNotFoundException', async () => {
      const emu = await start();
      const client = clientFor(emu);
      const error = await failure(putRecords(client, entries(1), { StreamName: 'nope' }));
      expect(error.name).to.equal('ResourceNotFoundException');
      expect(error.message).to.equal(`Stream nope under account ${ACCOUNT} not found.`);
      expect(error.$metadata?.httpStatusCode).to.equal(400);
      const raw = await rawPost(emu, 'Kinesis_20131202.ListShards', '{"StreamName":"nope"}');
      expect(JSON.parse(raw.body)).to.deep.equal({
        __type: 'ResourceNotFoundException',
        message: `Stream nope under account ${ACCOUNT} not found.`,
      });
      const otherAccount = ARN.replace(ACCOUNT, '123456789012');
      expect((await failure(putRecords(client, entries(1), { StreamARN: otherAccount }))).name).to.equal(
        'ResourceNotFoundException',
      );
    });

    it('creates streams through the API, ACTIVE at once', async () => {
      const emu = await start();
      const client = clientFor(emu);
      await client.send(new CreateStreamCommand({ StreamName: 'orders', ShardCount: 3 }));
      const summary = await client.send(new DescribeStreamSummaryCommand({ StreamName: 'orders' }));
      expect(summary.StreamDescriptionSummary).to.include({ StreamStatus: 'ACTIVE', OpenShardCount: 3 });
      const put = await putRecords(client, entries(5), { StreamName: 'orders' });
      expect(put.FailedRecordCount).to.equal(0);
      expect(emu.records.every((r) => r.streamName === 'orders')).to.equal(true);
      const again = await failure(
        client.send(new CreateStreamCommand({ StreamName: 'orders', ShardCount: 1 })),
      );
      expect(again.name).to.equal('ResourceInUseException');
    });

    it('splits hash keys evenly and pages ListShards with NextToken sent alone', async () => {
      const emu = await start({ shards: 5 });
      const client = clientFor(emu);
      const pages: string[][] = [];
      let page = await client.send(new ListShardsCommand({ StreamName: 'demo', MaxResults: 2 }));
      pages.push(page.Shards!.map((s) => s.ShardId!));
      while (page.NextToken !== undefined) {
        page = await client.send(new ListShardsCommand({ NextToken: page.NextToken, MaxResults: 2 }));
        pages.push(page.Shards!.map((s) => s.ShardId!));
      }
      expect(pages.map((p) => p.length)).to.deep.equal([2, 2, 1]);
      expect(pages.flat()).to.deep.equal(emu.listShards().map((s) => s.ShardId));
      const shards = emu.listShards();
      expect(shards[0].HashKeyRange.StartingHashKey).to.equal('0');
      expect(shards[4].HashKeyRange.EndingHashKey).to.equal(TOP.toString());
      for (let i = 1; i < shards.length; i++) {
        expect(BigInt(shards[i].HashKeyRange.StartingHashKey)).to.equal(
          BigInt(shards[i - 1].HashKeyRange.EndingHashKey) + 1n,
        );
        expect(shards[i].HashKeyRange.StartingHashKey).to.equal(hashKeyOfShard(i, 5));
      }
      const first = await client.send(new ListShardsCommand({ StreamName: 'demo', MaxResults: 2 }));
      const both = await failure(
        client.send(new ListShardsCommand({ StreamName: 'demo', NextToken: first.NextToken })),
      );
      expect(both.name).to.equal('InvalidArgumentException');
    });
  });

  describe('PutRecords', () => {
    it('routes by MD5 to the shard whose range holds the key, with increasing sequence numbers (property)', async () => {
      const emu = await start({ shards: 5, quotas: false });
      const client = clientFor(emu, 'http1');
      const ranges = new Map(
        emu
          .listShards()
          .map((s) => [
            s.ShardId,
            [BigInt(s.HashKeyRange.StartingHashKey), BigInt(s.HashKeyRange.EndingHashKey)],
          ]),
      );
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 }), {
            minLength: 1,
            maxLength: 40,
          }),
          async (keys) => {
            const out = await putRecords(
              client,
              keys.map((k) => ({ PartitionKey: k, Data: Buffer.from(k) })),
            );
            out.Records!.forEach((record, i) => {
              const [low, high] = ranges.get(record.ShardId!)!;
              const hash = hashKeyOf(keys[i]);
              expect(low <= hash && hash <= high, `${keys[i]} on ${record.ShardId}`).to.equal(true);
            });
          },
        ),
        { numRuns: 40 },
      );
      const last = new Map<string, bigint>();
      for (const record of emu.records) {
        const sequence = BigInt(record.sequenceNumber);
        expect(sequence > (last.get(record.shardId) ?? -1n)).to.equal(true);
        last.set(record.shardId, sequence);
      }
    });

    it('routes by ExplicitHashKey when given', async () => {
      const emu = await start({ shards: 4 });
      const client = clientFor(emu);
      const out = await putRecords(
        client,
        [0, 1, 2, 3, 3].map((shard, i) => ({
          PartitionKey: 'same-key',
          Data: Buffer.from(String(i)),
          ExplicitHashKey: i === 4 ? TOP.toString() : hashKeyOfShard(shard, 4),
        })),
      );
      expect(out.Records!.map((r) => r.ShardId)).to.deep.equal([
        'shardId-000000000000',
        'shardId-000000000001',
        'shardId-000000000002',
        'shardId-000000000003',
        'shardId-000000000003',
      ]);
      expect(emu.records[0].explicitHashKey).to.equal('0');
    });

    it('aligns response entries with request entries under partial failure (property)', async () => {
      const emu = await start({
        shards: 2,
        quotas: { recordsPerSecond: 20 },
        faults: { seed: 5, recordFailureRate: 0.1 },
      });
      const client = clientFor(emu);
      let serial = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.integer({ min: 0, max: 1 }), { minLength: 1, maxLength: 60 }),
          async (targets) => {
            const sent = targets.map((shard) => ({
              PartitionKey: `k${shard}`,
              Data: Buffer.from(`payload-${serial++}`),
              ExplicitHashKey: hashKeyOfShard(shard, 2),
            }));
            const out = await putRecords(client, sent);
            const bySequence = new Map(emu.records.map((r) => [r.sequenceNumber, r]));
            const throttledShards = new Set<string>();
            expect(out.Records).to.have.length(sent.length);
            expect(out.FailedRecordCount).to.equal(
              out.Records!.filter((r) => r.ErrorCode !== undefined).length,
            );
            out.Records!.forEach((result: PutRecordsResultEntry, i) => {
              const shardId = `shardId-00000000000${targets[i]}`;
              if (result.ErrorCode === undefined) {
                const landed = bySequence.get(result.SequenceNumber!)!;
                expect(landed.data?.toString()).to.equal(sent[i].Data.toString());
                expect(result.ShardId).to.equal(shardId);
                // Tokens do not refill within one request, so nothing passes after a throttle on that shard.
                expect(throttledShards.has(shardId)).to.equal(false);
              } else if (result.ErrorCode === 'ProvisionedThroughputExceededException') {
                throttledShards.add(shardId);
                expect(result.ErrorMessage).to.equal(
                  `Rate exceeded for shard ${shardId} in stream demo under account ${ACCOUNT}.`,
                );
              } else {
                expect(result).to.deep.include({
                  ErrorCode: 'InternalFailure',
                  ErrorMessage: 'Internal service failure.',
                });
              }
            });
          },
        ),
        { numRuns: 40 },
      );
      const stats = emu.stats();
      expect(stats.throttled).to.be.greaterThan(0);
      expect(stats.failed).to.equal(stats.faults.recordFailures);
    });

    it('throttles with the shard named in the message and still writes the rest of the request', async () => {
      const emu = await start({ shards: 2, quotas: { recordsPerSecond: 10 } });
      const client = clientFor(emu);
      const records = [
        ...entries(15, 'hot', { ExplicitHashKey: hashKeyOfShard(1, 2) }),
        ...entries(5, 'cold', { ExplicitHashKey: '0' }),
      ];
      const out = await putRecords(client, records);
      expect(out.FailedRecordCount).to.equal(5);
      expect(out.Records!.slice(10, 15).map((r) => r.ErrorMessage)).to.deep.equal(
        Array(5).fill(
          `Rate exceeded for shard shardId-000000000001 in stream demo under account ${ACCOUNT}.`,
        ),
      );
      expect(out.Records!.slice(15).every((r) => r.ShardId === 'shardId-000000000000')).to.equal(true);
      const single = await failure(
        client.send(
          new PutRecordCommand({
            StreamName: 'demo',
            PartitionKey: 'x',
            Data: Buffer.from('x'),
            ExplicitHashKey: hashKeyOfShard(1, 2),
          }),
        ),
      );
      expect(single.name).to.equal('ProvisionedThroughputExceededException');
    });
  });

  describe('validation', () => {
    async function rejection(
      emu: KinesisEmulator,
      records: PutRecordsRequestEntry[],
    ): Promise<[string, string]> {
      const error = await failure(putRecords(clientFor(emu), records));
      expect(error.$metadata?.httpStatusCode).to.equal(400);
      return [error.name, error.message];
    }

    it('refuses a request of 0 or 501 records', async () => {
      const emu = await start({ quotas: false });
      expect(await rejection(emu, [])).to.deep.equal([
        'ValidationException',
        "1 validation error detected: Value '[]' at 'records' failed to satisfy constraint: Member must have length greater than or equal to 1",
      ]);
      expect(await rejection(emu, entries(501))).to.deep.equal([
        'ValidationException',
        "1 validation error detected: Value at 'records' failed to satisfy constraint: Member must have length less than or equal to 500",
      ]);
      expect((await putRecords(clientFor(emu), entries(500))).FailedRecordCount).to.equal(0);
    });

    it('checks partition key length (1..256)', async () => {
      const emu = await start();
      expect(await rejection(emu, [{ PartitionKey: '', Data: Buffer.from('x') }])).to.deep.equal([
        'ValidationException',
        "1 validation error detected: Value '' at 'records.1.member.partitionKey' failed to satisfy constraint: Member must have length greater than or equal to 1",
      ]);
      const long = 'k'.repeat(257);
      expect(
        await rejection(emu, [...entries(1), { PartitionKey: long, Data: Buffer.from('x') }]),
      ).to.deep.equal([
        'ValidationException',
        `1 validation error detected: Value '${long}' at 'records.2.member.partitionKey' failed to satisfy constraint: Member must have length less than or equal to 256`,
      ]);
      expect(
        (await putRecords(clientFor(emu), [{ PartitionKey: 'k'.repeat(256), Data: Buffer.from('x') }]))
          .FailedRecordCount,
      ).to.equal(0);
      expect(emu.records).to.have.length(1);
    });

    it('checks ExplicitHashKey syntax (ValidationException) and range (InvalidArgumentException)', async () => {
      const emu = await start();
      for (const bad of ['01', '-1', 'abc', '1'.repeat(40)]) {
        expect(await rejection(emu, [{ ...entries(1)[0], ExplicitHashKey: bad }])).to.deep.equal([
          'ValidationException',
          `1 validation error detected: Value '${bad}' at 'records.1.member.explicitHashKey' failed to satisfy constraint: Member must satisfy regular expression pattern: 0|([1-9]\\d{0,38})`,
        ]);
      }
      const over = (TOP + 1n).toString();
      expect(await rejection(emu, [{ ...entries(1)[0], ExplicitHashKey: over }])).to.deep.equal([
        'InvalidArgumentException',
        `Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was ${over}`,
      ]);
      const top = await putRecords(clientFor(emu), [{ ...entries(1)[0], ExplicitHashKey: TOP.toString() }]);
      expect(top.FailedRecordCount).to.equal(0);
    });

    it('limits a record to 1 MiB of data + partition key, configurable', async () => {
      const emu = await start({ quotas: false });
      const key = 'key';
      expect(
        await rejection(emu, [{ PartitionKey: key, Data: Buffer.alloc(MiB - key.length + 1) }]),
      ).to.deep.equal([
        'ValidationException',
        `1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=${MiB - 2} cap=${MiB - 2}]' at 'records.1.member.data' failed to satisfy constraint: Member must have length less than or equal to ${MiB}`,
      ]);
      const exact = await putRecords(clientFor(emu), [
        { PartitionKey: key, Data: Buffer.alloc(MiB - key.length) },
      ]);
      expect(exact.FailedRecordCount).to.equal(0);

      const small = await start({ maxRecordBytes: 100 });
      const [name, message] = await rejection(small, [{ PartitionKey: 'k', Data: Buffer.alloc(100) }]);
      expect(name).to.equal('ValidationException');
      expect(message).to.contain('Member must have length less than or equal to 100');
    });

    it('limits a request to 5 MiB of data + partition keys', async () => {
      const emu = await start({ quotas: false });
      const record = (key: string, bytes: number) => ({ PartitionKey: key, Data: Buffer.alloc(bytes) });
      const fits = ['a', 'b', 'c', 'd', 'e'].map((k) => record(k, MiB - 1));
      expect((await putRecords(clientFor(emu), fits)).FailedRecordCount).to.equal(0);
      expect(await rejection(emu, [...fits.slice(0, 4), record('e', MiB - 1), record('f', 0)])).to.deep.equal(
        ['InvalidArgumentException', 'Records size exceeds 5 MB limit'],
      );
    });

    it('lists several violations in one ValidationException and rejects the whole request', async () => {
      const emu = await start();
      const [name, message] = await rejection(emu, [
        { PartitionKey: '', Data: Buffer.from('x') },
        ...entries(3),
        { PartitionKey: 'k', Data: Buffer.from('x'), ExplicitHashKey: 'x' },
      ]);
      expect(name).to.equal('ValidationException');
      expect(message).to.match(
        /^2 validation errors detected: .*records\.1\.member\.partitionKey.*; .*records\.5\.member\.explicitHashKey/,
      );
      expect(emu.records).to.have.length(0);
    });

    it('validates PutRecord the same way', async () => {
      const emu = await start();
      const error = await failure(
        clientFor(emu).send(
          new PutRecordCommand({ StreamName: 'demo', PartitionKey: '', Data: Buffer.from('x') }),
        ),
      );
      expect(error.name).to.equal('ValidationException');
      expect(error.message).to.equal(
        "1 validation error detected: Value '' at 'partitionKey' failed to satisfy constraint: Member must have length greater than or equal to 1",
      );
    });
  });

  describe('resharding', () => {
    it('splits a shard: parent closed, children open, writes reach only open shards', async () => {
      const emu = await start({ shards: 2, quotas: false });
      const client = clientFor(emu);
      await putRecords(client, entries(50, 'before'));
      const [low, high] = emu.splitShard('shardId-000000000000');
      expect([low, high]).to.deep.equal(['shardId-000000000002', 'shardId-000000000003']);
      const { Shards: shards = [] } = await client.send(new ListShardsCommand({ StreamName: 'demo' }));
      const parent = shards.find((s) => s.ShardId === 'shardId-000000000000')!;
      expect(parent.SequenceNumberRange?.EndingSequenceNumber).to.be.a('string');
      const children = shards.filter((s) => s.ParentShardId === 'shardId-000000000000');
      expect(children.map((s) => s.ShardId)).to.deep.equal([low, high]);
      expect(children.map((s) => s.HashKeyRange)).to.deep.equal([
        { StartingHashKey: '0', EndingHashKey: ((1n << 126n) - 1n).toString() },
        { StartingHashKey: (1n << 126n).toString(), EndingHashKey: ((1n << 127n) - 1n).toString() },
      ]);
      expect(children.every((s) => s.SequenceNumberRange?.EndingSequenceNumber === undefined)).to.equal(true);

      emu.clearRecords();
      await putRecords(client, entries(200, 'after'));
      const used = new Set(emu.records.map((r) => r.shardId));
      expect(used.has('shardId-000000000000')).to.equal(false);
      expect(used).to.include.all.keys(low, high);
      const parentEnd = BigInt(parent.SequenceNumberRange!.EndingSequenceNumber!);
      expect(emu.records.every((r) => BigInt(r.sequenceNumber) > parentEnd)).to.equal(true);

      const latest = await client.send(
        new ListShardsCommand({ StreamName: 'demo', ShardFilter: { Type: 'AT_LATEST' } }),
      );
      expect(latest.Shards!.map((s) => s.ShardId)).to.deep.equal(['shardId-000000000001', low, high]);
    });

    it('merges adjacent shards, in either order, into a child with both parents', async () => {
      const emu = await start({ shards: 3, quotas: false });
      const child = emu.mergeShards('shardId-000000000002', 'shardId-000000000001');
      const shard = emu.listShards().find((s) => s.ShardId === child)!;
      expect(shard).to.deep.include({
        ParentShardId: 'shardId-000000000002',
        AdjacentParentShardId: 'shardId-000000000001',
        HashKeyRange: { StartingHashKey: hashKeyOfShard(1, 3), EndingHashKey: TOP.toString() },
      });
      await putRecords(clientFor(emu), entries(100));
      expect(new Set(emu.records.map((r) => r.shardId))).to.deep.equal(
        new Set(['shardId-000000000000', child]),
      );
      expect(() => emu.mergeShards('shardId-000000000000', 'shardId-000000000001')).to.throw(
        /already been merged or split/,
      );
      const other = await start({ shards: 3 });
      expect(() => other.mergeShards('shardId-000000000000', 'shardId-000000000002')).to.throw(
        /not an adjacent pair/,
      );
    });

    it('serves the SplitShard and MergeShards actions', async () => {
      const emu = await start({ shards: 1 });
      const client = clientFor(emu);
      await client.send(
        new SplitShardCommand({
          StreamName: 'demo',
          ShardToSplit: 'shardId-000000000000',
          NewStartingHashKey: '1000',
        }),
      );
      expect(emu.listShards().map((s) => s.HashKeyRange.StartingHashKey)).to.deep.equal(['0', '0', '1000']);
      await client.send(
        new MergeShardsCommand({
          StreamARN: ARN,
          ShardToMerge: 'shardId-000000000001',
          AdjacentShardToMerge: 'shardId-000000000002',
        }),
      );
      expect(
        emu
          .stats()
          .shards.filter((s) => s.open)
          .map((s) => s.shardId),
      ).to.deep.equal(['shardId-000000000003']);
      const closed = await failure(
        client.send(
          new SplitShardCommand({
            StreamName: 'demo',
            ShardToSplit: 'shardId-000000000000',
            NewStartingHashKey: '5',
          }),
        ),
      );
      expect(closed.name).to.equal('ResourceInUseException');
      const outside = await failure(
        client.send(
          new SplitShardCommand({
            StreamName: 'demo',
            ShardToSplit: 'shardId-000000000003',
            NewStartingHashKey: '1',
          }),
        ),
      );
      expect(outside.name).to.equal('InvalidArgumentException');
      const missing = await failure(
        client.send(
          new SplitShardCommand({
            StreamName: 'demo',
            ShardToSplit: 'shardId-000000000009',
            NewStartingHashKey: '5',
          }),
        ),
      );
      expect(missing.name).to.equal('ResourceNotFoundException');
    });
  });

  describe('quotas', () => {
    it('holds a saturated shard to 1,000 records/s (± 5%) after the initial burst', async function () {
      this.timeout(20_000);
      const emu = await start({ shards: 2, keepData: false });
      const client = clientFor(emu, 'http1');
      const batch = [
        ...entries(250, 'a', { ExplicitHashKey: '0' }),
        ...entries(250, 'b', { ExplicitHashKey: hashKeyOfShard(1, 2) }),
      ];
      const began = performance.now();
      const deadline = began + 5_000;
      await Promise.all(
        [0, 1].map(async () => {
          while (performance.now() < deadline) await putRecords(client, batch);
        }),
      );
      const seconds = (performance.now() - began) / 1000;
      const stats = emu.stats();
      for (const shard of stats.shards) {
        const rate = (shard.accepted - 1_000) / seconds;
        expect(rate, `${shard.shardId}: ${rate.toFixed(0)} records/s`).to.be.within(950, 1_050);
        expect(shard.throttled).to.be.greaterThan(shard.accepted);
        expect(shard.timeline.reduce((a, b) => a + b, 0)).to.equal(shard.accepted);
        expect(shard.peakPerSecond).to.be.at.least(1_000);
      }
      expect(stats.throttled).to.equal(stats.shards[0].throttled + stats.shards[1].throttled);
    });

    it('limits bytes to 1 MiB/s per shard', async () => {
      const emu = await start({ quotas: { bytesPerSecond: MiB } });
      const big = Array.from({ length: 12 }, (_, i) => ({
        PartitionKey: `k${i}`,
        Data: Buffer.alloc(100 * 1024),
      }));
      const out = await putRecords(clientFor(emu), big);
      // 10 records of 100 KiB + key fit in the 1 MiB burst; the 11th does not.
      expect(out.FailedRecordCount).to.equal(2);
      expect(out.Records!.slice(10).map((r) => r.ErrorCode)).to.deep.equal(
        Array(2).fill('ProvisionedThroughputExceededException'),
      );
    });

    it('can be turned off', async () => {
      const emu = await start({ quotas: false });
      const client = clientFor(emu, 'http1');
      const results = await Promise.all(Array.from({ length: 10 }, () => putRecords(client, entries(500))));
      expect(results.map((r) => r.FailedRecordCount)).to.deep.equal(Array(10).fill(0));
      expect(emu.stats().accepted).to.equal(5_000);
    });
  });

  describe('faults', () => {
    it('fails the seeded share of records with InternalFailure, reproducibly', async () => {
      const codes: string[][] = [];
      for (const _run of [1, 2]) {
        const emu = await start({ shards: 2, quotas: false, faults: { seed: 42, recordFailureRate: 0.2 } });
        const client = clientFor(emu, 'http1');
        const run: string[] = [];
        for (let i = 0; i < 20; i++) {
          const out = await putRecords(client, entries(500));
          run.push(...out.Records!.map((r) => r.ErrorCode ?? 'ok'));
        }
        codes.push(run);
        const failed = run.filter((c) => c === 'InternalFailure').length;
        expect(failed / run.length).to.be.within(0.19, 0.21);
        expect(emu.stats().faults.recordFailures).to.equal(failed);
        expect(emu.records).to.have.length(run.length - failed);
      }
      expect(codes[0]).to.deep.equal(codes[1]);
    });

    it('answers the seeded share of requests with 500 InternalFailure or a throttle', async () => {
      const emu = await start({
        faults: { seed: 9, requestFailureRate: 0.2, requestThrottleRate: 0.2 },
        quotas: false,
      });
      const client = clientFor(emu, 'http1');
      const outcomes = new Map<string, number>();
      for (let i = 0; i < 300; i++) {
        const error = await putRecords(client, entries(1)).then(
          () => undefined,
          (e: ServiceError) => e,
        );
        const key = error === undefined ? 'ok' : `${error.name}/${error.$metadata?.httpStatusCode}`;
        outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
      }
      expect(outcomes.get('InternalFailure/500')).to.be.within(40, 80);
      expect(outcomes.get('ProvisionedThroughputExceededException/400')).to.be.within(40, 80);
      expect(outcomes.get('ok')).to.equal(emu.records.length);
      // ListShards is outside the default fault scope.
      for (let i = 0; i < 20; i++) await clientFor(emu).send(new ListShardsCommand({ StreamName: 'demo' }));

      emu.setFaults({
        requestFailureRate: 0,
        requestThrottleRate: 1,
        throttleErrorCode: 'LimitExceededException',
      });
      const limited = await failure(putRecords(client, entries(1)));
      expect(limited.name).to.equal('LimitExceededException');
      expect(limited.message).to.equal(`Rate exceeded for stream demo under account ${ACCOUNT}.`);
      emu.setFaults({ requestThrottleRate: 0 });
      expect((await putRecords(client, entries(1))).FailedRecordCount).to.equal(0);
    });

    for (const protocol of ['http2', 'http1'] as const) {
      it(`resets the connection without an answer (${protocol}), applying first when told to`, async () => {
        const emu = await start({ faults: { resetRate: 1, applyBeforeResetRate: 0 } });
        const client = clientFor(emu, protocol);
        const dropped = await failure(putRecords(client, entries(3, 'lost')));
        // A network error, not a service answer: no HTTP status, no fault side.
        expect(dropped.$metadata?.httpStatusCode).to.equal(undefined);
        expect(dropped.$fault).to.equal(undefined);
        if (protocol === 'http1') expect(dropped.code).to.equal('ECONNRESET');
        expect(emu.records).to.have.length(0);

        emu.setFaults({ applyBeforeResetRate: 1 });
        await failure(putRecords(client, entries(3, 'landed')));
        expect(emu.records.map((r) => r.partitionKey)).to.deep.equal(['landed-0', 'landed-1', 'landed-2']);
        expect(emu.stats().faults).to.include({ resets: 2, appliedResets: 1 });

        // The SDK retries network errors, so an applied-then-reset request lands twice.
        emu.clearRecords();
        const retrying = clientFor(emu, protocol, 2);
        const second = putRecords(retrying, entries(2, 'dup'));
        await new Promise<void>((resolve) => {
          const poll = setInterval(() => {
            if (emu.records.length >= 2) {
              clearInterval(poll);
              emu.setFaults({ resetRate: 0 });
              resolve();
            }
          }, 1);
        });
        expect((await second).FailedRecordCount).to.equal(0);
        expect(emu.duplicates().count).to.equal(2);
      });
    }

    it('delays requests by latency + jitter', async () => {
      const emu = await start({ faults: { latencyMs: 60, jitterMs: 20 } });
      const client = clientFor(emu);
      const began = performance.now();
      await putRecords(client, entries(1));
      expect(performance.now() - began).to.be.at.least(59);
      await client.send(new ListShardsCommand({ StreamName: 'demo' }));
      expect(emu.stats().faults.delayedRequests).to.equal(1);
    });
  });

  describe('bookkeeping', () => {
    it('logs accepted records with data, digest, shard, sequence number and arrival time', async () => {
      const emu = await start({ shards: 2 });
      const before = Date.now();
      const out = await putRecords(clientFor(emu), [{ PartitionKey: 'k', Data: Buffer.from('hello') }]);
      const [record] = emu.records;
      expect(record).to.deep.include({
        streamName: 'demo',
        partitionKey: 'k',
        explicitHashKey: undefined,
        size: 5,
        shardId: out.Records![0].ShardId,
        sequenceNumber: out.Records![0].SequenceNumber,
        dataSha256: '2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824',
      });
      expect(record.data?.toString()).to.equal('hello');
      expect(record.arrivedAt).to.be.within(before, Date.now());
    });

    it('finds missing records, duplicates and per-key order breaks', async () => {
      const emu = await start({ keepData: false });
      const client = clientFor(emu);
      const sent = [0, 1, 2, 3].map((i) => ({ partitionKey: 'k', data: `m${i}` }));
      const put = (indexes: number[]) =>
        putRecords(
          client,
          indexes.map((i) => ({ PartitionKey: 'k', Data: Buffer.from(sent[i].data) })),
        );
      await put([0, 2, 1, 2]);
      expect(emu.records[0].data).to.equal(undefined);
      expect(emu.missing(sent)).to.deep.equal([sent[3]]);
      expect(emu.duplicates()).to.deep.equal({
        count: 1,
        groups: [{ partitionKey: 'k', dataSha256: emu.records[1].dataSha256, copies: 2 }],
      });
      expect(emu.orderViolations(sent)).to.deep.equal([
        { partitionKey: 'k', sequenceNumber: emu.records[2].sequenceNumber, sentIndex: 1, afterSentIndex: 2 },
      ]);
      expect(emu.orderViolations(sent, { strict: true })).to.have.length(1);
      await put([3]);
      expect(emu.missing(sent)).to.deep.equal([]);
    });

    it('reports per-shard and per-second stats', async () => {
      const emu = await start({ shards: 2, quotas: { recordsPerSecond: 100 } });
      const client = clientFor(emu);
      await putRecords(client, entries(150, 'x', { ExplicitHashKey: '0' }));
      const stats = emu.stats();
      expect(stats.shards[0]).to.include({
        shardId: 'shardId-000000000000',
        accepted: 100,
        throttled: 50,
        open: true,
      });
      expect(stats.shards[0].bytes).to.equal(
        emu.records.reduce((sum, r) => sum + r.size + Buffer.byteLength(r.partitionKey), 0),
      );
      expect(stats.shards[1]).to.include({ accepted: 0, throttled: 0, bytes: 0 });
      expect(stats).to.include({ accepted: 100, throttled: 50, peakPerSecond: 100 });
      expect(stats.timeline.reduce((a, b) => a + b, 0)).to.equal(100);
      expect(stats.requests).to.deep.include({ total: 1, byOperation: { PutRecords: 1 } });
    });

    it('can keep counters only', async () => {
      const emu = await start({ keepRecords: false });
      await putRecords(clientFor(emu), entries(10));
      expect(emu.records).to.have.length(0);
      expect(emu.stats().accepted).to.equal(10);
      expect(() => emu.missing([])).to.throw(/keepRecords/);
    });
  });

  describe('close()', () => {
    it('releases every server, socket, session and timer', async () => {
      // One timer turn first, so mocha's own timeout timer is already counted in `before`.
      await new Promise((r) => setTimeout(r, 1));
      const before = resourceCounts();
      const emu = await startEmulator({
        shards: 2,
        faults: { latencyMs: 30_000, operations: ['PutRecord'] },
      });
      const h2 = clientFor(emu, 'http2', 1);
      const h1 = clientFor(emu, 'http1', 1);
      await putRecords(h2, entries(10));
      await putRecords(h1, entries(10));
      const stuck = h1.send(
        new PutRecordCommand({ StreamName: 'demo', PartitionKey: 'k', Data: Buffer.from('x') }),
      );
      while (emu.stats().requests.byOperation.PutRecord !== 1) await new Promise((r) => setTimeout(r, 5));
      await emu.close();
      expect((await failure(stuck)).$metadata?.httpStatusCode).to.equal(undefined);
      for (const client of clients.splice(0)) client.destroy();
      await new Promise((r) => setImmediate(r));
      const after = resourceCounts();
      for (const [kind, count] of after) {
        expect(count, `${kind} still active`).to.be.at.most(before.get(kind) ?? 0);
      }
    });
  });
});
