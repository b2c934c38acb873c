import type { ShardRange, StreamRef } from '../kinesis/shard-map.js';

/** Per client object: the open shards each stream had when a pipeline last listed them. */
const byClient = new WeakMap<object, Map<string, readonly ShardRange[]>>();

const keyOf = (stream: StreamRef) => JSON.stringify([stream.streamName ?? null, stream.streamARN ?? null]);

/**
 * The shards of `stream` as the last pipeline on this client listed them, if any did. A new pipeline
 * starts routing on them at once instead of holding every record until its own ListShards answers (bench
 * scenario 4: the first ~240 ms of a 200,000-record run sent nothing, and every record was routed in a
 * second pass over cold memory). A stale list is what every long-running pipeline has after a reshard, and
 * is handled the same way: a record that lands on a shard it did not predict refreshes the map.
 *
 * @example
 * ```ts
 * const ranges: ShardRange[] = [
 *   { shardId: 'shardId-000000000000', startingHashKey: 0n, endingHashKey: 2n ** 128n - 1n },
 * ];
 * rememberShards(client, { streamName: 'sensors' }, ranges);
 * knownShards(client, { streamName: 'sensors' }); // ranges
 * ```
 */
export function knownShards(client: object, stream: StreamRef): readonly ShardRange[] | undefined {
  return byClient.get(client)?.get(keyOf(stream));
}

/** Keeps the open shards a pipeline just listed, for the next pipeline on this client and stream. */
export function rememberShards(client: object, stream: StreamRef, ranges: readonly ShardRange[]): void {
  let perClient = byClient.get(client);
  if (!perClient) byClient.set(client, (perClient = new Map()));
  perClient.set(keyOf(stream), ranges);
}
