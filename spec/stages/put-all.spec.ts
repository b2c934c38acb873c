/**
 * putAll on its own, on the fake client in virtual time: it pulls the next item only while the buffer has
 * room (bounded memory for a fast cold source), every item ends exactly once, and however it ends — a fatal
 * error, an unsubscribe — it lets the source clean up (`return()`), with the item in hand counted as unsent.
 */
import { PutRecordsCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import { expect } from 'chai';
import fc from 'fast-check';
import { KinesisSinkError, putAll, type ToKinesisOptions } from '../../src/index.js';
import { fatalError, FakeKinesis } from '../support/fake-kinesis.js';
import { makeItems, outcomes, QUOTAS_OFF, toRecord, type Item } from '../support/fixtures.js';
import { start } from '../support/run.js';
import { withVirtualTime, type VirtualScheduler } from '../support/virtual-time.js';

/** A source that counts what was pulled and whether it was told to clean up. */
function counted(items: readonly Item[]) {
  const state = { pulled: 0, returned: false };
  const iterable: Iterable<Item> = {
    [Symbol.iterator]: () => ({
      next: () =>
        state.pulled < items.length
          ? { value: items[state.pulled++], done: false }
          : { value: undefined, done: true },
      return: () => ((state.returned = true), { value: undefined, done: true }),
    }),
  };
  return { iterable, state };
}

/** The fake's client, with PutRecords held until `open()` (ListShards passes). */
function gated(fake: FakeKinesis) {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  let held = 0;
  const client = {
    send: async (command: unknown, options?: unknown) => {
      if (command instanceof PutRecordsCommand) {
        held++;
        await gate;
        held--;
      }
      return (fake.client.send as (c: unknown, o?: unknown) => Promise<unknown>)(command, options);
    },
  } as unknown as KinesisClient;
  return {
    client,
    held: () => held,
    open: () => release(),
  };
}

const opts = (
  client: KinesisClient,
  scheduler: VirtualScheduler,
  extra: Partial<ToKinesisOptions<Item>> = {},
) => ({
  client,
  streamName: 'fake-stream',
  toRecord,
  scheduler,
  lingerMs: 10,
  maxBatchRecords: 10,
  ...QUOTAS_OFF,
  ...extra,
});

describe('putAll (stage)', () => {
  it('property: pulls at most maxBufferedRecords + 1 ahead of what is final; then delivers every item once', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 40 }),
        fc.integer({ min: 0, max: 150 }),
        async (buffer, n) => {
          await withVirtualTime(async (scheduler) => {
            const fake = new FakeKinesis();
            const gate = gated(fake);
            const items = makeItems(n);
            const source = counted(items);
            const run = start(
              putAll(source.iterable, opts(gate.client, scheduler, { maxBufferedRecords: buffer })),
            );
            // Nothing can be delivered while the gate is shut: the source is read only as far as the buffer allows.
            await scheduler.runUntil(() => source.state.pulled === n || gate.held() > 0, { maxTime: 60_000 });
            await scheduler.advance(1000);
            expect(source.state.pulled).to.be.at.most(buffer + 1);
            expect(source.state.pulled).to.equal(Math.min(n, buffer + 1)); // control: it does read that far
            gate.open();
            await scheduler.runUntil(() => run.done);
            expect(run.completed, String(run.error)).to.equal(true);
            const { delivered, failed } = outcomes(run.emissions);
            expect(failed).to.deep.equal([]);
            expect(delivered.map((i) => i.id).sort((a, b) => a - b)).to.deep.equal(items.map((i) => i.id));
            expect(fake.allStored).to.have.length(n);
          });
        },
      ),
      { numRuns: 25 },
    );
  });

  it('a fatal error ends it at once, returns the source, and counts the item in hand as unsent', async () => {
    await withVirtualTime(async (scheduler) => {
      const fake = new FakeKinesis({ requests: () => fatalError() });
      const items = makeItems(50);
      const source = counted(items);
      const run = start(putAll(source.iterable, opts(fake.client, scheduler, { maxBufferedRecords: 5 })));
      await scheduler.runUntil(() => run.done);
      expect(run.errored).to.equal(true);
      expect(run.error).to.be.instanceOf(KinesisSinkError);
      expect(source.state.returned).to.equal(true);
      const unsent = (run.error as KinesisSinkError<Item>).unsent;
      // Every item pulled is unsent (nothing was delivered), exactly once; nothing past it was read.
      expect(unsent.map((i) => i.id).sort((a, b) => a - b)).to.deep.equal(
        items.slice(0, source.state.pulled).map((i) => i.id),
      );
      expect(source.state.pulled).to.be.below(items.length);
    });
  });

  it("a fatal error while the source's next() is pending: that item is in unsent once it arrives (0.2.0 lost it)", async () => {
    for (const slowItem of [true, false]) {
      await withVirtualTime(async (scheduler) => {
        const fake = new FakeKinesis({ requests: () => fatalError() });
        const items = makeItems(3);
        let release!: () => void;
        const held = new Promise<void>((r) => (release = r));
        let asked = 0;
        // Yields two items at once, then holds the third's next() until released.
        async function* source() {
          yield items[0];
          yield items[1];
          asked++;
          await held;
          if (slowItem) yield items[2];
        }
        const run = start(putAll(source(), opts(fake.client, scheduler, { lingerMs: 1 })));
        await scheduler.runUntil(() => asked === 1 && fake.requests.length > 0);
        await scheduler.advance(10);
        expect(run.done).to.equal(false); // the error waits for the pending next()
        release();
        await scheduler.runUntil(() => run.done);
        const unsent = (run.error as KinesisSinkError<Item>).unsent.map((i) => i.id).sort();
        // Control: a source that ends instead of yielding adds nothing.
        expect(unsent).to.deep.equal(slowItem ? [0, 1, 2] : [0, 1]);
      });
    }
  });

  it('unsubscribing returns the source and pulls nothing more (control: it was pulling)', async () => {
    await withVirtualTime(async (scheduler) => {
      const fake = new FakeKinesis();
      const gate = gated(fake);
      const source = counted(makeItems(100));
      const run = start(putAll(source.iterable, opts(gate.client, scheduler, { maxBufferedRecords: 10 })));
      await scheduler.runUntil(() => gate.held() > 0);
      await scheduler.advance(100);
      const pulled = source.state.pulled;
      expect(pulled).to.be.greaterThan(0);
      run.subscription.unsubscribe();
      gate.open();
      await scheduler.advance(1000);
      expect(source.state.returned).to.equal(true);
      expect(source.state.pulled).to.equal(pulled);
      expect(run.done).to.equal(false); // an unsubscribe is not an ending the subscriber hears of
    });
  });
});
