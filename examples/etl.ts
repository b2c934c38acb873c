/**
 * `npm run example:etl`: reactive ETL, a large NDJSON file into a Kinesis stream with bounded memory.
 *
 * 1. Generates a sample clickstream file in the temp directory (200,000 lines by default, about 1% of them
 *    malformed on purpose).
 * 2. Reads it line by line (`node:readline` over `fs.createReadStream`) and runs each line through
 *    parse → filter → enrich → record, in an async generator.
 * 3. Feeds the generator to `putAll()`, which pulls the next line only while its buffer has room: the file
 *    is never read ahead of what Kinesis takes, however large it is. (`from(lines).pipe(…, toKinesis())`
 *    would work for a small file, but `from()` pushes an async iterable as fast as it can be read, so a
 *    large file would pile up in the operator's buffer.)
 *
 * Writes to rx-kinesis's in-process emulator with 2% of entries failing with `InternalFailure`, so retries
 * show in the progress line. Malformed lines are counted and reported with their line numbers, not fatal.
 * At the end the emulator's ledger is checked: exits 0 only if every good line landed.
 *
 * Options: `--lines N` (or env `ETL_LINES`), `--shards N` (default 16), `--file path.ndjson` (use your own
 * file in the same format instead of generating one), `--keep` (keep the generated file).
 *
 *     npm run example:etl -- --lines 20000
 *
 * Against a real stream: `KINESIS_STREAM=clicks AWS_REGION=eu-west-1 npm run example:etl` (see
 * examples/support/target.ts); the ledger check is then skipped.
 */
import { once } from 'node:events';
import { createReadStream, createWriteStream, rmSync } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
// In your code: `from 'rx-kinesis'` and `from 'rx-kinesis/testing'`.
import { putAll, type KinesisRecordInput } from '../src/index.js';
import { seededRandom, startEmulator, type ExpectedRecord } from '../src/testing/index.js';
import { emulatorClient, realStream } from './support/target.js';
import { positiveInteger } from './support/args.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const { values: args } = parseArgs({
  options: {
    lines: { type: 'string', default: process.env.ETL_LINES ?? '200000' },
    shards: { type: 'string', default: '16' },
    file: { type: 'string' },
    keep: { type: 'boolean', default: false },
  },
});
const LINES = positiveInteger('--lines', args.lines);
const SHARDS = positiveInteger('--shards', args.shards);
const STREAM = 'clickstream';
const USERS = 5_000;

// ---------------------------------------------------------------------------------------------------------
// The sample file: one JSON event per line; ~1% malformed, ~5% heartbeats (dropped by the filter).

interface Event {
  ts: string;
  user: string;
  event: 'view' | 'click' | 'purchase' | 'heartbeat';
  page: string;
  amount?: number;
}

async function generate(path: string, lines: number): Promise<void> {
  const random = seededRandom(2026);
  const out = createWriteStream(path);
  const start = Date.UTC(2026, 10, 26);
  for (let i = 0; i < lines; i++) {
    const draw = random();
    const event: Event = {
      ts: new Date(start + i * 37).toISOString(),
      user: `u-${String(Math.floor(random() * USERS)).padStart(5, '0')}`,
      event: draw < 0.7 ? 'view' : draw < 0.9 ? 'click' : draw < 0.95 ? 'purchase' : 'heartbeat',
      page: `/p/${Math.floor(random() * 500)}`,
    };
    if (event.event === 'purchase') event.amount = Math.round(random() * 20_000) / 100;
    let line = JSON.stringify(event);
    if (random() < 0.01) line = corrupt(line, event, random);
    if (!out.write(line + '\n')) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

/** The kinds of damage real exports have: cut lines, missing fields, wrong types, stray text. */
function corrupt(line: string, event: Event, random: () => number): string {
  const kind = Math.floor(random() * 4);
  if (kind === 0) return line.slice(0, Math.floor(line.length / 2)); // truncated
  if (kind === 1) return JSON.stringify({ ...event, user: undefined }); // no user
  if (kind === 2) return JSON.stringify({ ...event, ts: 'yesterday' }); // bad timestamp
  return `WARN exporter: retrying batch`; // not JSON at all
}

// ---------------------------------------------------------------------------------------------------------
// The transform stages: each a plain function, so each is easy to test on its own.

/** Parses and validates one line; returns the event or the reason it is bad. */
function parse(line: string): Event | string {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    return `not JSON (${(error as Error).message})`;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'not a JSON object';
  const e = value as Partial<Event>;
  if (typeof e.user !== 'string' || e.user === '') return 'no user';
  if (typeof e.ts !== 'string' || Number.isNaN(Date.parse(e.ts))) return `bad ts ${JSON.stringify(e.ts)}`;
  if (!['view', 'click', 'purchase', 'heartbeat'].includes(e.event as string)) return 'unknown event';
  return e as Event;
}

/** Heartbeats are noise for the consumers of this stream. */
const wanted = (e: Event): boolean => e.event !== 'heartbeat';

/** Adds what consumers would otherwise look up: region, hour bucket, and where the line came from. */
function enrich(e: Event, lineNo: number) {
  const regions = ['eu-west', 'us-east', 'ap-south'];
  return {
    ...e,
    region: regions[Number.parseInt(e.user.slice(2), 10) % regions.length],
    hour: e.ts.slice(0, 13),
    source: { file: 'sample', line: lineNo },
  };
}

// ---------------------------------------------------------------------------------------------------------
// The run.

const generated = args.file === undefined;
const file = args.file ?? join(tmpdir(), `rx-kinesis-etl-${process.pid}.ndjson`);
if (generated) {
  // Ctrl-C should not leave a large file behind.
  process.once('SIGINT', () => {
    if (!args.keep) rmSync(file, { force: true });
    process.exit(130);
  });
  const t0 = performance.now();
  await generate(file, LINES);
  const { size } = await stat(file);
  console.log(
    `generated ${LINES} lines (${(size / 2 ** 20).toFixed(1)} MiB) into ${file} ` +
      `in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
}

const real = realStream(); // a real stream when the environment names one
const emu = real
  ? undefined
  : await startEmulator({
      streamName: STREAM,
      shards: SHARDS,
      faults: { seed: 7, recordFailureRate: 0.02 }, // 2% of entries fail with InternalFailure and are retried
      keepData: false, // the ledger keeps a SHA-256 per record, enough to check what landed
    });
const stream = real?.stream ?? { streamName: STREAM };
const client = real?.client ?? emulatorClient(emu!);
console.log(
  emu
    ? `emulator on ${emu.endpoint}: stream "${STREAM}" with ${SHARDS} shards, 2% InternalFailure`
    : `real stream ${real!.label}`,
);

const count = { read: 0, bad: 0, filtered: 0, sent: 0, delivered: 0, retried: 0, failed: 0 };
const badLines: { line: number; reason: string }[] = [];

type Outcome =
  | { line: number; record: { PartitionKey: string; Data: string } }
  | { line: number; bad: string }
  | { line: number; filtered: true };

/** Extract and transform: each line's outcome in file order, read only as fast as the consumer pulls. */
async function* transform(path: string): AsyncGenerator<Outcome> {
  const lines = createInterface({ input: createReadStream(path), crlfDelay: Infinity });
  let line = 0;
  for await (const text of lines) {
    line++;
    if (text.trim() === '') continue;
    const event = parse(text);
    if (typeof event === 'string') yield { line, bad: event };
    else if (!wanted(event)) yield { line, filtered: true };
    else yield { line, record: { PartitionKey: event.user, Data: JSON.stringify(enrich(event, line)) } };
  }
}

/** What `putAll()` pulls: the good lines' records; bad and filtered lines are counted on the way. */
async function* records(path: string): AsyncGenerator<KinesisRecordInput> {
  for await (const outcome of transform(path)) {
    count.read = outcome.line;
    if ('bad' in outcome) {
      count.bad++;
      if (badLines.length < 10_000) badLines.push({ line: outcome.line, reason: outcome.bad });
    } else if ('filtered' in outcome) {
      count.filtered++;
    } else {
      count.sent++;
      yield outcome.record;
    }
  }
}

// Progress: redrawn in place on a terminal, a line a second in a log.
const tty = process.stdout.isTTY === true;
const started = performance.now();
let last = { at: started, delivered: 0 };
const progress = (final = false) => {
  const now = performance.now();
  const rate = final
    ? count.delivered / ((now - started) / 1000)
    : (count.delivered - last.delivered) / Math.max((now - last.at) / 1000, 0.001);
  last = { at: now, delivered: count.delivered };
  const line =
    `progress: ${count.read}${generated ? `/${LINES}` : ''} lines read, ${count.delivered} delivered, ${count.retried} retried, ` +
    `${count.failed} failed, ${count.bad} bad, ${Math.round(rate)} records/s`;
  process.stdout.write(tty ? `\r${line}\x1b[K` : `${line}\n`);
};
const ticker = setInterval(progress, tty ? 250 : 1000);

// Load: putAll pulls from the generator only while fewer than 10,000 records are buffered.
let error: unknown;
await new Promise<void>((resolve) =>
  putAll(records(file), { client, ...stream, maxBufferedRecords: 10_000 }).subscribe({
    next: (e) =>
      e.response.Records?.forEach((r, i) => {
        if (r.SequenceNumber) count.delivered++;
        else if (e.retrying[i]) count.retried++;
        else count.failed++; // out of attempts: a real pipeline would dead-letter e.items[i]
      }),
    error: (err) => {
      error = err;
      resolve();
    },
    complete: resolve,
  }),
);
clearInterval(ticker);
progress(true);
if (tty) process.stdout.write('\n');
const seconds = (performance.now() - started) / 1000;

if (badLines.length > 0) {
  console.log(`\nbad lines: ${count.bad} (skipped, not fatal); the first ${Math.min(10, count.bad)}:`);
  for (const { line, reason } of badLines.slice(0, 10)) console.log(`  line ${line}: ${reason}`);
}

// Check against the emulator's ledger: the file, transformed again, says what should have landed. (Keeping
// every record sent for this would grow with the file: the pipeline itself holds at most 10,000.)
const expected: ExpectedRecord[] = [];
for await (const outcome of transform(file)) {
  if ('record' in outcome)
    expected.push({ partitionKey: outcome.record.PartitionKey, data: outcome.record.Data });
}
// A real stream is not read back: its counts are the responses' (lost and duplicates stay 0, unchecked).
const lost = emu ? emu.missing(expected).length : 0;
const duplicates = emu ? emu.duplicates(expected).count : 0;
if (!emu) console.log('\nreal stream: not read back; lost and duplicates are not checked');
console.log(
  `\nsummary: ${count.read} lines, ${count.bad} bad, ${count.filtered} filtered, ${count.sent} sent, ` +
    `${count.delivered} delivered, ${count.retried} retried, ${count.failed} failed, ${lost} lost, ` +
    `${duplicates} duplicates in ${seconds.toFixed(1)} s (${Math.round(count.delivered / seconds)} records/s)`,
);
if (error !== undefined) console.error('the pipeline failed:', error);

client.destroy();
await emu?.close();
if (generated && !args.keep) await rm(file, { force: true });
const ok =
  error === undefined &&
  lost === 0 &&
  count.failed === 0 &&
  count.delivered === count.sent &&
  expected.length === count.sent;
process.exitCode = ok ? 0 : 1;
