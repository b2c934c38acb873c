import { SpoolError } from '../spool/index.js';

/**
 * What the spool stage hands around: the record a spooled pipeline emits (public), and the receipt a
 * `put()` waits on until its item's append resolved.
 */
/**
 * What a pipeline with a `spool` emits in place of your item: the record as stored on disk, with its
 * spool id. With a spool, an item is only in memory until it is appended; the records that come back from
 * the disk — this process's, and those an earlier process left (`replayed`) — are what is sent and reported.
 * Put what you need to trace an item (an id, a timestamp) in its `Data` or `PartitionKey`.
 *
 * @example
 * ```ts
 * const toRecord = (line: string) => ({ PartitionKey: key(line), Data: line });
 * putAll(lines, { client, streamName: 'logs', toRecord, spool: { directory: '/var/spool/logs' } }).subscribe((e) =>
 *   e.items.forEach((r, i) => {
 *     if (e.response.Records?.[i].ErrorCode && !e.retrying[i]) console.warn(`gave up on spool id ${r.id}`);
 *   }),
 * );
 * ```
 */
export interface SpooledRecord {
  /** The spool id `append` gave it (ids name entries on disk; they may restart once the spool is empty). */
  readonly id: number;
  readonly PartitionKey: string;
  readonly ExplicitHashKey?: string;
  readonly Data: Uint8Array;
  /** True when an earlier process appended it and left it unsent (found when the spool was opened). */
  readonly replayed: boolean;
}

/**
 * A `put()` waiting for its item's append.
 *
 * @example
 * ```ts
 * const receipt = newReceipt();
 * receipt.resolve();
 * await receipt.promise;
 * ```
 */
export interface Receipt {
  readonly promise: Promise<void>;
  readonly resolve: () => void;
  readonly reject: (e: unknown) => void;
}

/**
 * A receipt whose rejection is never unhandled: the `put()` awaiting it reports it.
 *
 * @example
 * ```ts
 * const receipt = newReceipt();
 * ```
 */
export function newReceipt(): Receipt {
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
  promise.catch(() => {});
  return { promise, resolve, reject };
}

/**
 * A spool failure for a message: the SpoolError's own (it names the limit or the file), else the name.
 *
 * @example
 * ```ts
 * const message = `spool: ${describe(new Error('x'))}`; // 'spool: Error'
 * ```
 */
export function describe(error: unknown): string {
  if (error instanceof SpoolError) return error.message;
  return error instanceof Error ? error.name : 'unknown error';
}
