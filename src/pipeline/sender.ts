import {
  PutRecordsCommand,
  type KinesisClient,
  type PutRecordsInput,
  type PutRecordsOutput,
} from '@aws-sdk/client-kinesis';
import type { SchedulerLike } from 'rxjs';
import { Aggregate, type Outgoing } from './aggregation.js';
import { RequestDeadlines, requestDeadlineMs, type DeadlineOptions } from './deadline.js';
import { warnIfConnectionPerRequest } from './client-check.js';

/** What the sender reports for each request. */
export interface SendHandlers<T> {
  /** Each user record's `attempts` already counts this request; `ms` is how long the request took. */
  response(batch: Outgoing<T>[], request: PutRecordsInput, response: PutRecordsOutput, ms: number): void;
  /** The request got no response (after the SDK client's own retries), or none before its deadline. */
  requestError(batch: Outgoing<T>[], error: unknown, ms: number): void;
  /** Nothing is queued or in flight. */
  idle(): void;
}

/**
 * Sends requests as PutRecords, at most `maxInFlight` at once: it asks for the next request (`take`, the
 * BatchCollector's) whenever it has room, and `wake()` tells it one may be ready.
 * Every request carries its own abort signal, fired at its deadline (`requestTimeoutMs` plus its bytes at
 * `minUploadBytesPerSecond`: see deadline.ts) or when the pipeline is cancelled; the deadline is ours, not
 * the client's, so no request handler can hang the pipeline (measured on 0.2.0: `NodeHttpHandler` waited
 * forever on a stalled peer; the SDK's HTTP/2 handler ~5 min).
 *
 * @example
 * ```ts
 * const options = resolveOptions({ client, streamName: 'sensors' }); // its deadline settings and scheduler
 * const sender = new Sender(client, { StreamName: 'sensors' }, 16, options, scheduler.now, handlers,
 *   () => collector.take());
 * sender.wake(); // a request may be ready
 * ```
 */
export class Sender<T> {
  private inFlight = 0;
  private readonly abort = new AbortController();
  private readonly inFlightDeadlines: RequestDeadlines;
  private checkedClient = false;

  constructor(
    private readonly client: KinesisClient,
    private readonly stream: { StreamName?: string; StreamARN?: string },
    private readonly maxInFlight: number,
    private readonly deadlines: DeadlineOptions & { scheduler: SchedulerLike },
    private readonly now: () => number,
    private readonly handlers: SendHandlers<T>,
    /** The next request to send, or undefined when none is ready. */
    private readonly take: () => Outgoing<T>[] | undefined,
  ) {
    this.inFlightDeadlines = new RequestDeadlines(deadlines.scheduler);
  }

  /** Requests in flight (none once cancelled: their answers are ignored). */
  get busy(): boolean {
    return !this.abort.signal.aborted && this.inFlight > 0;
  }

  /** Sends what `take` gives while there is room. */
  wake(): void {
    while (this.inFlight < this.maxInFlight && !this.abort.signal.aborted) {
      const batch = this.take();
      if (!batch) return;
      void this.send(batch);
    }
  }

  /** Cancels every request in flight: their answers, if any come, are ignored. */
  cancel(): void {
    this.abort.abort();
    this.inFlightDeadlines.cancel(this.abort.signal.reason);
  }

  private async send(batch: Outgoing<T>[]): Promise<void> {
    this.inFlight++;
    const now = this.now();
    const records = new Array(batch.length);
    let bytes = 0;
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
      bytes += unit.record.bytes;
    }
    const request: PutRecordsInput = { ...this.stream, Records: records };
    let response: PutRecordsOutput | undefined;
    let failure: unknown;
    const deadline = this.inFlightDeadlines.start(requestDeadlineMs(this.deadlines, bytes));
    try {
      response = await this.client.send(new PutRecordsCommand(request), { abortSignal: deadline.signal });
    } catch (error) {
      failure = deadline.explain(error, 'PutRecords');
    } finally {
      this.inFlightDeadlines.end(deadline);
    }
    this.inFlight--;
    if (!this.checkedClient && response) {
      // The handler's settings are known only once it sent a request.
      this.checkedClient = true;
      void warnIfConnectionPerRequest(this.client);
    }
    if (this.abort.signal.aborted) return;
    const ms = this.now() - now;
    if (response) this.handlers.response(batch, request, response, ms);
    else this.handlers.requestError(batch, failure, ms);
    this.wake();
    if (!this.busy) this.handlers.idle();
  }
}
