/**
 * The emulator's service faults as a client sees them, through the real SDK client: answers that do not
 * account for every record (a short `Records` array, entries with neither `SequenceNumber` nor
 * `ErrorCode`), ListShards refusals, a listing with a hash-range gap, a stream not ACTIVE yet, and the
 * seeded replay of all of them.
 */
import {
  DescribeStreamSummaryCommand,
  ListShardsCommand,
  PutRecordCommand,
  type KinesisClient,
} from '@aws-sdk/client-kinesis';
import { expect } from 'chai';
import type { FaultOptions } from '../src/testing/index.js';
import {
  ACCOUNT,
  TOP,
  emulatorSpec,
  entries,
  failure,
  putRecords,
  type ServiceError,
} from './support/emulator-kit.js';

const { start, clientFor } = emulatorSpec();

const listShards = (client: KinesisClient) => client.send(new ListShardsCommand({ StreamName: 'demo' }));

describe('Kinesis emulator: service faults', () => {
  it('shortResponseRate: applies every record, answers 200 with fewer Records entries than sent', async () => {
    const emu = await start({ shards: 2, faults: { seed: 4, shortResponseRate: 1 } });
    const client = clientFor(emu, 'http1');
    const lengths: number[] = [];
    for (let i = 0; i < 20; i++) {
      const out = await putRecords(client, entries(10, `s${i}`));
      expect(out.FailedRecordCount).to.equal(0);
      lengths.push(out.Records!.length);
    }
    expect(Math.max(...lengths)).to.be.at.most(9);
    expect(new Set(lengths).size, 'seeded lengths vary').to.be.above(3);
    expect(emu.records).to.have.length(200);
    expect(emu.stats().faults.shortResponses).to.equal(20);
    // PutRecord has no Records array: answered normally, not counted.
    const one = await client.send(
      new PutRecordCommand({ StreamName: 'demo', PartitionKey: 'k', Data: Buffer.from('x') }),
    );
    expect(one.SequenceNumber).to.be.a('string');
    expect(emu.stats().faults.shortResponses).to.equal(20);
  });

  it('emptyEntryRate: writes the record, answers its entry with neither SequenceNumber nor ErrorCode', async () => {
    const emu = await start({ shards: 2, quotas: false, faults: { seed: 8, emptyEntryRate: 0.3 } });
    const client = clientFor(emu);
    const out = await putRecords(client, entries(500));
    const empty = out.Records!.filter((r) => r.SequenceNumber === undefined && r.ErrorCode === undefined);
    expect(empty.length).to.be.within(120, 180);
    expect(out.FailedRecordCount).to.equal(0);
    expect(emu.records).to.have.length(500);
    expect(emu.stats().faults.emptyEntries).to.equal(empty.length);
    emu.setFaults({ emptyEntryRate: 1 });
    const one = await client.send(
      new PutRecordCommand({ StreamName: 'demo', PartitionKey: 'k', Data: Buffer.from('x') }),
    );
    expect(one.SequenceNumber).to.equal(undefined);
    expect(emu.records).to.have.length(501);
  });

  it('listShardsThrottleRate: LimitExceededException on ListShards only, whatever operations says', async () => {
    const emu = await start({ faults: { listShardsThrottleRate: 1 } });
    // One attempt, as the README recommends: the SDK would otherwise retry a throttle itself.
    const client = clientFor(emu, 'http2', 1);
    const refused = await failure(listShards(client));
    expect(refused.name).to.equal('LimitExceededException');
    expect(refused.$metadata?.httpStatusCode).to.equal(400);
    expect(refused.message).to.equal(`Rate exceeded for stream demo under account ${ACCOUNT}.`);
    expect((await putRecords(client, entries(2))).FailedRecordCount).to.equal(0);
    expect(emu.stats().faults.listShardsThrottles).to.equal(1);
    emu.setFaults({ listShardsThrottleRate: 0 });
    expect((await listShards(client)).Shards).to.have.length(1);
  });

  it('listShardsFailures: the next N ListShards get HTTP 500, then they succeed', async () => {
    const emu = await start({ faults: { listShardsFailures: 2, operations: [] } });
    const client = clientFor(emu, 'http1', 1);
    const outcomes: string[] = [];
    for (let i = 0; i < 4; i++) {
      outcomes.push(
        await listShards(client).then(
          () => 'ok',
          (e: ServiceError) => `${e.name}/${e.$metadata?.httpStatusCode}`,
        ),
      );
    }
    expect(outcomes).to.deep.equal(['InternalFailure/500', 'InternalFailure/500', 'ok', 'ok']);
    emu.setFaults({ listShardsFailures: 1 });
    expect((await failure(listShards(client))).name).to.equal('InternalFailure');
    expect(emu.stats().faults.listShardsFailures).to.equal(3);
    expect(emu.stats().requests.errors).to.deep.equal({ InternalFailure: 3 });
  });

  it('unlistedShards: ListShards leaves a hash range no listed open shard covers; writes still land there', async () => {
    const emu = await start({ shards: 2 });
    const [, hidden] = emu.splitShard('shardId-000000000000', 1n << 125n);
    emu.setFaults({ unlistedShards: [hidden] });
    const client = clientFor(emu);
    const listed = (await listShards(client)).Shards!;
    expect(listed.map((s) => s.ShardId)).not.to.include(hidden);
    const open = listed.filter((s) => s.SequenceNumberRange?.EndingSequenceNumber === undefined);
    const covers = (key: bigint) =>
      open.some(
        (s) =>
          BigInt(s.HashKeyRange!.StartingHashKey!) <= key && key <= BigInt(s.HashKeyRange!.EndingHashKey!),
      );
    const gapStart = 1n << 125n;
    const gapEnd = (TOP + 1n) / 2n - 1n;
    expect([gapStart, gapEnd, (gapStart + gapEnd) / 2n].map(covers)).to.deep.equal([false, false, false]);
    // The control: either side of the gap is covered.
    expect([gapStart - 1n, gapEnd + 1n, 0n, TOP].map(covers)).to.deep.equal([true, true, true, true]);
    const out = await putRecords(client, entries(1, 'gap', { ExplicitHashKey: gapStart.toString() }));
    expect(out.Records![0].ShardId).to.equal(hidden);
    emu.setFaults({ unlistedShards: [] });
    expect((await listShards(client)).Shards!.map((s) => s.ShardId)).to.include(hidden);
  });

  it('resourceInUseMs: ResourceInUseException for the first N ms by the emulator clock, DescribeStreamSummary aside', async () => {
    let now = 1_000_000;
    const emu = await start({ clock: () => now, faults: { resourceInUseMs: 500 } });
    const client = clientFor(emu);
    const early = await failure(listShards(client));
    expect(early.name).to.equal('ResourceInUseException');
    expect(early.$metadata?.httpStatusCode).to.equal(400);
    expect(early.message).to.equal(
      `Stream demo under account ${ACCOUNT} not ACTIVE, instead in state UPDATING.`,
    );
    expect((await failure(putRecords(client, entries(1)))).name).to.equal('ResourceInUseException');
    const summary = await client.send(new DescribeStreamSummaryCommand({ StreamName: 'demo' }));
    expect(summary.StreamDescriptionSummary?.StreamName).to.equal('demo');
    now += 499;
    expect((await failure(putRecords(client, entries(1)))).name).to.equal('ResourceInUseException');
    now += 1;
    expect((await putRecords(client, entries(1))).FailedRecordCount).to.equal(0);
    expect((await listShards(client)).Shards).to.have.length(1);
    expect(emu.stats().faults.resourceInUse).to.equal(3);
    expect(emu.records).to.have.length(1);
  });

  it('replays the new rate faults identically for a seed, and refuses out-of-range options', async () => {
    const faults: FaultOptions = {
      seed: 21,
      garbledBodyRate: 0.15,
      headerResetRate: 0.15,
      shortResponseRate: 0.15,
      emptyEntryRate: 0.1,
      listShardsThrottleRate: 0.3,
      operations: ['PutRecords', 'ListShards'],
    };
    const runs: string[][] = [];
    for (const _run of [1, 2]) {
      const emu = await start({ quotas: false, faults });
      const client = clientFor(emu, 'http1');
      const run: string[] = [];
      for (let i = 0; i < 40; i++) {
        const outcome = await putRecords(client, entries(5, `r${i}`)).then(
          (out) =>
            `${out.Records!.length}:${out.Records!.map((r) => (r.SequenceNumber ? 'S' : '-')).join('')}`,
          (e: ServiceError) => `${e.code ?? e.name}`,
        );
        run.push(
          outcome,
          await listShards(client).then(
            () => 'listed',
            (e: ServiceError) => `${e.code ?? e.name}`,
          ),
        );
      }
      runs.push(run);
    }
    expect(runs[0]).to.deep.equal(runs[1]);
    const kinds = new Set(
      runs[0].map((o) => (/^\d:/.test(o) ? (o.startsWith('5:') ? 'whole' : 'short') : o)),
    );
    expect([...kinds].sort()).to.deep.equal([
      'ECONNRESET',
      'LimitExceededException',
      'SyntaxError',
      'listed',
      'short',
      'whole',
    ]);
    expect(runs[0].some((o) => o.startsWith('5:') && o.includes('-'))).to.equal(true);

    const emu = await start();
    expect(() => emu.setFaults({ stallRate: 1.5 })).to.throw(RangeError, /stallRate/);
    expect(() => emu.setFaults({ slowAnswerMs: -1 })).to.throw(RangeError, /slowAnswerMs/);
    expect(() => emu.setFaults({ listShardsFailures: 1.5 })).to.throw(RangeError, /listShardsFailures/);
    expect(() => emu.setFaults({ resourceInUseMs: Number.NaN })).to.throw(RangeError, /resourceInUseMs/);
  });
});
