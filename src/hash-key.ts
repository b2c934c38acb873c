import { createHash } from 'node:crypto';

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
  return BigInt('0x' + createHash('md5').update(partitionKey, 'utf8').digest('hex'));
}
