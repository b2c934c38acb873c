/**
 * The runnable examples, each run briefly as its own process the way `npm run example:*` runs it, judged by
 * exit code and by what its output reports (the examples check the emulator's ledger themselves).
 */
import { spawn } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { startEmulator } from '../src/testing/index.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
// A plain node with the tsx loader, not the spec runner's options; no real stream named (see
// examples/support/target.ts), so every example runs locally whatever the shell exports.
const { KINESIS_STREAM: _name, KINESIS_STREAM_ARN: _arn, ...inherited } = process.env;
const env: NodeJS.ProcessEnv = {
  ...inherited,
  NODE_OPTIONS: '',
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
};

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function runExample(file: string, ...args: string[]): Promise<Run> {
  return runExampleWith(env, file, ...args);
}

function runExampleWith(environment: NodeJS.ProcessEnv, file: string, ...args: string[]): Promise<Run> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', `examples/${file}`, ...args], {
      cwd: root,
      env: environment,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), 50_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
  });
}

/** The one line starting with `summary:`. */
function summaryOf(run: Run): string {
  const lines = run.stdout.split('\n').filter((l) => l.startsWith('summary: '));
  expect(lines, run.stdout).to.have.length(1);
  return lines[0];
}

/** The number in front of `label` in `line` ("…, 12 retried, …" → 12). */
function count(line: string, label: string): number {
  const match = new RegExp(`(\\d+) ${label}\\b`).exec(line);
  expect(match, `"${label}" in: ${line}`).to.not.equal(null);
  return Number(match![1]);
}

function expectSuccess(run: Run): void {
  expect(run.code, `exit code; stdout:\n${run.stdout}\nstderr:\n${run.stderr}`).to.equal(0);
  expect(run.stderr).to.equal('');
  // Not a terminal: progress is printed a line at a time, never redrawn.
  expect(run.stdout).to.not.include('\r');
  expect(run.stdout).to.not.include('\x1b[');
}

describe('examples', function () {
  this.timeout(60_000);

  it('quickstart.ts (npm start) writes 20,000 readings to kinesalite and reads every one back', async () => {
    const run = await runExample('quickstart.ts');
    expectSuccess(run);
    expect(run.stdout).to.match(/^writing: 20000\/20000 delivered, 0 retried, 0 failed/m);
    expect(run.stdout).to.match(/^total\s+20000\s+\d+$/m);
    expect(run.stdout).to.match(/^OK: all 20000 readings came back byte for byte/m);
  });

  it('pipe.ts pipes 1,000 orders to the stream and prints every PutRecords call', async () => {
    const run = await runExample('pipe.ts');
    expectSuccess(run);
    const summary = summaryOf(run);
    expect(count(summary, 'sent')).to.equal(1000);
    expect(count(summary, 'delivered')).to.equal(1000);
    expect(count(summary, 'failed')).to.equal(0);
    expect(count(summary, 'lost')).to.equal(0);
    const calls = [...run.stdout.matchAll(/^PutRecords: (\d+) records, 0 failed → shardId-/gm)];
    expect(calls.length).to.be.greaterThan(1);
    expect(calls.reduce((t, m) => t + Number(m[1]), 0)).to.equal(1000);
  });

  it('pipe.ts writes to the stream the environment names (KINESIS_STREAM_ARN, AWS_ENDPOINT_URL_KINESIS), not its own emulator', async () => {
    // A "real" stream: an emulator the example does not know about, reached only through the variables a
    // user sets for AWS, the stream by ARN alone.
    const emu = await startEmulator({ streamName: 'elsewhere', shards: 3 });
    try {
      const run = await runExampleWith(
        {
          ...env,
          KINESIS_STREAM_ARN: emu.streamArn,
          AWS_ENDPOINT_URL_KINESIS: emu.endpoint,
          AWS_REGION: emu.region,
          AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
          AWS_SECRET_ACCESS_KEY: 'example',
        },
        'pipe.ts',
      );
      expectSuccess(run);
      const summary = summaryOf(run);
      expect(count(summary, 'delivered')).to.equal(1000);
      expect(summary).to.include('not read back (a real stream)');
      expect(emu.records.length).to.equal(1000);
    } finally {
      await emu.close();
    }
  });

  it('etl.ts loads a generated NDJSON file through putAll(), reporting bad lines and retrying failures', async () => {
    const run = await runExample('etl.ts', '--lines', '3000');
    expectSuccess(run);
    const summary = summaryOf(run);
    const [lines, bad, filtered, sent] = ['lines', 'bad', 'filtered', 'sent'].map((l) => count(summary, l));
    expect(lines).to.equal(3000);
    expect(bad, 'about 1% malformed').to.be.within(10, 60);
    expect(filtered, 'about 5% heartbeats').to.be.within(75, 250);
    expect(bad + filtered + sent).to.equal(lines);
    expect(count(summary, 'delivered'), 'every good line delivered').to.equal(sent);
    expect(count(summary, 'retried'), '2% InternalFailure retried').to.be.greaterThan(0);
    expect(count(summary, 'failed')).to.equal(0);
    expect(count(summary, 'lost')).to.equal(0);
    expect(count(summary, 'duplicates')).to.equal(0);

    // Bad lines are reported with their line numbers: the count, then the first ten, in file order.
    expect(run.stdout).to.include(`bad lines: ${bad} (skipped, not fatal)`);
    const reported = [...run.stdout.matchAll(/^ {2}line (\d+): \S/gm)].map((m) => Number(m[1]));
    expect(reported).to.have.length(10);
    expect(reported).to.deep.equal([...reported].sort((a, b) => a - b));
    expect(reported.every((n) => n >= 1 && n <= lines)).to.equal(true);

    const progress = run.stdout.split('\n').filter((l) => l.startsWith('progress: '));
    expect(progress.at(-1)).to.match(/^progress: 3000\/3000 lines read, \d+ delivered, \d+ retried/);
  });

  it('sensors.ts aggregates 1,000 devices per second, shows per-shard rates and keeps per-key order', async () => {
    const run = await runExample('sensors.ts', '--seconds', '3');
    expectSuccess(run);
    const summary = summaryOf(run);
    expect(count(summary, 'devices')).to.equal(1000);
    const readings = count(summary, 'readings');
    const sent = count(summary, 'records sent');
    // Each device reports every 0.1-2 s; a summary is at most one per device per window.
    expect(readings).to.be.within(2000, 6000);
    expect(sent).to.be.within(1000, readings);
    expect(count(summary, 'delivered')).to.equal(sent);
    expect(count(summary, 'failed')).to.equal(0);
    expect(count(summary, 'lost')).to.equal(0);
    expect(count(summary, 'order violations')).to.equal(0);

    // The live display: a line a second with every shard's delivered rate.
    const ticks = run.stdout.split('\n').filter((l) => /^t=\d+s readings \d+\/s/.test(l));
    expect(ticks.length).to.be.at.least(3);
    expect(ticks.at(-1)!.match(/shardId-\d{12} \d+\/s/g)).to.have.length(4);
    const perShard = [...run.stdout.matchAll(/^ {2}shardId-\d{12} {2}(\d+) records/gm)].map((m) =>
      Number(m[1]),
    );
    expect(perShard).to.have.length(4);
    expect(perShard.reduce((a, b) => a + b, 0)).to.equal(sent);
  });
});
