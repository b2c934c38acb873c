/**
 * 12. `rx-kinesis put`: a 1,000,000-line NDJSON file through the command (the built dist/cli.js, a separate
 * process, as users run it) into the emulator with provisioned quotas on (20 shards, so the quota is
 * 20,000 records/s). Rows: the share of the quota achieved over the whole seconds between the first and the
 * last (target ≥ 0.97, issue 18) and overall, whether the command's summary equals the emulator's ledger,
 * and the command's peak RSS (memory must stay bounded whatever the file size).
 *
 * The partition key is each line's own `seq`, so the keys spread evenly over the shards (the busiest of 20
 * gets 1.5% more than the mean) and the stream's quota is there to be used. Keyed by `device` (5,000
 * devices) the busiest shard gets 9.6% more than the mean: it alone bounds the run, and no producer can
 * deliver more than 1 / 1.096 = 0.912 of the stream's quota (the 0.909 measured before was that bound, not
 * the limiter). A second, shorter run keyed by `device` reports that shard's own share of its quota.
 *
 * Part of `npm run bench` as scenario 12; alone: `npm run bench:cli [-- LINES SHARDS ...PUT_ARGS]`, which
 * prints the measurement as JSON and writes no results file.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startEmulator } from '../src/testing/index.js';
import { fmt, verdict, type Row } from './harness.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const RECORDS_PER_SHARD = 1000;
const SCENARIO = '12. rx-kinesis put';
/** The command's peak RSS bound: the README promises about 340 MiB for a million lines. */
const MAX_RSS_MIB = 512;

/** What one run measured. */
export interface CliMeasurement {
  lines: number;
  shards: number;
  inputMiB: number;
  exitCode: number | null;
  seconds: number;
  delivered: number;
  ledgerAccepted: number;
  summaryEqualsLedger: boolean;
  throttled: number;
  quotaShareOverall: number;
  quotaShareSteady: number;
  /** The busiest shard's records over the mean shard's: 1 / this bounds the stream's quota share. */
  keySkew: number;
  /** The busiest shard's share of its own quota over its whole inner seconds. */
  busiestShardShare: number;
  peakRssMiB: number;
}

async function writeInput(path: string, lines: number): Promise<void> {
  const out = createWriteStream(path);
  for (let i = 0; i < lines; i++) {
    const line = `${JSON.stringify({ device: `sensor-${i % 5000}`, seq: i, t: 1_764_000_000_000 + i, v: (i % 997) / 10 })}\n`;
    if (!out.write(line)) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((r, reject) => out.end((e?: Error | null) => (e ? reject(e) : r())));
}

/**
 * Runs `rx-kinesis put` over `lines` generated lines into a `shards`-shard stream, keyed by the field `key`;
 * `extra` are more put flags.
 */
export async function measureCliPut(
  lines = 1_000_000,
  shards = 20,
  extra: readonly string[] = [],
  key = 'seq',
): Promise<CliMeasurement> {
  const cli = join(root, 'dist/cli.js');
  if (!existsSync(cli)) throw new Error('build first: npm run build (this measures dist/cli.js)');
  const work = mkdtempSync(join(tmpdir(), 'rx-kinesis-bench-cli-'));
  const input = join(work, 'in.ndjson');
  // Counters only: a million logged records would measure the emulator's memory, not the command's.
  const emu = await startEmulator({ streamName: 'bench', shards, keepRecords: false });
  try {
    await writeInput(input, lines);
    const started = Date.now();
    const child = spawn(
      process.execPath,
      [
        ...(process.env.CLI_NODE_ARGS ?? '').split(' ').filter(Boolean),
        cli,
        'put',
        '--endpoint-url',
        emu.endpoint,
        '--stream',
        'bench',
        '--key',
        key,
        '--json',
        '--quiet',
        ...extra,
        input,
      ],
      {
        env: {
          ...process.env,
          AWS_ACCESS_KEY_ID: 'x',
          AWS_SECRET_ACCESS_KEY: 'x',
          AWS_REGION: 'us-east-1',
          NODE_OPTIONS: '',
        },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const exitCode = await new Promise<number | null>((r) => child.once('close', r));
    const seconds = (Date.now() - started) / 1000;
    const summary = JSON.parse(out) as { delivered: number; maxRssBytes: number };
    const stats = emu.stats();
    const quota = shards * RECORDS_PER_SHARD;
    const inner = innerSeconds(stats.timeline);
    const steady = inner.reduce((a, b) => a + b, 0) / (inner.length * quota);
    const busiest = stats.shards.reduce((a, b) => (b.accepted > a.accepted ? b : a));
    const busiestInner = innerSeconds(busiest.timeline);
    const busiestShare = busiestInner.reduce((a, b) => a + b, 0) / (busiestInner.length * RECORDS_PER_SHARD);
    return {
      lines,
      shards,
      inputMiB: +(statSync(input).size / 2 ** 20).toFixed(1),
      exitCode,
      seconds: +seconds.toFixed(1),
      delivered: summary.delivered,
      ledgerAccepted: stats.accepted,
      summaryEqualsLedger: summary.delivered === stats.accepted && summary.delivered === lines,
      throttled: stats.throttled,
      quotaShareOverall: +(summary.delivered / (seconds * quota)).toFixed(3),
      quotaShareSteady: +steady.toFixed(3),
      keySkew: +((busiest.accepted * shards) / stats.accepted).toFixed(3),
      busiestShardShare: +busiestShare.toFixed(3),
      peakRssMiB: +(summary.maxRssBytes / 2 ** 20).toFixed(0),
    };
  } finally {
    await emu.close();
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * The whole seconds strictly inside a run's timeline: after its first second with a record (partial: the
 * command started in it) and before its last (partial). The timeline counts from the emulator's start, and
 * the seconds spent writing the input before the command ran are empty: counted, they and the first partial
 * second were charged to the command (the 1,000,000-line file takes over a second to write).
 */
function innerSeconds(timeline: readonly number[]): readonly number[] {
  const first = timeline.findIndex((n) => n > 0);
  const last = timeline.findLastIndex((n) => n > 0);
  return first < 0 ? [] : timeline.slice(first + 1, last);
}

/** The measurement as rows of the results table; `skewed`: the shorter run keyed by device, if any. */
export function cliRows(m: CliMeasurement, skewed?: CliMeasurement): Row[] {
  const run = `${fmt.int(m.lines)} lines (${m.inputMiB} MiB), ${m.shards} shards, ${m.seconds} s, exit ${m.exitCode}`;
  const skewedRows: Row[] = skewed
    ? [
        {
          scenario: SCENARIO,
          measure: 'keyed by device: busiest shard',
          value: fmt.ratio(skewed.busiestShardShare),
          target: 'info',
          verdict: 'info',
          note:
            `${fmt.int(skewed.lines)} lines, --key device (5,000 devices): the busiest shard holds ${skewed.keySkew}× ` +
            `the mean, so the stream's share is at most ${fmt.ratio(1 / skewed.keySkew)}; measured ` +
            `${fmt.ratio(skewed.quotaShareSteady)} (inner seconds), that shard ${fmt.ratio(skewed.busiestShardShare)} ` +
            `of its own quota, ${fmt.int(skewed.throttled)} throttled, summary = ledger ${skewed.summaryEqualsLedger}`,
        },
      ]
    : [];
  return [
    {
      scenario: SCENARIO,
      measure: 'quota share (whole inner seconds)',
      value: fmt.ratio(m.quotaShareSteady),
      target: '≥ 0.970',
      verdict: verdict(m.quotaShareSteady >= 0.97),
      note: `${run}, --key seq (busiest shard ${m.keySkew}× the mean); overall ${fmt.ratio(m.quotaShareOverall)} incl. start-up and the last partial second`,
    },
    {
      scenario: SCENARIO,
      measure: 'summary = ledger',
      value: `${fmt.int(m.delivered)} = ${fmt.int(m.ledgerAccepted)}`,
      target: `equal, = ${fmt.int(m.lines)} lines`,
      verdict: verdict(m.summaryEqualsLedger && m.exitCode === 0),
      note: `${fmt.int(m.throttled)} throttled entries retried`,
    },
    {
      scenario: SCENARIO,
      measure: 'peak RSS of the command',
      value: `${m.peakRssMiB} MiB`,
      target: `≤ ${MAX_RSS_MIB} MiB`,
      verdict: verdict(m.peakRssMiB <= MAX_RSS_MIB),
      note: 'maxRSS of the put process, default --max-buffered-records 50,000',
    },
    ...skewedRows,
  ];
}

/** Scenario 12 of `npm run bench`. */
export async function cliPut(): Promise<Row[]> {
  const even = await measureCliPut();
  return cliRows(even, await measureCliPut(300_000, 20, [], 'device'));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const [lines, shards, ...extra] = process.argv.slice(2);
  // `-- 300000 20 --key device` measures the skewed keys instead.
  const k = extra.indexOf('--key');
  const key = k >= 0 ? extra.splice(k, 2)[1] : undefined;
  const m = await measureCliPut(Number(lines ?? 1_000_000), Number(shards ?? 20), extra, key);
  console.log(JSON.stringify(m, null, 2));
}
