import {
  PutRecordsCommand,
  type KinesisClient,
  type PutRecordsInput,
  type PutRecordsOutput,
} from '@aws-sdk/client-kinesis';
import { setMaxListeners } from 'node:events';
import { Fifo } from './fifo.js';
import { Aggregate, type Outgoing } from './aggregation.js';

/** What the sender reports for each request. */
export interface SendHandlers<T> {
  /** Each user record's `attempts` already counts this request; `ms` is how long the request took. */
  response(batch: Outgoing<T>[], request: PutRecordsInput, response: PutRecordsOutput, ms: number): void;
  /** The request got no response (after the SDK client's own retries). */
  requestError(batch: Outgoing<T>[], error: unknown, ms: number): void;
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
  private readonly queue = new Fifo<Outgoing<T>[]>();
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

  /** Requests in flight plus batches waiting for a slot (none once cancelled: their answers are ignored). */
  get busy(): boolean {
    return !this.abort.signal.aborted && (this.inFlight > 0 || this.queue.length > 0);
  }

  enqueue(batch: Outgoing<T>[]): void {
    this.queue.push(batch);
    this.next();
  }

  /** Drops the batches not yet sent (a fatal error reports the producer's live records). */
  drain(): void {
    this.queue.drain();
  }

  /** Cancels every request in flight: their answers, if any come, are ignored. */
  cancel(): void {
    this.abort.abort();
  }

  private next(): void {
    while (this.inFlight < this.maxInFlight && this.queue.length > 0 && !this.abort.signal.aborted) {
      void this.send(this.queue.shift()!);
    }
  }

  private async send(batch: Outgoing<T>[]): Promise<void> {
    this.inFlight++;
    const now = this.now();
    const records = new Array(batch.length);
    for (let i = 0; i < batch.length; i++) {
      const unit = batch[i];
      if (unit instanceof Aggregate) {
        for (const member of unit.members) {
          member.attempts++;
          member.firstSentAt ??= now;
        }
      } else {
        unit.attempts++;
        unit.firstSentAt ??= now;
      }
      records[i] = unit.record.entry;
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
    const ms = this.now() - now;
    if (response) this.handlers.response(batch, request, response, ms);
    else this.handlers.requestError(batch, failure, ms);
    this.next();
    if (!this.busy) this.handlers.idle();
  }
}
