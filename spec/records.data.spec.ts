/** prepareRecord: Data, ExplicitHashKey and valid records (property); checkMaxRecordBytes. */
import { expect } from 'chai';
import fc from 'fast-check';
import {
  checkMaxRecordBytes,
  DEFAULT_MAX_RECORD_BYTES,
  MAX_HASH_KEY,
  MAX_RECORD_BYTES_CEILING,
  prepareRecord,
} from '../src/kinesis/records.js';
import {
  bytesOf,
  expectRefused,
  md5HashKey,
  SECRET,
  thrown,
  TOP,
  TWO_TO_128,
} from './support/records-kit.js';

describe('prepareRecord', () => {
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
