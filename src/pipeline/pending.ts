import type { PreparedRecord } from '../kinesis/records.js';

/** A source item on its way to Kinesis: accepted, not yet finally delivered or failed. */
export interface PendingRecord<T> {
  readonly item: T;
  readonly record: PreparedRecord;
  /** When it was accepted (scheduler time), for the buffering-time metric. */
  readonly acceptedAt: number;
  /** Sends so far. */
  attempts: number;
  /** When it was first sent (scheduler time), for `recordTtlMs`. */
  firstSentAt: number | undefined;
  /** The shard it was routed to for the current attempt. */
  shardId: string;
  /** Links of the producer's list of live records (see LiveRecords). */
  live: boolean;
  prev: PendingRecord<T> | undefined;
  next: PendingRecord<T> | undefined;
}
