/**
 * The emulator's CBOR codec against an independent one (the `cbor` package): each decodes what the other
 * encodes, for arbitrary values of the shapes AWS CBOR carries.
 */
import cbor from 'cbor';
import { expect } from 'chai';
import fc from 'fast-check';
import { decodeCbor, encodeCbor } from '../src/testing/cbor.js';

/** Values of AWS CBOR's shapes: maps with string keys, lists, strings, integers, doubles, booleans, blobs. */
const value = fc.letrec<{ v: unknown }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small' },
    fc.string(),
    fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }),
    fc.double({ noNaN: true, noDefaultInfinity: true }).filter((d) => !Number.isInteger(d)),
    fc.boolean(),
    fc.constant(null),
    fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
    fc.array(tie('v'), { maxLength: 5 }),
    fc
      .dictionary(
        fc.string().filter((k) => k !== '__proto__'),
        tie('v'),
        { maxKeys: 5 },
      )
      .map((d) => ({ ...d })), // plain objects: the cbor package cannot encode null-prototype ones
  ),
})).v;

describe('CBOR codec', () => {
  it('the cbor package decodes what encodeCbor writes, and decodeCbor what the cbor package writes (property)', () => {
    fc.assert(
      fc.property(value, (v) => {
        expect(cbor.decodeFirstSync(encodeCbor(v))).to.deep.equal(v);
        expect(decodeCbor(cbor.encode(v))).to.deep.equal(v);
      }),
      { numRuns: 300 },
    );
  });

  it('reads indefinite-length maps, arrays and strings, as Jackson (the Java SDK) writes them', () => {
    // {_ "a": [_ 1, 2], "b": (_ h'01', h'02'), "c": (_ "x", "y")}
    const bytes = Buffer.from(
      'bf6161 9f0102ff 6162 5f41014102ff 6163 7f61786179ff ff'.replace(/ /g, ''),
      'hex',
    );
    expect(decodeCbor(bytes)).to.deep.equal({ a: [1, 2], b: Buffer.from([1, 2]), c: 'xy' });
  });

  it('timestamps are tag 1 around epoch milliseconds, both ways', () => {
    const ms = 1_800_000_000_123;
    expect(encodeCbor(new Date(ms)).toString('hex')).to.equal(
      cbor.encode(new cbor.Tagged(1, ms)).toString('hex'),
    );
    expect(decodeCbor(cbor.encode(new cbor.Tagged(1, ms)))).to.deep.equal(new Date(ms));
  });

  it('refuses truncated or trailing input', () => {
    const whole = encodeCbor({ a: 'bcd' });
    expect(() => decodeCbor(whole.subarray(0, whole.length - 1))).to.throw(RangeError, 'unexpected end');
    expect(() => decodeCbor(Buffer.concat([whole, Buffer.of(0)]))).to.throw(RangeError, 'trailing');
    expect(decodeCbor(whole)).to.deep.equal({ a: 'bcd' }); // control
  });
});
