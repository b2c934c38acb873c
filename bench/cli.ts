/**
 * `npm run bench:cli [-- LINES SHARDS]`: a 1,000,000-line NDJSON file through `rx-kinesis put` (the built
 * dist/cli.js, a separate process, as users run it) into the emulator with provisioned quotas on.
 * Reports the share of the quota achieved (overall, and over the whole seconds between the first and
 * last), the command's peak RSS, and whether its summary equals the emulator's ledger.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEmulator } from '../src/testing/index.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const lines = Number(process.argv[2] ?? 1_000_000);
const shards = Number(process.argv[3] ?? 20);
/** Extra `put` arguments, e.g. `--max-buffered-records 20000`. */
const extra = process.argv.slice(4);
const RECORDS_PER_SHARD = 1000;

async function writeInput(path: string): Promise<void> {
  const out = createWriteStream(path);
  for (let i = 0; i < lines; i++) {
    const line = `${JSON.stringify({ device: `sensor-${i % 5000}`, seq: i, t: 1_764_000_000_000 + i, v: (i % 997) / 10 })}\n`;
    if (!out.write(line)) await new Promise<void>((r) => out.once('drain', () => r()));
  }
  await new Promise<void>((r, reject) => out.end((e?: Error | null) => (e ? reject(e) : r())));
}

const cli = join(root, 'dist/cli.js');
if (!existsSync(cli)) throw new Error('build first: npm run build (this measures dist/cli.js)');
const work = mkdtempSync(join(tmpdir(), 'rx-kinesis-bench-cli-'));
const input = join(work, 'in.ndjson');
await writeInput(input);
// Counters only: a million logged records would measure the emulator's memory, not the command's.
const emu = await startEmulator({ streamName: 'bench', shards, keepRecords: false });
try {
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
      'device',
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
  const code = await new Promise<number | null>((r) => child.once('close', r));
  const seconds = (Date.now() - started) / 1000;
  const summary = JSON.parse(out) as {
    delivered: number;
    failed: number;
    invalid: number;
    maxRssBytes: number;
  };
  const stats = emu.stats();
  const quota = shards * RECORDS_PER_SHARD;
  // Whole seconds strictly inside the run: the first and last are partial.
  const inner = stats.timeline.slice(1, -1);
  const steady = inner.reduce((a, b) => a + b, 0) / (inner.length * quota);
  const result = {
    lines,
    shards,
    inputMiB: +(statSync(input).size / 2 ** 20).toFixed(1),
    exitCode: code,
    seconds: +seconds.toFixed(1),
    delivered: summary.delivered,
    ledgerAccepted: stats.accepted,
    summaryEqualsLedger: summary.delivered === stats.accepted && summary.delivered === lines,
    throttled: stats.throttled,
    quotaShareOverall: +(summary.delivered / (seconds * quota)).toFixed(3),
    quotaShareSteady: +steady.toFixed(3),
    peakRssMiB: +(summary.maxRssBytes / 2 ** 20).toFixed(0),
  };
  console.log(JSON.stringify(result, null, 2));
} finally {
  await emu.close();
  rmSync(work, { recursive: true, force: true });
}
