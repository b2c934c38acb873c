import {
  PutRecordsCommand,
  type KinesisClient,
  type PutRecordsInput,
  type PutRecordsOutput,
} from '@aws-sdk/client-kinesis';
import { setMaxListeners } from 'node:events';
import { Fifo } from './fifo.js';
import type { PendingRecord } from './pending.js';

/** What the sender reports for each request. */
export interface SendHandlers<T> {
  /** `attempts` is each record's send count for this request (the records' own counters move on). */
  response(
    batch: PendingRecord<T>[],
    request: PutRecordsInput,
    response: PutRecordsOutput,
    attempts: number[],
  ): void;
  /** The request got no response (after the SDK client's own retries). */
  requestError(batch: PendingRecord<T>[], error: unknown): void;
  /** Nothing is queued or in flight. */
  idle(): void;
}

/**
 * Sends sealed batches as PutRecords requests, at most `maxInFlight` at once; the rest wait in order.
 * Every request carries the pipeline's abort signal, so unsubscribing cancels what is in flight.
 *
 * @example
 * ```ts
 * const sender = new Sender(client, { StreamName: 'sensors' }, 16, scheduler.now, handlers);
 * sender.enqueue(batch);
 * ```
 */
export class Sender<T> {
  private readonly queue = new Fifo<PendingRecord<T>[]>();
  private inFlight = 0;
  private readonly abort = new AbortController();

  constructor(
    private readonly client: KinesisClient,
    private readonly stream: { StreamName?: string; StreamARN?: string },
    private readonly maxInFlight: number,
    private readonly now: () => number,
    private readonly handlers: SendHandlers<T>,
  ) {
    // Every request in flight listens on the one signal; that is by design, not a leak.
    setMaxListeners(Infinity, this.abort.signal);
  }

  /** Requests in flight plus batches waiting for a slot. */
  get busy(): boolean {
    return this.inFlight > 0 || this.queue.length > 0;
  }

  enqueue(batch: PendingRecord<T>[]): void {
    this.queue.push(batch);
    this.next();
  }

  /** Removes the batches not yet sent (for a fatal error's report). */
  drain(): PendingRecord<T>[] {
    return this.queue.drain().flat();
  }

  /** Cancels every request in flight. */
  cancel(): void {
    this.abort.abort();
  }

  private next(): void {
    while (this.inFlight < this.maxInFlight && this.queue.length > 0 && !this.abort.signal.aborted) {
      void this.send(this.queue.shift()!);
    }
  }

  private async send(batch: PendingRecord<T>[]): Promise<void> {
    this.inFlight++;
    const now = this.now();
    const attempts: number[] = new Array(batch.length);
    const records = new Array(batch.length);
    for (let i = 0; i < batch.length; i++) {
      const pending = batch[i];
      attempts[i] = ++pending.attempts;
      pending.firstSentAt ??= now;
      records[i] = pending.record.entry;
    }
    const request: PutRecordsInput = { ...this.stream, Records: records };
    let response: PutRecordsOutput | undefined;
    let failure: unknown;
    try {
      response = await this.client.send(new PutRecordsCommand(request), { abortSignal: this.abort.signal });
    } catch (error) {
      failure = error;
    }
    this.inFlight--;
    if (this.abort.signal.aborted) return;
    if (response) this.handlers.response(batch, request, response, attempts);
    else this.handlers.requestError(batch, failure);
    this.next();
    if (!this.busy) this.handlers.idle();
  }
}
