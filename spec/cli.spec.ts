/**
 * The `rx-kinesis` command as a user runs it: a separate process (tsx on src/cli/main.ts) writing into an
 * emulator, its summary checked against the emulator's ledger, its exit codes, its dead-letter file and
 * its signal handling; and the emulator command serving a `put` from another process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { startEmulator, type KinesisEmulator } from '../src/testing/index.js';
import { parsePutArgs } from '../src/cli/args.js';
import { runPut } from '../src/cli/put.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const env = {
  ...process.env,
  AWS_ACCESS_KEY_ID: 'x',
  AWS_SECRET_ACCESS_KEY: 'x',
  AWS_REGION: 'us-east-1',
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
};

interface Run {
  readonly child: ChildProcess;
  readonly stdout: () => string;
  readonly stderr: () => string;
  readonly exit: Promise<number>;
}

function cli(args: string[], stdin?: string): Run {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: root, env });
  let out = '';
  let err = '';
  child.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (err += c.toString()));
  const exit = new Promise<number>((resolve) => child.once('close', (code) => resolve(code ?? -1)));
  if (stdin !== undefined) child.stdin!.end(stdin);
  return { child, stdout: () => out, stderr: () => err, exit };
}

interface Summary {
  read: number;
  delivered: number;
  failed: number;
  invalid: number;
  unsent: number;
  stopped: string | null;
  exitCode: number;
}

/** Waits until the command is past its start (tsx takes a second) and writing. */
async function untilAccepted(emu: KinesisEmulator, records: number): Promise<void> {
  while (emu.stats().accepted < records) await new Promise((r) => setTimeout(r, 50));
}

const summaryOf = (run: Run): Summary => JSON.parse(run.stdout().trim().split('\n').pop()!) as Summary;
const deadLetters = (path: string) =>
  readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as { source: string; line: number; error: string; input?: string });

/** `n` NDJSON lines with a device key, 50 devices; `i` makes each unique so the ledger can tell them apart. */
const ndjson = (n: number, from = 0) =>
  Array.from({ length: n }, (_, k) => JSON.stringify({ device: { id: `d${(from + k) % 50}` }, i: from + k }));
const sent = (lines: string[]) =>
  lines.map((line) => ({
    partitionKey: (JSON.parse(line) as { device: { id: string } }).device.id,
    data: Buffer.from(line),
  }));

describe('rx-kinesis put (the command)', function () {
  this.timeout(60_000);
  let emu: KinesisEmulator;
  let work: string;
  const put = (...args: string[]) => [
    'put',
    '--endpoint-url',
    emu.endpoint,
    '--region',
    'us-east-1',
    '--json',
    ...args,
  ];

  beforeEach(async () => {
    work = mkdtempSync(join(tmpdir(), 'rx-kinesis-cli-'));
    emu = await startEmulator({ streamName: 'events', shards: 4 });
  });
  afterEach(async () => {
    await emu.close();
    rmSync(work, { recursive: true, force: true });
  });

  it('3,000 lines with invalid ones: summary = ledger, exit 65, the invalid lines (only) in the dead letter', async () => {
    const valid = ndjson(3000);
    const lines = [...valid];
    // 1-based line numbers after insertion, and what each should be reported as.
    const bad: [number, string, string][] = [
      [10, '{"device":{"id":"d1"},"SECRET-1"', 'INVALID_JSON'],
      [500, '{"SECRET-2":true}', 'KEY_MISSING'],
      // Over the limit with its key (refused by the pipeline), and longer than the limit as a line (never held).
      [1500, JSON.stringify({ device: { id: 'd1' }, pad: 'SECRET-3'.padEnd(968, 'x') }), 'RECORD_TOO_LARGE'],
      [2500, JSON.stringify({ device: { id: 'd1' }, pad: 'SECRET-4'.padEnd(3000, 'x') }), 'RECORD_TOO_LARGE'],
    ];
    for (const [at, text] of bad) lines.splice(at - 1, 0, text);
    const file = join(work, 'in.ndjson');
    writeFileSync(file, `${lines.join('\n')}\n`);
    const deadLetter = join(work, 'dl.ndjson');

    const run = cli(
      put(
        '--stream',
        'events',
        '--key',
        'device.id',
        '--max-record-bytes',
        '1000',
        '--dead-letter',
        deadLetter,
        file,
      ),
    );
    expect(await run.exit).to.equal(65);
    const summary = summaryOf(run);
    expect(summary).to.include({
      read: 3004,
      delivered: 3000,
      failed: 0,
      invalid: 4,
      unsent: 0,
      exitCode: 65,
    });
    expect(emu.stats().accepted).to.equal(summary.delivered);
    expect(emu.missing(sent(valid))).to.deep.equal([]);
    expect(emu.duplicates().count).to.equal(0);

    expect(deadLetters(deadLetter)).to.deep.equal(
      bad.map(([line, text, error]) => ({
        source: file,
        line,
        error,
        ...(line === 2500 ? {} : { input: text }),
      })),
    );
    for (const [line, , error] of bad) expect(run.stderr()).to.include(`${file}:${line} ${error}`);
    expect(run.stderr() + run.stdout()).not.to.match(/SECRET/);
  });

  it('exit 0 when all is delivered: CSV from stdin, keys from a template', async () => {
    const rows = Array.from({ length: 200 }, (_, i) => `d${i % 7},${i},"note ${i}, with ""quotes"""`);
    const run = cli(
      put('--stream', 'events', '--format', 'csv', '--key-template', '{device}/{n}'),
      ['device,n,note', ...rows].join('\r\n'),
    );
    expect(await run.exit).to.equal(0);
    expect(summaryOf(run)).to.include({ read: 200, delivered: 200, invalid: 0, exitCode: 0 });
    const expected = rows.map((_, i) => ({
      partitionKey: `d${i % 7}/${i}`,
      data: Buffer.from(
        JSON.stringify({ device: `d${i % 7}`, n: String(i), note: `note ${i}, with "quotes"` }),
      ),
    }));
    expect(emu.missing(expected)).to.deep.equal([]);
    expect(emu.stats().accepted).to.equal(200);
  });

  it('exit 75 when records finally fail: each failure in the dead letter with its code, the rest delivered', async () => {
    emu.setFaults({ seed: 3, recordFailureRate: 0.3 });
    const lines = ndjson(1000);
    const file = join(work, 'in.ndjson');
    writeFileSync(file, lines.join('\n'));
    const deadLetter = join(work, 'dl.ndjson');
    const run = cli(
      put(
        '--stream',
        'events',
        '--key',
        'device.id',
        '--max-attempts',
        '1',
        '--dead-letter',
        deadLetter,
        file,
      ),
    );
    expect(await run.exit).to.equal(75);
    const summary = summaryOf(run);
    expect(summary.failed).to.be.above(200).and.below(400);
    expect(summary.delivered + summary.failed).to.equal(1000);
    expect(emu.stats().accepted).to.equal(summary.delivered);
    expect(emu.stats().failed).to.equal(summary.failed);
    const dead = deadLetters(deadLetter);
    expect(dead).to.have.length(summary.failed);
    expect(dead.every((d) => d.error === 'InternalFailure')).to.equal(true);
    // The dead letter replays exactly what is missing.
    expect(
      emu
        .missing(sent(lines))
        .map((r) => r.data.toString())
        .sort(),
    ).to.deep.equal(dead.map((d) => d.input!).sort());
  });

  it('exit 1 for a stream that does not exist, with the error named and what was taken unsent', async () => {
    const deadLetter = join(work, 'dl.ndjson');
    const run = cli(put('--stream', 'nope', '--dead-letter', deadLetter), ndjson(100).join('\n'));
    expect(await run.exit).to.equal(1);
    expect(run.stderr()).to.match(/ResourceNotFoundException/);
    const summary = summaryOf(run);
    expect(summary.delivered).to.equal(0);
    expect(deadLetters(deadLetter)).to.have.length(summary.unsent);
    expect(summary.read).to.be.at.least(summary.unsent);
  });

  it('--strict stops at the first invalid line and exits 65', async () => {
    const lines = ndjson(100);
    lines.splice(40, 0, '{broken');
    const run = cli(put('--stream', 'events', '--key', 'device.id', '--strict'), lines.join('\n'));
    expect(await run.exit).to.equal(65);
    const summary = summaryOf(run);
    expect(summary).to.include({ read: 41, delivered: 40, invalid: 1 });
    expect(summary.stopped).to.match(/--strict: invalid input at -:41/);
    expect(emu.stats().accepted).to.equal(40);
  });

  it('usage errors exit 64; --help and --version exit 0', async () => {
    const usage = cli(['put', '--format', 'xml', '--stream', 's']);
    expect(await usage.exit).to.equal(64);
    expect(usage.stderr()).to.match(/--format must be ndjson, lines or csv[\s\S]*rx-kinesis put --help/);
    expect(await cli(['frobnicate']).exit).to.equal(64);
    expect(await cli([]).exit).to.equal(64);
    for (const command of ['put', 'emulator']) {
      const help = cli([command, '--help']);
      expect(await help.exit).to.equal(0);
      expect(help.stdout()).to.match(new RegExp(`^Usage: rx-kinesis ${command}`));
    }
    const version = cli(['--version']);
    expect(await version.exit).to.equal(0);
    expect(version.stdout().trim()).to.equal(
      (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version,
    );
  });

  it('SIGTERM: stops reading an open pipe, drains what it read, exits 0 with summary = ledger', async () => {
    await emu.close();
    emu = await startEmulator({ streamName: 'events', shards: 1, quotas: { recordsPerSecond: 300 } });
    const run = cli(put('--stream', 'events', '--key', 'device.id', '--shard-records-per-second', '300'));
    const lines = ndjson(1500);
    run.child.stdin!.write(`${lines.join('\n')}\n`); // and the pipe stays open: only a signal ends the input
    await untilAccepted(emu, 300);
    const signalled = Date.now();
    run.child.kill('SIGTERM');
    expect(await run.exit).to.equal(0);
    const summary = summaryOf(run);
    expect(summary.stopped).to.equal('SIGTERM');
    expect(summary).to.include({ read: 1500, delivered: 1500, unsent: 0, failed: 0 });
    expect(emu.stats().accepted).to.equal(1500);
    expect(emu.missing(sent(lines))).to.deep.equal([]);
    // It drained at the shard's pace: the records still buffered at the signal took seconds, not none.
    expect(Date.now() - signalled).to.be.above(1000);
  });

  it('SIGTERM past --drain-timeout: what is left is unsent, written to the dead letter, exit 75', async () => {
    await emu.close();
    emu = await startEmulator({ streamName: 'events', shards: 1, quotas: { recordsPerSecond: 100 } });
    const deadLetter = join(work, 'dl.ndjson');
    const run = cli(
      put(
        '--stream',
        'events',
        '--shard-records-per-second',
        '100',
        '--drain-timeout',
        '0.5',
        '--dead-letter',
        deadLetter,
      ),
    );
    run.child.stdin!.write(`${ndjson(2000).join('\n')}\n`);
    await untilAccepted(emu, 100);
    const signalled = Date.now();
    run.child.kill('SIGTERM');
    expect(await run.exit).to.equal(75);
    expect(Date.now() - signalled).to.be.below(5000);
    const summary = summaryOf(run);
    expect(summary.unsent).to.be.above(1000);
    expect(summary.delivered + summary.unsent).to.equal(summary.read);
    // Requests in flight when the drain was abandoned may still land: at least what was reported.
    expect(emu.stats().accepted).to.be.at.least(summary.delivered);
    const dead = deadLetters(deadLetter);
    expect(dead).to.have.length(summary.unsent);
    expect(new Set(dead.map((d) => d.error))).to.deep.equal(new Set(['UNSENT']));
    expect(run.stderr()).to.match(/abandoned the drain \(--drain-timeout\)/);
  });
});

describe('rx-kinesis put reads only as fast as Kinesis takes it', function () {
  this.timeout(30_000);

  it('an endless input is pulled no further than the buffer ahead of what was delivered', async () => {
    const emu = await startEmulator({ streamName: 'slow', shards: 1, quotas: { recordsPerSecond: 500 } });
    let pulled = 0;
    const record = `{"pad":"${'x'.repeat(1000)}"}\n`;
    const stdin = new Readable({
      read() {
        pulled++;
        this.push(record);
      },
    });
    const signals = new EventEmitter();
    const stderr = Object.assign(new PassThrough(), { isTTY: false });
    const stdout = new PassThrough();
    let out = '';
    stdout.on('data', (c: Buffer) => (out += c.toString()));
    stderr.resume();
    const config = parsePutArgs([
      '--stream',
      'slow',
      '--endpoint-url',
      emu.endpoint,
      '--region',
      'us-east-1',
      '--json',
      '--shard-records-per-second',
      '500',
      '--drain-timeout',
      '0.2',
    ]);
    const prevEnv = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
    process.env.AWS_ACCESS_KEY_ID = 'x';
    process.env.AWS_SECRET_ACCESS_KEY = 'x';
    process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
    try {
      const done = runPut(config, { stdin, stdout, stderr, signals: signals as unknown as NodeJS.Process });
      await new Promise((r) => setTimeout(r, 3000));
      const pulledAtSignal = pulled;
      signals.emit('SIGTERM', 'SIGTERM');
      expect(await done).to.equal(75); // endless input, 0.2 s to drain: some are left
      const summary = JSON.parse(out) as Summary;
      // 16 MiB of buffer is ~16,000 of these records; in 3 s the shard takes ~1,500. Without back-pressure
      // the stream would have been read without end (millions of pulls).
      expect(pulledAtSignal).to.be.below(16 * 1024 + 1_500 + 2_000);
      expect(pulledAtSignal).to.be.above(10_000); // and the buffer was used: the control for the bound above
      expect(summary.delivered).to.be.within(500, 2_500);
      expect(summary.delivered + summary.unsent).to.equal(summary.read);
      expect(emu.stats().accepted).to.be.at.least(summary.delivered);
    } finally {
      process.env.AWS_ACCESS_KEY_ID = prevEnv.id;
      process.env.AWS_SECRET_ACCESS_KEY = prevEnv.secret;
      if (prevEnv.id === undefined) delete process.env.AWS_ACCESS_KEY_ID;
      if (prevEnv.secret === undefined) delete process.env.AWS_SECRET_ACCESS_KEY;
      await emu.close();
    }
  });
});

describe('rx-kinesis emulator (the command)', function () {
  this.timeout(60_000);
  let work: string;
  beforeEach(() => (work = mkdtempSync(join(tmpdir(), 'rx-kinesis-cli-'))));
  afterEach(() => rmSync(work, { recursive: true, force: true }));

  async function endpointOf(run: Run): Promise<string> {
    for (let i = 0; i < 200; i++) {
      const match = /listening on (http:\/\/\S+)/.exec(run.stdout());
      if (match) return match[1];
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`emulator did not start: ${run.stderr()}`);
  }

  it('serves a put from another process; on SIGTERM its counters equal the summary, exit 0', async () => {
    const emulator = cli(['emulator', '--port', '0', '--stream', 'events:3', '--stream', 'other:2']);
    const endpoint = await endpointOf(emulator);
    expect(emulator.stdout()).to.match(
      /aws --endpoint-url http:\/\/127\.0\.0\.1:\d+ --region us-east-1 kinesis list-shards/,
    );
    const lines = ndjson(3000);
    const put = cli(
      ['put', '--endpoint-url', endpoint, '--stream', 'events', '--key', 'device.id', '--json'],
      lines.join('\n'),
    );
    expect(await put.exit).to.equal(0);
    const summary = summaryOf(put);
    emulator.child.kill('SIGTERM');
    expect(await emulator.exit).to.equal(0);
    const counters = JSON.parse(emulator.stdout().trim().split('\n').pop()!) as {
      streams: Record<string, { accepted: number; throttled: number }>;
    };
    expect(counters.streams.events.accepted).to.equal(summary.delivered).and.equal(3000);
    expect(counters.streams.other.accepted).to.equal(0);
  });

  it('takes streams, quotas and faults from --config; flags win; injected failures reach put', async () => {
    const config = join(work, 'emu.json');
    writeFileSync(
      config,
      JSON.stringify({
        port: 0,
        streams: [{ name: 'cfg', shards: 2 }],
        faults: { seed: 5, recordFailureRate: 0.9 },
      }),
    );
    const emulator = cli(['emulator', '--config', config, '--record-failure-rate', '0.2']);
    const endpoint = await endpointOf(emulator);
    const put = cli(
      ['put', '--endpoint-url', endpoint, '--stream', 'cfg', '--max-attempts', '1', '--json', '--quiet'],
      ndjson(500).join('\n'),
    );
    expect(await put.exit).to.equal(75);
    const summary = summaryOf(put);
    expect(summary.failed).to.be.within(50, 150); // 0.2 from the flag, not 0.9 from the file
    emulator.child.kill('SIGINT');
    expect(await emulator.exit).to.equal(0);
    const counters = JSON.parse(emulator.stdout().trim().split('\n').pop()!) as {
      streams: Record<string, { accepted: number; failed: number }>;
    };
    expect(counters.streams.cfg).to.include({ accepted: summary.delivered, failed: summary.failed });
  });

  it('refuses a bad config file with exit 64, and a taken port with exit 1', async () => {
    const config = join(work, 'bad.json');
    writeFileSync(config, '{"streams": ');
    const bad = cli(['emulator', '--config', config]);
    expect(await bad.exit).to.equal(64);
    expect(bad.stderr()).to.match(/--config .*bad\.json/);

    const first = cli(['emulator', '--port', '0']);
    const port = new URL(await endpointOf(first)).port;
    const second = cli(['emulator', '--port', port]);
    expect(await second.exit).to.equal(1);
    expect(second.stderr()).to.match(/EADDRINUSE/);
    first.child.kill('SIGTERM');
    expect(await first.exit).to.equal(0);
  });
});
