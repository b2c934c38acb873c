/**
 * Bad-input fuzzing: fast-check mixes valid records with every kind of bad item (wrong types, missing
 * fields, empty and over-long keys, lone surrogates, oversize data, malformed and out-of-range
 * ExplicitHashKeys, throwing getters and `toRecord`s) and runs them through `toKinesis()` and `putAll()` on
 * the fake client.
 *
 * Which items are bad, and why, is decided by an oracle written from the documented rules (README, "What
 * it does"), not by the code under test. Where an item breaks several rules, any of their reasons is right.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { from, tap, type Observable } from 'rxjs';
import {
  InvalidRecordError,
  MAX_HASH_KEY,
  putAll,
  toKinesis,
  type InvalidRecordReason,
  type KinesisRecordInput,
  type PutRecordsEmission,
  type ToKinesisOptions,
} from '../src/index.js';
import { FakeKinesis } from './support/fake-kinesis.js';
import { type Case, type Wrapper, bytesOf, caseArb, reasonsFor } from './support/fuzz-cases.js';

const STREAM = 'fuzz-stream';
const QUOTAS_OFF = { shardRecordsPerSecond: Infinity, shardBytesPerSecond: Infinity } as const;

// ---------------------------------------------------------------------------------------------------------
// Running

/** Reasons the item should be refused for (empty: valid). */
function reasonsOfItem(c: Case, item: unknown): Set<InvalidRecordReason> {
  if (!c.wrapped) return reasonsFor(item, c.maxRecordBytes);
  const w = item as Wrapper;
  return w.throws ? new Set(['TO_RECORD_FAILED']) : reasonsFor(w.record, c.maxRecordBytes);
}

const unwrap = (w: Wrapper): KinesisRecordInput => {
  if (w.throws) throw new RangeError('toRecord refuses');
  return w.record as KinesisRecordInput;
};

interface Outcome {
  emissions: PutRecordsEmission<unknown>[];
  error: unknown;
  completed: boolean;
  pulled: number;
  reported: unknown[];
  fake: FakeKinesis;
}

async function run(c: Case, withHandler: boolean): Promise<Outcome> {
  const fake = new FakeKinesis({ streamName: STREAM, shards: 3 });
  const outcome: Outcome = {
    emissions: [],
    error: undefined,
    completed: false,
    pulled: 0,
    reported: [],
    fake,
  };
  // Garbage on purpose: `unknown` items with an optional toRecord, which the types rightly refuse.
  const options = {
    client: fake.client,
    streamName: STREAM,
    maxRecordBytes: c.maxRecordBytes,
    lingerMs: 0,
    ...QUOTAS_OFF,
    ...(c.wrapped ? { toRecord: (w: unknown) => unwrap(w as Wrapper) } : {}),
    ...(withHandler ? { onInvalidRecord: (e: InvalidRecordError) => void outcome.reported.push(e) } : {}),
  } as ToKinesisOptions<unknown>;
  let observable: Observable<PutRecordsEmission<unknown>>;
  if (c.api === 'toKinesis') {
    observable = from(c.items).pipe(
      tap(() => outcome.pulled++),
      toKinesis(options),
    );
  } else {
    observable = putAll(
      (function* () {
        for (const item of c.items) {
          outcome.pulled++;
          yield item;
        }
      })(),
      options,
    );
  }
  await new Promise<void>((resolve) =>
    observable.subscribe({
      next: (e) => outcome.emissions.push(e),
      error: (e) => {
        outcome.error = e;
        resolve();
      },
      complete: () => {
        outcome.completed = true;
        resolve();
      },
    }),
  );
  return outcome;
}

/** Items delivered per the emissions, each with how many times. */
function deliveries(emissions: readonly PutRecordsEmission<unknown>[]): Map<unknown, number> {
  const delivered = new Map<unknown, number>();
  for (const e of emissions) {
    e.items.forEach((item, i) => {
      if (e.response.Records![i].SequenceNumber !== undefined)
        delivered.set(item, (delivered.get(item) ?? 0) + 1);
    });
  }
  return delivered;
}

/** The entry sent for a valid item carries exactly its key, bytes and hash key. */
function checkSentAsGiven(c: Case, emissions: readonly PutRecordsEmission<unknown>[]): void {
  for (const e of emissions) {
    e.items.forEach((item, i) => {
      const record = (c.wrapped ? (item as Wrapper).record : item) as KinesisRecordInput;
      const entry = e.request.Records![i];
      expect(entry.PartitionKey).to.equal(record.PartitionKey);
      expect(Buffer.from(entry.Data!).equals(Buffer.from(bytesOf(record.Data)!))).to.equal(true);
      expect(entry.ExplicitHashKey).to.equal(record.ExplicitHashKey ?? undefined);
    });
  }
}

/** Checks a refusal: typed, naming the item, for one of the reasons it breaks, with a data-free message. */
function checkRefusal(c: Case, error: unknown, item: unknown): void {
  expect(error).to.be.instanceOf(InvalidRecordError);
  const e = error as InvalidRecordError;
  expect(Object.is(e.item, item), 'error.item is the bad item itself').to.equal(true);
  expect(e.name).to.equal('InvalidRecordError');
  expect([...reasonsOfItem(c, item)]).to.include(e.reason);
  expect(e.message).to.be.a('string').and.not.equal('');
  if (e.reason === 'TO_RECORD_FAILED') expect(e.cause).to.be.instanceOf(Error);
}

/** Collects unhandled rejections and uncaught exceptions while installed. */
function trapStrayErrors() {
  const stray: unknown[] = [];
  const onRejection = (reason: unknown) => stray.push(reason);
  const onException = (error: unknown) => stray.push(error);
  return {
    stray,
    install() {
      process.on('unhandledRejection', onRejection);
      process.on('uncaughtException', onException);
    },
    uninstall() {
      process.off('unhandledRejection', onRejection);
      process.off('uncaughtException', onException);
    },
  };
}

/** Lets rejections nobody handled surface (Node reports them after the microtask queue drains). */
const aTurnOfTheLoop = () => new Promise((resolve) => setImmediate(resolve));

describe('bad-input fuzzing', function () {
  this.timeout(120_000);
  const trap = trapStrayErrors();
  beforeEach(() => trap.install());
  afterEach(() => trap.uninstall());

  it('the oracle itself tells valid from invalid on known examples', () => {
    const ok = { PartitionKey: 'k', Data: 'x' };
    expect([...reasonsFor(ok, 64)]).to.deep.equal([]);
    expect([...reasonsFor(null, 64)]).to.deep.equal(['NOT_AN_OBJECT']);
    expect([...reasonsFor({ ...ok, PartitionKey: 'k'.repeat(257) }, 1024)]).to.deep.equal([
      'PARTITION_KEY_TOO_LONG',
    ]);
    expect([...reasonsFor({ ...ok, Data: 'x'.repeat(64) }, 64)]).to.deep.equal(['RECORD_TOO_LARGE']); // 64 + 1
    expect([...reasonsFor({ ...ok, Data: 'x'.repeat(63) }, 64)]).to.deep.equal([]);
    expect([...reasonsFor({ ...ok, ExplicitHashKey: (MAX_HASH_KEY + 1n).toString() }, 64)]).to.deep.equal([
      'EXPLICIT_HASH_KEY_OUT_OF_RANGE',
    ]);
    expect([...reasonsFor({ ...ok, ExplicitHashKey: '01' }, 64)]).to.deep.equal([
      'EXPLICIT_HASH_KEY_MALFORMED',
    ]);
  });

  it('with onInvalidRecord: every bad item reported once, typed and named; every valid item delivered once', async () => {
    let bad = 0;
    let valid = 0;
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        const outcome = await run(c, true);
        await aTurnOfTheLoop();
        expect(trap.stray, 'unhandled rejections / uncaught exceptions').to.deep.equal([]);
        expect(outcome.error, String(outcome.error)).to.equal(undefined);
        expect(outcome.completed).to.equal(true);

        const badItems = c.items.filter((item) => reasonsOfItem(c, item).size > 0);
        const validItems = c.items.filter((item) => reasonsOfItem(c, item).size === 0);
        bad += badItems.length;
        valid += validItems.length;
        // Reported in source order, each bad item exactly once, nothing else.
        expect(outcome.reported).to.have.length(badItems.length);
        outcome.reported.forEach((error, i) => checkRefusal(c, error, badItems[i]));

        // Every valid item delivered exactly once, as given; nothing else reached Kinesis.
        const delivered = deliveries(outcome.emissions);
        expect(delivered.size).to.equal(validItems.length);
        for (const item of validItems) expect(delivered.get(item)).to.equal(1);
        expect(outcome.fake.allStored).to.have.length(validItems.length);
        expect(outcome.fake.violations).to.deep.equal([]);
        checkSentAsGiven(c, outcome.emissions);
      }),
      { numRuns: 300 },
    );
    // The generators really mix both kinds.
    expect(bad).to.be.greaterThan(500);
    expect(valid).to.be.greaterThan(500);
  });

  it("without onInvalidRecord: errors with the first bad item's InvalidRecordError after the valid ones before it; sends nothing after", async () => {
    let stopped = 0;
    await fc.assert(
      fc.asyncProperty(caseArb, async (c) => {
        const outcome = await run(c, false);
        await aTurnOfTheLoop();
        expect(trap.stray, 'unhandled rejections / uncaught exceptions').to.deep.equal([]);
        const firstBad = c.items.findIndex((item) => reasonsOfItem(c, item).size > 0);
        const before = firstBad === -1 ? c.items : c.items.slice(0, firstBad);

        if (firstBad === -1) {
          expect(outcome.completed).to.equal(true);
        } else {
          stopped++;
          expect(outcome.completed).to.equal(false);
          checkRefusal(c, outcome.error, c.items[firstBad]);
          // The source was left at the bad item: nothing after it was even pulled.
          expect(outcome.pulled).to.equal(firstBad + 1);
        }
        // Everything before it delivered exactly once; nothing else sent.
        const delivered = deliveries(outcome.emissions);
        expect(delivered.size).to.equal(before.length);
        for (const item of before) expect(delivered.get(item)).to.equal(1);
        const sent = outcome.fake.requests.flatMap((r) => r.input.Records!);
        expect(sent).to.have.length(before.length);
        expect(outcome.fake.allStored).to.have.length(before.length);
        checkSentAsGiven(c, outcome.emissions);
      }),
      { numRuns: 300 },
    );
    expect(stopped).to.be.greaterThan(100);
  });

  it('the 1 MiB default: a record of exactly 1 MiB (data + key) is delivered, one byte more is refused', async () => {
    const fake = new FakeKinesis({ streamName: STREAM });
    const fits = { PartitionKey: 'kk', Data: new Uint8Array(1024 * 1024 - 2) };
    const over = { PartitionKey: 'kk', Data: new Uint8Array(1024 * 1024 - 1) };
    const overByKey = { PartitionKey: 'kké', Data: new Uint8Array(1024 * 1024 - 3) }; // the key is 4 bytes
    const reported: InvalidRecordError[] = [];
    const emissions: PutRecordsEmission<unknown>[] = [];
    await new Promise<void>((resolve, reject) =>
      from([fits, over, overByKey])
        .pipe(
          toKinesis({
            client: fake.client,
            streamName: STREAM,
            lingerMs: 0,
            onInvalidRecord: (e) => reported.push(e),
          }),
        )
        .subscribe({ next: (e) => emissions.push(e), error: reject, complete: resolve }),
    );
    expect(reported.map((e) => [e.reason, e.item])).to.deep.equal([
      ['RECORD_TOO_LARGE', over],
      ['RECORD_TOO_LARGE', overByKey],
    ]);
    expect([...deliveries(emissions).keys()]).to.deep.equal([fits]);
    expect(fake.violations).to.deep.equal([]);
    expect(trap.stray).to.deep.equal([]);
  });
});
