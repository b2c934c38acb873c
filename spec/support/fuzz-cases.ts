/**
 * Test support for the bad-input fuzzing spec: the oracle (which items are bad and why, from the documented
 * rules, not from the code under test) and the fast-check arbitraries of valid, bad and edge records.
 */
import fc from 'fast-check';
import { MAX_HASH_KEY, type InvalidRecordReason } from '../../src/index.js';

export const EXPLICIT_HASH_KEY = /^(0|[1-9][0-9]{0,38})$/;
export const RECORD_FIELDS = ['PartitionKey', 'Data', 'ExplicitHashKey'];

// ---------------------------------------------------------------------------------------------------------
// The oracle

/** The bytes Kinesis gets for `Data`, or undefined where `Data` is no bytes at all. */
export function bytesOf(data: unknown): Uint8Array | undefined {
  if (typeof data === 'string') return data.isWellFormed() ? Buffer.from(data, 'utf8') : undefined;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return undefined;
}

/** Every documented rule the record breaks (empty: it is valid). */
export function reasonsFor(record: unknown, maxRecordBytes: number): Set<InvalidRecordReason> {
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

export const MAX_RECORD_BYTES = [64, 300, 1024] as const;

export const loneSurrogate = fc.constantFrom('\uD800', '\uDBFF', '\uDC00', '\uDFFF', '\uD83D');
/** Inserts a lone surrogate somewhere in `s`. */
export const withLoneSurrogate = (s: fc.Arbitrary<string>) =>
  fc
    .tuple(s, loneSurrogate, fc.nat())
    .map(
      ([text, lone, at]) => text.slice(0, at % (text.length + 1)) + lone + text.slice(at % (text.length + 1)),
    );

export const validKey = fc.oneof(
  fc.string({ minLength: 1, maxLength: 24 }),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }),
  fc.constantFrom('k', 'device-7', 'ключ', '🔑'),
  fc.string({ minLength: 250, maxLength: 256 }),
  // At the limit: 256 UTF-16 code units, as Kinesis counts them (128 astral characters are 256 units).
  fc.integer({ min: 240, max: 256 }).map((n) => 'k'.repeat(n)),
  fc.constant('🔑'.repeat(128)),
);

/** Data in every accepted form: strings, Buffers, Uint8Arrays, other views (with offsets), ArrayBuffers. */
export const dataOf = (maxBytes: number) =>
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

export const validHashKey = fc.oneof(
  fc.bigInt({ min: 0n, max: MAX_HASH_KEY }).map(String),
  fc.constantFrom('0', MAX_HASH_KEY.toString()),
);

/** A valid record, as a fresh object. */
export const validRecord = (maxBytes: number) =>
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

export const wrongType = fc.oneof(
  fc.constantFrom(null, undefined, true, false, 0, -1, NaN, Infinity, '', 'a string', Symbol('item'), 10n),
  fc.integer(),
  fc.string(),
  fc.array(fc.anything(), { maxLength: 3 }),
  fc.func(fc.anything()),
  fc.anything(),
);

export const badKey = fc.oneof(
  fc.constant(''),
  fc.string({ minLength: 257, maxLength: 400 }),
  fc.integer({ min: 257, max: 270 }).map((n) => 'k'.repeat(n)),
  fc.constant('🔑'.repeat(128) + 'k'),
  fc.string({ unit: 'grapheme', minLength: 129, maxLength: 200 }).filter((s) => s.length > 256),
  withLoneSurrogate(fc.string({ maxLength: 10 })),
  fc.constantFrom(null, 42, true, ['k'], { k: 1 }, 5n),
  fc.uint8Array({ maxLength: 4 }).map((a) => Buffer.from(a)),
);

export const badData = (maxBytes: number) =>
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

export const badHashKey = fc.oneof(
  fc.constantFrom('', '-1', '01', '00', '1.0', '1e5', ' 1', '1 ', '+1', '0x10', 'abc', '١٢٣', '1_000', 'NaN'),
  // Out of range: 2^128 .. 10^39 − 1 (39 digits, still well-formed).
  fc.bigInt({ min: MAX_HASH_KEY + 1n, max: 10n ** 39n - 1n }).map(String),
  // 40 digits or more: malformed.
  fc.bigInt({ min: 10n ** 39n, max: 10n ** 60n }).map(String),
  fc.constantFrom(5, 0, 1.5, true, 5n, {}),
);

/** A valid record broken in one or more ways, or an item of the wrong shape altogether. */
export const badRecord = (maxBytes: number): fc.Arbitrary<unknown> =>
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
export const edgeRecord = (maxBytes: number): fc.Arbitrary<unknown> =>
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

export interface Case {
  maxRecordBytes: number;
  items: unknown[];
  /** The items wrapped: `toRecord` unwraps them, throwing for some. */
  wrapped: boolean;
  api: 'toKinesis' | 'putAll';
}

/** A source item: the record itself, or a wrapper `toRecord` unwraps (and may throw on). */
export interface Wrapper {
  readonly record: unknown;
  readonly throws: boolean;
}

export const caseArb: fc.Arbitrary<Case> = fc
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
