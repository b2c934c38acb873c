/**
 * 11. Aggregation: 4 shards at the default quota (1,000 records/s, 1 MiB/s each), 100-byte records with
 * 8-character keys drawn from 1,000, saturating source. User records delivered per second per shard, for
 * aggregation off and on at several aggregate sizes, measured side by side in one run.
 */
import { putAll, type KinesisRecordInput, type ToKinesisOptions } from '../src/index.js';
import { clientFor, emulator, fmt, sleep, STREAM, verdict, type Row } from './harness.js';

const SHARDS = 4;
const RECORD_BYTES = 100;
const KEYS = Array.from({ length: 1000 }, (_, i) => `k${String(i).padStart(7, '0')}`);

/** A reproducible key sequence (a 32-bit LCG), so every run draws the same keys. */
async function* records(): AsyncGenerator<KinesisRecordInput> {
  let state = 12345;
  for (let i = 0; ; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    const data = Buffer.alloc(RECORD_BYTES, 0x61);
    data.writeUInt32BE(i >>> 0, 0);
    yield { PartitionKey: KEYS[state % KEYS.length], Data: data };
  }
}

interface Measured {
  perShard: number;
  throttled: number;
  kinesisRecords: number;
}

async function measure(seconds: number, options: Partial<ToKinesisOptions<KinesisRecordInput, boolean>>) {
  const emu = await emulator({ shards: SHARDS });
  const client = clientFor(emu);
  const warmUpMs = 2000;
  const started = performance.now();
  let delivered = 0;
  let errored: unknown;
  const count = (n: number) => {
    const t = performance.now() - started;
    if (t >= warmUpMs && t < warmUpMs + seconds * 1000) delivered += n;
  };
  const subscription = putAll(records(), { client, streamName: STREAM, ...options }).subscribe({
    next: (e) => {
      e.response.Records?.forEach((r, i) => {
        if (r.SequenceNumber === undefined) return;
        count(e.aggregated ? e.items[i].filter((_, j) => !e.retrying[i][j]).length : 1);
      });
    },
    error: (error) => (errored = error),
  });
  await sleep(warmUpMs + seconds * 1000 + 200);
  const stats = emu.stats();
  subscription.unsubscribe();
  client.destroy();
  await emu.close();
  if (errored) throw errored;
  return {
    perShard: delivered / seconds / SHARDS,
    throttled: stats.throttled / Math.max(1, stats.accepted),
    kinesisRecords: stats.accepted,
  } satisfies Measured;
}

export async function aggregation(seconds = 12): Promise<Row[]> {
  const scenario = '11. aggregation';
  const rows: Row[] = [];
  const off = await measure(seconds, {});
  rows.push({
    scenario,
    measure: 'user records/s per shard, aggregation off',
    value: fmt.int(off.perShard),
    target: 'info',
    verdict: 'info',
    note: `the 1,000 records/s quota binds; ${fmt.pct(off.throttled)} throttled`,
  });
  for (const kib of [16, 50, 100]) {
    const on = await measure(seconds, { aggregation: { enabled: true, maxBytes: kib * 1024 } });
    const chosen = kib === 50;
    rows.push({
      scenario,
      measure: `user records/s per shard, aggregates ≤ ${kib} KiB${chosen ? ' (default)' : ''}`,
      value: fmt.int(on.perShard),
      target: chosen ? '≥ 8,500' : 'info',
      verdict: chosen ? verdict(on.perShard >= 8500) : 'info',
      note: `${(on.perShard / off.perShard).toFixed(1)}x off; ${fmt.pct(on.throttled)} throttled attempts`,
    });
    if (chosen) {
      rows.push({
        scenario,
        measure: 'throttled attempts / delivered (default)',
        value: fmt.pct(on.throttled),
        target: '≤ 1%',
        verdict: verdict(on.throttled <= 0.01),
        note: `${fmt.int(on.kinesisRecords)} Kinesis records delivered`,
      });
    }
  }
  return rows;
}
