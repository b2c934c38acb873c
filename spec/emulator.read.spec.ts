/**
 * The emulator's read side through the SDK v3 (JSON 1.1) and a third-party CBOR codec: iterator types,
 * paging, ChildShards at a closed shard's end, AWS's read limits and iterator expiry in virtual time, and
 * readAll() reading what toKinesis wrote across a split.
 */
import { request as httpRequest } from 'node:http';
import {
  DeleteStreamCommand,
  DescribeStreamCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  ListStreamsCommand,
  PutRecordsCommand,
  type GetRecordsOutput,
  type GetShardIteratorInput,
  type _Record,
  type ShardIteratorType,
} from '@aws-sdk/client-kinesis';
import cbor from 'cbor';
import { expect } from 'chai';
import fc from 'fast-check';
import { Subject, lastValueFrom, tap, toArray } from 'rxjs';
import { toKinesis } from '../src/index.js';
import { readAll, startEmulator, type EmulatorOptions, type KinesisEmulator } from '../src/testing/index.js';

type ServiceError = Error & { $metadata?: { httpStatusCode?: number } };

const MiB = 1024 * 1024;
const T0 = 1_800_000_000_000;
const SHARD0 = 'shardId-000000000000';
const SHARD1 = 'shardId-000000000001';

const emulators: KinesisEmulator[] = [];
const clients: KinesisClient[] = [];

async function start(options: EmulatorOptions = {}): Promise<KinesisEmulator> {
  const emu = await startEmulator(options);
  emulators.push(emu);
  return emu;
}

/** One attempt, so a throttle or an expired iterator reaches the test instead of the SDK's retries. */
function clientFor(emu: KinesisEmulator, maxAttempts = 1): KinesisClient {
  const client = new KinesisClient({
    endpoint: emu.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
    maxAttempts,
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

async function put(client: KinesisClient, stream: string, records: { key: string; data: Buffer }[]) {
  const out = await client.send(
    new PutRecordsCommand({
      StreamName: stream,
      Records: records.map((r) => ({ PartitionKey: r.key, Data: r.data })),
    }),
  );
  expect(out.FailedRecordCount).to.equal(0);
  return out.Records!;
}

async function iterator(client: KinesisClient, input: GetShardIteratorInput): Promise<string> {
  return (await client.send(new GetShardIteratorCommand(input))).ShardIterator!;
}

/** Follows NextShardIterator until caught up; returns the records and the last page. */
async function drain(
  client: KinesisClient,
  shardIterator: string,
  limit?: number,
): Promise<{ records: _Record[]; last: GetRecordsOutput }> {
  const records: _Record[] = [];
  let it: string | undefined = shardIterator;
  for (;;) {
    const page: GetRecordsOutput = await client.send(
      new GetRecordsCommand({ ShardIterator: it, Limit: limit }),
    );
    records.push(...page.Records!);
    it = page.NextShardIterator;
    if (it === undefined || page.Records!.length === 0) return { records, last: page };
  }
}

describe('emulator read side', function () {
  this.timeout(60_000);

  afterEach(async () => {
    for (const client of clients.splice(0)) client.destroy();
    await Promise.all(emulators.splice(0).map((e) => e.close()));
  });

  it('every iterator type starts where AWS says, and GetRecords pages with Limit in sequence order (property)', async () => {
    let now = T0;
    const emu = await start({ clock: () => now, readQuotas: false, quotas: false });
    const client = clientFor(emu);
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.string({ minLength: 1, maxLength: 8 }), fc.uint8Array({ maxLength: 40 })), {
          minLength: 1,
          maxLength: 60,
        }),
        fc.constantFrom<ShardIteratorType>(
          'TRIM_HORIZON',
          'LATEST',
          'AT_SEQUENCE_NUMBER',
          'AFTER_SEQUENCE_NUMBER',
          'AT_TIMESTAMP',
        ),
        fc.nat(),
        fc.integer({ min: 1, max: 7 }),
        async (written, type, pick, limit) => {
          const stream = `prop-${run++}`;
          emu.createStream(stream, 1);
          // One record per virtual 10 ms, so every record has its own arrival time.
          for (const [key, data] of written) {
            now += 10;
            await put(client, stream, [{ key, data: Buffer.from(data) }]);
          }
          const landed = emu.records.filter((r) => r.streamName === stream);
          const at = pick % landed.length;
          const input: GetShardIteratorInput = {
            StreamName: stream,
            ShardId: SHARD0,
            ShardIteratorType: type,
          };
          let expected = landed;
          if (type === 'LATEST') expected = [];
          if (type === 'AT_SEQUENCE_NUMBER') {
            input.StartingSequenceNumber = landed[at].sequenceNumber;
            expected = landed.slice(at);
          }
          if (type === 'AFTER_SEQUENCE_NUMBER') {
            input.StartingSequenceNumber = landed[at].sequenceNumber;
            expected = landed.slice(at + 1);
          }
          if (type === 'AT_TIMESTAMP') {
            input.Timestamp = new Date(landed[at].arrivedAt);
            expected = landed.slice(at);
          }
          const { records, last } = await drain(client, await iterator(client, input), limit);
          expect(records.map((r) => r.SequenceNumber)).to.deep.equal(expected.map((r) => r.sequenceNumber));
          expect(records.map((r) => r.PartitionKey)).to.deep.equal(expected.map((r) => r.partitionKey));
          expect(records.map((r) => Buffer.from(r.Data!).toString('hex'))).to.deep.equal(
            expected.map((r) => r.data!.toString('hex')),
          );
          expect(records.map((r) => r.ApproximateArrivalTimestamp!.getTime())).to.deep.equal(
            expected.map((r) => r.arrivedAt),
          );
          expect(records.every((r) => r.EncryptionType === undefined)).to.equal(true);
          expect(last.MillisBehindLatest).to.equal(0);
          expect(last.NextShardIterator, 'an open shard always has a next iterator').to.be.a('string');
        },
      ),
      { numRuns: 40 },
    );
  });

  it('MillisBehindLatest counts from the next unread record; LATEST sees only later records', async () => {
    let now = T0;
    const emu = await start({ clock: () => now });
    const client = clientFor(emu);
    await put(client, 'demo', [{ key: 'a', data: Buffer.from('old') }]);
    const latest = await iterator(client, {
      StreamName: 'demo',
      ShardId: SHARD0,
      ShardIteratorType: 'LATEST',
    });
    now += 1_000;
    await put(client, 'demo', [
      { key: 'a', data: Buffer.from('new1') },
      { key: 'a', data: Buffer.from('new2') },
    ]);
    now += 4_000;
    const page = await client.send(new GetRecordsCommand({ ShardIterator: latest, Limit: 1 }));
    expect(page.Records!.map((r) => Buffer.from(r.Data!).toString())).to.deep.equal(['new1']);
    expect(page.MillisBehindLatest).to.equal(4_000);
    const rest = await client.send(new GetRecordsCommand({ ShardIterator: page.NextShardIterator }));
    expect(rest.Records!.map((r) => Buffer.from(r.Data!).toString())).to.deep.equal(['new2']);
    expect(rest.MillisBehindLatest).to.equal(0);
  });

  it('at a closed shard’s end: ChildShards and no NextShardIterator; before the end: neither', async () => {
    const emu = await start({ shards: 1 });
    const client = clientFor(emu);
    await put(client, 'demo', [
      { key: 'a', data: Buffer.from('1') },
      { key: 'b', data: Buffer.from('2') },
    ]);
    const start0 = await iterator(client, {
      StreamName: 'demo',
      ShardId: SHARD0,
      ShardIteratorType: 'TRIM_HORIZON',
    });
    const [low, high] = emu.splitShard(SHARD0);
    const first = await client.send(new GetRecordsCommand({ ShardIterator: start0, Limit: 1 }));
    expect(first.Records).to.have.length(1);
    expect(first.ChildShards).to.equal(undefined);
    expect(first.NextShardIterator).to.be.a('string');
    const end = await client.send(
      new GetRecordsCommand({ ShardIterator: first.NextShardIterator, Limit: 1 }),
    );
    expect(end.Records).to.have.length(1);
    expect(end.NextShardIterator).to.equal(undefined);
    expect(end.ChildShards!.map((c) => [c.ShardId, c.ParentShards])).to.deep.equal([
      [low, [SHARD0]],
      [high, [SHARD0]],
    ]);
    const described = emu.listShards().filter((s) => s.ShardId !== SHARD0);
    expect(end.ChildShards!.map((c) => c.HashKeyRange)).to.deep.equal(described.map((s) => s.HashKeyRange));
    // A merge child names both parents.
    const merged = emu.mergeShards(low, high);
    const lowEnd = await drain(
      client,
      await iterator(client, { StreamName: 'demo', ShardId: low, ShardIteratorType: 'TRIM_HORIZON' }),
    );
    expect(lowEnd.last.ChildShards!.map((c) => [c.ShardId, c.ParentShards])).to.deep.equal([
      [merged, [low, high]],
    ]);
  });

  it('5 GetRecords calls per second per shard, then ProvisionedThroughputExceededException (virtual time)', async () => {
    let now = T0;
    const emu = await start({ shards: 2, clock: () => now });
    const client = clientFor(emu);
    const it0 = await iterator(client, {
      StreamName: 'demo',
      ShardId: SHARD0,
      ShardIteratorType: 'TRIM_HORIZON',
    });
    for (let i = 0; i < 5; i++) await client.send(new GetRecordsCommand({ ShardIterator: it0 }));
    const sixth = await failure(client.send(new GetRecordsCommand({ ShardIterator: it0 })));
    expect(sixth.name).to.equal('ProvisionedThroughputExceededException');
    expect(sixth.$metadata?.httpStatusCode).to.equal(400);
    expect(sixth.message).to.include(SHARD0);
    // Control: the other shard has its own five.
    const it1 = await iterator(client, {
      StreamName: 'demo',
      ShardId: SHARD1,
      ShardIteratorType: 'TRIM_HORIZON',
    });
    for (let i = 0; i < 5; i++) await client.send(new GetRecordsCommand({ ShardIterator: it1 }));
    now += 199;
    expect((await failure(client.send(new GetRecordsCommand({ ShardIterator: it0 })))).name).to.equal(
      'ProvisionedThroughputExceededException',
    );
    now += 1; // 200 ms: one call's worth
    await client.send(new GetRecordsCommand({ ShardIterator: it0 }));
    expect(emu.stats().requests.errors.ProvisionedThroughputExceededException).to.equal(2);
  });

  it('2 MiB/s per shard: a 3 MiB read blocks the shard until the debt is paid (virtual time); readQuotas: false does not', async () => {
    for (const readQuotas of [undefined, false] as const) {
      let now = T0;
      const emu = await start({ clock: () => now, quotas: false, readQuotas });
      const client = clientFor(emu);
      const big = Buffer.alloc(MiB - 1, 7); // + a 1-byte key: 1 MiB per record
      await put(
        client,
        'demo',
        [0, 1, 2].map(() => ({ key: 'k', data: big })),
      );
      const it = await iterator(client, {
        StreamName: 'demo',
        ShardId: SHARD0,
        ShardIteratorType: 'TRIM_HORIZON',
      });
      const page = await client.send(new GetRecordsCommand({ ShardIterator: it }));
      expect(page.Records, 'one call returns up to 10 MiB').to.have.length(3);
      // Balance 2 MiB − 3 MiB = −1 MiB; at 2 MiB/s it is positive again after 500 ms. Only one of the
      // five calls was used, so a refusal here is the byte limit.
      now += 499;
      const early = client.send(new GetRecordsCommand({ ShardIterator: page.NextShardIterator }));
      if (readQuotas === false) await early;
      else expect((await failure(early)).name).to.equal('ProvisionedThroughputExceededException');
      now += 2;
      await client.send(new GetRecordsCommand({ ShardIterator: page.NextShardIterator }));
    }
  });

  it('an iterator expires 5 minutes after it was issued (virtual time); a forged one is refused', async () => {
    let now = T0;
    const emu = await start({ clock: () => now });
    const client = clientFor(emu);
    const it = await iterator(client, {
      StreamName: 'demo',
      ShardId: SHARD0,
      ShardIteratorType: 'TRIM_HORIZON',
    });
    now += 300_000;
    await client.send(new GetRecordsCommand({ ShardIterator: it })); // control: still valid at exactly 5 min
    now += 1;
    const expired = await failure(client.send(new GetRecordsCommand({ ShardIterator: it })));
    expect(expired.name).to.equal('ExpiredIteratorException');
    expect(expired.message).to.include('tolerated delay of 300000 milliseconds');

    const bytes = Buffer.from(it, 'base64');
    bytes[bytes.length - 1] ^= 1;
    const forged = await failure(
      client.send(new GetRecordsCommand({ ShardIterator: bytes.toString('base64') })),
    );
    expect(forged.name).to.equal('InvalidArgumentException');
    expect(it, 'opaque: the stream name is not readable in it').not.to.include('demo');
    const other = await start();
    const foreign = await iterator(clientFor(other), {
      StreamName: 'demo',
      ShardId: SHARD0,
      ShardIteratorType: 'TRIM_HORIZON',
    });
    expect((await failure(client.send(new GetRecordsCommand({ ShardIterator: foreign })))).name).to.equal(
      'InvalidArgumentException',
    );
  });

  it('DescribeStream pages shards, ListStreams pages streams, DeleteStream removes a stream and its iterators', async () => {
    const emu = await start({ shards: 3 });
    const client = clientFor(emu);
    emu.splitShard(SHARD1);
    const ids: string[] = [];
    let after: string | undefined;
    for (;;) {
      const { StreamDescription: d } = await client.send(
        new DescribeStreamCommand({ StreamName: 'demo', Limit: 2, ExclusiveStartShardId: after }),
      );
      expect(d!.Shards!.length).to.be.at.most(2);
      ids.push(...d!.Shards!.map((s) => s.ShardId!));
      if (!d!.HasMoreShards) break;
      after = ids[ids.length - 1];
    }
    expect(ids).to.deep.equal(emu.listShards().map((s) => s.ShardId));
    expect(ids).to.have.length(5);

    for (const name of ['b', 'a', 'c']) emu.createStream(name);
    const names: string[] = [];
    let token: string | undefined;
    do {
      const page = await client.send(new ListStreamsCommand(token ? { NextToken: token } : { Limit: 3 }));
      names.push(...page.StreamNames!);
      expect(page.HasMoreStreams).to.equal(page.NextToken !== undefined);
      token = page.NextToken;
    } while (token);
    expect(names).to.deep.equal(['a', 'b', 'c', 'demo']);

    const it = await iterator(client, {
      StreamName: 'b',
      ShardId: SHARD0,
      ShardIteratorType: 'TRIM_HORIZON',
    });
    await client.send(new DeleteStreamCommand({ StreamName: 'b' }));
    expect((await failure(client.send(new GetRecordsCommand({ ShardIterator: it })))).name).to.equal(
      'ResourceNotFoundException',
    );
    expect((await failure(client.send(new DescribeStreamCommand({ StreamName: 'b' })))).name).to.equal(
      'ResourceNotFoundException',
    );
    emu.createStream('b'); // a new stream of the same name: the old iterator still must not read it
    expect((await failure(client.send(new GetRecordsCommand({ ShardIterator: it })))).name).to.equal(
      'ResourceNotFoundException',
    );
  });

  it('speaks application/x-amz-cbor-1.1 (the Java SDK and KCL default), checked with an independent CBOR codec', async () => {
    const emu = await start({ clock: () => T0 });
    const call = (target: string, input: unknown) =>
      new Promise<{ status: number; type: string; body: unknown }>((resolve, reject) => {
        const body = cbor.encode(input);
        const req = httpRequest(
          `${emu.endpoint}/`,
          {
            method: 'POST',
            headers: {
              'content-type': 'application/x-amz-cbor-1.1',
              'x-amz-target': `Kinesis_20131202.${target}`,
              'content-length': body.length,
            },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () =>
              resolve({
                status: res.statusCode!,
                type: String(res.headers['content-type']),
                // Tag 1 carries epoch milliseconds in AWS CBOR; keep the raw number.
                body: cbor.decodeFirstSync(Buffer.concat(chunks), { tags: { 1: (v: number) => v } }),
              }),
            );
          },
        );
        req.on('error', reject);
        req.end(body);
      });
    const data = Buffer.from([0, 1, 2, 255]);
    const putResult = await call('PutRecords', {
      StreamName: 'demo',
      Records: [{ PartitionKey: 'k', Data: data }],
    });
    expect(putResult.status).to.equal(200);
    expect(putResult.type).to.equal('application/x-amz-cbor-1.1');
    const { ShardIterator } = (
      await call('GetShardIterator', {
        StreamName: 'demo',
        ShardId: SHARD0,
        ShardIteratorType: 'TRIM_HORIZON',
      })
    ).body as { ShardIterator: string };
    const got = (await call('GetRecords', { ShardIterator })).body as {
      Records: { Data: Buffer; ApproximateArrivalTimestamp: number; PartitionKey: string }[];
    };
    expect(Buffer.isBuffer(got.Records[0].Data), 'Data is a byte string').to.equal(true);
    expect(got.Records[0].Data.equals(data)).to.equal(true);
    expect(got.Records[0].ApproximateArrivalTimestamp).to.equal(T0);
    expect(got.Records[0].PartitionKey).to.equal('k');
    // AT_TIMESTAMP with a tagged millisecond timestamp, as the Java SDK sends it.
    const at = (
      await call('GetShardIterator', {
        StreamName: 'demo',
        ShardId: SHARD0,
        ShardIteratorType: 'AT_TIMESTAMP',
        Timestamp: new cbor.Tagged(1, T0 + 1),
      })
    ).body as { ShardIterator: string };
    expect(
      ((await call('GetRecords', { ShardIterator: at.ShardIterator })).body as { Records: [] }).Records,
    ).to.deep.equal([]);
    const summary = (await call('DescribeStreamSummary', { StreamName: 'demo' })).body as {
      StreamDescriptionSummary: { StreamCreationTimestamp: number };
    };
    expect(summary.StreamDescriptionSummary.StreamCreationTimestamp).to.equal(T0);
    const error = await call('GetRecords', { ShardIterator: 'nope' });
    expect(error.status).to.equal(400);
    expect(error.body).to.deep.equal({
      __type: 'InvalidArgumentException',
      message: 'Invalid ShardIterator.',
    });
  });

  it('readAll reads what toKinesis wrote across a split: every record once, parents first, each key in order', async () => {
    const emu = await start({ shards: 2 });
    const client = clientFor(emu, 3);
    const keys = Array.from({ length: 40 }, (_, i) => `device-${i}`);
    const items = Array.from({ length: 3_000 }, (_, i) => ({
      PartitionKey: keys[i % keys.length],
      Data: `${keys[i % keys.length]}#${i}`,
    }));
    const half = items.length / 2;
    // The second half is pushed, and the shard split, once a third of the first half is delivered: the
    // rest of the first half is still queued or in flight across the split.
    const source = new Subject<(typeof items)[number]>();
    let split = false;
    let landed = 0;
    const done = lastValueFrom(
      source.pipe(
        toKinesis({ client, streamName: 'demo', ordering: 'per-key', lingerMs: 5, maxBatchRecords: 100 }),
        tap((e) => {
          landed += e.response.Records!.filter((r) => r.SequenceNumber).length;
          if (!split && landed >= half / 3) {
            split = true;
            emu.splitShard(SHARD0);
            for (const item of items.slice(half)) source.next(item);
            source.complete();
          }
        }),
        toArray(),
      ),
    );
    for (const item of items.slice(0, half)) source.next(item);
    const emissions = await done;
    expect(split).to.equal(true);
    const delivered = new Map<string, string>(); // data → shard/sequence, from toKinesis's emissions
    for (const e of emissions) {
      e.response.Records!.forEach((r, i) => {
        const data = e.request.Records![i].Data!;
        const text = typeof data === 'string' ? data : Buffer.from(data).toString();
        if (r.SequenceNumber) delivered.set(text, `${r.ShardId}/${r.SequenceNumber}`);
      });
    }
    expect(delivered.size).to.equal(items.length);

    const records = await readAll(client, 'demo', { limit: 500 });
    const texts = records.map((r) => Buffer.from(r.Data!).toString());
    expect(texts.length, 'every record once').to.equal(items.length);
    expect(new Set(texts).size).to.equal(items.length);
    for (const r of records) {
      expect(`${r.ShardId}/${r.SequenceNumber}`).to.equal(delivered.get(Buffer.from(r.Data!).toString()));
    }
    const shardsRead = [...new Set(records.map((r) => r.ShardId))];
    expect(shardsRead, 'the closed parent and both children were read').to.include.members([
      SHARD0,
      'shardId-000000000002',
      'shardId-000000000003',
    ]);
    // Parents before children: the parent's records all come before any child's.
    const lastParent = records.map((r) => r.ShardId).lastIndexOf(SHARD0);
    const firstChild = records.findIndex(
      (r) => r.ShardId === 'shardId-000000000002' || r.ShardId === 'shardId-000000000003',
    );
    expect(lastParent).to.be.below(firstChild);
    // Each key in the order it was sent.
    for (const key of keys) {
      const read = texts.filter((t) => t.startsWith(`${key}#`));
      const sent = items.filter((i) => i.PartitionKey === key).map((i) => i.Data);
      expect(read).to.deep.equal(sent);
    }
    // Each shard in sequence order.
    for (const shard of shardsRead) {
      const seqs = records.filter((r) => r.ShardId === shard).map((r) => BigInt(r.SequenceNumber!));
      expect(seqs.every((s, i) => i === 0 || s > seqs[i - 1])).to.equal(true);
    }
  });
});
