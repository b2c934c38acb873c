import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { KinesisError } from './errors.js';

const NONCE_BYTES = 12;
const TAG_BYTES = 16;
// ShardIterator is 1..512 characters in the Kinesis model.
const MAX_ITERATOR_LENGTH = 512;

/**
 * Where a shard iterator points: the next record to read is `records[index]` of the shard's log.
 *
 * @example
 * ```ts
 * const position: IteratorPosition = { streamName: 'demo', incarnation: 1, shardId, index: 0, issuedAt: clock() };
 * ```
 */
export interface IteratorPosition {
  readonly streamName: string;
  /** Which stream of that name: a deleted and recreated stream gets a new one. */
  readonly incarnation: number;
  readonly shardId: string;
  readonly index: number;
  /** Epoch ms when issued; it expires `ttlMs` later. */
  readonly issuedAt: number;
}

/** "Thu Jan 22 01:22:02 UTC 2015", as Kinesis prints times in ExpiredIteratorException. */
function amzTime(ms: number): string {
  const [day, date, month, year, time] = new Date(ms).toUTCString().replace(',', '').split(' ');
  return `${day} ${month} ${date} ${time} UTC ${year}`;
}

/**
 * Issues and opens shard iterators. An iterator is opaque like AWS's: the position sealed with AES-256-GCM
 * under a key of this emulator's own, so a client can neither read nor forge one, and the server keeps no
 * state per iterator (a reader issues one per GetRecords call; a table would need sweeping).
 *
 * @example
 * ```ts
 * const iterators = new ShardIterators();
 * const token = iterators.issue({ streamName: 'demo', incarnation: 1, shardId, index: 0, issuedAt: now });
 * iterators.open(token, now).index; // 0
 * ```
 */
export class ShardIterators {
  private readonly key = randomBytes(32);

  constructor(readonly ttlMs = 300_000) {}

  issue(position: IteratorPosition): string {
    const { streamName, incarnation, shardId, index, issuedAt } = position;
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.key, nonce);
    const payload = JSON.stringify([streamName, incarnation, shardId, index, issuedAt]);
    const sealed = Buffer.concat([cipher.update(payload, 'utf8'), cipher.final()]);
    return Buffer.concat([nonce, cipher.getAuthTag(), sealed]).toString('base64');
  }

  /** The position of a valid, unexpired iterator; InvalidArgumentException or ExpiredIteratorException otherwise. */
  open(token: unknown, now: number): IteratorPosition {
    const position = this.unseal(token);
    if (position === undefined) throw new KinesisError('InvalidArgumentException', 'Invalid ShardIterator.');
    if (now - position.issuedAt > this.ttlMs) {
      throw new KinesisError(
        'ExpiredIteratorException',
        `Iterator expired. The iterator was created at time ${amzTime(position.issuedAt)} while right now it ` +
          `is ${amzTime(now)} which is further in the future than the tolerated delay of ${this.ttlMs} ` +
          'milliseconds.',
      );
    }
    return position;
  }

  private unseal(token: unknown): IteratorPosition | undefined {
    if (typeof token !== 'string' || token.length > MAX_ITERATOR_LENGTH) return undefined;
    const bytes = Buffer.from(token, 'base64');
    if (bytes.length <= NONCE_BYTES + TAG_BYTES) return undefined;
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, bytes.subarray(0, NONCE_BYTES));
      decipher.setAuthTag(bytes.subarray(NONCE_BYTES, NONCE_BYTES + TAG_BYTES));
      const plain = Buffer.concat([
        decipher.update(bytes.subarray(NONCE_BYTES + TAG_BYTES)),
        decipher.final(),
      ]);
      const [streamName, incarnation, shardId, index, issuedAt] = JSON.parse(plain.toString('utf8')) as [
        string,
        number,
        string,
        number,
        number,
      ];
      return { streamName, incarnation, shardId, index, issuedAt };
    } catch {
      // Tampered, truncated or from another emulator: the tag does not verify.
      return undefined;
    }
  }
}
