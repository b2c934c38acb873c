/**
 * Pipelines on one client share what they learnt of a stream's shards: a second pipeline routes on the
 * shards the first listed (no ListShards of its own), and a list gone stale by a reshard in between is
 * corrected the way a long-running pipeline's is (a record landing on a shard it did not predict refreshes
 * the map): every item delivered exactly once, lanes on the open shards.
 */
import { ListShardsCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import { expect } from 'chai';
import { from, lastValueFrom, toArray } from 'rxjs';
import { KinesisProducer, toKinesis, type PutRecordsEmission } from '../src/index.js';
import {
  EmulatorKit,
  expected,
  finalOutcomes,
  makeItems,
  openShards,
  randomKey,
  toRecord,
  type Item,
} from './support/emulator-kit.js';

/** Counts the client's ListShards calls. */
function countListShards(client: KinesisClient): () => number {
  let calls = 0;
  const send = client.send.bind(client);
  client.send = ((command: unknown, ...rest: unknown[]) => {
    if (command instanceof ListShardsCommand) calls++;
    return (send as (...a: unknown[]) => unknown)(command, ...rest);
  }) as KinesisClient['send'];
  return () => calls;
}

const everyItemDeliveredOnce = (emissions: readonly PutRecordsEmission<Item>[], items: readonly Item[]) => {
  const ends = finalOutcomes(emissions);
  return items.filter((item) => ends.get(item)?.join() !== 'delivered').length;
};

describe('known shards: pipelines on one client share the stream shards the last one listed', function () {
  this.timeout(60_000);
  const kit = new EmulatorKit();
  afterEach(() => kit.close());

  it('a second pipeline lists no shards of its own; a pipeline on another client does (the control)', async () => {
    const emu = await kit.emulator({ shards: 4, quotas: false });
    const client = kit.client(emu, 'http1');
    const listed = countListShards(client);
    const run = (c: KinesisClient, items: Item[]) =>
      lastValueFrom(
        from(items).pipe(toKinesis({ client: c, streamName: emu.streamName, toRecord }), toArray()),
      );
    const first = makeItems(2_000, randomKey, 1);
    const second = makeItems(2_000, randomKey, 2);
    expect(everyItemDeliveredOnce(await run(client, first), first)).to.equal(0);
    expect(listed()).to.equal(1);
    expect(everyItemDeliveredOnce(await run(client, second), second)).to.equal(0);
    expect(listed(), 'the second pipeline listed the shards again').to.equal(1);

    const other = kit.client(emu, 'http1');
    const otherListed = countListShards(other);
    const third = makeItems(500, randomKey, 3);
    expect(everyItemDeliveredOnce(await run(other, third), third)).to.equal(0);
    expect(otherListed()).to.equal(1);
    expect(emu.missing(expected([...first, ...second, ...third]))).to.deep.equal([]);
  });

  it('a list gone stale by a split and a merge is refreshed on the first surprise: all delivered once, lanes on the open shards', async () => {
    const emu = await kit.emulator({ shards: 4, quotas: false });
    const client = kit.client(emu, 'http1');
    const listed = countListShards(client);
    const first = makeItems(1_000, randomKey, 4);
    await lastValueFrom(from(first).pipe(toKinesis({ client, streamName: emu.streamName, toRecord })));
    emu.splitShard('shardId-000000000000');
    emu.mergeShards('shardId-000000000002', 'shardId-000000000003');

    const items = makeItems(5_000, randomKey, 5);
    const emissions: PutRecordsEmission<Item>[] = [];
    const producer = new KinesisProducer<Item>(
      { client, streamName: emu.streamName, toRecord, lingerMs: 10 },
      (e) => emissions.push(e),
    );
    for (const item of items) await producer.put(item);
    await producer.end();

    expect(listed(), 'the stale list was refreshed').to.be.greaterThan(1);
    expect(everyItemDeliveredOnce(emissions, items)).to.equal(0);
    const sent = expected(items);
    expect(emu.missing(sent)).to.deep.equal([]);
    expect(emu.duplicates(sent).count).to.equal(0);
    expect([...producer.stats.shards].sort()).to.deep.equal(openShards(emu));
  });
});
