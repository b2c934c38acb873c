import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  ListShardsCommand,
  type ChildShard,
  type KinesisClient,
  type Shard,
  type _Record,
} from '@aws-sdk/client-kinesis';

/**
 * A record read back, with the shard it was read from.
 *
 * @example
 * ```ts
 * const { ShardId, SequenceNumber, PartitionKey, Data }: ReadRecord = (await readAll(client, 'demo'))[0];
 * ```
 */
export interface ReadRecord extends _Record {
  readonly ShardId: string;
}

/**
 * How {@link readAll} reads.
 *
 * @example
 * ```ts
 * const options: ReadAllOptions = { limit: 1_000, throttleWaitMs: 250 };
 * ```
 */
export interface ReadAllOptions {
  /** GetRecords `Limit` per call. Default 10,000 (the maximum). */
  limit?: number;
  /** How long to wait after ProvisionedThroughputExceededException before the same call again. Default 200 ms. */
  throttleWaitMs?: number;
}

/** Which stream: a name, or StreamName/StreamARN as the SDK's inputs take them. */
type StreamRef = string | { StreamName?: string; StreamARN?: string };

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Reads every record of a stream the way the KCL does: from TRIM_HORIZON of each shard that has no parent
 * in the stream, with GetShardIterator/GetRecords; at a closed shard's end it follows the ChildShards, and
 * starts a child only once all its parents are drained, so each partition key's records come back in
 * write order even across a split or a merge. An open shard is read until it is caught up (an empty
 * response with MillisBehindLatest 0). Works against the emulator or any Kinesis endpoint.
 *
 * Returns the records in read order: shard by shard, each shard in sequence-number order.
 *
 * @example
 * ```ts
 * import { readAll } from 'rx-kinesis/testing';
 *
 * const records = await readAll(client, 'demo');
 * const texts = records.map((r) => Buffer.from(r.Data!).toString());
 * ```
 */
export async function readAll(
  client: KinesisClient,
  stream: StreamRef,
  options: ReadAllOptions = {},
): Promise<ReadRecord[]> {
  const ref = typeof stream === 'string' ? { StreamName: stream } : stream;
  const shards = await listAll(client, ref);
  const listed = new Set(shards.map((s) => s.ShardId!));
  const parentsOf = (parents: (string | undefined)[]) =>
    parents.filter((p): p is string => p !== undefined && listed.has(p));
  const drained = new Set<string>();
  const started = new Set<string>();
  const queue = shards
    .filter((s) => parentsOf([s.ParentShardId, s.AdjacentParentShardId]).length === 0)
    .map((s) => s.ShardId!);
  const out: ReadRecord[] = [];
  while (queue.length > 0) {
    const shardId = queue.shift()!;
    if (started.has(shardId)) continue;
    started.add(shardId);
    const children = await readShard(client, ref, shardId, out, options);
    if (children === undefined) continue; // open, caught up: nothing follows it yet
    drained.add(shardId);
    for (const child of children) {
      const ready = parentsOf(child.ParentShards ?? []).every((p) => drained.has(p));
      if (ready && !started.has(child.ShardId!)) queue.push(child.ShardId!);
    }
  }
  return out;
}

async function listAll(client: KinesisClient, ref: Exclude<StreamRef, string>): Promise<Shard[]> {
  const shards: Shard[] = [];
  let nextToken: string | undefined;
  do {
    const page = await client.send(
      new ListShardsCommand(nextToken === undefined ? { ...ref } : { NextToken: nextToken }),
    );
    shards.push(...(page.Shards ?? []));
    nextToken = page.NextToken;
  } while (nextToken !== undefined);
  return shards;
}

/** Reads one shard from TRIM_HORIZON into `out`; returns its ChildShards at a closed end, undefined if open. */
async function readShard(
  client: KinesisClient,
  ref: Exclude<StreamRef, string>,
  shardId: string,
  out: ReadRecord[],
  options: ReadAllOptions,
): Promise<ChildShard[] | undefined> {
  let iterator = (
    await client.send(
      new GetShardIteratorCommand({ ...ref, ShardId: shardId, ShardIteratorType: 'TRIM_HORIZON' }),
    )
  ).ShardIterator;
  for (;;) {
    let page;
    try {
      page = await client.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: options.limit }));
    } catch (error) {
      if ((error as Error).name !== 'ProvisionedThroughputExceededException') throw error;
      await sleep(options.throttleWaitMs ?? 200);
      continue;
    }
    const records = page.Records ?? [];
    for (const record of records) out.push({ ...record, ShardId: shardId });
    if (page.NextShardIterator === undefined) return page.ChildShards ?? [];
    if (records.length === 0 && page.MillisBehindLatest === 0) return undefined;
    iterator = page.NextShardIterator;
  }
}
