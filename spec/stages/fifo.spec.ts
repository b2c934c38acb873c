/** Fifo on its own: a queue that behaves like an array's push/shift, across its chunks of 1,024 items. */
import { expect } from 'chai';
import fc from 'fast-check';
import { Fifo } from '../../src/pipeline/fifo.js';

describe('Fifo (stage)', () => {
  it('property: push/shift/peek/drain/drainChunks match an array model, across chunks (> 1024 items)', () => {
    const op = fc.oneof(
      { weight: 5, arbitrary: fc.record({ push: fc.integer({ min: 1, max: 600 }) }) },
      { weight: 5, arbitrary: fc.record({ shift: fc.integer({ min: 1, max: 600 }) }) },
      { weight: 1, arbitrary: fc.constant({ drain: true as const }) },
      { weight: 1, arbitrary: fc.constant({ drainChunks: true as const }) },
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 40 }), (ops) => {
        const fifo = new Fifo<number>();
        const model: number[] = [];
        let next = 0;
        for (const o of ops) {
          if ('push' in o) {
            for (let i = 0; i < o.push; i++) {
              fifo.push(next);
              model.push(next++);
            }
          } else if ('shift' in o) {
            for (let i = 0; i < o.shift; i++) expect(fifo.shift()).to.equal(model.shift());
          } else if ('drain' in o) {
            expect(fifo.drain()).to.deep.equal(model.splice(0));
          } else {
            const chunks = fifo.drainChunks();
            expect(chunks.every((c) => c.length > 0 && c.length <= 1024)).to.equal(true);
            expect(chunks.flat()).to.deep.equal(model.splice(0));
          }
          expect(fifo.length).to.equal(model.length);
          expect(fifo.peek()).to.equal(model[0]);
        }
      }),
    );
  });

  it('shift() on empty is undefined and keeps length 0 (control: after a push it is not)', () => {
    const fifo = new Fifo<string>();
    expect(fifo.shift()).to.equal(undefined);
    expect(fifo.length).to.equal(0);
    fifo.push('x');
    expect(fifo.length).to.equal(1);
    expect(fifo.shift()).to.equal('x');
  });

  it('drainChunks gives the items in order in chunks of 1,024 (drain() gives the same items as one array)', () => {
    const fill = () => {
      const fifo = new Fifo<number>();
      for (let i = 0; i < 2500; i++) fifo.push(i);
      return fifo;
    };
    const chunks = fill().drainChunks();
    expect(chunks.map((c) => c.length)).to.deep.equal([1024, 1024, 452]);
    const control = fill().drain();
    expect(control).to.have.length(2500);
    expect(control).to.deep.equal(chunks.flat());
  });

  it('a queue emptied after every item keeps filling its one array: a new one every 1,024 items, not every item', () => {
    const fifo = new Fifo<number>();
    const arrays = new Set<unknown>();
    for (let i = 0; i < 3000; i++) {
      fifo.push(i);
      arrays.add((fifo as unknown as { chunks: unknown[] }).chunks[0]);
      expect(fifo.shift()).to.equal(i);
      expect(fifo.length).to.equal(0);
    }
    expect(arrays.size).to.equal(3); // items 0–1023, 1024–2047, 2048–2999
  });
});
