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

const STREAM = 'fuzz-stream';
const QUOTAS_OFF = { shardRecordsPerSecond: Infinity, shardBytesPerSecond: Infinity } as const;
const EXPLICIT_HASH_KEY = /^(0|[1-9][0-9]{0,38})$/;
const RECORD_FIELDS = ['PartitionKey', 'Data', 'ExplicitHashKey'];

// ---------------------------------------------------------------------------------------------------------
// The oracle

/** The bytes Kinesis gets for `Data`, or undefined where `Data` is no bytes at all. */
function bytesOf(data: unknown): Uint8Array | undefined {
  if (typeof data === 'string') return data.isWellFormed() ? Buffer.from(data, 'utf8') : undefined;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return undefined;
}

/** Every documented rule the record breaks (empty: it is valid). */
function reasonsFor(record: unknown, maxRecordBytes: number): Set<InvalidRecordReason> {
  const reasons = new Set<InvalidRecordReason>();
  if (record === null || typeof record !== 'object' || Array.isArray(record)) {
    return reasons.add('NOT_AN_OBJECT');
  }
  let key: unknown, data: unknown, explicit: unknown;
  try {
    ({ PartitionKey: key, Data: data, ExplicitHashKey: explicit } = record as Record<string, unknown>);
  } catch {
    return reasons.add('TO_RECORD_FAILED'); // a getter threw: reading the record failed
  }
  if (typeof key !== 'string') reasons.add('PARTITION_KEY_NOT_A_STRING');
  else {
    if (key.length === 0) reasons.add('PARTITION_KEY_EMPTY');
    if (key.length > 256) reasons.add('PARTITION_KEY_TOO_LONG');
    if (!key.isWellFormed()) reasons.add('PARTITION_KEY_NOT_UNICODE');
  }
  const bytes = bytesOf(data);
  if (bytes === undefined) reasons.add('DATA_NOT_BYTES');
  if (
    typeof key === 'string' &&
    bytes !== undefined &&
    bytes.byteLength + Buffer.byteLength(key) > maxRecordBytes
  ) {
    reasons.add('RECORD_TOO_LARGE');
  }
  if (explicit !== undefined && explicit !== null) {
    if (typeof explicit !== 'string' || !EXPLICIT_HASH_KEY.test(explicit))
      reasons.add('EXPLICIT_HASH_KEY_MALFORMED');
    else if (BigInt(explicit) > MAX_HASH_KEY) reasons.add('EXPLICIT_HASH_KEY_OUT_OF_RANGE');
  }
  return reasons;
}

// ---------------------------------------------------------------------------------------------------------
// Arbitraries

const MAX_RECORD_BYTES = [64, 300, 1024] as const;

const loneSurrogate = fc.constantFrom('\uD800', '\uDBFF', '\uDC00', '\uDFFF', '\uD83D');
/** Inserts a lone surrogate somewhere in `s`. */
const withLoneSurrogate = (s: fc.Arbitrary<string>) =>
  fc
    .tuple(s, loneSurrogate, fc.nat())
    .map(
      ([text, lone, at]) => text.slice(0, at % (text.length + 1)) + lone + text.slice(at % (text.length + 1)),
    );

const validKey = fc.oneof(
  fc.string({ minLength: 1, maxLength: 24 }),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }),
  fc.constantFrom('k', 'device-7', 'ключ', '🔑'),
  fc.string({ minLength: 250, maxLength: 256 }),
  // At the limit: 256 UTF-16 code units, as Kinesis counts them (128 astral characters are 256 units).
  fc.integer({ min: 240, max: 256 }).map((n) => 'k'.repeat(n)),
  fc.constant('🔑'.repeat(128)),
);

/** Data in every accepted form: strings, Buffers, Uint8Arrays, other views (with offsets), ArrayBuffers. */
const dataOf = (maxBytes: number) =>
  fc.oneof(
    fc.string({ maxLength: Math.floor(maxBytes / 4) }),
    fc.uint8Array({ maxLength: Math.floor(maxBytes / 2) }),
    fc.uint8Array({ maxLength: Math.floor(maxBytes / 2) }).map((a) => Buffer.from(a)),
    fc
      .tuple(fc.integer({ min: 0, max: 8 }), fc.integer({ min: 0, max: Math.floor(maxBytes / 8) }))
      .map(([offset, n]) => new Int16Array(new ArrayBuffer(offset * 2 + n * 2 + 6), offset * 2, n).fill(-2)),
    fc
      .tuple(fc.integer({ min: 0, max: 8 }), fc.uint8Array({ maxLength: Math.floor(maxBytes / 2) }))
      .map(([offset, bytes]) => {
        const buffer = new ArrayBuffer(offset + bytes.length + 3);
        new Uint8Array(buffer, offset).set(bytes);
        return new DataView(buffer, offset, bytes.length);
      }),
    fc.uint8Array({ maxLength: Math.floor(maxBytes / 2) }).map((a) => a.slice().buffer),
  );

const validHashKey = fc.oneof(
  fc.bigInt({ min: 0n, max: MAX_HASH_KEY }).map(String),
  fc.constantFrom('0', MAX_HASH_KEY.toString()),
);

/** A valid record, as a fresh object. */
const validRecord = (maxBytes: number) =>
  fc
    .record(
      {
        PartitionKey: validKey,
        Data: dataOf(maxBytes),
        ExplicitHashKey: fc.option(validHashKey, { nil: undefined }),
      },
      { requiredKeys: ['PartitionKey', 'Data'] },
    )
    .filter((r) => reasonsFor(r, maxBytes).size === 0);

const wrongType = fc.oneof(
  fc.constantFrom(null, undefined, true, false, 0, -1, NaN, Infinity, '', 'a string', Symbol('item'), 10n),
  fc.integer(),
  fc.string(),
  fc.array(fc.anything(), { maxLength: 3 }),
  fc.func(fc.anything()),
  fc.anything(),
);

const badKey = fc.oneof(
  fc.constant(''),
  fc.string({ minLength: 257, maxLength: 400 }),
  fc.integer({ min: 257, max: 270 }).map((n) => 'k'.repeat(n)),
  fc.constant('🔑'.repeat(128) + 'k'),
  fc.string({ unit: 'grapheme', minLength: 129, maxLength: 200 }).filter((s) => s.length > 256),
  withLoneSurrogate(fc.string({ maxLength: 10 })),
  fc.constantFrom(null, 42, true, ['k'], { k: 1 }, 5n),
  fc.uint8Array({ maxLength: 4 }).map((a) => Buffer.from(a)),
);

const badData = (maxBytes: number) =>
  fc.oneof(
    withLoneSurrogate(fc.string({ maxLength: 10 })),
    fc.constantFrom(null, 42, true, 5n),
    fc.array(fc.integer({ min: 0, max: 255 }), { maxLength: 4 }),
    fc.constant({ type: 'Buffer', data: [1, 2, 3] }), // a Buffer after JSON.stringify
    // Oversize, by a margin of 1 byte or more (the key's bytes count too).
    fc.integer({ min: 1, max: 64 }).map((extra) => new Uint8Array(maxBytes + extra)),
    fc.integer({ min: 0, max: 64 }).map((extra) => 'x'.repeat(maxBytes + extra)),
    fc.integer({ min: 0, max: 8 }).map((extra) => 'é'.repeat(Math.floor(maxBytes / 2) + extra)),
  );

const badHashKey = fc.oneof(
  fc.constantFrom('', '-1', '01', '00', '1.0', '1e5', ' 1', '1 ', '+1', '0x10', 'abc', '١٢٣', '1_000', 'NaN'),
  // Out of range: 2^128 .. 10^39 − 1 (39 digits, still well-formed).
  fc.bigInt({ min: MAX_HASH_KEY + 1n, max: 10n ** 39n - 1n }).map(String),
  // 40 digits or more: malformed.
  fc.bigInt({ min: 10n ** 39n, max: 10n ** 60n }).map(String),
  fc.constantFrom(5, 0, 1.5, true, 5n, {}),
);

/** A valid record broken in one or more ways, or an item of the wrong shape altogether. */
const badRecord = (maxBytes: number): fc.Arbitrary<unknown> =>
  fc.oneof(
    wrongType,
    validRecord(maxBytes).chain((r) =>
      fc.oneof(
        fc.constant({ Data: r.Data }), // no PartitionKey
        fc.constant({ PartitionKey: r.PartitionKey }), // no Data
        fc.constant({}),
        badKey.map((PartitionKey) => ({ ...r, PartitionKey })),
        badData(maxBytes).map((Data) => ({ ...r, Data })),
        badHashKey.map((ExplicitHashKey) => ({ ...r, ExplicitHashKey })),
        fc.tuple(badKey, badData(maxBytes), badHashKey).map(([PartitionKey, Data, ExplicitHashKey]) => ({
          PartitionKey,
          Data,
          ExplicitHashKey,
        })),
        // Reading it throws.
        fc.constant(
          Object.defineProperty({ Data: r.Data }, 'PartitionKey', {
            enumerable: true,
            get: () => {
              throw new Error('getter failed');
            },
          }),
        ),
        fc.constant(
          new Proxy(
            {},
            {
              get: (target, property) => {
                if (typeof property === 'string' && RECORD_FIELDS.includes(property)) {
                  throw new TypeError('proxy refuses');
                }
                return Reflect.get(target, property);
              },
            },
          ),
        ),
      ),
    ),
  );

/**
 * Records at the edges of the limits, neither filtered nor built to be bad: the oracle alone says which
 * side of each limit they are on (so a wrong oracle shows up here too).
 */
const edgeRecord = (maxBytes: number): fc.Arbitrary<unknown> =>
  fc
    .record({
      keyLength: fc.oneof(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 252, max: 260 })),
      astral: fc.boolean(),
      // Data that makes the record this many bytes more than the limit (−3 … +2).
      overBy: fc.integer({ min: -3, max: 2 }),
      hashKey: fc.option(fc.bigInt({ min: MAX_HASH_KEY - 2n, max: MAX_HASH_KEY + 2n }), { nil: undefined }),
    })
    .map(({ keyLength, astral, overBy, hashKey }) => {
      const key = astral ? '🔑'.repeat(keyLength >> 1) + 'k'.repeat(keyLength & 1) : 'k'.repeat(keyLength);
      return {
        PartitionKey: key,
        Data: new Uint8Array(Math.max(0, maxBytes - Buffer.byteLength(key) + overBy)),
        ...(hashKey === undefined ? {} : { ExplicitHashKey: hashKey.toString() }),
      };
    });

interface Case {
  maxRecordBytes: number;
  items: unknown[];
  /** The items wrapped: `toRecord` unwraps them, throwing for some. */
  wrapped: boolean;
  api: 'toKinesis' | 'putAll';
}

/** A source item: the record itself, or a wrapper `toRecord` unwraps (and may throw on). */
interface Wrapper {
  readonly record: unknown;
  readonly throws: boolean;
}

const caseArb: fc.Arbitrary<Case> = fc
  .record({
    maxRecordBytes: fc.constantFrom(...MAX_RECORD_BYTES),
    wrapped: fc.boolean(),
    api: fc.constantFrom<Case['api']>('toKinesis', 'putAll'),
    seed: fc.nat(),
  })
  .chain(({ maxRecordBytes, wrapped, api }) =>
    fc
      .array(
        fc.oneof(
          { weight: 3, arbitrary: validRecord(maxRecordBytes) as fc.Arbitrary<unknown> },
          { weight: 2, arbitrary: badRecord(maxRecordBytes) },
          { weight: 1, arbitrary: edgeRecord(maxRecordBytes) },
        ),
        { maxLength: 40, size: 'max' },
      )
      .chain((records) =>
        wrapped
          ? fc
              .array(fc.boolean(), { minLength: records.length, maxLength: records.length })
              .map((flags) =>
                records.map((record, i): Wrapper => ({ record, throws: flags[i] && i % 5 === 0 })),
              )
          : fc.constant(records),
      )
      .map((items) => ({ maxRecordBytes, items, wrapped, api })),
  );

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
  const options: ToKinesisOptions<unknown> = {
    client: fake.client,
    streamName: STREAM,
    maxRecordBytes: c.maxRecordBytes,
    lingerMs: 0,
    ...QUOTAS_OFF,
    ...(c.wrapped ? { toRecord: (w) => unwrap(w as Wrapper) } : {}),
    ...(withHandler ? { onInvalidRecord: (e) => void outcome.reported.push(e) } : {}),
  };
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
          toKinesis<unknown>({
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
