/**
 * Scenarios 13 and 14: what the durable spool costs. 13 runs one unthrottled workload through `putAll()`
 * with no spool and with the spool in each `fsync` mode, alternating, and measures the disk bytes a record
 * takes; 14 spools 100 MB during an outage (peak heap and RSS while it grows), drops the producer as a
 * crash would, and times a new producer's recovery: opening the spool, then sending all of it.
 */
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { lastValueFrom } from 'rxjs';
import type { KinesisRecordInput, SpoolFsync } from '../src/index.js';
import { Spool, SpoolLockedError } from '../src/spool/index.js';
import { clientFor, emulator, fmt, median, STREAM, verdict, type Row } from './harness.js';

type Library = typeof import('../src/index.js');
const library = async () => (await import('../dist/index.js' as string)) as Library;

const MiB = 1024 * 1024;

function record(i: number, size: number): KinesisRecordInput {
  const data = Buffer.alloc(size, 0x61);
  data.writeUInt32BE(i, 0);
  return { PartitionKey: `key-${(i * 2654435761) % 1_000_003}`, Data: data };
}

async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  for (const f of await readdir(dir)) total += (await stat(join(dir, f))).size;
  return total;
}

const seconds = async (run: () => Promise<unknown>) => {
  const t = process.hrtime.bigint();
  await run();
  return Number(process.hrtime.bigint() - t) / 1e9;
};

/** Scenario 13: putAll throughput with the spool (each fsync mode) ÷ without, same unthrottled run. */
export async function spoolThroughput(count = 100_000): Promise<Row[]> {
  const { putAll } = await library();
  const emu = await emulator({ shards: 4, quotas: false });
  const client = clientFor(emu);
  const records = Array.from({ length: count }, (_, i) => record(i, 100));
  const base = {
    client,
    streamName: STREAM,
    shardRecordsPerSecond: Infinity,
    shardBytesPerSecond: Infinity,
    maxInFlightRequests: 16,
  };
  const run = async (fsync: SpoolFsync | undefined, n: number) => {
    const directory = await mkdtemp(join(tmpdir(), 'rx-kinesis-bench-spool-'));
    try {
      const options = fsync === undefined ? base : { ...base, spool: { directory, fsync } };
      const s = await seconds(() => lastValueFrom(putAll(records.slice(0, n), options), { defaultValue: 0 }));
      return n / s;
    } finally {
      await rm(directory, { recursive: true, force: true });
    }
  };
  await run(undefined, 20_000); // warm up both paths
  await run('batch', 20_000);
  // Paired rounds: each mode right after a run without the spool, compared as a ratio to it, so the
  // shared machine's drift between rounds (measured: 33k to 75k records/s without a spool) cancels out.
  const rates = new Map<string, number[]>();
  const ratios = new Map<string, number[]>();
  const add = (m: Map<string, number[]>, key: string, value: number) =>
    m.set(key, [...(m.get(key) ?? []), value]);
  for (let round = 0; round < 5; round++)
    for (const mode of ['batch', 'interval', 'never'] as const) {
      const none = await run(undefined, count);
      const rate = await run(mode, count);
      add(rates, 'none', none);
      add(rates, mode, rate);
      add(ratios, mode, rate / none);
    }
  // 'always' fsyncs each frame: a tenth of the records is enough to know its rate.
  for (let round = 0; round < 2; round++) {
    const none = await run(undefined, count / 10);
    const rate = await run('always', count / 10);
    add(rates, 'always', rate);
    add(ratios, 'always', rate / none);
  }

  // Disk per record: the same records spooled while every request is refused, so none leaves.
  emu.setFaults({ requestFailureRate: 1 });
  const { KinesisProducer } = await library();
  const directory = await mkdtemp(join(tmpdir(), 'rx-kinesis-bench-spool-'));
  const held = 20_000;
  const producer = new KinesisProducer({
    ...base,
    maxBufferedRecords: 100,
    spool: { directory, fsync: 'never' },
  });
  const puts: Promise<void>[] = [];
  for (let i = 0; i < held; i++) puts.push(producer.put(records[i]));
  await Promise.all(puts);
  const perRecord = (await dirBytes(directory)) / held;
  producer.destroy();
  await rm(directory, { recursive: true, force: true });
  client.destroy();
  await emu.close();

  const rows: Row[] = [];
  for (const mode of ['batch', 'interval', 'never', 'always']) {
    const cost = 1 - median(ratios.get(mode)!);
    rows.push({
      scenario: '13. spool cost',
      measure: `fsync '${mode}': throughput cost against no spool`,
      value: fmt.pct(cost),
      target: mode === 'batch' ? '≤ 15%' : 'info',
      verdict: mode === 'batch' ? verdict(cost <= 0.15) : 'info',
      note: `median of ${ratios.get(mode)!.length} paired rounds, spooled ÷ unspooled run just before it: [${ratios.get(mode)!.map(fmt.ratio).join(', ')}]; ${fmt.int(median(rates.get(mode)!))} records/s spooled, ${fmt.int(median(rates.get('none')!))} without (median) (${fmt.int(mode === 'always' ? count / 10 : count)} × 100 B, putAll, 4 shards, quotas off, emulator in the same process)`,
    });
  }
  rows.push({
    scenario: '13. spool cost',
    measure: 'disk bytes per record (100 B data, 13-char key)',
    value: fmt.int(perRecord),
    target: 'info',
    verdict: 'info',
    note: `${fmt.int(held)} records held in the spool; a frame is 24 bytes + key + data (docs/spool-format.md), plus segment headers and ack files`,
  });
  return rows;
}

/**
 * Scenario 14: 100 MB spooled during an outage (peak heap and RSS while it grows), the producer dropped as
 * a crash would, then a new producer on the directory: time to open it (recovery scan), and to send it all.
 */
export async function spoolRecovery(totalBytes = 100 * MiB): Promise<Row[]> {
  const { KinesisProducer, putAll } = await library();
  const size = 1000;
  const count = Math.ceil(totalBytes / size);
  const emu = await emulator({ shards: 8, quotas: false });
  const client = clientFor(emu);
  const base = {
    client,
    streamName: STREAM,
    shardRecordsPerSecond: Infinity,
    shardBytesPerSecond: Infinity,
    maxBufferedRecords: 1000,
  };
  const directory = await mkdtemp(join(tmpdir(), 'rx-kinesis-bench-spool-'));
  try {
    emu.setFaults({ requestFailureRate: 1 });
    const before = process.memoryUsage();
    let peakHeap = before.heapUsed;
    let peakRss = before.rss;
    const sampler = setInterval(() => {
      const m = process.memoryUsage();
      peakHeap = Math.max(peakHeap, m.heapUsed);
      peakRss = Math.max(peakRss, m.rss);
    }, 50);
    const producer = new KinesisProducer({ ...base, retryMaxDelayMs: 1000, spool: { directory } });
    const waiting = new Set<Promise<void>>();
    const spoolSeconds = await seconds(async () => {
      for (let i = 0; i < count; i++) {
        while (waiting.size >= 256) await Promise.race(waiting);
        const put: Promise<void> = producer.put(record(i, size)).then(() => void waiting.delete(put));
        waiting.add(put);
      }
      await Promise.all(waiting);
    });
    clearInterval(sampler);
    const spooled = await dirBytes(directory);
    producer.destroy(); // a crash: what is in the spool stays there
    emu.setFaults({ requestFailureRate: 0 });

    // The recovery scan alone (lock, every frame's CRC, acks): what a restarted producer does first.
    let scan: { seconds: number; entries: number } | undefined;
    while (scan === undefined) {
      const t = process.hrtime.bigint();
      const spool = await Spool.open({ directory }).catch((e: unknown) => {
        if (e instanceof SpoolLockedError) return undefined; // the destroyed producer is still closing
        throw e;
      });
      if (spool === undefined) {
        await new Promise((resolve) => setTimeout(resolve, 10));
        continue;
      }
      scan = { seconds: Number(process.hrtime.bigint() - t) / 1e9, entries: spool.recoveredEntries };
      await spool.close();
    }
    // Then a new producer sends it all: putAll of nothing new only sends what the spool holds.
    let firstSend = 0;
    const t = process.hrtime.bigint();
    await new Promise<void>((resolve, reject) =>
      putAll([], { ...base, spool: { directory } }).subscribe({
        next: () => (firstSend ||= Number(process.hrtime.bigint() - t) / 1e9),
        error: reject,
        complete: resolve,
      }),
    );
    const replaySeconds = Number(process.hrtime.bigint() - t) / 1e9;
    return [
      {
        scenario: '14. spool recovery',
        measure: `memory while ${fmt.int(spooled / MiB)} MB spool during an outage`,
        value: `heap +${fmt.int((peakHeap - before.heapUsed) / MiB)} MiB, RSS +${fmt.int((peakRss - before.rss) / MiB)} MiB`,
        target: 'info',
        verdict: 'info',
        note: `${fmt.int(count)} × ${size} B put in ${spoolSeconds.toFixed(1)} s with every request refused; window maxBufferedRecords 1,000; peaks sampled every 50 ms against the start`,
      },
      {
        scenario: '14. spool recovery',
        measure: `open a ${fmt.int(spooled / MiB)} MB spool a crashed producer left (recovery scan)`,
        value: `${(scan.seconds * 1000).toFixed(0)} ms`,
        target: 'info',
        verdict: 'info',
        note: `${fmt.int(scan.entries)} entries found: lock, CRC-32 of every frame, ack files; ${fmt.int(spooled / MiB / scan.seconds)} MB/s`,
      },
      {
        scenario: '14. spool recovery',
        measure: `a new producer sends that spool`,
        value: `${replaySeconds.toFixed(1)} s`,
        target: 'info',
        verdict: 'info',
        note: `first response after ${(firstSend * 1000).toFixed(0)} ms; ${fmt.int(count / replaySeconds)} records/s, ${fmt.int(spooled / MiB / replaySeconds)} MB/s (8 shards, quotas off, window 1,000)`,
      },
    ];
  } finally {
    client.destroy();
    await emu.close();
    await rm(directory, { recursive: true, force: true });
  }
}
