/** Benchmark scenarios 1–6 of the suite: each returns table rows, measured side by side where compared. */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Subject } from 'rxjs';
import { putAll, toKinesis, type KinesisRecordInput, type ToKinesisOptions } from '../src/index.js';
import { hashKeyOf } from '../src/kinesis/hash-key.js';
import { ShardMap } from '../src/kinesis/shard-map.js';
import type { EmulatorOptions } from '../src/testing/index.js';
import {
  childResult,
  clientFor,
  emulator,
  fmt,
  keys,
  percentile,
  sleep,
  STREAM,
  sumSeconds,
  verdict,
  type Row,
} from './harness.js';

const QUOTA_RECORDS = 1000;
const QUOTA_BYTES = 1024 * 1024;

/** Per-shard accepted records per second, for the chart. */
export interface ShardTimeline {
  shardId: string;
  perSecond: number[];
}

function record(key: string, size: number, seq: number): KinesisRecordInput {
  const data = Buffer.alloc(size, 0x61);
  data.writeUInt32BE(seq % 2 ** 32, 0);
  return { PartitionKey: key, Data: data };
}

/** A saturating cold source, pulled through putAll so it never outruns the buffer. */
async function* saturating(make: (i: number) => KinesisRecordInput) {
  for (let i = 0; ; i++) yield make(i);
}

async function runUtilisation(
  scenario: string,
  shards: number,
  recordSize: number,
  seconds: number,
  options: Partial<ToKinesisOptions> = {},
  emulatorOptions: Partial<EmulatorOptions> = {},
  onSent?: (r: KinesisRecordInput) => void,
) {
  const emu = await emulator({ shards, ...emulatorOptions });
  const startedAt = Date.now();
  const client = clientFor(emu);
  const keyPool = keys(10_000);
  const runStart = Math.floor((Date.now() - startedAt) / 1000);
  let errored: unknown;
  const subscription = putAll(
    saturating((i) => {
      const r = record(keyPool[i % keyPool.length], recordSize, i);
      onSent?.(r);
      return r;
    }),
    { client, streamName: STREAM, ...options },
  ).subscribe({ error: (e) => (errored = e) });
  // The source never ends: measure for `seconds`, then leave (the buffered backlog is not the point).
  await sleep(seconds * 1000 + 500);
  const stats = emu.stats();
  subscription.unsubscribe();
  if (errored) throw errored;
  client.destroy();
  const ledger = emu;
  await emu.close();
  // Skip the first two seconds (buckets start full) and the last partial one.
  const from = runStart + 2;
  const to = runStart + seconds;
  const window = to - from;
  const accepted = stats.shards.reduce((n, s) => n + sumSeconds(s.timeline, from, to), 0);
  return {
    scenario,
    stats,
    ledger,
    window,
    accepted,
    perShard: stats.shards.map((s) => ({
      shardId: s.shardId,
      perSecond: s.timeline.slice(runStart, to + 1),
    })),
  };
}

/** 1. Shard utilisation: 4 shards, 100 B records, uniform keys, saturating source. */
export async function shardUtilisation(seconds = 15): Promise<{ rows: Row[]; chart: ShardTimeline[] }> {
  const r = await runUtilisation('1. shard utilisation', 4, 100, seconds);
  const utilisation = r.accepted / (4 * QUOTA_RECORDS * r.window);
  const throttled = r.stats.throttled / r.stats.accepted;
  return {
    chart: r.perShard,
    rows: [
      {
        scenario: r.scenario,
        measure: 'delivered / quota',
        value: fmt.ratio(utilisation),
        target: '≥ 0.98',
        verdict: verdict(utilisation >= 0.98),
        note: `${fmt.int(r.accepted / r.window)} records/s on 4 shards over ${r.window} s`,
      },
      {
        scenario: r.scenario,
        measure: 'throttled attempts / delivered',
        value: fmt.pct(throttled),
        target: '≤ 1%',
        verdict: verdict(throttled <= 0.01),
        note: `${r.stats.throttled} throttled of ${r.stats.accepted} delivered`,
      },
    ],
  };
}

/** 2. Byte-bound: 64 KiB records. */
export async function byteBound(seconds = 15): Promise<Row[]> {
  const size = 64 * 1024;
  const r = await runUtilisation('2. byte-bound', 4, size, seconds);
  // Records are all one size, so the window's bytes are its records times the mean record size.
  const acceptedBytes = r.accepted * (r.stats.bytes / Math.max(1, r.stats.accepted));
  const utilisation = acceptedBytes / (4 * QUOTA_BYTES * r.window);
  return [
    {
      scenario: r.scenario,
      measure: 'delivered bytes / quota',
      value: fmt.ratio(utilisation),
      target: '≥ 0.97',
      verdict: verdict(utilisation >= 0.97),
      note: `${fmt.int(acceptedBytes / r.window / 1024)} KiB/s on 4 shards, ${r.stats.throttled} throttled`,
    },
  ];
}

/** 3. Hot key: 70% of a hot source's records on one key; do the other shards still get their quota? */
export async function hotKey(seconds = 12): Promise<Row[]> {
  const shards = 4;
  const emu = await emulator({ shards });
  const startedAt = Date.now();
  const client = clientFor(emu);
  const map = await ShardMap.load(client, { streamName: STREAM });
  const hot = 'the-hot-key';
  const hotShard = map.shardFor(hashKeyOf(hot)).shardId;
  // Cold keys avoid the hot shard, so the cold shards' rate is theirs alone.
  const cold = keys(20_000, 'cold').filter((k) => map.shardFor(hashKeyOf(k)).shardId !== hotShard);
  const perTick = 150; // every 10 ms: 15,000 records/s, 4,500/s of them cold — 1.5× the cold shards' quota
  const source = new Subject<KinesisRecordInput>();
  let errored: unknown;
  const subscription = source
    .pipe(
      toKinesis({ client, streamName: STREAM, maxBufferedRecords: 1_000_000, maxBufferedBytes: 512 << 20 }),
    )
    .subscribe({ error: (e) => (errored = e) });
  const runStart = Math.floor((Date.now() - startedAt) / 1000);
  let i = 0;
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end && !errored) {
    for (let n = 0; n < perTick; n++, i++) {
      source.next(record(n % 10 < 7 ? hot : cold[i % cold.length], 100, i));
    }
    await sleep(10);
  }
  const stats = emu.stats();
  subscription.unsubscribe();
  client.destroy();
  await emu.close();
  const from = runStart + 2;
  const to = runStart + seconds;
  const coldShards = stats.shards.filter((s) => s.shardId !== hotShard);
  const coldAccepted = coldShards.reduce((n, s) => n + sumSeconds(s.timeline, from, to), 0);
  const utilisation = coldAccepted / (coldShards.length * QUOTA_RECORDS * (to - from));
  const hotAccepted = sumSeconds(stats.shards.find((s) => s.shardId === hotShard)!.timeline, from, to);
  return [
    {
      scenario: '3. hot key',
      measure: "cold shards' delivered / quota",
      value: fmt.ratio(utilisation),
      target: '≥ 0.97',
      verdict: verdict(utilisation >= 0.97 && !errored),
      note: `hot shard ${fmt.int(hotAccepted / (to - from))}/s; ${stats.throttled} throttled${errored ? `; errored: ${String(errored)}` : ''}`,
    },
  ];
}

/** 5. Memory: 1M × 1 KiB records from a fast cold source, in a child process so its peak RSS is its own. */
export async function memory(count = 1_000_000): Promise<Row[]> {
  const emu = await emulator({ shards: 4, quotas: false, keepData: false });
  const result = await childResult<{ peakRssMiB: number; delivered: number; seconds: number }>(
    './memory-child.mjs',
    [emu.endpoint, String(count)],
  );
  await emu.close();
  return [
    {
      scenario: '5. memory',
      measure: 'peak RSS, 1M × 1 KiB via putAll',
      value: `${result.peakRssMiB.toFixed(0)} MiB`,
      target: '≤ 256 MiB',
      verdict: verdict(result.peakRssMiB <= 256 && result.delivered === count),
      note: `${fmt.int(result.delivered)} delivered in ${result.seconds.toFixed(1)} s; built dist, plain node, default buffer limits, quotas off`,
    },
  ];
}

/** 6. Latency at half the quota: from an item's push to the emission that delivers it. */
export async function latency(seconds = 10): Promise<Row[]> {
  const emu = await emulator({ shards: 4 });
  const client = clientFor(emu);
  const keyPool = keys(1000);
  const lingerMs = 100;
  const pushedAt = new Map<KinesisRecordInput, number>();
  const latencies: number[] = [];
  const source = new Subject<KinesisRecordInput>();
  const sub = source.pipe(toKinesis({ client, streamName: STREAM, lingerMs })).subscribe((e) => {
    const now = performance.now();
    e.response.Records?.forEach((r, i) => {
      if (r.SequenceNumber) latencies.push(now - pushedAt.get(e.items[i])!);
    });
  });
  const perTick = 20; // every 10 ms: 2,000 records/s = half of 4 shards' quota
  const end = Date.now() + seconds * 1000;
  let i = 0;
  while (Date.now() < end) {
    for (let n = 0; n < perTick; n++, i++) {
      const r = record(keyPool[i % keyPool.length], 100, i);
      pushedAt.set(r, performance.now());
      source.next(r);
    }
    await sleep(10);
  }
  source.complete();
  await new Promise<void>((resolve) => sub.add(resolve));
  client.destroy();
  await emu.close();
  latencies.sort((a, b) => a - b);
  const p50 = percentile(latencies, 50);
  const p99 = percentile(latencies, 99);
  return [
    {
      scenario: '6. latency',
      measure: 'p50 / p99, item → emission, at 50% of quota',
      value: `${p50.toFixed(0)} / ${p99.toFixed(0)} ms`,
      target: `p99 ≤ ${lingerMs + 50} ms`,
      verdict: verdict(p99 <= lingerMs + 50),
      note: `${fmt.int(latencies.length)} records, lingerMs ${lingerMs}`,
    },
  ];
}

/** 8. The cost of `ordering: 'per-key'`: scenario 1 in per-key mode, with and without 10% InternalFailure. */
export async function orderingCost(seconds = 15): Promise<Row[]> {
  const rows: Row[] = [];
  for (const failureRate of [0, 0.1]) {
    for (const ordering of ['none', 'per-key'] as const) {
      const sent: { partitionKey: string; data: Uint8Array }[] = [];
      const r = await runUtilisation(
        '8. ordering cost',
        4,
        100,
        seconds,
        { ordering },
        { keepRecords: true, keepData: false, faults: { recordFailureRate: failureRate, seed: 8 } },
        (rec) => sent.push({ partitionKey: rec.PartitionKey!, data: rec.Data as Uint8Array }),
      );
      const utilisation = r.accepted / (4 * QUOTA_RECORDS * r.window);
      // Only records that landed count: the source ran ahead of the stream and was cut off at the end.
      const violations = r.ledger.orderViolations(sent).length;
      rows.push({
        scenario: '8. ordering cost',
        measure: `${ordering}, ${failureRate * 100}% InternalFailure: delivered / quota`,
        value: fmt.ratio(utilisation),
        target: ordering === 'per-key' ? '0 order violations' : '—',
        verdict: ordering === 'per-key' ? verdict(violations === 0) : 'info',
        note: `${violations} per-key order violations, ${r.stats.throttled} throttled, ${r.stats.failed} failed attempts`,
      });
    }
  }
  return rows;
}

/** 9. Two independent producer processes on one 2-shard stream, each configured for the full quota. */
export async function twoProducers(seconds = 20): Promise<Row[]> {
  const rows: Row[] = [];
  for (const adaptiveRate of [true, false]) {
    const emu = await emulator({ shards: 2 });
    const startedAt = Date.now();
    const children = [0, 1].map((n) =>
      fork(
        fileURLToPath(new URL('./producer-child.mjs', import.meta.url)),
        [emu.endpoint, String(seconds), JSON.stringify({ adaptiveRate }), `p${n}`],
        {
          execArgv: [],
          env: { ...process.env, NODE_OPTIONS: '' },
          stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        },
      ),
    );
    const runStart = Math.floor((Date.now() - startedAt) / 1000) + 1; // children take a moment to start
    await Promise.all(children.map((c) => new Promise((r) => c.once('exit', r))));
    const stats = emu.stats();
    await emu.close();
    const from = runStart + 2;
    const to = runStart + seconds - 1;
    const accepted = stats.shards.reduce((n, s) => n + sumSeconds(s.timeline, from, to), 0);
    const utilisation = accepted / (2 * QUOTA_RECORDS * (to - from));
    const throttled = stats.throttled / Math.max(1, stats.accepted);
    rows.push({
      scenario: '9. two producers',
      measure: `adaptive rate ${adaptiveRate ? 'on' : 'off'}: combined delivered / quota; throttled / delivered`,
      value: `${fmt.ratio(utilisation)}; ${fmt.pct(throttled)}`,
      target: adaptiveRate ? '≥ 0.90; ≤ 5%' : '—',
      verdict: adaptiveRate ? verdict(utilisation >= 0.9 && throttled <= 0.05) : 'info',
      note: `2 processes × full quota on 2 shards, ${to - from} s window; ${stats.throttled} throttled of ${stats.accepted} delivered`,
    });
  }
  return rows;
}
