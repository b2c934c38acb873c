/**
 * The spool's in-flight set (entries read, not yet acknowledged), as a property against a plain Map model:
 * whatever the reads (in id order, across segments, as the reader goes) and acks (any order, unknown ids
 * and repeats included), an ack finds its entry's segment exactly once, and the count matches.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { InFlight } from '../src/spool/in-flight.js';
import { newSegment, type Segment } from '../src/spool/recover.js';

const segment = (firstId: number, lastId: number): Segment => ({ ...newSegment(firstId), lastId });

type Step = { kind: 'read'; n: number; skip: number } | { kind: 'ack'; picks: number[] } | { kind: 'seal' };

const stepArb: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('read' as const), n: fc.integer({ min: 1, max: 400 }), skip: fc.nat(3) }),
  fc.record({ kind: fc.constant('ack' as const), picks: fc.array(fc.nat(), { maxLength: 60 }) }),
  fc.record({ kind: fc.constant('seal' as const) }),
);

describe('spool in-flight set', () => {
  it('property: ack finds each read entry once, in its segment; unknown and repeated ids are ignored', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 1500 }), { minLength: 1, maxLength: 5 }),
        fc.array(stepArb, { maxLength: 40 }),
        (lengths, steps) => {
          const segments: Segment[] = [];
          let next = 1;
          for (const length of lengths) {
            segments.push(segment(next, next + length - 1));
            next += length;
          }
          const segmentOf = (id: number) => segments.find((s) => s.firstId <= id && id <= s.lastId);
          const inFlight = new InFlight();
          const model = new Map<number, Segment>(); // ids past 1,024 in a segment grow its bitmap
          let cursor = 1; // the reader's next id: reads go in id order
          for (const step of steps) {
            if (step.kind === 'read') {
              for (let i = 0; i < step.n && cursor < next; i++, cursor++) {
                if ((cursor + step.skip) % 4 === 0) continue; // acked by an earlier process, or damaged
                inFlight.add(segmentOf(cursor)!, cursor);
                model.set(cursor, segmentOf(cursor)!);
              }
            } else if (step.kind === 'seal') {
              const open = segments.find((s) => !s.sealed);
              if (open !== undefined) open.sealed = true;
            } else {
              for (const pick of step.picks) {
                const id = pick % (next + 5); // some never read, some past every segment
                expect(inFlight.take(id)).to.equal(model.get(id));
                model.delete(id);
              }
            }
            expect(inFlight.size).to.equal(model.size);
          }
          for (const [id, s] of [...model].reverse()) expect(inFlight.take(id)).to.equal(s);
          expect(inFlight.size).to.equal(0);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('control: an entry never read, or acked twice, is not found', () => {
    const s = segment(1, 10);
    const inFlight = new InFlight();
    inFlight.add(s, 3);
    expect(inFlight.take(4)).to.equal(undefined);
    expect(inFlight.take(3)).to.equal(s);
    expect(inFlight.take(3)).to.equal(undefined);
    expect(inFlight.size).to.equal(0);
  });
});
