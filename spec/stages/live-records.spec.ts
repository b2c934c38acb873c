/**
 * LiveRecords on its own: every record accepted and not yet final, in acceptance order; delete is O(1) and
 * idempotent; clear() lists the items in order (a fatal error's `unsent`). Counts and bytes stay exact.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import type { PendingRecord } from '../../src/pipeline/pending.js';
import { LiveRecords } from '../../src/pipeline/live-records.js';
import { pending, type Item } from '../support/fixtures.js';

const rec = (id: number, size: number) => pending<Item>({ id, key: `k${id}`, data: new Uint8Array(size) });

describe('LiveRecords (stage)', () => {
  it('property: after any adds and deletes, clear() gives the live items in acceptance order; size and bytes match', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 100 }), { maxLength: 80 }),
        fc.array(fc.nat(), { maxLength: 120 }),
        (sizes, deletions) => {
          const live = new LiveRecords<Item>();
          const records = sizes.map((size, id) => rec(id, size));
          records.forEach((r) => live.add(r));
          const model = new Set<PendingRecord<Item>>(records);
          for (const d of deletions) {
            if (records.length === 0) break;
            const r = records[d % records.length];
            expect(live.delete(r)).to.equal(model.delete(r)); // false the second time
          }
          expect(live.size).to.equal(model.size);
          expect(live.bytes).to.equal([...model].reduce((sum, r) => sum + r.record.bytes, 0));
          const items = live.clear();
          expect(items.map((i) => i.id)).to.deep.equal([...model].map((r) => r.item.id));
          expect(records.every((r) => r.slot === -1)).to.equal(true); // none live any more
          expect([live.size, live.bytes]).to.deep.equal([0, 0]);
        },
      ),
    );
  });

  it('property: with deletes out of order (a record retrying long), the slots stay within 4× the live records plus the slack, and oldest is the oldest live', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 20 }), fc.integer({ min: 1, max: 80_000 }), (stuck, count) => {
        const live = new LiveRecords<Item>();
        const held = Array.from({ length: stuck }, (_, i) => rec(i, 1));
        held.forEach((r) => live.add(r));
        let peak = 0;
        for (let i = 0; i < count; i++) {
          const r = rec(stuck + i, 1);
          live.add(r);
          live.delete(r); // flows past the held records
          peak = Math.max(peak, live.span);
        }
        expect(peak).to.be.at.most(4 * stuck + 65_536 + 1);
        expect(live.oldest).to.equal(0);
        live.delete(held[0]);
        expect(live.oldest).to.equal(stuck === 1 ? live.added : 1);
        expect(live.clear().map((i) => i.id)).to.deep.equal(held.slice(1).map((r) => r.item.id));
      }),
      { numRuns: 30 },
    );
  });

  it('records settled in order leave no slots behind: the chunks before the oldest live record go (control: one held record keeps them)', () => {
    const flow = (hold: boolean) => {
      const live = new LiveRecords<Item>();
      if (hold) live.add(rec(0, 1));
      let peak = 0;
      for (let i = 1; i <= 10_000; i++) {
        const r = rec(i, 1);
        live.add(r);
        live.delete(r);
        peak = Math.max(peak, live.span);
      }
      return { span: live.span, peak };
    };
    const inOrder = flow(false);
    expect(inOrder.peak).to.be.at.most(1024);
    expect(flow(true).span).to.equal(10_001); // under the compaction threshold, the held record keeps every chunk
  });

  it('compaction: 100,000 records flowing past one held record leave the slots short (they would hold all 100,001 without it)', () => {
    const live = new LiveRecords<Item>();
    live.add(rec(0, 1));
    for (let i = 1; i <= 100_000; i++) {
      const r = rec(i, 1);
      live.add(r);
      live.delete(r);
    }
    // 100,001 records were added; the array holds the one live record and at most the slack.
    expect(live.span).to.be.at.most(65_536 + 4);
  });

  it('deleting head, middle and tail keeps the rest in order (control: clear() before deleting lists all three)', () => {
    const a = rec(0, 1);
    const b = rec(1, 1);
    const c = rec(2, 1);
    const control = new LiveRecords<Item>();
    [a, b, c].forEach((r) => control.add(r));
    expect(control.clear().map((i) => i.id)).to.deep.equal([0, 1, 2]);

    for (const victim of [0, 1, 2]) {
      const live = new LiveRecords<Item>();
      const rs = [rec(0, 1), rec(1, 1), rec(2, 1)];
      rs.forEach((r) => live.add(r));
      live.delete(rs[victim]);
      expect(live.clear().map((i) => i.id)).to.deep.equal([0, 1, 2].filter((i) => i !== victim));
    }
  });
});
