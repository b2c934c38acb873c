import { InvalidRecordError } from '../kinesis/records.js';
import type { Admission } from './admission.js';
import type { Lifecycle } from './lifecycle.js';
import type { Outcomes, RecordResult } from './outcomes.js';
import type { PendingRecord } from './pending.js';
import type { SpoolStage } from './spool-stage.js';
import type { Receipt } from './spooled-record.js';

/** What the intake hands items to. */
export interface IntakeNext<T> {
  admission: Admission<T>;
  life: Lifecycle<T>;
  /** The promises of `send()`. */
  outcomes: Outcomes<T>;
  /** With a `spool`: items go to the disk first, and come back into Admission from there. */
  spool: SpoolStage<T> | undefined;
  /** The next stage for an admitted record: KeyOrder with per-key ordering, else the Router. */
  route: (record: PendingRecord<T>) => void;
  /** Where an invalid item goes for `put()`/`take()`; unset, they reject with it. */
  onInvalidRecord: ((error: InvalidRecordError<T>) => void) | undefined;
}

/**
 * The producer's front door: `offer()`, `put()`, `take()` and `send()` decide when an item is taken (now,
 * after room is made, or never: the Lifecycle says), where it goes (the spool, or Admission and on to
 * routing) and what the caller gets back (a durability receipt, a `send()`'s outcome, an
 * `InvalidRecordError`). The producer's public methods are one call each on this.
 *
 * @example
 * ```ts
 * const intake = new Intake<Item>(next); // admission, life, outcomes, spool, route, onInvalidRecord
 * await intake.put(item); // waits while the buffer is full
 * const { ShardId } = await intake.send(item); // once delivered
 * ```
 */
export class Intake<T> {
  constructor(private readonly next: IntakeNext<T>) {}

  /** `'accepted'`, `'full'` or the `InvalidRecordError` (nothing taken), without waiting. */
  offer(item: T): 'accepted' | 'full' | InvalidRecordError<T> {
    this.next.life.checkTaking(false, 'offer');
    return this.admit(item, undefined);
  }

  /** Taken (waiting for room), then with a spool, durable per its receipt. */
  async put(item: T): Promise<void> {
    const receipt = this.next.spool?.receipt();
    if (await this.takeWith(item, receipt)) await receipt?.promise;
  }

  /** Like `put()`, but resolves once the producer holds the item, not once it is in the spool. */
  take(item: T): Promise<boolean> {
    return this.takeWith(item, undefined);
  }

  /** Taken (waiting for room), then a promise of the record's outcome. */
  async send(item: T): Promise<RecordResult> {
    const { spool, admission, life, outcomes } = this.next;
    if (spool) throw new Error('KinesisProducer.send: not with a spool; put() resolves once spooled');
    const taken = await life.whenTaking(
      'send',
      () => this.admitPending(item),
      () => admission.room(),
    );
    if (taken instanceof InvalidRecordError) throw taken;
    return outcomes.watch(taken);
  }

  private async takeWith(item: T, receipt: Receipt | undefined): Promise<boolean> {
    const { spool, admission, life, onInvalidRecord } = this.next;
    const room = () => (spool ? spool.room() : admission.room());
    const outcome = await life.whenTaking('put', () => this.admit(item, receipt), room);
    if (outcome === 'accepted') return true;
    if (!onInvalidRecord) throw outcome;
    onInvalidRecord(outcome);
    return false;
  }

  private admit(item: T, receipt: Receipt | undefined): 'accepted' | 'full' | InvalidRecordError<T> {
    if (this.next.spool) return this.next.spool.offer(item, receipt);
    const pending = this.admitPending(item);
    return pending === 'full' || pending instanceof InvalidRecordError ? pending : 'accepted';
  }

  /** Into Admission (bounded while open; taken while failing, to be reported unsent) and on to routing. */
  private admitPending(item: T): PendingRecord<T> | 'full' | InvalidRecordError<T> {
    const pending = this.next.admission.offer(item, this.next.life.state === 'open');
    if (pending !== 'full' && !(pending instanceof InvalidRecordError)) this.next.route(pending);
    return pending;
  }
}
