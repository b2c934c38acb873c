/** The emulator as a server: protocols, streams, bookkeeping and a clean close. Writes, resharding and faults have their own spec files (spec/emulator.*.spec.ts). */
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  ListShardsCommand,
  PutRecordCommand,
} from '@aws-sdk/client-kinesis';
import { expect } from 'chai';
import { startEmulator } from '../src/testing/index.js';
import {
  ACCOUNT,
  ARN,
  TOP,
  entries,
  failure,
  hashKeyOfShard,
  putRecords,
  rawPost,
  resourceCounts,
  emulatorSpec,
} from './support/emulator-kit.js';

const { start, clientFor, kit } = emulatorSpec();

describe('Kinesis emulator', () => {
  describe('server', () => {
    it('listens on a free loopback port', async () => {
      const [a, b] = await Promise.all([start(), start()]);
      expect(a.endpoint).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect(a.endpoint).not.to.equal(b.endpoint);
      expect(a.streamArn).to.equal(ARN);
    });

    it('listens on the host and port asked for; a taken port rejects with EADDRINUSE', async () => {
      const first = await start();
      const port = Number(new URL(first.endpoint).port);
      await first.close(); // frees the port for the next one
      const emu = await start({ host: '127.0.0.1', port });
      expect(emu.endpoint).to.equal(`http://127.0.0.1:${port}`);
      const out = await putRecords(clientFor(emu, 'http1'), entries(3));
      expect(out.FailedRecordCount).to.equal(0);
      expect((await failure(start({ port }))) as unknown as NodeJS.ErrnoException).to.include({
        code: 'EADDRINUSE',
      });
      for (const bad of [-1, 65536, 1.5]) {
        expect((await failure(start({ port: bad }))).message).to.match(/port must be an integer 0\.\.65535/);
      }
      // A wildcard host is dialled on loopback.
      const any = await start({ host: '0.0.0.0' });
      expect(any.endpoint).to.match(/^http:\/\/127\.0\.0\.1:\d+$/);
      expect((await putRecords(clientFor(any), entries(1))).FailedRecordCount).to.equal(0);
    });

    it('creates several streams at start; the first is the default one', async () => {
      const emu = await start({ streams: [{ name: 'events', shards: 3 }, { name: 'audit' }] });
      expect(emu.streamName).to.equal('events');
      expect(emu.listShards()).to.have.length(3);
      expect(emu.listShards('audit')).to.have.length(1);
      const client = clientFor(emu);
      await client.send(
        new PutRecordCommand({ StreamName: 'audit', PartitionKey: 'k', Data: Buffer.from('x') }),
      );
      expect(emu.stats('audit').accepted).to.equal(1);
      expect(emu.stats().accepted).to.equal(0);
      expect((await failure(start({ streams: [{ name: 'a' }], shards: 2 }))).message).to.match(/not both/);
      expect((await failure(start({ streams: [{ name: 'a' }, { name: 'a' }] }))).message).to.match(/once/);
      expect((await failure(start({ streams: [] }))).message).to.match(/at least one/);
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
      kit.destroyClients();
      await new Promise((r) => setImmediate(r));
      const after = resourceCounts();
      for (const [kind, count] of after) {
        expect(count, `${kind} still active`).to.be.at.most(before.get(kind) ?? 0);
      }
    });
  });
});
