/**
 * The accounting invariant under every fault the emulator knows, mixed at random: whichever API feeds the
 * pipeline (`toKinesis`, `putAll`, `KinesisProducer`), with or without per-key ordering and aggregation,
 * each input item ends exactly once — delivered, finally failed (in an emission, not retrying), invalid, or
 * in a `KinesisSinkError`'s `unsent` — and the pipeline always ends.
 *
 * CI runs a bounded number of cases (well under a minute); `RX_KINESIS_ACCOUNTING_RUNS=500 npx mocha
 * spec/accounting.properties.spec.ts` runs more; `npm run soak` runs 300 after the fault soak.
 */
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { expect } from 'chai';
import fc from 'fast-check';
import { from, type Observable } from 'rxjs';
import {
  KinesisProducer,
  KinesisSinkError,
  putAll,
  toKinesis,
  type InvalidRecordError,
  type KinesisEmission,
  type ToKinesisOptions,
} from '../src/index.js';
import { startEmulator, type FaultOptions, type KinesisEmulator } from '../src/testing/index.js';
import { makeItems, toRecord, type Item } from './support/emulator-kit.js';

const RUNS = Number(process.env.RX_KINESIS_ACCOUNTING_RUNS ?? 24);

/** A random mix of every fault kind; request-level rates sum to at most 0.6. */
const faultMix = fc
  .record({
    seed: fc.integer({ min: 1, max: 1_000_000 }),
    stallRate: fc.constantFrom(0, 0, 0.05, 0.15),
    slowAnswerRate: fc.constantFrom(0, 0, 0.05, 0.1),
    slowAnswerMs: fc.constantFrom(20, 400),
    garbledBodyRate: fc.constantFrom(0, 0.05, 0.1),
    headerResetRate: fc.constantFrom(0, 0.05, 0.1),
    shortResponseRate: fc.constantFrom(0, 0.05, 0.1),
    resetRate: fc.constantFrom(0, 0.05),
    requestFailureRate: fc.constantFrom(0, 0.05),
    requestThrottleRate: fc.constantFrom(0, 0.05),
    emptyEntryRate: fc.constantFrom(0, 0.02, 0.1),
    recordFailureRate: fc.constantFrom(0, 0.05, 0.3),
    listShardsThrottleRate: fc.constantFrom(0, 0, 0.3),
    listShardsFailures: fc.integer({ min: 0, max: 2 }),
    resourceInUseMs: fc.constantFrom(0, 0, 150),
    gap: fc.constantFrom(false, false, false, true), // a hash range no listed shard covers
  })
  .map(({ gap, ...faults }) => ({ faults, gap }));

const shape = fc.record({
  api: fc.constantFrom('toKinesis', 'putAll', 'producer' as const),
  ordering: fc.constantFrom('none', 'per-key' as const),
  aggregation: fc.boolean(),
  n: fc.integer({ min: 20, max: 120 }),
  invalidEvery: fc.constantFrom(0, 7, 13),
  maxAttempts: fc.integer({ min: 2, max: 5 }),
  keys: fc.constantFrom(5, 1000),
});

type Ends = Map<Item, string[]>;
const end = (ends: Ends, item: Item, how: string) => ends.set(item, [...(ends.get(item) ?? []), how]);

/** Final outcomes from the emissions, plain or aggregated. */
function emissionEnds(emissions: readonly KinesisEmission<Item>[], ends: Ends): void {
  for (const e of emissions) {
    e.response.Records!.forEach((result, i) => {
      const items = e.aggregated ? e.items[i] : [e.items[i]];
      const retrying = e.aggregated ? e.retrying[i] : [e.retrying[i]];
      items.forEach((item, j) => {
        if (retrying[j]) return;
        if (result.SequenceNumber !== undefined) end(ends, item, 'delivered');
        else if (result.ErrorCode !== undefined) end(ends, item, `failed ${result.ErrorCode}`);
        else end(ends, item, 'NEITHER'); // outside the contract
      });
    });
  }
}

/** Runs one pipeline to its end; returns what was offered and how each item ended. */
async function runOnce(
  api: 'toKinesis' | 'putAll' | 'producer',
  items: Item[],
  options: ToKinesisOptions<Item, boolean>,
): Promise<{ offered: Item[]; ends: Ends; error: unknown }> {
  const ends: Ends = new Map();
  const emissions: KinesisEmission<Item>[] = [];
  const onInvalidRecord = (e: InvalidRecordError<Item>) => end(ends, e.item, 'invalid');
  const o = { ...options, onInvalidRecord } as ToKinesisOptions<Item, boolean>;
  let error: unknown;
  let offered = items;
  if (api === 'producer') {
    const producer = new KinesisProducer<Item, boolean>(o, (e) => emissions.push(e as KinesisEmission<Item>));
    offered = [];
    for (const item of items) {
      if (!producer.accepting) break; // the caller still holds the rest: never taken
      offered.push(item);
      await producer.put(item).catch((e: unknown) => (error ??= e));
    }
    await producer.end().catch((e: unknown) => (error = e));
  } else {
    const observable = (
      api === 'toKinesis' ? from(items).pipe(toKinesis(o)) : putAll(items, o)
    ) as Observable<KinesisEmission<Item>>;
    await new Promise<void>((resolve) =>
      observable.subscribe({
        next: (e) => emissions.push(e),
        error: (e: unknown) => ((error = e), resolve()),
        complete: () => resolve(),
      }),
    );
  }
  emissionEnds(emissions, ends);
  if (error instanceof KinesisSinkError) for (const item of error.unsent as Item[]) end(ends, item, 'unsent');
  return { offered, ends, error };
}

describe('accounting under every fault kind (property, emulator)', function () {
  this.timeout(RUNS > 24 ? 0 : 120_000);
  let emu: KinesisEmulator;
  let client: KinesisClient;
  let streams = 0;

  before(async () => {
    emu = await startEmulator({ shards: 1, keepRecords: false, quotas: false });
    client = new KinesisClient({
      endpoint: emu.endpoint,
      region: emu.region,
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
      maxAttempts: 1, // every fault reaches the pipeline, not the SDK's retry loop
    });
  });
  after(async () => {
    client.destroy();
    await emu.close();
  });

  it(`property (${RUNS} runs): each item ends exactly once — delivered, failed, invalid or unsent — and the pipeline ends`, async () => {
    await fc.assert(
      fc.asyncProperty(faultMix, shape, async ({ faults, gap }, s) => {
        const streamName = `acct-${++streams}`;
        emu.createStream(streamName, 2);
        const off: FaultOptions = { unlistedShards: [] };
        emu.setFaults({ ...off, ...faults });
        if (gap) {
          const [, high] = emu.splitShard('shardId-000000000001', undefined, streamName);
          emu.setFaults({ unlistedShards: [high] });
        }
        const items = makeItems(s.n, (id, random) => `k${Math.floor(random() * s.keys)}`, faults.seed);
        if (s.invalidEvery > 0) {
          for (let i = 0; i < items.length; i += s.invalidEvery) items[i] = { ...items[i], key: '' };
        }
        const options: ToKinesisOptions<Item, boolean> = {
          client,
          streamName,
          toRecord,
          ordering: s.ordering,
          ...(s.aggregation ? { aggregation: { enabled: true } } : {}),
          maxAttempts: s.maxAttempts,
          maxBatchRecords: 10,
          lingerMs: 2,
          retryBaseDelayMs: 2,
          retryMaxDelayMs: 20,
          requestTimeoutMs: 150,
          recordTtlMs: 1_500,
        };
        const began = performance.now();
        const { offered, ends, error } = await runOnce(s.api, items, options);
        emu.setFaults({ stallRate: 0, slowAnswerRate: 0, resourceInUseMs: 0, unlistedShards: [] });
        if (error !== undefined) expect(error, String(error)).to.be.instanceOf(KinesisSinkError);
        const wrong = offered
          .filter((item) => ends.get(item)?.length !== 1 || ends.get(item)![0] === 'NEITHER')
          .map((item) => `${item.id}: ${ends.get(item)?.join(',') ?? 'no end'}`);
        expect(wrong, `api ${s.api}, ${JSON.stringify(faults)}, gap ${gap}`).to.deep.equal([]);
        // Nothing beyond the offered items ended (no stray, no item counted for another).
        expect([...ends.keys()].filter((item) => !offered.includes(item))).to.deep.equal([]);
        // Bounded: the TTL plus one deadline and backoff, with slack for a loaded machine.
        expect(performance.now() - began).to.be.below(10_000);
      }),
      {
        numRuns: RUNS,
        ...(RUNS > 24 ? {} : { interruptAfterTimeLimit: 90_000, markInterruptAsFailure: true }),
      },
    );
  });
});
