/**
 * The spool's CRC-32: small ranges are summed with JavaScript tables, larger ones by `node:zlib`. Both
 * must give zlib's value for every range, or frames written by one path would fail the other's check.
 */
import { crc32 } from 'node:zlib';
import { expect } from 'chai';
import fc from 'fast-check';
import { crc32Of, JS_BELOW } from '../src/spool/crc.js';

describe('spool CRC-32', () => {
  it("gives the standard check value (CRC-32 of '123456789' is 0xCBF43926)", () => {
    expect(crc32Of(Buffer.from('123456789'), 0, 9)).to.equal(0xcbf43926);
    expect(crc32Of(Buffer.alloc(0), 0, 0)).to.equal(0);
  });

  it('property: equals zlib crc32 of the same range, on both sides of JS_BELOW', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2 * JS_BELOW + 20 }), fc.nat(), fc.nat(), (bytes, a, b) => {
        const buf = Buffer.from(bytes);
        const start = bytes.length === 0 ? 0 : a % (bytes.length + 1);
        const end = start + (b % (bytes.length - start + 1));
        expect(crc32Of(buf, start, end)).to.equal(crc32(buf.subarray(start, end)));
      }),
      { numRuns: 500 },
    );
  });

  it('control: one flipped bit anywhere in a small range changes the sum', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: JS_BELOW - 1 }),
        fc.nat(),
        fc.nat(7),
        (bytes, at, bit) => {
          const buf = Buffer.from(bytes);
          const before = crc32Of(buf, 0, buf.length);
          buf[at % buf.length] ^= 1 << bit;
          expect(crc32Of(buf, 0, buf.length)).not.to.equal(before);
        },
      ),
    );
  });
});
