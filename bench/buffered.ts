/**
 * 16. Memory per buffered record: N records pushed into `toKinesis()` against a client that never answers
 * PutRecords (so they all stay buffered), live heap after a full GC. Reports what the pipeline itself adds
 * per record (heap with the records buffered minus heap with the same items merely held by the caller), and
 * the total with the caller's items, as multiples of the payload (Data bytes).
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { Subject } from 'rxjs';
import type { KinesisRecordInput, ToKinesisOptions } from '../src/index.js';
import { fmt, keys, sleep, verdict, type Row } from './harness.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Live bytes after a full collection: the JS heap and the ArrayBuffers' backing stores. */
async function live(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc();
    await sleep(10);
  }
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/** Lists 4 shards, and never answers a PutRecords. */
function stalledClient(): ToKinesisOptions['client'] {
  const step = (1n << 128n) / 4n;
  const Shards = Array.from({ length: 4 }, (_, i) => ({
    ShardId: `shardId-${String(i).padStart(12, '0')}`,
    HashKeyRange: {
      StartingHashKey: String(step * BigInt(i)),
      EndingHashKey: String(i === 3 ? (1n << 128n) - 1n : step * BigInt(i + 1) - 1n),
    },
    SequenceNumberRange: { StartingSequenceNumber: '0' },
  }));
  const send = (command: unknown) =>
    command instanceof PutRecordsCommand ? new Promise(() => {}) : Promise.resolve({ Shards });
  return { send } as unknown as ToKinesisOptions['client'];
}

async function measure(size: number, count: number) {
  const { toKinesis } = (await import('../dist/index.js' as string)) as typeof import('../src/index.js');
  const pool = keys(1000);
  const items: KinesisRecordInput[] = [];
  for (let i = 0; i < count; i++) {
    const data = Buffer.alloc(size, 0x61);
    data.writeUInt32BE(i, 0);
    items.push({ PartitionKey: pool[i % pool.length], Data: data });
  }
  const before = await live();
  const source = new Subject<KinesisRecordInput>();
  const subscription = source
    .pipe(
      toKinesis({
        client: stalledClient(),
        streamName: 'bench',
        shardRecordsPerSecond: Infinity,
        shardBytesPerSecond: Infinity,
        maxBufferedRecords: count + 1,
        maxBufferedBytes: 2 ** 40,
      }),
    )
    .subscribe();
  await sleep(50); // the shard map
  for (const item of items) source.next(item);
  await sleep(300); // lingering requests sealed
  const after = await live();
  const itemsOnly = before; // the caller's items, held either way
  subscription.unsubscribe();
  items.length = 0;
  const empty = await live();
  return {
    own: (after - before) / count,
    total: (after - empty) / count,
    itemsPerRecord: (itemsOnly - empty) / count,
  };
}

export async function bufferedMemory(): Promise<Row[]> {
  const rows: Row[] = [];
  for (const [size, count] of [
    [100, 200_000],
    [1024, 100_000],
    [10 * 1024, 20_000],
  ] as const) {
    const m = await measure(size, count);
    const own = m.own / size;
    rows.push({
      scenario: '16. memory per buffered record',
      measure: `${fmt.int(size)} B records: rx-kinesis's own live bytes per record ÷ payload`,
      value: `${own.toFixed(2)}×`,
      target: size === 100 ? '≤ 3×' : 'info',
      verdict: size === 100 ? verdict(own <= 3) : 'info',
      note: `${fmt.int(m.own)} B per record on top of the caller's items; with the items: ${fmt.int(m.total)} B per record (${(m.total / size).toFixed(2)}× the payload; the items alone ${fmt.int(m.itemsPerRecord)} B); ${fmt.int(count)} records buffered against a client that never answers, heap + ArrayBuffers after full GC`,
    });
  }
  return rows;
}
