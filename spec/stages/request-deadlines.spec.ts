/**
 * RequestDeadlines on its own, in virtual time: every request's signal fires exactly at its deadline unless
 * the request ended first, a request due sooner than the armed timer re-arms it, one timer serves them all
 * and none is left when nothing is in flight; `cancel()` aborts those in flight and every later one.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { RequestDeadlines, RequestTimeoutError, type RequestDeadline } from '../../src/pipeline/deadline.js';
import { withVirtualTime } from '../support/virtual-time.js';

type Step = { start: number } | { end: number } | { advance: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ start: fc.oneof(fc.integer({ min: 1, max: 5_000 }), fc.constant(Infinity)) }),
  fc.record({ end: fc.nat() }),
  fc.record({ advance: fc.integer({ min: 0, max: 3_000 }) }),
);

describe('RequestDeadlines (virtual time)', () => {
  it('property: each signal fires at its deadline unless its request ended first; one timer at most, none when idle; cancel aborts the rest', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { maxLength: 30 }), async (steps) => {
        await withVirtualTime(async (scheduler) => {
          const deadlines = new RequestDeadlines(scheduler);
          const started: { deadline: RequestDeadline; due: number; endedAt: number | undefined }[] = [];
          const check = () => {
            const now = scheduler.now();
            let open = 0;
            for (const { deadline, due, endedAt } of started) {
              const fires = due <= now && (endedAt === undefined || endedAt >= due);
              expect(deadline.signal.aborted, `due ${due}, ended ${endedAt}, now ${now}`).to.equal(fires);
              expect(deadline.explain(new Error('x'), 'PutRecords')).to.be.instanceOf(
                fires ? RequestTimeoutError : Error,
              );
              if (!fires && endedAt === undefined && Number.isFinite(due)) open++;
            }
            expect(scheduler.pending).to.equal(open > 0 ? 1 : 0);
          };
          for (const s of steps) {
            if ('start' in s) {
              const deadline = deadlines.start(s.start);
              started.push({ deadline, due: scheduler.now() + s.start, endedAt: undefined });
            } else if ('end' in s) {
              const request = started[s.end % Math.max(1, started.length)];
              if (request && request.endedAt === undefined) {
                request.endedAt = scheduler.now();
                deadlines.end(request.deadline);
              }
            } else await scheduler.advance(s.advance);
            check();
          }
          const live = started.filter((r) => r.endedAt === undefined && !r.deadline.signal.aborted);
          deadlines.cancel(new Error('cancelled'));
          expect(scheduler.pending).to.equal(0);
          for (const { deadline } of live) {
            expect(deadline.signal.aborted).to.equal(true);
            expect(deadline.explain(new Error('x'), 'PutRecords')).not.to.be.instanceOf(RequestTimeoutError);
          }
          expect(deadlines.start(1_000).signal.aborted).to.equal(true);
          expect(scheduler.pending).to.equal(0);
        });
      }),
      { numRuns: 150 },
    );
  });

  it('a request due sooner than the armed timer re-arms it (control: armed for the first, it fired 4 s late)', async () => {
    await withVirtualTime(async (scheduler) => {
      const deadlines = new RequestDeadlines(scheduler);
      const big = deadlines.start(6_000);
      const small = deadlines.start(2_000);
      expect(scheduler.pending).to.equal(1);
      await scheduler.advance(1_999);
      expect(small.signal.aborted).to.equal(false);
      await scheduler.advance(1);
      expect(small.signal.aborted).to.equal(true);
      expect(small.signal.reason).to.be.instanceOf(RequestTimeoutError);
      expect(big.signal.aborted).to.equal(false);
      expect(scheduler.pending).to.equal(1); // re-armed for the big one
      await scheduler.advance(4_000);
      expect(big.signal.aborted).to.equal(true);
      expect(scheduler.pending).to.equal(0);
    });
  });
});
