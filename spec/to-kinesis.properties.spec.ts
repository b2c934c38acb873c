import { expect } from 'chai';
import fc from 'fast-check';
import { from, Observable, tap, type Subscription } from 'rxjs';
import {
  InvalidRecordError,
  KinesisSinkError,
  toKinesis,
  type PutRecordsEmission,
  type ToKinesisOptions,
} from '../src/index.js';
import {
  entryBytes,
  fatalError,
  FakeKinesis,
  MAX_HASH_KEY,
  networkError,
  seededRandom,
  serverError,
  throttleError,
  type RecordOutcome,
} from './support/fake-kinesis.js';
import { bytesOf, itemsFromSpecs, toRecord, type Item } from './support/fixtures.js';
import { withVirtualTime, type VirtualScheduler } from './support/virtual-time.js';

const STREAM = 'prop-stream';

/**
 * A failing property shrinks its counterexample, re-running the pipeline many times: stop that early enough
 * to report it, before mocha's timeout leaves a virtual scheduler installed for the specs that follow.
 */
const REPORT_IN_TIME = { interruptAfterTimeLimit: 40_000, markInterruptAsFailure: true };

/** A record: mostly valid, sometimes an empty key or too large for the (arbitrary) maxRecordBytes. */
const itemSpec = fc.record({
  key: fc.oneof(
    { weight: 30, arbitrary: fc.constantFrom('hot', 'warm', 'a', 'b', 'c', 'd') },
    { weight: 20, arbitrary: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 8 }) },
    { weight: 1, arbitrary: fc.constant('') },
  ),
  size: fc.oneof(
    { weight: 30, arbitrary: fc.integer({ min: 0, max: 40 }) },
    { weight: 1, arbitrary: fc.integer({ min: 0, max: 800 }) },
  ),
  explicit: fc.option(fc.bigInt({ min: 0n, max: MAX_HASH_KEY }), { freq: 6 }),
});

/** Arrays of up to `max` items, across the whole range rather than fast-check's small default sizes. */
const itemSpecs = (max: number) => fc.array(itemSpec, { maxLength: max, size: 'max' });

/** Emits `items` in chunks of `chunk`, `gapMs` of virtual time apart (or all at once when gapMs is 0). */
function source(items: Item[], chunk: number, gapMs: number, scheduler: VirtualScheduler): Observable<Item> {
  if (gapMs === 0) return from(items);
  return new Observable<Item>((subscriber) => {
    let next = 0;
    let timer: Subscription | undefined;
    const emit = () => {
      for (const end = Math.min(items.length, next + chunk); next < end && !subscriber.closed; next++) {
        subscriber.next(items[next]);
      }
      if (subscriber.closed) return; // left mid-chunk: schedule nothing more
      if (next >= items.length) subscriber.complete();
      else timer = scheduler.schedule(emit, gapMs);
    };
    emit();
    return () => timer?.unsubscribe();
  });
}

interface Outcome<T> {
  emissions: PutRecordsEmission<T>[];
  error: unknown;
  completed: boolean;
}

/** Runs a pipeline to its end in virtual time. */
async function runVirtual<T>(scheduler: VirtualScheduler, observable: Observable<PutRecordsEmission<T>>) {
  const outcome: Outcome<T> = { emissions: [], error: undefined, completed: false };
  let done = false;
  const subscription = observable.subscribe({
    next: (e) => outcome.emissions.push(e),
    error: (e) => {
      outcome.error = e;
      done = true;
    },
    complete: () => {
      outcome.completed = done = true;
    },
  });
  try {
    await scheduler.runUntil(() => done);
  } finally {
    subscription.unsubscribe();
  }
  return outcome;
}

/** A seeded per-record failure policy: `rate` of entries fail, half throttled, half InternalFailure. */
function recordFailures(seed: number, rate: number): (ctx: unknown) => RecordOutcome {
  const random = seededRandom(seed);
  return () => {
    const r = random();
    if (r >= rate) return 'ok';
    return r < rate / 2 ? 'ProvisionedThroughputExceededException' : 'InternalFailure';
  };
}

/** A seeded request-error policy: `rate` of requests fail with a retryable error of some kind. */
function requestErrors(seed: number, rate: number, fatalAt = -1): (ctx: { request: number }) => unknown {
  const random = seededRandom(seed ^ 0x5bd1e995);
  const kinds = [serverError, throttleError, networkError];
  return ({ request }) => {
    if (request === fatalAt)
      return fatalError(['ResourceNotFoundException', 'AccessDeniedException'][request % 2]);
    const r = random();
    return r < rate ? kinds[Math.floor((r / rate) * kinds.length)]() : undefined;
  };
}

const config = fc.record({
  shards: fc.integer({ min: 1, max: 5 }),
  maxBatchRecords: fc.oneof(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 1, max: 500 })),
  maxRecordBytes: fc.integer({ min: 64, max: 700 }),
  extraBatchBytes: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 4000 })),
  maxAttempts: fc.integer({ min: 1, max: 6 }),
  lingerMs: fc.integer({ min: 0, max: 50 }),
  maxInFlightRequests: fc.integer({ min: 1, max: 8 }),
  failureRate: fc.double({ min: 0, max: 0.6, noNaN: true }),
  requestErrorRate: fc.double({ min: 0, max: 0.3, noNaN: true }),
  seed: fc.integer(),
});

describe('toKinesis (properties, fake Kinesis, virtual time)', () => {
  it('(a) emissions line up by index, and (c) no request passes maxBatchRecords or maxBatchBytes', async () => {
    await fc.assert(
      fc.asyncProperty(config, itemSpecs(250), fc.boolean(), async (c, specs, quotasOn) => {
        await withVirtualTime(async (scheduler) => {
          const items = itemsFromSpecs(specs);
          const fake = new FakeKinesis({
            shards: c.shards,
            streamName: STREAM,
            now: () => scheduler.now(),
            records: recordFailures(c.seed, c.failureRate),
            requests: requestErrors(c.seed, c.requestErrorRate),
          });
          const maxBatchBytes = c.maxRecordBytes + c.extraBatchBytes;
          const invalid: Item[] = [];
          const options: ToKinesisOptions<Item> = {
            client: fake.client,
            streamName: STREAM,
            toRecord,
            scheduler,
            random: seededRandom(c.seed),
            maxBatchRecords: c.maxBatchRecords,
            maxRecordBytes: c.maxRecordBytes,
            maxBatchBytes,
            maxAttempts: c.maxAttempts,
            lingerMs: c.lingerMs,
            maxInFlightRequests: c.maxInFlightRequests,
            retryBaseDelayMs: 1,
            retryMaxDelayMs: 20,
            onInvalidRecord: (e) => invalid.push(e.item),
            ...(quotasOn
              ? { shardRecordsPerSecond: 200, shardBytesPerSecond: 20_000 }
              : { shardRecordsPerSecond: Infinity, shardBytesPerSecond: Infinity }),
          };
          const outcome = await runVirtual(scheduler, from(items).pipe(toKinesis(options)));

          if (!outcome.completed) {
            // Only request errors outlasting maxAttempts may end it.
            expect(outcome.error).to.be.instanceOf(KinesisSinkError);
            expect((outcome.error as KinesisSinkError).code).to.equal('RETRIES_EXHAUSTED');
          }
          expect(invalid).to.deep.equal(items.filter((i) => i.key === '' || bytesOf(i) > c.maxRecordBytes));

          // (c) every request within the limits, as Kinesis would count them.
          expect(fake.violations).to.deep.equal([]);
          for (const r of fake.requests) {
            const entries = r.input.Records!;
            expect(entries.length).to.be.within(1, c.maxBatchRecords);
            expect(entries.reduce((sum, e) => sum + entryBytes(e), 0)).to.be.at.most(maxBatchBytes);
          }

          // (a) one emission per answered request, in answer order, exactly as sent and received.
          const byData = new Map(items.map((i) => [i.data, i]));
          const answered = fake.requests.filter((r) => r.outcome === 'response');
          expect(outcome.emissions.map((e) => e.request)).to.have.members(answered.map((r) => r.input));
          expect(outcome.emissions).to.have.length(answered.length);
          const sends = new Map<Item, number>();
          const sendsUpTo = new Map<number, Map<Item, number>>();
          for (const r of fake.requests) {
            for (const e of r.input.Records!) {
              const item = byData.get(e.Data!)!;
              sends.set(item, (sends.get(item) ?? 0) + 1);
            }
            sendsUpTo.set(r.index, new Map(sends));
          }
          const lastAttempt = new Map<Item, number>();
          for (const e of outcome.emissions) {
            const request = fake.requests.find((r) => r.input === e.request)!;
            expect(e.response).to.equal(request.response);
            const n = e.request.Records!.length;
            expect(e.items).to.have.length(n);
            expect(e.attempts).to.have.length(n);
            expect(e.retrying).to.have.length(n);
            expect(e.response.Records).to.have.length(n);
            e.items.forEach((item, i) => {
              const entry = e.request.Records![i];
              expect(entry.Data).to.equal(item.data);
              expect(entry.PartitionKey).to.equal(item.key);
              expect(entry.ExplicitHashKey).to.equal(item.explicitHashKey);
              // attempts[i] counts every send of the item so far, errored requests included.
              expect(e.attempts[i]).to.equal(sendsUpTo.get(request.index)!.get(item));
              expect(e.attempts[i]).to.be.greaterThan(lastAttempt.get(item) ?? 0);
              lastAttempt.set(item, e.attempts[i]);
              const result = e.response.Records![i];
              const retryable = result.ErrorCode !== undefined && e.attempts[i] < c.maxAttempts;
              if (outcome.completed) expect(e.retrying[i]).to.equal(retryable);
              // Once the pipeline is failing (RETRIES_EXHAUSTED), failed entries are not retried any more.
              else if (e.retrying[i]) expect(retryable).to.equal(true);
              if (result.SequenceNumber !== undefined) expect(result.ShardId).to.equal(request.shardIds[i]);
            });
          }
          if (outcome.completed) {
            // Every valid item was finally delivered or finally failed.
            const finals = outcome.emissions.flatMap((e) => e.items.filter((_, i) => !e.retrying[i]));
            expect(finals).to.have.members(items.filter((i) => !invalid.includes(i)));
          }
          expect(scheduler.pending).to.equal(0);
        });
      }),
      { numRuns: 50, ...REPORT_IN_TIME },
    );
  });

  it('(b) every item the source emitted ends exactly once, whatever fails and when', async () => {
    await fc.assert(
      fc.asyncProperty(
        config,
        itemSpecs(200),
        fc.record({
          fatalAt: fc.oneof(fc.constant(-1), fc.integer({ min: 0, max: 12 })),
          reportInvalid: fc.boolean(),
          maxBufferedRecords: fc.oneof(fc.constant(200_000), fc.integer({ min: 1, max: 150 })),
          chunk: fc.integer({ min: 1, max: 40 }),
          gapMs: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 200 })),
        }),
        async (c, specs, s) => {
          await withVirtualTime(async (scheduler) => {
            const items = itemsFromSpecs(specs);
            const fake = new FakeKinesis({
              shards: c.shards,
              streamName: STREAM,
              records: recordFailures(c.seed, c.failureRate),
              requests: requestErrors(c.seed, c.requestErrorRate, s.fatalAt),
            });
            const emitted: Item[] = [];
            const reported: Item[] = [];
            const outcome = await runVirtual(
              scheduler,
              source(items, s.chunk, s.gapMs, scheduler).pipe(
                tap((item) => emitted.push(item)),
                toKinesis({
                  client: fake.client,
                  streamName: STREAM,
                  toRecord,
                  scheduler,
                  random: seededRandom(c.seed),
                  maxBatchRecords: c.maxBatchRecords,
                  maxRecordBytes: c.maxRecordBytes,
                  maxBatchBytes: c.maxRecordBytes + c.extraBatchBytes,
                  maxAttempts: c.maxAttempts,
                  lingerMs: c.lingerMs,
                  maxInFlightRequests: c.maxInFlightRequests,
                  maxBufferedRecords: s.maxBufferedRecords,
                  retryBaseDelayMs: 1,
                  retryMaxDelayMs: 20,
                  onInvalidRecord: s.reportInvalid ? (e) => reported.push(e.item) : undefined,
                }),
              ),
            );

            const ends = new Map<Item, string[]>();
            const end = (item: Item, how: string) => ends.set(item, [...(ends.get(item) ?? []), how]);
            for (const e of outcome.emissions) {
              e.items.forEach((item, i) => {
                const r = e.response.Records![i];
                if (r.SequenceNumber !== undefined) end(item, 'delivered');
                else if (!e.retrying[i]) end(item, `failed ${r.ErrorCode}`);
              });
            }
            for (const item of reported) end(item, 'reported invalid');
            const error = outcome.error;
            if (outcome.completed) {
              expect(error).to.equal(undefined);
            } else if (error instanceof InvalidRecordError) {
              expect(s.reportInvalid).to.equal(false);
              end(error.item as Item, 'invalid');
            } else {
              expect(error, String(error)).to.be.instanceOf(KinesisSinkError);
              for (const item of (error as KinesisSinkError<Item>).unsent) {
                end(item, `unsent (${(error as KinesisSinkError).code})`);
              }
            }

            const emittedSet = new Set(emitted);
            expect(emittedSet.size).to.equal(emitted.length);
            for (const item of items) {
              const how = ends.get(item) ?? [];
              if (emittedSet.has(item)) {
                expect(how, `item ${item.id}: ${how.join(', ') || 'lost'}; ${String(error)}`).to.have.length(
                  1,
                );
              } else {
                expect(how, `item ${item.id} was never emitted`).to.deep.equal([]);
              }
            }
            // Kinesis holds exactly the delivered items, once each.
            const stored = fake.allStored.map((r) => r.data);
            const delivered = [...ends]
              .filter(([, how]) => how[0] === 'delivered')
              .map(([item]) => item.data);
            expect(stored).to.have.members(delivered);
            expect(scheduler.pending).to.equal(0);
          });
        },
      ),
      { numRuns: 50, ...REPORT_IN_TIME },
    );
  });

  it('(d) no shard is written faster than its records/s and bytes/s quotas, burst included', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          shards: fc.integer({ min: 1, max: 4 }),
          recordsPerSecond: fc.integer({ min: 20, max: 400 }),
          bytesPerSecond: fc.integer({ min: 3_000, max: 40_000 }),
          burstMs: fc.integer({ min: 20, max: 1000 }),
          maxBatchRecords: fc.integer({ min: 1, max: 500 }),
          lingerMs: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 100 })),
          throttleRate: fc.double({ min: 0, max: 0.3, noNaN: true }),
          seed: fc.integer(),
        }),
        fc.array(
          fc.record({
            key: fc.oneof(
              { weight: 4, arbitrary: fc.constant('hot') },
              { weight: 3, arbitrary: fc.string({ minLength: 1, maxLength: 6 }) },
            ),
            size: fc.integer({ min: 0, max: 300 }),
            explicit: fc.constant(null),
          }),
          { minLength: 1, maxLength: 250, size: 'max' },
        ),
        async (c, specs) => {
          await withVirtualTime(async (scheduler) => {
            const items = itemsFromSpecs(specs);
            const maxRecordBytes = 400;
            const fake = new FakeKinesis({
              shards: c.shards,
              streamName: STREAM,
              now: () => scheduler.now(),
              records: recordFailures(c.seed, c.throttleRate),
            });
            const outcome = await runVirtual(
              scheduler,
              from(items).pipe(
                toKinesis({
                  client: fake.client,
                  streamName: STREAM,
                  toRecord,
                  scheduler,
                  random: seededRandom(c.seed),
                  shardRecordsPerSecond: c.recordsPerSecond,
                  shardBytesPerSecond: c.bytesPerSecond,
                  shardBurstMs: c.burstMs,
                  maxRecordBytes,
                  maxBatchRecords: c.maxBatchRecords,
                  lingerMs: c.lingerMs,
                  retryBaseDelayMs: 1,
                  retryMaxDelayMs: 50,
                }),
              ),
            );
            expect(outcome.completed, String(outcome.error)).to.equal(true);

            // What each shard received, and when: every send counts, throttled ones too, except those that
            // failed with InternalFailure — Kinesis did not take them, so the producer refunds their tokens
            // (and may send that much more).
            const arrivals = new Map<string, { at: number; bytes: number }[]>();
            for (const r of fake.requests) {
              r.input.Records!.forEach((e, i) => {
                if (r.response?.Records?.[i]?.ErrorCode === 'InternalFailure') return;
                const list = arrivals.get(r.shardIds[i]) ?? [];
                list.push({ at: r.at, bytes: entryBytes(e) });
                arrivals.set(r.shardIds[i], list);
              });
            }
            // The buckets: burstMs of each rate. A record larger than the bytes bucket is admitted alone from
            // a full one and the excess is paid back after, so a window may hold that excess on top.
            const recordBurst = Math.max(1, Math.ceil((c.recordsPerSecond * c.burstMs) / 1000));
            const byteBurst = Math.max(1, Math.ceil((c.bytesPerSecond * c.burstMs) / 1000));
            const largest = Math.max(...items.map(bytesOf));
            const overshoot = Math.max(0, largest - byteBurst);
            // Tokens are taken as records join the request being collected, which is sent up to lingerMs
            // later: what arrives within a second was admitted within 1 s + lingerMs. With lingerMs 0 this is
            // exactly the quota plus the burst; a linger lets up to rate·lingerMs more arrive in a second.
            const seconds = (1000 + c.lingerMs) / 1000;
            const maxRecords = Math.floor(c.recordsPerSecond * seconds) + recordBurst;
            const maxBytes = Math.floor(c.bytesPerSecond * seconds) + byteBurst + overshoot;
            for (const [shardId, list] of arrivals) {
              for (const { at: t } of list) {
                const window = list.filter((a) => a.at >= t && a.at < t + 1000);
                const records = window.length;
                const bytes = window.reduce((sum, a) => sum + a.bytes, 0);
                const where = `${shardId}, [${t}, ${t + 1000})`;
                expect(records, `records in ${where}`).to.be.at.most(maxRecords);
                expect(bytes, `bytes in ${where}`).to.be.at.most(maxBytes);
              }
            }
          });
        },
      ),
      { numRuns: 40, ...REPORT_IN_TIME },
    );
  });
});
