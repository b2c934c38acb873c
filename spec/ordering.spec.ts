import { expect } from 'chai';
import fc from 'fast-check';
import { from, type Observable } from 'rxjs';
import {
  KinesisSinkError,
  toKinesis,
  type KinesisRecordInput,
  type PutRecordsEmission,
  type ToKinesisOptions,
} from '../src/index.js';
import {
  collect,
  EmulatorKit,
  expected,
  finalOutcomes,
  makeItems,
  toRecord,
  type Item,
} from './support/emulator-kit.js';
import {
  FakeKinesis,
  MAX_HASH_KEY,
  networkError,
  seededRandom,
  serverError,
  throttleError,
  type RecordOutcome,
} from './support/fake-kinesis.js';
import { withVirtualTime, type VirtualScheduler } from './support/virtual-time.js';
import { start } from './support/run.js';

const STREAM = 'ordering-stream';

interface KeyedItem {
  readonly id: number;
  readonly key: string;
  readonly explicitHashKey: string | undefined;
  readonly data: Uint8Array;
}

const keyedRecord = (item: KeyedItem): KinesisRecordInput =>
  item.explicitHashKey === undefined
    ? { PartitionKey: item.key, Data: item.data }
    : { PartitionKey: item.key, Data: item.data, ExplicitHashKey: item.explicitHashKey };

/** What `ordering: 'per-key'` keeps in order: records of one ExplicitHashKey when given, else of one partition key. */
const orderKeyOf = (item: KeyedItem) =>
  item.explicitHashKey === undefined ? item.key : `#${item.explicitHashKey}`;

async function runVirtual<T>(scheduler: VirtualScheduler, observable: Observable<PutRecordsEmission<T>>) {
  const run = start(observable);
  try {
    await scheduler.runUntil(() => run.done);
  } finally {
    run.subscription.unsubscribe();
  }
  return run;
}

/** Ids must rise: returns the first pair out of order, or undefined. */
function firstInversion(ids: readonly number[]): [number, number] | undefined {
  for (let i = 1; i < ids.length; i++) if (ids[i] < ids[i - 1]) return [ids[i - 1], ids[i]];
  return undefined;
}

const requestErrorKinds = { server: serverError, throttle: throttleError, network: networkError };

const scenario = fc.record({
  specs: fc.array(
    fc.record({
      key: fc.constantFrom('a', 'b', 'c', 'd', 'e'),
      // A few shared hash keys, so records of different partition keys share an ExplicitHashKey.
      explicit: fc.option(fc.constantFrom(0n, 1n << 126n, (1n << 127n) + 5n, MAX_HASH_KEY), { freq: 4 }),
    }),
    { minLength: 1, maxLength: 120, size: 'max' },
  ),
  /** Each PutRecords entry's fate, cycling through this pattern. */
  recordPattern: fc.array(
    fc.oneof(
      { weight: 3, arbitrary: fc.constant<RecordOutcome>('ok') },
      {
        weight: 1,
        arbitrary: fc.constantFrom<RecordOutcome>(
          'InternalFailure',
          'ProvisionedThroughputExceededException',
        ),
      },
    ),
    { minLength: 1, maxLength: 40 },
  ),
  /** Each request's fate (answered, or a retryable error), cycling through this pattern. */
  requestPattern: fc.array(
    fc.oneof(
      { weight: 4, arbitrary: fc.constant(undefined) },
      {
        weight: 1,
        arbitrary: fc.constantFrom<keyof typeof requestErrorKinds>('server', 'throttle', 'network'),
      },
    ),
    { minLength: 1, maxLength: 20 },
  ),
  shards: fc.integer({ min: 1, max: 4 }),
  maxBatchRecords: fc.integer({ min: 1, max: 40 }),
  lingerMs: fc.integer({ min: 0, max: 20 }),
  maxInFlightRequests: fc.integer({ min: 1, max: 6 }),
  maxAttempts: fc.integer({ min: 2, max: 8 }),
  seed: fc.integer(),
});

describe("ordering: 'per-key'", function () {
  this.timeout(120_000);

  it('keeps every key in source order through record failures and request errors, each item ending once (property)', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        await withVirtualTime(async (scheduler) => {
          const items: KeyedItem[] = s.specs.map((spec, id) => ({
            id,
            key: spec.key,
            explicitHashKey: spec.explicit === null ? undefined : spec.explicit.toString(),
            data: new TextEncoder().encode(`item-${id}`),
          }));
          const byData = new Map(items.map((i) => [i.data, i]));
          let entry = 0;
          const fake = new FakeKinesis({
            shards: s.shards,
            streamName: STREAM,
            now: () => scheduler.now(),
            records: () => s.recordPattern[entry++ % s.recordPattern.length],
            requests: ({ request }) => {
              const kind = s.requestPattern[request % s.requestPattern.length];
              return kind === undefined ? undefined : requestErrorKinds[kind]();
            },
          });
          const run = await runVirtual(
            scheduler,
            from(items).pipe(
              toKinesis<KeyedItem>({
                client: fake.client,
                streamName: STREAM,
                toRecord: keyedRecord,
                ordering: 'per-key',
                scheduler,
                random: seededRandom(s.seed),
                maxBatchRecords: s.maxBatchRecords,
                lingerMs: s.lingerMs,
                maxInFlightRequests: s.maxInFlightRequests,
                maxAttempts: s.maxAttempts,
                retryBaseDelayMs: 1,
                retryMaxDelayMs: 20,
                shardRecordsPerSecond: Infinity,
                shardBytesPerSecond: Infinity,
              }),
            ),
          );

          // Every item ends exactly once: delivered, finally failed, or unsent (request errors outlasting
          // maxAttempts end the pipeline).
          const ends = finalOutcomes(run.emissions);
          if (!run.completed) {
            expect(run.error).to.be.instanceOf(KinesisSinkError);
            expect((run.error as KinesisSinkError).code).to.equal('RETRIES_EXHAUSTED');
            for (const item of (run.error as KinesisSinkError<KeyedItem>).unsent) {
              ends.set(item, [...(ends.get(item) ?? []), 'unsent']);
            }
          }
          for (const item of items) {
            expect(ends.get(item) ?? [], `item ${item.id}`).to.have.length(1);
          }

          // At most one record of a key is past the gate: no request carries two records of one key, and a
          // key's records are sent in source order (a retry resends the same one).
          const lastSent = new Map<string, number>();
          for (const request of fake.requests) {
            const sent = request.input.Records!.map((e) => byData.get(e.Data!)!);
            const keys = sent.map(orderKeyOf);
            expect(new Set(keys).size, `request ${request.index}: ${keys.join(' ')}`).to.equal(keys.length);
            for (const item of sent) {
              expect(item.id).to.be.at.least(lastSent.get(orderKeyOf(item)) ?? -1);
              lastSent.set(orderKeyOf(item), item.id);
            }
          }

          // For every key, first successful deliveries follow source order: in the emissions...
          const deliveredInOrder = new Map<string, number[]>();
          for (const e of run.emissions) {
            e.items.forEach((item, i) => {
              if (e.response.Records![i].SequenceNumber === undefined) return;
              const key = orderKeyOf(item);
              deliveredInOrder.set(key, [...(deliveredInOrder.get(key) ?? []), item.id]);
            });
          }
          for (const [key, ids] of deliveredInOrder) {
            expect(firstInversion(ids), `key ${key}: ${ids.join(' ')}`).to.equal(undefined);
          }
          // ...and in the stream, by sequence number.
          const stored = fake.allStored.sort((a, b) => (a.sequenceNumber < b.sequenceNumber ? -1 : 1));
          const storedInOrder = new Map<string, number[]>();
          for (const r of stored) {
            const item = byData.get(r.data)!;
            const key = orderKeyOf(item);
            storedInOrder.set(key, [...(storedInOrder.get(key) ?? []), item.id]);
          }
          expect(storedInOrder).to.deep.equal(deliveredInOrder);
          expect(scheduler.pending).to.equal(0);
        });
      }),
      { numRuns: 100 },
    );
  });

  it("lets other keys' records flow while one key's record keeps failing", async () => {
    await withVirtualTime(async (scheduler) => {
      let stuckFails = true;
      // One shard: the failing key's records share the shard, its lane and its requests with every other key.
      const fake = new FakeKinesis({
        shards: 1,
        streamName: STREAM,
        now: () => scheduler.now(),
        records: ({ entry }) => (entry.PartitionKey === 'stuck' && stuckFails ? 'InternalFailure' : 'ok'),
      });
      // 5 records of 'stuck' spread among 200 records of 10 other keys.
      const items: KeyedItem[] = Array.from({ length: 205 }, (_, id) => ({
        id,
        key: id % 41 === 0 ? 'stuck' : `other-${id % 10}`,
        explicitHashKey: undefined,
        data: new TextEncoder().encode(`item-${id}`),
      }));
      const stuck = items.filter((i) => i.key === 'stuck');
      const others = items.filter((i) => i.key !== 'stuck');
      expect(stuck).to.have.length(5);

      const run = start(
        from(items).pipe(
          toKinesis<KeyedItem>({
            client: fake.client,
            streamName: STREAM,
            toRecord: keyedRecord,
            ordering: 'per-key',
            scheduler,
            random: seededRandom(7),
            lingerMs: 5,
            retryBaseDelayMs: 2,
            retryMaxDelayMs: 4,
            maxAttempts: 10_000,
            recordTtlMs: 1e9,
          }),
        ),
      );
      const deliveredOf = (subset: readonly KeyedItem[]) => {
        const wanted = new Set(subset);
        return [...finalOutcomes(run.emissions)].filter(
          ([item, how]) => wanted.has(item) && how[0] === 'delivered',
        );
      };
      try {
        // Virtual time: the others need about 20 rounds of linger; 10 s would mean they waited for 'stuck'.
        await scheduler.runUntil(() => deliveredOf(others).length === others.length, { maxTime: 10_000 });

        // Every other key's records are through; 'stuck' is still on its first record, retrying.
        expect(deliveredOf(stuck)).to.deep.equal([]);
        const stuckSends = fake.requests
          .flatMap((r) => r.input.Records!)
          .filter((e) => e.PartitionKey === 'stuck');
        expect(stuckSends.length, 'sends of the stuck record so far').to.be.at.least(5);
        expect(
          stuckSends.every((e) => e.Data === stuck[0].data),
          'only the first stuck record was sent',
        ).to.equal(true);
        const lastEmission = run.emissions[run.emissions.length - 1];
        const stuckAt = lastEmission.items.indexOf(stuck[0]);
        expect(stuckAt === -1 || lastEmission.retrying[stuckAt]).to.equal(true);
        expect(run.done).to.equal(false);

        // Once the key recovers, its records follow, in order.
        stuckFails = false;
        await scheduler.runUntil(() => run.done);
        expect(run.completed).to.equal(true);
        const stuckDelivered = fake.allStored.filter((r) => r.partitionKey === 'stuck').map((r) => r.data);
        expect(stuckDelivered).to.deep.equal(stuck.map((i) => i.data));
      } finally {
        run.subscription.unsubscribe();
      }
    });
  });

  describe('on the emulator, 10% of records failing', () => {
    const kit = new EmulatorKit();
    afterEach(() => kit.close());

    const KEYS = 100;
    const PER_KEY = 20;

    async function runWith(ordering: 'none' | 'per-key') {
      const emu = await kit.emulator({
        shards: 4,
        quotas: false,
        faults: { seed: 5, recordFailureRate: 0.1 },
      });
      const items = makeItems(KEYS * PER_KEY, (id) => `device-${id % KEYS}`, 3);
      const options: ToKinesisOptions<Item> = {
        client: kit.client(emu, 'http1'),
        streamName: emu.streamName,
        toRecord,
        ordering,
        lingerMs: 5,
        retryBaseDelayMs: 10,
        retryMaxDelayMs: 50,
        maxAttempts: 50,
        shardRecordsPerSecond: Infinity,
        shardBytesPerSecond: Infinity,
      };
      const run = await collect(from(items).pipe(toKinesis(options)));
      expect(run.error).to.equal(undefined);
      const sent = expected(items);
      expect(emu.missing(sent)).to.deep.equal([]);
      expect(emu.duplicates(sent).count).to.equal(0); // no resets injected: nothing can land twice
      expect(emu.stats().faults.recordFailures).to.be.greaterThan(KEYS * PER_KEY * 0.05);
      return emu.orderViolations(sent);
    }

    it("'per-key' lands every key's records in source order", async () => {
      expect(await runWith('per-key')).to.deep.equal([]);
    });

    it("'none' does reorder keys (so the check above can fail)", async () => {
      expect((await runWith('none')).length).to.be.greaterThan(0);
    });
  });
});
