/**
 * Graceful shutdown: `flush()`, `close({ deadlineMs })` and `drainTimeoutMs`/`signal` — every item ends
 * exactly once (delivered, finally failed, or in the DRAIN_TIMEOUT's `unsent`) and the deadline holds.
 * Virtual time where the fake client is enough; the emulator's `stallRate: 1` for a peer that never answers.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { Subject } from 'rxjs';
import {
  KinesisProducer,
  KinesisSinkError,
  putAll,
  toKinesis,
  type PutRecordsEmission,
  type ToKinesisOptions,
} from '../src/index.js';
import { EmulatorKit } from './support/emulator-kit.js';
import type { FakeKinesis } from './support/fake-kinesis.js';
import { start } from './support/run.js';
import { withVirtualTime } from './support/virtual-time.js';
import {
  fakeWith,
  ids,
  makeItems,
  options,
  outcomes,
  QUOTAS_OFF,
  range,
  type Item,
} from './support/fixtures.js';

/** Every item's fate: delivered / finally failed per the emissions, or unsent per the error. */
function fates(emissions: readonly PutRecordsEmission<Item>[], error: unknown) {
  const { delivered, failed } = outcomes(emissions);
  const unsent = error instanceof KinesisSinkError ? (error.unsent as Item[]) : [];
  return { delivered, failed, unsent, all: ids([...delivered, ...failed, ...unsent]) };
}

/** A producer on the fake with quotas off, its emissions collected. */
function producerOn(fake: FakeKinesis, extra: Partial<ToKinesisOptions<Item>>) {
  const emissions: PutRecordsEmission<Item>[] = [];
  const producer = new KinesisProducer<Item>(options(fake, { ...extra, ...QUOTAS_OFF }), (e) =>
    emissions.push(e),
  );
  return { producer, emissions };
}

describe('shutdown', () => {
  describe('KinesisProducer.flush()', () => {
    it('resolves as soon as what was put is delivered, not after lingerMs (control: without flush nothing is sent)', async () => {
      await withVirtualTime(async (scheduler) => {
        const fake = fakeWith();
        const { producer, emissions } = producerOn(fake, { scheduler, lingerMs: 10_000 });
        const items = makeItems(20);
        for (const item of items) await producer.put(item);
        await scheduler.advance(5_000);
        expect(fake.requests, 'lingering: nothing sent yet').to.have.length(0);
        let flushedAt: number | undefined;
        void producer.flush().then(() => (flushedAt = scheduler.now()));
        await scheduler.runUntil(() => flushedAt !== undefined);
        expect(flushedAt).to.equal(5_000);
        expect(ids(outcomes(emissions).delivered)).to.deep.equal(range(0, 20));
        expect(producer.accepting).to.equal(true);
        await producer.close();
        expect(scheduler.pending).to.equal(0);
      });
    });

    it('waits for retries in backoff, and resolves only once they are delivered', async () => {
      await withVirtualTime(async (scheduler) => {
        const fake = fakeWith({ records: ({ request }) => (request === 0 ? 'InternalFailure' : 'ok') });
        const { producer, emissions } = producerOn(fake, {
          scheduler,
          retryBaseDelayMs: 2_000,
          random: () => 0.5,
        });
        for (const item of makeItems(10)) await producer.put(item);
        let flushed = false;
        void producer.flush().then(() => (flushed = true));
        await scheduler.runUntil(() => emissions.length === 1);
        expect(producer.stats.retrying).to.equal(10);
        expect(flushed).to.equal(false);
        await scheduler.runUntil(() => flushed);
        expect(scheduler.now()).to.equal(1_000); // the backoff (0.5 × 2,000 ms), no linger on top
        expect(ids(outcomes(emissions).delivered)).to.deep.equal(range(0, 10));
        await producer.close();
      });
    });

    it('then more puts: a later flush waits for them, an earlier one not for later puts', async () => {
      await withVirtualTime(async (scheduler) => {
        const fake = fakeWith();
        const { producer, emissions } = producerOn(fake, { scheduler, lingerMs: 10_000 });
        const items = makeItems(30);
        for (const item of items.slice(0, 10)) await producer.put(item);
        let first = false;
        void producer.flush().then(() => (first = true));
        for (const item of items.slice(10, 20)) await producer.put(item);
        await scheduler.runUntil(() => first);
        expect(ids(outcomes(emissions).delivered)).to.include.members(range(0, 10));
        let second = false;
        void producer.flush().then(() => (second = true));
        await scheduler.runUntil(() => second);
        expect(ids(outcomes(emissions).delivered)).to.deep.equal(range(0, 20));
        for (const item of items.slice(20)) await producer.put(item);
        await producer.flush();
        expect(ids(outcomes(emissions).delivered)).to.deep.equal(range(0, 30));
        await producer.close();
        expect(scheduler.pending).to.equal(0);
      });
    });

    it('rejects with the pipeline failure', async () => {
      const fake = fakeWith({
        requests: () =>
          Object.assign(new Error('gone'), {
            name: 'ResourceNotFoundException',
            $metadata: { httpStatusCode: 400 },
          }),
      });
      const producer = new KinesisProducer<Item>(options(fake));
      for (const item of makeItems(5)) await producer.put(item);
      const error = await producer.flush().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).to.be.instanceOf(KinesisSinkError);
      expect((error as KinesisSinkError).code).to.equal('FATAL_REQUEST_ERROR');
      expect(ids((error as KinesisSinkError<Item>).unsent as Item[])).to.deep.equal(range(0, 5));
    });
  });

  describe('KinesisProducer.close({ deadlineMs })', () => {
    const kit = new EmulatorKit();
    afterEach(() => kit.close());

    it('with a stalled peer: ends with DRAIN_TIMEOUT at the deadline, every item in unsent exactly once', async () => {
      const emu = await kit.emulator({ shards: 2, streamName: 'stalled', quotas: false });
      emu.setFaults({ stallRate: 1 });
      const client = kit.client(emu, 'http1', 1);
      const emissions: PutRecordsEmission<Item>[] = [];
      const producer = new KinesisProducer<Item>(
        {
          client,
          streamName: 'stalled',
          toRecord: (i) => ({ PartitionKey: i.key, Data: i.data }),
          ...QUOTAS_OFF,
        },
        (e) => emissions.push(e),
      );
      const items = makeItems(1200);
      for (const item of items) await producer.put(item);
      const started = performance.now();
      const error = await producer.close({ deadlineMs: 300 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      const tookMs = performance.now() - started;
      expect(error).to.be.instanceOf(KinesisSinkError);
      expect((error as KinesisSinkError).code).to.equal('DRAIN_TIMEOUT');
      expect(tookMs).to.be.within(250, 1_500);
      expect(emissions).to.have.length(0);
      const { all, unsent } = fates(emissions, error);
      expect(all).to.deep.equal(range(0, 1200));
      expect(new Set(unsent).size).to.equal(1200);
      expect(emu.stats().faults.stalls).to.be.greaterThan(0);
    });

    it('with everything delivered before the deadline: resolves and leaves no timer', async () => {
      await withVirtualTime(async (scheduler) => {
        const fake = fakeWith();
        const { producer, emissions } = producerOn(fake, { scheduler });
        for (const item of makeItems(50)) await producer.put(item);
        let closed = false;
        void producer.close({ deadlineMs: 60_000 }).then(() => (closed = true));
        await scheduler.runUntil(() => closed);
        expect(scheduler.now()).to.be.lessThan(60_000);
        expect(ids(outcomes(emissions).delivered)).to.deep.equal(range(0, 50));
        expect(scheduler.pending, 'the deadline timer is cleared').to.equal(0);
      });
    });

    it('a put() waiting for room when close() comes is taken and drained, not refused', async () => {
      await withVirtualTime(async (scheduler) => {
        const fake = fakeWith();
        const { producer, emissions } = producerOn(fake, { scheduler, maxBufferedRecords: 5 });
        const items = makeItems(6);
        for (const item of items.slice(0, 5)) await producer.put(item);
        const waiting = producer.put(items[5]);
        const closed = producer.close();
        await scheduler.runUntil(() => emissions.length > 0 && producer.stats.buffered === 0);
        await waiting;
        await closed;
        expect(ids(outcomes(emissions).delivered)).to.deep.equal(range(0, 6));
        expect(() => producer.offer(items[0])).to.throw(
          /^KinesisProducer.offer: cannot offer once close\(\) was called$/,
        );
      });
    });
  });

  describe('drainTimeoutMs and signal', () => {
    /** Shards that never take a record: every entry throttled, retried with backoff forever. */
    const idOf = (data: Uint8Array) => new DataView(data.buffer, data.byteOffset).getUint32(0);
    const refusing = () =>
      fakeWith({
        records: ({ entry }) =>
          idOf(entry.Data!) % 3 === 0 ? 'ok' : 'ProvisionedThroughputExceededException',
      });

    it('toKinesis: the deadline starts when the source completes; DRAIN_TIMEOUT with the rest in unsent', async () => {
      await withVirtualTime(async (scheduler) => {
        const fake = refusing();
        const source = new Subject<Item>();
        const run = start(
          source.pipe(
            toKinesis(
              options(fake, {
                scheduler,
                drainTimeoutMs: 5_000,
                maxAttempts: 1_000,
                recordTtlMs: 1e9,
                random: () => 0.5,
              }),
            ),
          ),
        );
        const items = makeItems(300);
        for (const item of items) source.next(item);
        await scheduler.advance(20_000); // the source is still open: no deadline yet
        expect(run.done).to.equal(false);
        source.complete();
        await scheduler.runUntil(() => run.done);
        expect(scheduler.now()).to.equal(25_000);
        expect((run.error as KinesisSinkError).code).to.equal('DRAIN_TIMEOUT');
        const { all, delivered, unsent } = fates(run.emissions, run.error);
        expect(all).to.deep.equal(range(0, 300));
        expect(delivered.length).to.be.greaterThan(0);
        expect(unsent.length).to.be.greaterThan(0);
        expect(scheduler.pending).to.equal(0);
      });
    });

    it('putAll: the signal stops pulling at once and starts the deadline; pulled = delivered + unsent', async () => {
      await withVirtualTime(async (scheduler) => {
        const fake = refusing();
        const stop = new AbortController();
        const items = makeItems(5_000);
        let pulled = 0;
        function* source() {
          for (const item of items) {
            pulled++;
            yield item;
          }
        }
        const run = start(
          putAll(
            source(),
            options(fake, {
              scheduler,
              signal: stop.signal,
              drainTimeoutMs: 3_000,
              maxBufferedRecords: 200,
              maxAttempts: 1_000,
              recordTtlMs: 1e9,
              random: () => 0.5,
            } as never),
          ),
        );
        await scheduler.advance(2_000);
        const pulledAtAbort = pulled;
        expect(pulledAtAbort).to.be.within(200, 4_999);
        stop.abort();
        await scheduler.runUntil(() => run.done);
        expect(scheduler.now()).to.be.at.most(5_000);
        expect(pulled).to.equal(pulledAtAbort);
        expect((run.error as KinesisSinkError).code).to.equal('DRAIN_TIMEOUT');
        const { all } = fates(run.emissions, run.error);
        expect(all).to.deep.equal(range(0, pulled));
        expect(scheduler.pending).to.equal(0);
      });
    });

    it('putAll: with a signal and a healthy stream, completes with everything pulled delivered', async () => {
      await withVirtualTime(async (scheduler) => {
        const fake = fakeWith();
        const stop = new AbortController();
        const items = makeItems(3_000);
        let pulled = 0;
        async function* source() {
          for (const item of items) {
            pulled++;
            yield item;
          }
        }
        const run = start(
          putAll(source(), {
            ...options(fake, { scheduler, drainTimeoutMs: 10_000, maxBufferedRecords: 100 }),
            signal: stop.signal,
          }),
        );
        await scheduler.advance(500);
        stop.abort();
        await scheduler.runUntil(() => run.done);
        expect(run.completed, String(run.error)).to.equal(true);
        expect(pulled).to.be.lessThan(3_000);
        expect(ids(outcomes(run.emissions).delivered)).to.deep.equal(range(0, pulled));
      });
    });

    it('property: for random cut times, every item is delivered, finally failed or unsent, exactly once', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.integer({ min: 1, max: 400 }),
          fc.integer({ min: 0, max: 3_000 }),
          fc.integer({ min: 0, max: 2 ** 31 - 1 }),
          async (n, cutMs, seed) =>
            withVirtualTime(async (scheduler) => {
              let r = seed;
              const random = () => (r = (r * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
              const fake = fakeWith({
                records: () => (random() < 0.4 ? 'ProvisionedThroughputExceededException' : 'ok'),
              });
              const emissions: PutRecordsEmission<Item>[] = [];
              const producer = new KinesisProducer<Item>(
                options(fake, {
                  scheduler,
                  maxAttempts: 4,
                  maxBatchRecords: 50,
                  random,
                  retryBaseDelayMs: 200,
                }),
                (e) => emissions.push(e),
              );
              for (const item of makeItems(n, seed)) await producer.put(item);
              let error: unknown;
              let done = false;
              void producer.close({ deadlineMs: cutMs }).then(
                () => (done = true),
                (e: unknown) => ((error = e), (done = true)),
              );
              await scheduler.runUntil(() => done);
              expect(scheduler.now()).to.be.at.most(cutMs);
              if (error !== undefined) expect((error as KinesisSinkError).code).to.equal('DRAIN_TIMEOUT');
              const { all } = fates(emissions, error);
              expect(all).to.deep.equal(range(0, n));
              expect(scheduler.pending).to.equal(0);
            }),
        ),
        { numRuns: 40 },
      );
    });
  });
});
