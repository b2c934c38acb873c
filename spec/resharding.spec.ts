import { expect } from 'chai';
import { from, tap } from 'rxjs';
import { KinesisProducer, toKinesis, type PutRecordsEmission, type ToKinesisOptions } from '../src/index.js';
import type { KinesisEmulator } from '../src/testing/index.js';
import {
  checkEmissions,
  collect,
  EmulatorKit,
  expected,
  finalOutcomes,
  makeItems,
  openShards,
  randomKey,
  sleep,
  toRecord,
  until,
  type Item,
} from './support/emulator-kit.js';

const RECORDS = 100_000;
/** 20 records per key, so per-key order has something to keep. */
const KEYS = 5_000;
const SHARD = (n: number) => `shardId-${String(n).padStart(12, '0')}`;
const MiB = 1024 * 1024;
/** Per shard: well above the default quota, so 100,000 records take a few seconds. */
const EMULATOR_QUOTA = { recordsPerSecond: 20_000, bytesPerSecond: 20 * MiB };
const PRODUCER_RATE = { shardRecordsPerSecond: 10_000, shardBytesPerSecond: 10 * MiB };

/**
 * Reshards the emulator's 4-shard stream as deliveries pass 10% and 25% of `total`: splits shard 0 (into
 * shards 4 and 5), then merges the adjacent shards 2 and 3 (into shard 6).
 */
function reshardAsDeliveriesGrow(emu: KinesisEmulator, total: number) {
  let delivered = 0;
  const steps: string[] = [];
  return {
    steps,
    onEmission(e: PutRecordsEmission<unknown>) {
      for (const r of e.response.Records ?? []) if (r.SequenceNumber !== undefined) delivered++;
      if (steps.length === 0 && delivered >= total * 0.1) {
        steps.push(`split ${SHARD(0)} into ${emu.splitShard(SHARD(0)).join(', ')}`);
      }
      if (steps.length === 1 && delivered >= total * 0.25) {
        steps.push(`merged ${SHARD(2)}, ${SHARD(3)} into ${emu.mergeShards(SHARD(2), SHARD(3))}`);
      }
    },
  };
}

function checkEveryItemDeliveredOnce(emissions: readonly PutRecordsEmission<Item>[], items: readonly Item[]) {
  const ends = finalOutcomes(emissions);
  const wrong = items.filter((item) => ends.get(item)?.join() !== 'delivered');
  expect(
    wrong.slice(0, 5).map((item) => `${item.id}: ${ends.get(item)?.join(', ') ?? 'no outcome'}`),
    `${wrong.length} items not delivered exactly once`,
  ).to.deep.equal([]);
}

describe('resharding while toKinesis writes (emulator)', function () {
  this.timeout(120_000);
  const kit = new EmulatorKit();
  afterEach(() => kit.close());

  it(`'per-key': a split and a merge during ${RECORDS.toLocaleString('en')} records lose, repeat and reorder nothing; lanes end on the open shards`, async () => {
    const emu = await kit.emulator({ shards: 4, quotas: EMULATOR_QUOTA });
    const items = makeItems(RECORDS, (id) => `key-${id % KEYS}`, 21, 16);
    const reshard = reshardAsDeliveriesGrow(emu, RECORDS);
    const emissions: PutRecordsEmission<Item>[] = [];
    const producer = new KinesisProducer<Item>(
      {
        client: kit.client(emu, 'http1'),
        streamName: emu.streamName,
        toRecord,
        ordering: 'per-key',
        lingerMs: 10,
        ...PRODUCER_RATE,
      },
      (e) => {
        emissions.push(e);
        reshard.onEmission(e);
      },
    );
    for (const item of items) await producer.put(item);
    await producer.end();

    expect(reshard.steps).to.deep.equal([
      `split ${SHARD(0)} into ${SHARD(4)}, ${SHARD(5)}`,
      `merged ${SHARD(2)}, ${SHARD(3)} into ${SHARD(6)}`,
    ]);
    const open = openShards(emu);
    expect(open).to.deep.equal([SHARD(1), SHARD(4), SHARD(5), SHARD(6)]);
    // The children took writes: the producer followed the reshard.
    const accepted = new Map(emu.stats().shards.map((s) => [s.shardId, s.accepted]));
    for (const child of [SHARD(4), SHARD(5), SHARD(6)])
      expect(accepted.get(child), child).to.be.greaterThan(0);

    checkEveryItemDeliveredOnce(emissions, items);
    checkEmissions(emissions, emu.records);
    const sent = expected(items);
    expect(emu.missing(sent)).to.deep.equal([]);
    expect(emu.duplicates(sent).count).to.equal(0); // no faults: nothing may land twice
    expect(emu.orderViolations(sent)).to.deep.equal([]);

    // The closed parents' lanes (and the limiters retired with them) are gone: what is left is the open shards.
    const stats = producer.stats;
    expect([...stats.shards].sort()).to.deep.equal(open);
    expect([
      stats.buffered,
      stats.queued,
      stats.collecting,
      stats.retrying,
      stats.orderWaiting,
    ]).to.deep.equal([0, 0, 0, 0, 0]);
  });

  it(`'none': every record of ${RECORDS.toLocaleString('en')} arrives once through the same split and merge`, async () => {
    const emu = await kit.emulator({ shards: 4, quotas: EMULATOR_QUOTA });
    const items = makeItems(RECORDS, (id) => `key-${id % KEYS}`, 22, 16);
    const reshard = reshardAsDeliveriesGrow(emu, RECORDS);
    const options: ToKinesisOptions<Item> = {
      client: kit.client(emu, 'http1'),
      streamName: emu.streamName,
      toRecord,
      lingerMs: 10,
      ...PRODUCER_RATE,
    };
    const run = await collect(
      from(items).pipe(
        toKinesis(options),
        tap((e) => reshard.onEmission(e)),
      ),
    );
    expect(run.error).to.equal(undefined);
    expect(run.completed).to.equal(true);

    expect(reshard.steps).to.have.length(2);
    const accepted = new Map(emu.stats().shards.map((s) => [s.shardId, s.accepted]));
    for (const child of [SHARD(4), SHARD(5), SHARD(6)])
      expect(accepted.get(child), child).to.be.greaterThan(0);
    checkEveryItemDeliveredOnce(run.emissions, items);
    checkEmissions(run.emissions, emu.records);
    const sent = expected(items);
    expect(emu.missing(sent)).to.deep.equal([]);
    expect(emu.duplicates(sent).count).to.equal(0);
  });

  it('loses nothing while ListShards fails during the refresh a split calls for', async () => {
    const emu = await kit.emulator({ shards: 4, quotas: EMULATOR_QUOTA });
    // One attempt per call: every ListShards failure reaches the producer instead of the SDK's retry loop.
    const client = kit.client(emu, 'http1', 1);
    const items = makeItems(20_000, randomKey, 23, 16);
    const emissions: PutRecordsEmission<Item>[] = [];
    let delivered = 0;
    const producer = new KinesisProducer<Item>(
      {
        client,
        streamName: emu.streamName,
        toRecord,
        lingerMs: 10,
        shardRecordsPerSecond: 1_000,
      },
      (e) => {
        emissions.push(e);
        for (const r of e.response.Records ?? []) if (r.SequenceNumber !== undefined) delivered++;
      },
    );
    const feeding = (async () => {
      for (const item of items) await producer.put(item);
    })();

    await until(() => delivered >= 2_000, '2,000 deliveries');
    // From now on ListShards answers 500 (PutRecords is untouched), and shard 0 splits: the producer's map is
    // stale, its refreshes fail and back off.
    emu.setFaults({ operations: ['ListShards'], requestFailureRate: 1 });
    emu.splitShard(SHARD(0));
    await until(() => emu.stats().faults.requestFailures >= 2, 'two failed ListShards calls');
    const deliveredWhileFailing = delivered;
    await sleep(300);
    expect(delivered, 'writes go on while ListShards fails').to.be.greaterThan(deliveredWhileFailing);
    emu.setFaults({ requestFailureRate: 0 });

    await feeding;
    await producer.end();

    expect(emu.stats().faults.requestFailures).to.be.at.least(2);
    expect(emu.stats().requests.errors.InternalFailure).to.be.at.least(2);
    const accepted = new Map(emu.stats().shards.map((s) => [s.shardId, s.accepted]));
    for (const child of [SHARD(4), SHARD(5)]) expect(accepted.get(child), child).to.be.greaterThan(0);
    checkEveryItemDeliveredOnce(emissions, items);
    checkEmissions(emissions, emu.records);
    const sent = expected(items);
    expect(emu.missing(sent)).to.deep.equal([]);
    expect(emu.duplicates(sent).count).to.equal(0);
  });
});
