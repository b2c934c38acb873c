/**
 * Test support: the source items the operator specs send, and the small helpers that read their fate back.
 * One copy for every spec (they were copied in three).
 */
import type { KinesisRecordInput, PutRecordsEmission, ToKinesisOptions } from '../../src/index.js';
import { MAX_RECORD_BYTES_CEILING, prepareRecord } from '../../src/kinesis/records.js';
import type { PendingRecord } from '../../src/pipeline/pending.js';
import { seededRandom } from '../../src/testing/faults.js';
import { FakeKinesis, type FakeKinesisOptions } from './fake-kinesis.js';

/** A source item. `data` is distinct per item, so a request entry is traced back to its item by identity. */
export interface Item {
  readonly id: number;
  readonly key: string;
  readonly data: Uint8Array;
  readonly explicitHashKey?: string;
}

/** The record an item becomes (with its ExplicitHashKey when it has one). */
export const toRecord = (item: Item): KinesisRecordInput =>
  item.explicitHashKey === undefined
    ? { PartitionKey: item.key, Data: item.data }
    : { PartitionKey: item.key, Data: item.data, ExplicitHashKey: item.explicitHashKey };

/** `n` items with distinct data (the id in the first 4 bytes, the rest seeded) and keys over all shards. */
export function makeItems(n: number, seed = 1, size = 16): Item[] {
  const random = seededRandom(seed);
  return Array.from({ length: n }, (_, id) => {
    const data = new Uint8Array(size);
    for (let i = 0; i < size; i++) data[i] = Math.floor(random() * 256);
    new DataView(data.buffer).setUint32(0, id);
    return { id, key: `key-${Math.floor(random() * 1e9)}`, data };
  });
}

/** `n` items over `keys` partition keys (item `id` on key `(id·7919) mod keys`), data `item <id>`. */
export function keyedItems(n: number, keys = 50): Item[] {
  return Array.from({ length: n }, (_, id) => ({
    id,
    key: `key-${(id * 7919) % keys}`,
    data: Buffer.from(`item ${id}`),
  }));
}

/** What a property generates for an item: its key, data size, and ExplicitHashKey or null. */
export interface ItemSpec {
  readonly key: string;
  readonly size: number;
  readonly explicit: bigint | null;
}

/** Items as generated, each with distinct data of its size. */
export function itemsFromSpecs(specs: readonly ItemSpec[]): Item[] {
  return specs.map((s, id) => {
    const data = new Uint8Array(s.size);
    for (let i = 0; i < data.length; i++) data[i] = (id * 31 + i) & 0xff;
    return { id, key: s.key, explicitHashKey: s.explicit === null ? undefined : s.explicit.toString(), data };
  });
}

/** Bytes an item counts against the limits: data + UTF-8 partition key. */
export const bytesOf = (item: Item) => item.data.byteLength + Buffer.byteLength(item.key, 'utf8');

/** Items finally delivered and finally failed, per the emissions. */
export function outcomes<T>(emissions: readonly PutRecordsEmission<T>[]): { delivered: T[]; failed: T[] } {
  const delivered: T[] = [];
  const failed: T[] = [];
  for (const e of emissions) {
    e.items.forEach((item, i) => {
      const r = e.response.Records![i];
      if (r.SequenceNumber !== undefined) delivered.push(item);
      else if (!e.retrying[i]) failed.push(item);
    });
  }
  return { delivered, failed };
}

/** The item a request entry was made from (each item's data is distinct). */
export const itemOf = (items: readonly Item[], entry: { Data?: Uint8Array }) =>
  items.find((i) => i.data === entry.Data)!;
/** Item ids, sorted. */
export const ids = (items: readonly Item[]) => items.map((i) => i.id).sort((a, b) => a - b);
/** from, from + 1, …, to − 1. */
export const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

/** Per-shard quotas off, for specs about something else. */
export const QUOTAS_OFF = { shardRecordsPerSecond: Infinity, shardBytesPerSecond: Infinity } as const;

/** Real time passing (for the few specs that need real timers). */
export const realDelay = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits in real time until `condition()` holds, checking every `pollMs`. @throws naming `what` after `ms`. */
export async function until(condition: () => boolean, what: string, ms = 5000, pollMs = 1): Promise<void> {
  const deadline = performance.now() + ms;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await realDelay(pollMs);
  }
}

/**
 * A record as the pipeline's stages hold it (accepted, not yet sent), made from `item` through the real
 * `prepareRecord`, so `bytes` and the entry are what the producer would have.
 */
export function pending<T extends Item>(item: T, acceptedAt = 0): PendingRecord<T> {
  return {
    item,
    record: prepareRecord(toRecord(item), { maxRecordBytes: MAX_RECORD_BYTES_CEILING }),
    acceptedAt,
    attempts: 0,
    firstSentAt: undefined,
    shardId: 'shardId-000000000000',
    seq: 0,
    slot: -1,
  };
}

/** The fake's stream, as the operator specs name it. */
export const STREAM = 'fake-stream';

/** Operator options on the fake: a short linger and retry delay, so specs in real time stay quick. */
export function options(
  fake: FakeKinesis,
  extra: Partial<ToKinesisOptions<Item>> = {},
): ToKinesisOptions<Item> {
  return { client: fake.client, streamName: STREAM, toRecord, lingerMs: 5, retryBaseDelayMs: 1, ...extra };
}

/** A fake Kinesis with the operator specs' stream. */
export function fakeWith(o: FakeKinesisOptions = {}): FakeKinesis {
  return new FakeKinesis({ streamName: STREAM, ...o });
}
