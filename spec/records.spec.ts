import { createHash } from 'node:crypto';
import { expect } from 'chai';
import fc from 'fast-check';
import {
  checkMaxRecordBytes,
  DEFAULT_MAX_RECORD_BYTES,
  InvalidRecordError,
  MAX_HASH_KEY,
  MAX_PARTITION_KEY_LENGTH,
  MAX_RECORD_BYTES_CEILING,
  prepareRecord,
  type InvalidRecordReason,
  type RecordLimits,
} from '../src/kinesis/records.js';

/** A data string distinctive enough that finding it in an error message means the data leaked. */
const SECRET = 'zq-SECRET-payload-9f27c1';
/** 2^128 − 1 written out, independently of MAX_HASH_KEY. */
const TOP = '340282366920938463463374607431768211455';
const TWO_TO_128 = '340282366920938463463374607431768211456';

/** MD5 of the key's UTF-8 bytes as an unsigned 128-bit big-endian integer, computed without hashKeyOf. */
function md5HashKey(key: string): bigint {
  const digest = createHash('md5').update(Buffer.from(key, 'utf8')).digest();
  return (digest.readBigUInt64BE(0) << 64n) | digest.readBigUInt64BE(8);
}

/** Whether a string survives UTF-8 (i.e. has no lone surrogate), independently of the code under test. */
function isWellFormed(s: string): boolean {
  return Buffer.from(s, 'utf8').toString('utf8') === s;
}

function bytesOf(u: Uint8Array): number[] {
  return Array.from(u);
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  expect.fail('expected an error to be thrown');
}

/** Asserts prepareRecord refuses `item` with `reason`, carrying the item and a data-free message. */
function expectRefused(
  item: unknown,
  reason: InvalidRecordReason,
  options: { limits?: RecordLimits; mentions?: readonly string[] } = {},
): InvalidRecordError {
  const error = thrown(() => prepareRecord(item, options.limits));
  expect(error).to.be.instanceOf(InvalidRecordError);
  expect(error).to.be.instanceOf(Error);
  const e = error as InvalidRecordError;
  expect(e.name).to.equal('InvalidRecordError');
  expect(e.reason).to.equal(reason);
  expect(Object.is(e.item, item), 'error.item is the input itself').to.equal(true);
  expect(e.message).to.be.a('string').and.not.equal('');
  expect(e.message).not.to.include(SECRET);
  for (const m of options.mentions ?? []) expect(e.message).to.include(m);
  return e;
}

describe('prepareRecord', () => {
  describe('inputs that are not records', () => {
    const notObjects: Array<[string, unknown]> = [
      ['null', null],
      ['undefined', undefined],
      ['a number', 42],
      ['NaN', NaN],
      ['a string', SECRET],
      ['a boolean', true],
      ['a bigint', 5n],
      ['a symbol', Symbol('record')],
      ['a function', () => ({ PartitionKey: 'k', Data: SECRET })],
      ['an empty array', []],
      ['an array holding a record', [{ PartitionKey: 'k', Data: SECRET }]],
    ];
    for (const [label, item] of notObjects) {
      it(`refuses ${label} with NOT_AN_OBJECT`, () => {
        expectRefused(item, 'NOT_AN_OBJECT', { mentions: ['object'] });
      });
    }

    it('refuses any non-object value (property)', () => {
      const nonObject = fc.oneof(
        fc.string(),
        fc.integer(),
        fc.double(),
        fc.boolean(),
        fc.bigInt(),
        fc.constant(null),
        fc.constant(undefined),
        fc.array(fc.anything()),
      );
      fc.assert(
        fc.property(nonObject, (item) => {
          expectRefused(item, 'NOT_AN_OBJECT');
        }),
      );
    });
  });

  describe('PartitionKey', () => {
    const accepts = (key: string) => {
      const r = prepareRecord({ PartitionKey: key, Data: SECRET });
      expect(r.entry.PartitionKey).to.equal(key);
      expect(r.bytes).to.equal(SECRET.length + Buffer.byteLength(key, 'utf8'));
      return r;
    };

    it('refuses a missing or non-string key with PARTITION_KEY_NOT_A_STRING', () => {
      for (const key of [undefined, null, 7, 7n, true, {}, ['k'], Buffer.from('k')]) {
        expectRefused({ PartitionKey: key, Data: SECRET }, 'PARTITION_KEY_NOT_A_STRING', {
          mentions: ['PartitionKey'],
        });
      }
      expectRefused({ Data: SECRET }, 'PARTITION_KEY_NOT_A_STRING');
    });

    it('refuses the empty key (0 characters) with PARTITION_KEY_EMPTY', () => {
      expectRefused({ PartitionKey: '', Data: SECRET }, 'PARTITION_KEY_EMPTY', {
        mentions: ['PartitionKey'],
      });
    });

    it('accepts 1-character keys, ASCII and multi-byte', () => {
      expect(accepts('a').bytes).to.equal(SECRET.length + 1);
      expect(accepts('é').bytes).to.equal(SECRET.length + 2);
      expect(accepts('中').bytes).to.equal(SECRET.length + 3);
    });

    it('accepts 256-character keys, ASCII and multi-byte', () => {
      expect(MAX_PARTITION_KEY_LENGTH).to.equal(256);
      expect(accepts('k'.repeat(256)).bytes).to.equal(SECRET.length + 256);
      expect(accepts('é'.repeat(256)).bytes).to.equal(SECRET.length + 512);
      expect(accepts('中'.repeat(256)).bytes).to.equal(SECRET.length + 768);
      // 128 astral characters are 256 UTF-16 code units (and 512 UTF-8 bytes).
      expect(accepts('😀'.repeat(128)).bytes).to.equal(SECRET.length + 512);
      expect(accepts('k'.repeat(254) + '😀').bytes).to.equal(SECRET.length + 254 + 4);
    });

    it('refuses 257-character keys, ASCII and multi-byte, with PARTITION_KEY_TOO_LONG naming the limit', () => {
      for (const key of ['k'.repeat(257), 'é'.repeat(257), '中'.repeat(257)]) {
        expectRefused({ PartitionKey: key, Data: SECRET }, 'PARTITION_KEY_TOO_LONG', {
          mentions: ['257', '256'],
        });
      }
    });

    it('counts length in UTF-16 code units, so astral characters count twice', () => {
      // 129 code points but 257 code units; and 256 code points but 257 code units.
      expectRefused({ PartitionKey: '😀'.repeat(128) + 'k', Data: SECRET }, 'PARTITION_KEY_TOO_LONG', {
        mentions: ['257', '256'],
      });
      expectRefused({ PartitionKey: 'k'.repeat(255) + '😀', Data: SECRET }, 'PARTITION_KEY_TOO_LONG', {
        mentions: ['257', '256'],
      });
      expectRefused({ PartitionKey: '😀'.repeat(200), Data: SECRET }, 'PARTITION_KEY_TOO_LONG', {
        mentions: ['400', '256'],
      });
    });

    it('refuses lone surrogates with PARTITION_KEY_NOT_UNICODE', () => {
      for (const key of [
        '\uD800',
        '\uDFFF',
        'a\uDC00b',
        'key\uD83D',
        '\uDE00\uD83D',
        'k'.repeat(255) + '\uD83D',
      ]) {
        expectRefused({ PartitionKey: key, Data: SECRET }, 'PARTITION_KEY_NOT_UNICODE', {
          mentions: ['surrogate'],
        });
      }
    });

    it('accepts exactly the well-formed keys of 1..256 code units (property)', () => {
      const key = fc.oneof(
        fc.string({ unit: 'binary', maxLength: 300 }),
        fc.string({ unit: 'grapheme', maxLength: 300 }),
        fc.string({
          unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)),
          maxLength: 300,
        }),
        fc.integer({ min: 250, max: 262 }).map((n) => 'k'.repeat(n)),
      );
      fc.assert(
        fc.property(key, (k) => {
          const item = { PartitionKey: k, Data: SECRET };
          if (k.length === 0) expectRefused(item, 'PARTITION_KEY_EMPTY');
          else if (k.length > 256) expectRefused(item, 'PARTITION_KEY_TOO_LONG', { mentions: ['256'] });
          else if (!isWellFormed(k)) expectRefused(item, 'PARTITION_KEY_NOT_UNICODE');
          else expect(prepareRecord(item).entry.PartitionKey).to.equal(k);
        }),
      );
    });
  });

  describe('record size (data bytes + UTF-8 key bytes)', () => {
    const dataOf = (n: number) => SECRET + 'x'.repeat(n - SECRET.length);

    it('accepts a record of the default limit (1 MiB) − 1 and at it, refuses +1 with RECORD_TOO_LARGE', () => {
      const limit = DEFAULT_MAX_RECORD_BYTES;
      expect(limit).to.equal(1024 * 1024);
      expect(prepareRecord({ PartitionKey: 'k', Data: dataOf(limit - 2) }).bytes).to.equal(limit - 1);
      expect(prepareRecord({ PartitionKey: 'k', Data: dataOf(limit - 1) }).bytes).to.equal(limit);
      expectRefused({ PartitionKey: 'k', Data: dataOf(limit) }, 'RECORD_TOO_LARGE', {
        mentions: [String(limit), String(limit + 1)],
      });
    });

    it('counts the partition key in UTF-8 bytes, not characters', () => {
      const limit = DEFAULT_MAX_RECORD_BYTES;
      // '中' is 1 character but 3 bytes; '😀' is 2 code units but 4 bytes.
      expect(prepareRecord({ PartitionKey: '中', Data: dataOf(limit - 3) }).bytes).to.equal(limit);
      expectRefused({ PartitionKey: '中', Data: dataOf(limit - 2) }, 'RECORD_TOO_LARGE', {
        mentions: [String(limit)],
      });
      expect(prepareRecord({ PartitionKey: '😀', Data: dataOf(limit - 4) }).bytes).to.equal(limit);
      expectRefused({ PartitionKey: '😀', Data: dataOf(limit - 3) }, 'RECORD_TOO_LARGE', {
        mentions: [String(limit)],
      });
    });

    it('counts string data in UTF-8 bytes', () => {
      const limits = { maxRecordBytes: 100 };
      // 49 × 'é' = 98 bytes, + 'kk' = 100.
      expect(prepareRecord({ PartitionKey: 'kk', Data: 'é'.repeat(49) }, limits).bytes).to.equal(100);
      // 50 × 'é' = 100 bytes, + 'k' = 101, although it is only 51 characters.
      expectRefused({ PartitionKey: 'k', Data: 'é'.repeat(50) }, 'RECORD_TOO_LARGE', {
        limits,
        mentions: ['100', '101'],
      });
    });

    it('applies a custom maxRecordBytes at −1, at and +1', () => {
      for (const limit of [1, 2, 64, 1000, 3 * 1024 * 1024, MAX_RECORD_BYTES_CEILING]) {
        const limits = { maxRecordBytes: limit };
        const key = 'k';
        const data = (n: number) => new Uint8Array(n);
        if (limit >= 2)
          expect(prepareRecord({ PartitionKey: key, Data: data(limit - 2) }, limits).bytes).to.equal(
            limit - 1,
          );
        expect(prepareRecord({ PartitionKey: key, Data: data(limit - 1) }, limits).bytes).to.equal(limit);
        const e = expectRefused({ PartitionKey: key, Data: data(limit) }, 'RECORD_TOO_LARGE', {
          limits,
          mentions: [String(limit), String(limit + 1)],
        });
        expect(e.message).to.match(new RegExp(`limit is ${limit}\\b`));
      }
    });

    it('a key alone can exceed a small limit', () => {
      expectRefused({ PartitionKey: 'k'.repeat(11), Data: '' }, 'RECORD_TOO_LARGE', {
        limits: { maxRecordBytes: 10 },
        mentions: ['10', '11'],
      });
    });

    it('the message never contains the data, whatever its form', () => {
      const limits = { maxRecordBytes: 8 };
      for (const data of [SECRET, Buffer.from(SECRET), new TextEncoder().encode(SECRET)]) {
        expectRefused({ PartitionKey: 'k', Data: data }, 'RECORD_TOO_LARGE', { limits, mentions: ['8'] });
      }
    });

    it('accepts exactly the records whose size is within the limit (property)', () => {
      fc.assert(
        fc.property(
          fc.string({ unit: 'grapheme', minLength: 1, maxLength: 60 }).filter((k) => k.length <= 256),
          fc.integer({ min: 0, max: 600 }),
          fc.integer({ min: 1, max: 800 }),
          (key, dataLength, limit) => {
            const item = { PartitionKey: key, Data: new Uint8Array(dataLength) };
            const size = dataLength + Buffer.byteLength(key, 'utf8');
            const limits = { maxRecordBytes: limit };
            if (size <= limit) expect(prepareRecord(item, limits).bytes).to.equal(size);
            else expectRefused(item, 'RECORD_TOO_LARGE', { limits, mentions: [String(limit), String(size)] });
          },
        ),
      );
    });
  });

  describe('Data', () => {
    it('sends a string as its UTF-8 bytes', () => {
      const s = `${SECRET} héllo € 😀 中`;
      const r = prepareRecord({ PartitionKey: 'k', Data: s });
      expect(r.entry.Data).to.be.instanceOf(Uint8Array);
      expect(bytesOf(r.entry.Data)).to.deep.equal(bytesOf(Buffer.from(s, 'utf8')));
      expect(r.bytes).to.equal(Buffer.byteLength(s, 'utf8') + 1);
    });

    it('accepts the empty string and empty bytes as 0 data bytes', () => {
      expect(prepareRecord({ PartitionKey: 'kk', Data: '' }).bytes).to.equal(2);
      expect(prepareRecord({ PartitionKey: 'kk', Data: new Uint8Array(0) }).bytes).to.equal(2);
    });

    it('takes a Uint8Array as is', () => {
      const data = new Uint8Array([0, 1, 2, 254, 255]);
      const r = prepareRecord({ PartitionKey: 'k', Data: data });
      expect(bytesOf(r.entry.Data)).to.deep.equal([0, 1, 2, 254, 255]);
      expect(r.bytes).to.equal(6);
    });

    it('takes a Buffer, including a slice of a larger one, counting only its own bytes', () => {
      const whole = Buffer.from('0123456789');
      const slice = whole.subarray(3, 7);
      const r = prepareRecord({ PartitionKey: 'k', Data: slice });
      expect(Buffer.from(r.entry.Data).toString()).to.equal('3456');
      expect(r.bytes).to.equal(5);
      expect(prepareRecord({ PartitionKey: 'k', Data: Buffer.from(SECRET) }).bytes).to.equal(
        SECRET.length + 1,
      );
    });

    it('takes other typed arrays, a DataView and an ArrayBuffer as their bytes', () => {
      const buffer = new ArrayBuffer(32);
      const all = new Uint8Array(buffer);
      for (let i = 0; i < all.length; i++) all[i] = i + 100;
      const views: Array<[string, ArrayBufferView | ArrayBuffer, number[]]> = [
        ['Uint16Array', new Uint16Array(buffer, 4, 3), bytesOf(all.subarray(4, 10))],
        ['Int32Array', new Int32Array(buffer, 8, 2), bytesOf(all.subarray(8, 16))],
        ['Float64Array', new Float64Array(buffer, 16, 2), bytesOf(all.subarray(16, 32))],
        ['BigUint64Array', new BigUint64Array(buffer, 8, 1), bytesOf(all.subarray(8, 16))],
        ['Int8Array', new Int8Array(buffer, 1, 5), bytesOf(all.subarray(1, 6))],
        ['Uint8ClampedArray', new Uint8ClampedArray(buffer, 30, 2), bytesOf(all.subarray(30, 32))],
        ['DataView', new DataView(buffer, 5, 7), bytesOf(all.subarray(5, 12))],
        ['Uint8Array subarray', all.subarray(2, 5), bytesOf(all.subarray(2, 5))],
        ['ArrayBuffer', buffer, bytesOf(all)],
      ];
      for (const [label, data, expected] of views) {
        const r = prepareRecord({ PartitionKey: 'kk', Data: data as Uint8Array });
        expect(r.entry.Data, label).to.be.instanceOf(Uint8Array);
        expect(bytesOf(r.entry.Data), label).to.deep.equal(expected);
        expect(r.bytes, label).to.equal(expected.length + 2);
      }
    });

    it('refuses data that is not bytes with DATA_NOT_BYTES', () => {
      const notBytes: unknown[] = [
        42,
        0,
        NaN,
        { secret: SECRET },
        { type: 'Buffer', data: [1, 2, 3] },
        null,
        undefined,
        [1, 2, 3],
        [SECRET],
        true,
        7n,
        () => SECRET,
        new Map([[SECRET, SECRET]]),
        new String(SECRET),
      ];
      for (const data of notBytes) {
        expectRefused({ PartitionKey: 'k', Data: data }, 'DATA_NOT_BYTES', { mentions: ['Data'] });
      }
      expectRefused({ PartitionKey: 'k' }, 'DATA_NOT_BYTES', { mentions: ['Data'] });
    });

    it('refuses string data with a lone surrogate with DATA_NOT_BYTES', () => {
      for (const data of [`${SECRET}\uD800`, '\uDFFF', `\uDE00\uD83D${SECRET}`]) {
        expectRefused({ PartitionKey: 'k', Data: data }, 'DATA_NOT_BYTES', { mentions: ['surrogate'] });
      }
    });
  });

  describe('ExplicitHashKey', () => {
    const withHashKey = (explicit: unknown) => ({
      PartitionKey: 'k',
      Data: SECRET,
      ExplicitHashKey: explicit,
    });

    it("accepts '0', '1' and 2^128 − 1, with hashKey equal to its value", () => {
      expect(MAX_HASH_KEY).to.equal(2n ** 128n - 1n);
      expect(TOP).to.equal(String(2n ** 128n - 1n));
      for (const [explicit, value] of [
        ['0', 0n],
        ['1', 1n],
        [TOP, 2n ** 128n - 1n],
        ['12345678901234567890', 12345678901234567890n],
      ] as const) {
        const r = prepareRecord(withHashKey(explicit));
        expect(r.hashKey).to.equal(value);
        expect(r.entry.ExplicitHashKey).to.equal(explicit);
        expect(r.bytes, 'ExplicitHashKey does not count towards the size').to.equal(SECRET.length + 1);
      }
    });

    it('refuses 2^128 and above with EXPLICIT_HASH_KEY_OUT_OF_RANGE', () => {
      for (const explicit of [TWO_TO_128, String(2n ** 128n + 12345n), '9'.repeat(39)]) {
        expectRefused(withHashKey(explicit), 'EXPLICIT_HASH_KEY_OUT_OF_RANGE', { mentions: ['2^128'] });
      }
    });

    it('refuses malformed keys with EXPLICIT_HASH_KEY_MALFORMED', () => {
      const malformed: unknown[] = [
        '01',
        '00',
        '007',
        '',
        'abc',
        '12a',
        ' 1',
        '1 ',
        '1\n',
        '1.5',
        '1e3',
        '0x10',
        '+1',
        '-1',
        '-0',
        '１', // a fullwidth digit
        '1' + '0'.repeat(39), // 40 digits
        '0' + TOP,
        SECRET,
        5,
        0,
        5n,
        true,
        {},
        ['1'],
      ];
      for (const explicit of malformed) {
        expectRefused(withHashKey(explicit), 'EXPLICIT_HASH_KEY_MALFORMED', {
          mentions: ['ExplicitHashKey'],
        });
      }
    });

    it('uses MD5 of the partition key when ExplicitHashKey is absent', () => {
      const r = prepareRecord({ PartitionKey: 'device-7', Data: SECRET });
      expect(r.hashKey).to.equal(md5HashKey('device-7'));
      expect(r.entry).not.to.have.property('ExplicitHashKey');
      expect(prepareRecord(withHashKey(undefined)).hashKey).to.equal(md5HashKey('k'));
    });

    it('classifies arbitrary digit strings by value (property)', () => {
      // Any number of digits from 1 to 42 (with or without leading zeros), and values around 2^128.
      const digit = fc.constantFrom(...'0123456789');
      const digits = fc
        .integer({ min: 1, max: 42 })
        .chain((n) => fc.string({ unit: digit, minLength: n, maxLength: n }));
      const nearTop = fc.bigInt({ min: 2n ** 128n - 1000n, max: 2n ** 128n + 1000n }).map(String);
      const wide = fc.bigInt({ min: 0n, max: 10n ** 41n }).map(String);
      fc.assert(
        fc.property(fc.oneof(digits, nearTop, wide), (explicit) => {
          const item = withHashKey(explicit);
          const canonical = explicit === '0' || (!explicit.startsWith('0') && explicit.length <= 39);
          if (!canonical) expectRefused(item, 'EXPLICIT_HASH_KEY_MALFORMED');
          else if (BigInt(explicit) >= 2n ** 128n) expectRefused(item, 'EXPLICIT_HASH_KEY_OUT_OF_RANGE');
          else expect(prepareRecord(item).hashKey).to.equal(BigInt(explicit));
        }),
      );
    });

    it('refuses every string that is not plain decimal digits (property)', () => {
      fc.assert(
        fc.property(
          fc.string({ unit: 'binary' }).filter((s) => !/^[0-9]+$/.test(s)),
          (explicit) => {
            expectRefused(withHashKey(explicit), 'EXPLICIT_HASH_KEY_MALFORMED');
          },
        ),
      );
    });
  });

  describe('valid records (property)', () => {
    const key = fc
      .oneof(
        fc.string({ unit: 'grapheme', minLength: 1, maxLength: 256 }),
        fc.string({ unit: 'binary', minLength: 1, maxLength: 256 }),
        fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 256 }),
      )
      .filter((k) => k.length <= 256);
    const data = fc.oneof(
      fc
        .string({ unit: 'binary', maxLength: 200 })
        .map((s) => ({ data: s as unknown, bytes: Buffer.from(s, 'utf8') })),
      fc.uint8Array({ maxLength: 200 }).map((u) => ({ data: u as unknown, bytes: Buffer.from(u) })),
      fc
        .uint8Array({ maxLength: 200 })
        .map((u) => ({ data: Buffer.from(u) as unknown, bytes: Buffer.from(u) })),
      fc.uint8Array({ maxLength: 200 }).map((u) => ({ data: u.buffer as unknown, bytes: Buffer.from(u) })),
      fc.uint32Array({ maxLength: 50 }).map((u) => ({
        data: u as unknown,
        bytes: Buffer.from(u.buffer, u.byteOffset, u.byteLength),
      })),
    );
    const explicit = fc.option(fc.bigInt({ min: 0n, max: 2n ** 128n - 1n }), { nil: undefined });

    it('bytes = data bytes + key bytes, and hashKey = ExplicitHashKey or MD5 of the key', () => {
      fc.assert(
        fc.property(key, data, explicit, (k, d, e) => {
          const item: Record<string, unknown> = { PartitionKey: k, Data: d.data };
          if (e !== undefined) item.ExplicitHashKey = String(e);
          const r = prepareRecord(item);
          expect(r.bytes).to.equal(d.bytes.length + Buffer.from(k, 'utf8').length);
          expect(Buffer.from(r.entry.Data).equals(d.bytes)).to.equal(true);
          expect(r.entry.PartitionKey).to.equal(k);
          expect(r.hashKey).to.equal(e ?? md5HashKey(k));
          expect(r.entry.ExplicitHashKey).to.equal(e === undefined ? undefined : String(e));
          expect(r.hashKey >= 0n && r.hashKey < 2n ** 128n).to.equal(true);
        }),
        { numRuns: 300 },
      );
    });
  });
});

describe('checkMaxRecordBytes', () => {
  it('accepts 1, the default and 10 MiB, returning the value', () => {
    expect(MAX_RECORD_BYTES_CEILING).to.equal(10 * 1024 * 1024);
    for (const v of [1, 2, DEFAULT_MAX_RECORD_BYTES, 10 * 1024 * 1024 - 1, 10 * 1024 * 1024]) {
      expect(checkMaxRecordBytes(v)).to.equal(v);
    }
  });

  it('refuses 0, negatives, 10 MiB + 1, fractions and non-finite numbers with a RangeError naming the bounds', () => {
    for (const v of [0, -1, -0.5, 10 * 1024 * 1024 + 1, 1.5, NaN, Infinity, -Infinity, 2 ** 53]) {
      const e = thrown(() => checkMaxRecordBytes(v));
      expect(e, String(v)).to.be.instanceOf(RangeError);
      expect((e as RangeError).message).to.include(String(10 * 1024 * 1024));
    }
  });

  it('accepts exactly the integers in 1..10 MiB (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: -(2 ** 31), max: 2 ** 31 }), (v) => {
        if (v >= 1 && v <= 10 * 1024 * 1024) expect(checkMaxRecordBytes(v)).to.equal(v);
        else expect(() => checkMaxRecordBytes(v)).to.throw(RangeError);
      }),
    );
  });
});
