import { hash } from 'node:crypto';

/**
 * 2^128 − 1: the top of the Kinesis hash-key space. The emulator keeps its own copy (the library has one
 * in `src/kinesis/records.ts`) so that nothing it routes by comes from the code it is meant to check.
 *
 * @example
 * ```ts
 * stream.shardFor(MAX_HASH_KEY); // the last shard
 * ```
 */
export const MAX_HASH_KEY = (1n << 128n) - 1n;

/**
 * Where Kinesis puts a partition key: the MD5 of its UTF-8 bytes read as an unsigned 128-bit big-endian
 * integer. Computed here, independently of the library's `hashKeyOf`, so the emulator can catch a routing
 * bug in it rather than repeat it. No cache: the emulator's write path is not what the bench measures.
 *
 * @example
 * ```ts
 * routingHashKey('device-7'); // 0n ≤ result ≤ MAX_HASH_KEY
 * ```
 */
export function routingHashKey(partitionKey: string): bigint {
  return BigInt('0x' + hash('md5', Buffer.from(partitionKey, 'utf8'), 'hex'));
}
