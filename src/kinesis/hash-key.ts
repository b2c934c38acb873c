import { hash } from 'node:crypto';

// Producers see the same keys again and again (device ids, user ids): remembering the last few thousand
// saves the MD5 and the 128-bit BigInt for most records. Clearing when full keeps it bounded and cheap.
const recent = new Map<string, bigint>();
const RECENT_LIMIT = 8192;

/**
 * Where a partition key lands in the Kinesis hash-key space: the MD5 of its UTF-8 bytes read as an
 * unsigned 128-bit big-endian integer — the same computation Kinesis does.
 *
 * @example
 * ```ts
 * hashKeyOf('device-7'); // 0n ≤ result < 2n ** 128n
 * ```
 */
export function hashKeyOf(partitionKey: string): bigint {
  let hashKey = recent.get(partitionKey);
  if (hashKey === undefined) {
    // The one-shot crypto.hash is twice as fast as createHash().update().digest() for short keys.
    hashKey = BigInt('0x' + hash('md5', partitionKey, 'hex'));
    if (recent.size >= RECENT_LIMIT) recent.clear();
    recent.set(partitionKey, hashKey);
  }
  return hashKey;
}
