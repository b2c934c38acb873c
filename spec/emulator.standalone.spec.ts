/**
 * `rx-kinesis emulator` as a separate process, reached only over the network: the KCL-style read path
 * (readAll) across a split, write-only mode (`--no-keep-records`), and a clean stop on SIGINT/SIGTERM
 * with client connections still open.
 */
import { createHash } from 'node:crypto';
import { connect as http2Connect } from 'node:http2';
import { connect as netConnect } from 'node:net';
import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  ListShardsCommand,
  PutRecordsCommand,
  SplitShardCommand,
} from '@aws-sdk/client-kinesis';
import { expect } from 'chai';
import { readAll } from '../src/testing/index.js';
import { StandaloneEmulator } from './support/standalone-emulator.js';

const clientOf = (endpoint: string) =>
  new KinesisClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
  });

const hashOf = (key: string) => BigInt(`0x${createHash('md5').update(key).digest('hex')}`);

describe('rx-kinesis emulator as a separate process', function () {
  this.timeout(90_000);
  let emu: StandaloneEmulator | undefined;
  let client: KinesisClient | undefined;
  afterEach(async () => {
    client?.destroy();
    client = undefined;
    await emu?.kill();
    emu = undefined;
  });

  /** 40 keys, `n` records from `from`: data `key:i`, so each record is unique and its key's order readable. */
  async function put(stream: string, from: number, n: number): Promise<void> {
    for (let at = from; at < from + n; at += 200) {
      const out = await client!.send(
        new PutRecordsCommand({
          StreamName: stream,
          Records: Array.from({ length: Math.min(200, from + n - at) }, (_, j) => ({
            PartitionKey: `k${(at + j) % 40}`,
            Data: Buffer.from(`k${(at + j) % 40}:${at + j}`),
          })),
        }),
      );
      expect(out.FailedRecordCount).to.equal(0);
    }
  }

  it('readAll follows ChildShards across a split: every record once, parents first, each key in order', async () => {
    emu = await StandaloneEmulator.start(['--stream', 'kcl:2']);
    client = clientOf(emu.endpoint);
    await put('kcl', 0, 400);
    await client.send(
      new SplitShardCommand({
        StreamName: 'kcl',
        ShardToSplit: 'shardId-000000000000',
        NewStartingHashKey: (2n ** 126n).toString(),
      }),
    );
    await put('kcl', 400, 400);

    const records = await readAll(client, 'kcl', { limit: 150 });
    const texts = records.map((r) => Buffer.from(r.Data!).toString());
    expect(texts).to.have.length(800);
    expect(new Set(texts).size, 'each record once').to.equal(800);
    // Each key's records come back in write order, across the parent and its children.
    const lastOf = new Map<string, number>();
    for (const text of texts) {
      const [key, i] = text.split(':');
      expect(Number(i), `${key} in order`).to.be.greaterThan(lastOf.get(key) ?? -1);
      lastOf.set(key, Number(i));
    }
    // The parent is read before its children, and each record sits on the shard its key routes to.
    const shards = (await client.send(new ListShardsCommand({ StreamName: 'kcl' }))).Shards!;
    const order = [...new Set(records.map((r) => r.ShardId))];
    expect(order.indexOf('shardId-000000000000')).to.be.lessThan(order.indexOf('shardId-000000000002'));
    expect(order.indexOf('shardId-000000000000')).to.be.lessThan(order.indexOf('shardId-000000000003'));
    for (const r of records) {
      const shard = shards.find((s) => s.ShardId === r.ShardId)!;
      const h = hashOf(r.PartitionKey!);
      expect(h >= BigInt(shard.HashKeyRange!.StartingHashKey!)).to.equal(true);
      expect(h <= BigInt(shard.HashKeyRange!.EndingHashKey!)).to.equal(true);
    }
    const { code, counters } = await emu.stop();
    expect(code).to.equal(0);
    expect(counters.streams.kcl.accepted).to.equal(800);
    expect(counters.requests!.byOperation.GetRecords).to.be.at.least(4);
  });

  it('--no-keep-records: writes are counted, reads are refused with a clear error (and it says so on start)', async () => {
    emu = await StandaloneEmulator.start(['--stream', 'w:1', '--no-keep-records']);
    expect(emu.stdout).to.include('records not kept');
    client = clientOf(emu.endpoint);
    await put('w', 0, 50);
    const { ShardIterator } = await client.send(
      new GetShardIteratorCommand({
        StreamName: 'w',
        ShardId: 'shardId-000000000000',
        ShardIteratorType: 'TRIM_HORIZON',
      }),
    );
    let error: Error | undefined;
    try {
      await client.send(new GetRecordsCommand({ ShardIterator }));
    } catch (e) {
      error = e as Error;
    }
    expect(error?.name).to.equal('InvalidArgumentException');
    expect(error?.message).to.match(/keeps no records to read/);
    const { code, counters } = await emu.stop();
    expect(code).to.equal(0);
    expect(counters.streams.w.accepted).to.equal(50);
  });

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    it(`${signal} with an HTTP/2 session and a raw connection open: exit 0, connections closed, port freed, no process left`, async () => {
      emu = await StandaloneEmulator.start(['--stream', 'a:1', '--stream', 'b:2']);
      expect(emu.stdout).to.include('records kept for GetRecords');
      const url = new URL(emu.endpoint);
      // An HTTP/2 session that has done a request and stays open, and a connection that never sent a byte.
      const session = http2Connect(emu.endpoint);
      session.on('error', () => {});
      const sessionClosed = new Promise<void>((r) => session.once('close', () => r()));
      await new Promise<void>((resolve, reject) => {
        const stream = session.request({
          ':method': 'POST',
          ':path': '/',
          'content-type': 'application/x-amz-json-1.1',
          'x-amz-target': 'Kinesis_20131202.ListStreams',
        });
        stream.on('response', (headers) => (headers[':status'] === 200 ? resolve() : reject(new Error())));
        stream.on('error', reject);
        stream.resume();
        stream.end('{}');
      });
      const raw = netConnect(Number(url.port), url.hostname);
      raw.on('error', () => {});
      await new Promise<void>((r) => raw.once('connect', () => r()));
      const rawClosed = new Promise<void>((r) => raw.once('close', () => r()));

      const { code, counters } = await emu.stop(signal);
      expect(code).to.equal(0);
      expect(emu.stderr).to.include(`${signal}: emulator stopped`);
      expect(Object.keys(counters.streams)).to.deep.equal(['a', 'b']);
      expect(counters.requests!.byOperation.ListStreams).to.equal(1);
      await Promise.all([sessionClosed, rawClosed]); // the server closed them; the client never did
      expect(() => process.kill(emu!.child.pid!, 0), 'no process left').to.throw(/ESRCH/);
      const refused = await new Promise<string>((resolve) => {
        const probe = netConnect(Number(url.port), url.hostname);
        probe.once('connect', () => {
          probe.destroy();
          resolve('connected');
        });
        probe.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
      });
      expect(refused, 'the port is free').to.equal('ECONNREFUSED');
    });
  }
});
