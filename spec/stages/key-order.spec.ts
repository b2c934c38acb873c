/**
 * KeyOrder on its own: at most one record per key past the gate; a key's next record passes only when the
 * previous one is released, so each key's records are released in source order whatever order the records
 * become final in. Keys are the ExplicitHashKey when given, else the partition key.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { KeyOrder } from '../../src/pipeline/key-order.js';
import type { PendingRecord } from '../../src/pipeline/pending.js';
import { pending, type Item } from '../support/fixtures.js';

const rec = (id: number, key: string, explicitHashKey?: string) =>
  pending<Item>({ id, key, data: new Uint8Array([id & 0xff]), explicitHashKey });

describe('KeyOrder (stage)', () => {
  it('property: each key’s records pass in source order, one at a time, and all pass once released', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom('a', 'b', 'c', 'd'), { maxLength: 60 }),
        fc.infiniteStream(fc.nat()),
        (keys, choices) => {
          const passed: PendingRecord<Item>[] = [];
          const order = new KeyOrder<Item>((r) => passed.push(r));
          const records = keys.map((k, id) => rec(id, k));
          records.forEach((r) => order.admit(r));
          // Release past-the-gate records in an arbitrary order, as results come back.
          const outstanding = new Set(passed);
          const released: PendingRecord<Item>[] = [];
          const it = choices[Symbol.iterator]();
          while (outstanding.size > 0) {
            // At most one record per key is outstanding.
            const outKeys = [...outstanding].map((r) => r.item.key);
            expect(new Set(outKeys).size).to.equal(outKeys.length);
            const pick = [...outstanding][it.next().value % outstanding.size];
            outstanding.delete(pick);
            released.push(pick);
            const before = passed.length;
            order.release(pick);
            for (const r of passed.slice(before)) outstanding.add(r);
          }
          expect(order.waiting).to.equal(0);
          expect(passed).to.have.length(records.length);
          for (const key of new Set(keys)) {
            const ids = passed.filter((r) => r.item.key === key).map((r) => r.item.id);
            expect(ids).to.deep.equal(records.filter((r) => r.item.key === key).map((r) => r.item.id));
          }
        },
      ),
    );
  });

  it('holds a key’s second record until the first is released; other keys flow (control: b passes at once)', () => {
    const passed: number[] = [];
    const order = new KeyOrder<Item>((r) => passed.push(r.item.id));
    const [a0, a1, b0] = [rec(0, 'a'), rec(1, 'a'), rec(2, 'b')];
    order.admit(a0);
    order.admit(a1);
    order.admit(b0);
    expect(passed).to.deep.equal([0, 2]);
    expect(order.waiting).to.equal(1);
    order.release(a0);
    expect(passed).to.deep.equal([0, 2, 1]);
    expect(order.waiting).to.equal(0);
  });

  it('orders by ExplicitHashKey when given: same partition key, different hash keys flow freely', () => {
    const passed: number[] = [];
    const order = new KeyOrder<Item>((r) => passed.push(r.item.id));
    order.admit(rec(0, 'k', '1'));
    order.admit(rec(1, 'k', '2'));
    order.admit(rec(2, 'other', '1')); // same hash key as record 0: held
    expect(passed).to.deep.equal([0, 1]);
    expect(order.waiting).to.equal(1);
  });

  it('drain() returns every held record and forgets the keys', () => {
    const passed: number[] = [];
    const order = new KeyOrder<Item>((r) => passed.push(r.item.id));
    [rec(0, 'a'), rec(1, 'a'), rec(2, 'a'), rec(3, 'b'), rec(4, 'b')].forEach((r) => order.admit(r));
    expect(
      order
        .drain()
        .map((r) => r.item.id)
        .sort(),
    ).to.deep.equal([1, 2, 4]);
    expect(order.waiting).to.equal(0);
    order.admit(rec(5, 'a')); // the key was forgotten: passes at once
    expect(passed).to.deep.equal([0, 3, 5]);
  });
});
