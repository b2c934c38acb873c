/**
 * Sender on its own, with a fake client whose requests the spec answers one by one and a queue standing in
 * for the BatchCollector it takes requests from: at most `maxInFlight` requests at once, a request taken only
 * when there is room, in the order the source gives them; each answer reported once to the right handler
 * with its duration on the injected clock; `cancel()` aborts what is in flight and reports nothing more.
 */
import { PutRecordsCommand, type KinesisClient, type PutRecordsOutput } from '@aws-sdk/client-kinesis';
import { expect } from 'chai';
import fc from 'fast-check';
import type { Outgoing } from '../../src/pipeline/aggregation.js';
import type { PendingRecord } from '../../src/pipeline/pending.js';
import { requestDeadlineMs } from '../../src/pipeline/deadline.js';
import { Fifo } from '../../src/pipeline/fifo.js';
import { Sender } from '../../src/pipeline/sender.js';
import { abortError, sdkError } from '../support/fake-kinesis.js';
import { pending, type Item } from '../support/fixtures.js';
import { VirtualScheduler, withVirtualTime } from '../support/virtual-time.js';

interface Call {
  readonly ids: number[];
  readonly signal: AbortSignal | undefined;
  readonly command: PutRecordsCommand;
  answer(output: PutRecordsOutput): void;
  fail(error: unknown): void;
}

/** A client that keeps every PutRecords call open until the spec answers it. */
function fakeClient() {
  const calls: Call[] = [];
  let open = 0;
  let maxOpen = 0;
  const client = {
    send: (command: PutRecordsCommand, options?: { abortSignal?: AbortSignal }) =>
      new Promise<PutRecordsOutput>((resolve, reject) => {
        open++;
        maxOpen = Math.max(maxOpen, open);
        const done = () => open--;
        options?.abortSignal?.addEventListener('abort', () => (done(), reject(abortError())), { once: true });
        calls.push({
          ids: command.input.Records!.map((e) => new DataView(e.Data!.buffer).getUint32(0)),
          signal: options?.abortSignal,
          command,
          answer: (o) => (done(), resolve(o)),
          fail: (e) => (done(), reject(e)),
        });
      }),
  } as unknown as KinesisClient;
  return { client, calls, maxOpen: () => maxOpen, open: () => open };
}

/** Record `id`: its data starts with the id, so a request entry names its record. */
function rec(id: number): PendingRecord<Item> {
  const data = new Uint8Array(8);
  new DataView(data.buffer).setUint32(0, id);
  return pending({ id, key: `k${id}`, data });
}

const ok = (n: number): PutRecordsOutput => ({
  FailedRecordCount: 0,
  Records: Array.from({ length: n }, (_, i) => ({ ShardId: 'shardId-000000000000', SequenceNumber: `${i}` })),
});

/** Lets the sender's promise continuations run. */
const settle = () => new Promise((resolve) => setImmediate(resolve));

function senderWith(maxInFlight: number, scheduler = new VirtualScheduler()) {
  const fake = fakeClient();
  const events: string[] = [];
  const durations: number[] = [];
  const deadlines = { requestTimeoutMs: 6_000, minUploadBytesPerSecond: 256 * 1024, scheduler };
  // The requests ready to go, as the collector would give them.
  const ready = new Fifo<Outgoing<Item>[]>();
  const sender = new Sender<Item>(
    fake.client,
    { StreamName: 's' },
    maxInFlight,
    deadlines,
    () => scheduler.now(),
    {
      response: (batch: Outgoing<Item>[], request, response, ms) => {
        expect(request.Records).to.have.length(batch.length);
        expect(response.Records).to.have.length(batch.length);
        events.push(`response ${idsOf(batch)}`);
        durations.push(ms);
      },
      requestError: (batch, error, ms) => {
        events.push(`error ${idsOf(batch)} ${(error as Error).name}`);
        durations.push(ms);
      },
      idle: () => events.push('idle'),
    },
    () => ready.shift(),
  );
  const enqueue = (batch: Outgoing<Item>[]) => {
    ready.push(batch);
    sender.wake();
  };
  return { sender, enqueue, ready, fake, events, durations, scheduler };
}
const idsOf = (batch: Outgoing<Item>[]) => batch.map((r) => (r as PendingRecord<Item>).item.id).join(',');

describe('Sender (stage)', () => {
  it('property: never more than maxInFlight requests open; sent in the order taken; each answered once; idle at the end', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 0, max: 20 }),
        fc.infiniteStream(fc.nat()),
        async (maxInFlight, batches, picks) => {
          const { sender, enqueue, fake, events } = senderWith(maxInFlight);
          for (let b = 0; b < batches; b++) enqueue([rec(2 * b), rec(2 * b + 1)]);
          const it = picks[Symbol.iterator]();
          let answered = 0;
          while (answered < batches) {
            expect(fake.open()).to.be.within(1, maxInFlight);
            // Answer any open call (in any order): the pick among the unanswered ones.
            const unanswered = fake.calls.filter((c) => !(c as { done?: boolean }).done);
            const call = unanswered[it.next().value % unanswered.length];
            (call as { done?: boolean }).done = true;
            if (it.next().value % 4 === 0) call.fail(sdkError('InternalFailure', 500));
            else call.answer(ok(call.ids.length));
            answered++;
            await settle();
          }
          expect(fake.maxOpen()).to.be.at.most(maxInFlight);
          expect(fake.maxOpen()).to.equal(Math.min(maxInFlight, batches));
          // Requests went out in the order the source gave them.
          expect(fake.calls.map((c) => c.ids)).to.deep.equal(
            Array.from({ length: batches }, (_, b) => [2 * b, 2 * b + 1]),
          );
          expect(events.filter((e) => e !== 'idle')).to.have.length(batches);
          expect(sender.busy).to.equal(false);
          if (batches > 0) expect(events.at(-1)).to.equal('idle');
        },
      ),
      { numRuns: 60 },
    );
  });

  it('sends the stream and the entries, counts attempts, stamps firstSentAt once, and reports durations on its clock', async () => {
    await withVirtualTime(async (scheduler) => {
      const { enqueue, fake, events, durations } = senderWith(1, scheduler);
      const r = rec(7);
      enqueue([r]);
      expect(fake.calls).to.have.length(1);
      expect(fake.calls[0].command.input.StreamName).to.equal('s');
      expect(fake.calls[0].command.input.Records![0]).to.equal(r.record.entry);
      expect([r.attempts, r.firstSentAt]).to.deep.equal([1, 0]);
      await scheduler.advance(250);
      fake.calls[0].answer(ok(1));
      await scheduler.settle();
      expect(durations).to.deep.equal([250]);
      enqueue([r]); // a retry: attempts counts it, firstSentAt keeps the first send
      expect([r.attempts, r.firstSentAt]).to.deep.equal([2, 0]);
      fake.calls[1].fail(sdkError('ProvisionedThroughputExceededException', 400));
      await scheduler.settle();
      expect(durations).to.deep.equal([250, 0]);
      expect(events).to.deep.equal([
        'response 7',
        'idle',
        'error 7 ProvisionedThroughputExceededException',
        'idle',
      ]);
    });
  });

  it('aborts a request at its deadline (requestTimeoutMs + bytes at minUploadBytesPerSecond) and reports a RequestTimeoutError; an answered one leaves no timer', async () => {
    await withVirtualTime(async (scheduler) => {
      const { enqueue, fake, events } = senderWith(2, scheduler);
      const big = rec(1);
      enqueue([rec(0)]);
      enqueue([big]);
      const deadline = (bytes: number) =>
        requestDeadlineMs({ requestTimeoutMs: 6_000, minUploadBytesPerSecond: 256 * 1024 }, bytes);
      expect(deadline(5 * 1024 * 1024)).to.equal(26_000); // a full request gets 20 s to upload
      fake.calls[0].answer(ok(1));
      await scheduler.settle();
      expect(scheduler.pending).to.equal(1); // only the unanswered request's deadline
      await scheduler.advance(deadline(big.record.bytes) - 1);
      expect(fake.calls[1].signal?.aborted).to.equal(false);
      await scheduler.advance(1);
      expect(fake.calls[1].signal?.aborted).to.equal(true);
      await scheduler.settle();
      expect(events).to.deep.equal(['response 0', 'error 1 RequestTimeoutError', 'idle']);
      expect(scheduler.pending).to.equal(0);
    });
  });

  it('takes a request only when it has room: the rest wait at their source until an answer frees a slot', async () => {
    const { enqueue, ready, fake, events } = senderWith(1);
    enqueue([rec(0)]);
    enqueue([rec(1)]);
    enqueue([rec(2)]);
    expect(fake.calls).to.have.length(1);
    expect(ready.length).to.equal(2); // not taken: the collector can still add to them
    fake.calls[0].answer(ok(1));
    await settle();
    expect(fake.calls.map((c) => c.ids)).to.deep.equal([[0], [1]]);
    expect(ready.length).to.equal(1);
    expect(events).to.deep.equal(['response 0']); // not idle: a request is in flight
  });

  it('cancel() aborts every request in flight, reports none of them and sends nothing more', async () => {
    const { sender, enqueue, fake, events } = senderWith(2);
    [0, 1, 2].forEach((i) => enqueue([rec(i)]));
    expect(fake.calls.map((c) => c.signal?.aborted)).to.deep.equal([false, false]);
    sender.cancel();
    await settle();
    expect(fake.calls.map((c) => c.signal?.aborted)).to.deep.equal([true, true]);
    expect(fake.open()).to.equal(0);
    expect(fake.calls).to.have.length(2);
    expect(events).to.deep.equal([]);
    enqueue([rec(3)]);
    expect(fake.calls).to.have.length(2);
  });

  it('cancel() drops the deadline timer of requests whose client ignores the abort: no timer left', async () => {
    await withVirtualTime(async (scheduler) => {
      const requests: unknown[] = [];
      // A client that never settles, even when aborted (a stalled peer behind a handler that ignores signals).
      const client = {
        send: (command: unknown) => (requests.push(command), new Promise<never>(() => {})),
      } as unknown as KinesisClient;
      const deadlines = { requestTimeoutMs: 6_000, minUploadBytesPerSecond: 256 * 1024, scheduler };
      const noop = () => {};
      const ready = [[rec(0)], [rec(1)]];
      const handlers = { response: noop, requestError: noop, idle: noop };
      const sender = new Sender<Item>(
        client,
        { StreamName: 's' },
        2,
        deadlines,
        () => scheduler.now(),
        handlers,
        () => ready.shift(),
      );
      sender.wake();
      expect(requests).to.have.length(2);
      expect(scheduler.pending).to.equal(1); // the control: one timer for both requests' deadlines
      sender.cancel();
      expect(scheduler.pending).to.equal(0);
    });
  });
});
