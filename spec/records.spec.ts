/** prepareRecord: what is not a record, partition keys, and record size (data bytes + UTF-8 key bytes). */
import { expect } from 'chai';
import fc from 'fast-check';
import {
  DEFAULT_MAX_RECORD_BYTES,
  MAX_PARTITION_KEY_LENGTH,
  MAX_RECORD_BYTES_CEILING,
  prepareRecord,
} from '../src/kinesis/records.js';
import { expectRefused, isWellFormed, SECRET } from './support/records-kit.js';

describe('prepareRecord', () => {
  it('keeps an item that already is a request entry as the entry (no copy), and builds one otherwise', () => {
    const entry = { PartitionKey: 'k', Data: Buffer.from('v') };
    expect(prepareRecord(entry).entry).to.equal(entry);
    const explicit = { PartitionKey: 'k', Data: new Uint8Array(1), ExplicitHashKey: '7' };
    expect(prepareRecord(explicit).entry).to.equal(explicit);
    // Control: string Data must be encoded, and a class instance may carry accessors: both get a new entry.
    const text = { PartitionKey: 'k', Data: 'v' };
    expect(prepareRecord(text).entry).not.to.equal(text);
    expect(prepareRecord(text).entry).to.deep.equal({
      PartitionKey: 'k',
      Data: new TextEncoder().encode('v'),
    });
    class Item {
      PartitionKey = 'k';
      Data = new Uint8Array(1);
    }
    const instance = new Item();
    expect(prepareRecord(instance).entry).not.to.equal(instance);
    expect(prepareRecord({ ...entry, ExplicitHashKey: null }).entry).to.deep.equal(entry);
  });

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
});
