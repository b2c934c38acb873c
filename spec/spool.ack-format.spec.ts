/**
 * Ack records (docs/spool-format.md): any set of distinct ids, in any order, dense or sparse, is written
 * as one record per maximal run of consecutive ids, and decodes to exactly that set.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { decodeAcks, encodeAckHeader, encodeAcks, inRuns } from '../src/spool/ack-format.js';
import { ACK_RECORD_BYTES } from '../src/spool/format.js';

/** Maximal runs of consecutive ids in a sorted set. */
function runsOf(sorted: number[]): number {
  let runs = 0;
  sorted.forEach((id, i) => (runs += i === 0 || sorted[i - 1] + 1 !== id ? 1 : 0));
  return runs;
}

describe('spool ack records', () => {
  it('property: decode(encode(ids)) is the set of ids, in as many records as it has maximal runs', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 40 }),
        // Dense offsets (the bitmap path) and sparse ones (the sort path), shuffled.
        fc.oneof(
          fc.uniqueArray(fc.nat(300), { maxLength: 200 }),
          fc.uniqueArray(fc.nat(1_000_000), { maxLength: 50 }),
        ),
        (base, offsets) => {
          const ids = offsets.map((o) => base + o);
          const records = encodeAcks(ids);
          const sorted = [...ids].sort((a, b) => a - b);
          expect(records.length).to.equal(runsOf(sorted) * ACK_RECORD_BYTES);
          const { runs, damaged, tornBytes } = decodeAcks(Buffer.concat([encodeAckHeader(), records]));
          expect({ damaged, tornBytes }).to.deep.equal({ damaged: 0, tornBytes: 0 });
          expect(runs.reduce((n, [first, end]) => n + end - first, 0)).to.equal(ids.length);
          for (const id of ids) expect(inRuns(runs, id)).to.equal(true);
          expect(inRuns(runs, base - 1)).to.equal(false); // control: an id not acked
        },
      ),
      { numRuns: 300 },
    );
  });

  it('control: consecutive ids make one record, a gap makes two', () => {
    expect(encodeAcks([7, 5, 6]).length).to.equal(ACK_RECORD_BYTES);
    expect(encodeAcks([5, 7]).length).to.equal(2 * ACK_RECORD_BYTES);
    expect(encodeAcks([]).length).to.equal(0);
  });
});
