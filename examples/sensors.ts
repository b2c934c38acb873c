/**
 * `npm run example:sensors`: a sensor data flow, aggregated per device per second, in per-key order.
 *
 * 1,000 simulated devices each emit a reading every 100 ms to 2 s (an RxJS `interval` per device, each with
 * its own period). The readings are grouped by device (`groupBy`) and windowed (`bufferTime(1000)`) into
 * one summary record per device per second: count, min, max, mean, last. The summaries go to Kinesis with
 * the device id as partition key and `ordering: 'per-key'`, so a device's summaries land in the order they
 * were made even though 1% of entries fail and are retried and requests are jittered (reordered) in flight.
 *
 * A live display shows each shard's delivered records/s from a `KinesisMetrics` the pipeline counts into:
 * its `metrics$` snapshots, paired up (`pairwise`) into per-second rates, redraw it every second (a line per
 * second when the output is not a terminal). After
 * `--seconds N` (default 20) the devices stop, the last windows are flushed and sent, and the emulator's
 * ledger is checked for lost records and per-key order. Exits 0 only if nothing was lost or reordered.
 *
 * Options: `--seconds N` (or env `SENSORS_SECONDS`), `--devices N` (default 1,000), `--shards N` (default 4).
 *
 *     npm run example:sensors -- --seconds 10
 *
 * Against a real stream: `KINESIS_STREAM=sensors AWS_REGION=eu-west-1 npm run example:sensors` (see
 * examples/support/target.ts); the ledger checks (lost records, order) are then skipped.
 */
import { parseArgs } from 'node:util';
import {
  bufferTime,
  filter,
  groupBy,
  interval,
  map,
  merge,
  mergeMap,
  pairwise,
  takeUntil,
  tap,
  timer,
} from 'rxjs';
// In your code: `from 'rx-kinesis'` and `from 'rx-kinesis/testing'`.
import { KinesisMetrics, toKinesis, type MetricsSnapshot } from '../src/index.js';
import { seededRandom, startEmulator, type ExpectedRecord } from '../src/testing/index.js';
import { emulatorClient, realStream } from './support/target.js';
import { positiveInteger } from './support/args.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: process.env.SENSORS_SECONDS ?? '20' },
    devices: { type: 'string', default: '1000' },
    shards: { type: 'string', default: '4' },
  },
});
const SECONDS = positiveInteger('--seconds', args.seconds);
const DEVICES = positiveInteger('--devices', args.devices);
const SHARDS = positiveInteger('--shards', args.shards);
const STREAM = 'sensors';

// ---------------------------------------------------------------------------------------------------------
// The devices and what they send.

interface Device {
  id: string;
  periodMs: number;
  baseCelsius: number;
}

interface Reading {
  deviceId: string;
  seq: number;
  at: number;
  celsius: number;
}

/** One record per device per window: what a dashboard or an anomaly detector consumes. */
interface Summary {
  deviceId: string;
  window: number;
  from: string;
  to: string;
  count: number;
  min: number;
  max: number;
  mean: number;
  last: number;
}

// Seeded: the same fleet on every run.
const random = seededRandom(42);
const devices: Device[] = Array.from({ length: DEVICES }, (_, i) => ({
  id: `sensor-${String(i).padStart(4, '0')}`,
  periodMs: 100 + Math.floor(random() * 1900),
  baseCelsius: 15 + random() * 10,
}));

const read = (d: Device, seq: number): Reading => ({
  deviceId: d.id,
  seq,
  at: Date.now(),
  celsius: Math.round((d.baseCelsius + 2 * Math.sin(seq / 10) + random() - 0.5) * 100) / 100,
});

function summarize(deviceId: string, window: number, readings: Reading[]): Summary {
  const values = readings.map((r) => r.celsius);
  const round = (x: number) => Math.round(x * 100) / 100;
  return {
    deviceId,
    window,
    from: new Date(readings[0].at).toISOString(),
    to: new Date(readings[readings.length - 1].at).toISOString(),
    count: readings.length,
    min: Math.min(...values),
    max: Math.max(...values),
    mean: round(values.reduce((a, b) => a + b, 0) / values.length),
    last: values[values.length - 1],
  };
}

// ---------------------------------------------------------------------------------------------------------
// The stream: 1% of entries fail with InternalFailure; up to 20 ms of jitter reorders requests in flight.

const real = realStream(); // a real stream when the environment names one
const emu = real
  ? undefined
  : await startEmulator({
      streamName: STREAM,
      shards: SHARDS,
      faults: { seed: 3, recordFailureRate: 0.01, jitterMs: 20 },
    });
const stream = real?.stream ?? { streamName: STREAM };
const label = real?.label ?? STREAM; // what the metrics count the stream under
const client = real?.client ?? emulatorClient(emu!);
console.log(
  (emu
    ? `emulator on ${emu.endpoint}: stream "${STREAM}" with ${SHARDS} shards, 1% InternalFailure, 0-20 ms jitter; `
    : `real stream ${label}; `) + `${DEVICES} devices for ${SECONDS} s`,
);

let readings = 0;
const sent: ExpectedRecord[] = []; // in the order given to toKinesis: the order each key must land in
// What the pipeline counts: per shard records put, retries, failures. Read by the display and the summary.
const metrics = new KinesisMetrics({ intervalMs: 1000 });

// Every device ticks at its own period until the run is over; then every source completes.
const readings$ = merge(...devices.map((d) => interval(d.periodMs).pipe(map((seq) => read(d, seq))))).pipe(
  takeUntil(timer(SECONDS * 1000)),
  tap(() => readings++),
);

// One summary per device per second: a window per device, empty windows skipped. When the readings
// complete, bufferTime emits each device's last, partial window, so nothing is left behind.
const summaries$ = readings$.pipe(
  groupBy((r) => r.deviceId),
  mergeMap((device$) =>
    device$.pipe(
      bufferTime(1000),
      filter((window) => window.length > 0),
      map((window, n) => summarize(device$.key, n, window)),
    ),
  ),
);

// ---------------------------------------------------------------------------------------------------------
// The live display, once a second.

const tty = process.stdout.isTTY === true;
const started = performance.now();
let drawnLines = 0;
let readingsBefore = 0;

function draw(before: MetricsSnapshot, now: MetricsSnapshot): void {
  // Rates over the interval (the final draw, after the flush, may come sooner: still per second).
  const elapsed = Math.max((now.time - before.time) / 1000, 1);
  const readingsRate = Math.round((readings - readingsBefore) / elapsed);
  readingsBefore = readings;
  const stream = now.streams[label];
  const perShard = Object.keys(stream?.shards ?? {})
    .sort()
    .map((shard) => {
      const total = stream.shards[shard].userRecordsPut;
      const previous = before.streams[label]?.shards[shard]?.userRecordsPut ?? 0;
      return { shard, rate: Math.round((total - previous) / elapsed), total };
    });
  const deliveredRate = perShard.reduce((t, s) => t + s.rate, 0);
  const t = Math.round((performance.now() - started) / 1000);
  const head =
    `t=${t}s readings ${readingsRate}/s, delivered ${deliveredRate}/s ` +
    `(${stream?.userRecordsPut ?? 0} in all, ${stream?.retries ?? 0} retried, ` +
    `${stream?.userRecordsFailed ?? 0} failed)`;
  if (tty) {
    const rows = perShard.map(({ shard, rate, total }) => {
      const bar = '█'.repeat(Math.min(40, Math.round(rate / 25))); // 40 cells = 1,000 records/s, the quota
      return `  ${shard}  ${String(rate).padStart(5)}/s  ${bar.padEnd(40)}  ${total} total`;
    });
    const lines = [head, ...rows];
    if (drawnLines > 0) process.stdout.write(`\x1b[${drawnLines}A`);
    process.stdout.write(lines.map((l) => `\r${l}\x1b[K\n`).join(''));
    drawnLines = lines.length;
  } else {
    const shards = perShard.map((s) => `${s.shard} ${s.rate}/s`).join(', ');
    console.log(`${head} | ${shards || 'no shard written yet'}`);
  }
}
// metrics$ emits a snapshot at once and then every second; pairs of them give the rates.
let lastSnapshot = metrics.snapshot();
const display = metrics.metrics$.pipe(pairwise()).subscribe(([before, now]) => {
  draw(before, now);
  lastSnapshot = now;
});

// ---------------------------------------------------------------------------------------------------------
// The run.

let error: unknown;
await new Promise<void>((resolve) =>
  summaries$
    .pipe(
      map((s) => {
        const record = { PartitionKey: s.deviceId, Data: JSON.stringify(s) };
        sent.push({ partitionKey: record.PartitionKey, data: record.Data });
        return record;
      }),
      toKinesis({ client, ...stream, ordering: 'per-key', metrics }),
    )
    .subscribe({
      error: (err) => {
        error = err;
        resolve();
      },
      complete: resolve,
    }),
);
display.unsubscribe();
const final = metrics.snapshot();
draw(lastSnapshot, final);
const count = {
  readings,
  delivered: final.streams[label]?.userRecordsPut ?? 0,
  retried: final.streams[label]?.retries ?? 0,
  failed: final.streams[label]?.userRecordsFailed ?? 0,
};
const seconds = (performance.now() - started) / 1000;

// The emulator's ledger says what landed and in which order; a real stream is not read back.
const lost = emu ? emu.missing(sent).length : 0;
const violations = emu ? emu.orderViolations(sent) : [];
if (emu) {
  console.log('\nper shard (emulator):');
  for (const s of emu.stats().shards) {
    console.log(
      `  ${s.shardId}  ${s.accepted} records, peak ${s.peakPerSecond}/s, ${s.failed} InternalFailure`,
    );
  }
} else console.log('\nreal stream: not read back; lost records and order are not checked');
console.log(
  `\nsummary: ${seconds.toFixed(1)} s, ${DEVICES} devices, ${count.readings} readings, ` +
    `${sent.length} records sent, ${count.delivered} delivered, ${count.retried} retried, ` +
    `${count.failed} failed, ${lost} lost, ${violations.length} order violations`,
);
for (const v of violations.slice(0, 5)) {
  console.log(`  ${v.partitionKey}: window #${v.sentIndex} landed after #${v.afterSentIndex}`);
}
if (error !== undefined) console.error('the pipeline failed:', error);

client.destroy();
await emu?.close();
const ok =
  error === undefined &&
  lost === 0 &&
  violations.length === 0 &&
  count.failed === 0 &&
  count.delivered === sent.length;
process.exitCode = ok ? 0 : 1;
