/**
 * The pieces of the `rx-kinesis` command that need no process: argument checks, key extraction, and the
 * line and CSV readers (split at every possible chunk edge, against a reference).
 */
import { PassThrough, Readable } from 'node:stream';
import { expect } from 'chai';
import fc from 'fast-check';
import { parseEmulatorArgs, parsePutArgs, UsageError } from '../src/cli/args.js';
import { parseCsvRecord, readCsv, readLines, type InputLine } from '../src/cli/input.js';
import { compileTemplate, fieldAt, randomKeys } from '../src/cli/keys.js';
import { Progress } from '../src/cli/progress.js';
import { readRecords, recordBuilder } from '../src/cli/records.js';
import { Tally } from '../src/cli/tally.js';
import { KinesisMetrics } from '../src/index.js';

async function collect<T>(source: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of source) out.push(x);
  return out;
}

/** A stream that hands out `text` as UTF-8 bytes cut at the given offsets (possibly inside a character). */
function chunked(text: string, cuts: number[]): Readable {
  const bytes = Buffer.from(text);
  const edges = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let at = 0;
  for (const edge of [...edges, bytes.length]) {
    if (edge > at) chunks.push(bytes.subarray(at, edge));
    at = Math.max(at, edge);
  }
  return Readable.from(chunks, { objectMode: false });
}

function csvField(value: string): string {
  return /[",\n\r]/.test(value) || value === '' ? `"${value.replace(/"/g, '""')}"` : value;
}

describe('rx-kinesis command: arguments', () => {
  it('put: a stream is required, and the rest defaults', () => {
    expect(() => parsePutArgs([])).to.throw(UsageError, /--stream NAME or --stream-arn/);
    const c = parsePutArgs(['--stream', 's']);
    expect(c).to.include({
      format: 'ndjson',
      key: 'random',
      aggregate: false,
      ordering: 'none',
      drainTimeoutMs: 30_000,
      maxBufferedRecords: 50_000,
    });
    expect(c.files).to.deep.equal(['-']);
  });

  it('put: reads every option into the config', () => {
    const c = parsePutArgs([
      '--stream-arn=arn:aws:kinesis:us-east-1:000000000000:stream/s',
      '--format',
      'csv',
      '--key-template',
      '{a}-{b.c}',
      '--hash-key-field',
      'h.k',
      '--aggregate',
      '--ordering',
      'per-key',
      '--shard-records-per-second',
      '500',
      '--shard-bytes-per-second',
      'off',
      '--max-record-bytes',
      '2097152',
      '--max-attempts',
      '3',
      '--endpoint-url',
      'http://127.0.0.1:4567',
      '--region',
      'eu-west-1',
      '--profile',
      'dev',
      '--dead-letter',
      'dl.ndjson',
      '--strict',
      '--drain-timeout',
      '1.5',
      '-q',
      '--json',
      'a.csv',
      'b.csv',
    ]);
    expect(c).to.deep.include({
      streamARN: 'arn:aws:kinesis:us-east-1:000000000000:stream/s',
      format: 'csv',
      key: { template: '{a}-{b.c}' },
      hashKeyField: 'h.k',
      aggregate: true,
      ordering: 'per-key',
      shardRecordsPerSecond: 500,
      shardBytesPerSecond: Infinity,
      maxRecordBytes: 2097152,
      maxAttempts: 3,
      endpointUrl: 'http://127.0.0.1:4567',
      region: 'eu-west-1',
      profile: 'dev',
      deadLetter: 'dl.ndjson',
      strict: true,
      drainTimeoutMs: 1500,
      quiet: true,
      json: true,
      files: ['a.csv', 'b.csv'],
    });
  });

  const usage: [string, string[], RegExp][] = [
    ['an unknown option', ['--stream', 's', '--bogus'], /Unknown option '--bogus'/],
    ['a bad format', ['--stream', 's', '--format', 'xml'], /--format must be ndjson, lines or csv/],
    ['two key sources', ['--stream', 's', '--key', 'a', '--key-template', '{a}'], /not both/],
    ['a key for plain lines', ['--stream', 's', '--format', 'lines', '--key', 'a'], /no fields/],
    ['an empty path segment', ['--stream', 's', '--key', 'a..b'], /field path like a\.b\.c/],
    ['per-key order of random keys', ['--stream', 's', '--ordering', 'per-key'], /needs --key/],
    ['a zero rate', ['--stream', 's', '--shard-records-per-second', '0'], /positive number or 'off'/],
    ['a fractional size', ['--stream', 's', '--max-record-bytes', '1.5'], /positive integer/],
    ['a negative drain timeout', ['--stream', 's', '--drain-timeout=-1'], /--drain-timeout must be/],
    ['stdin twice', ['--stream', 's', '-', '-'], /only once/],
  ];
  for (const [what, args, message] of usage) {
    it(`put: refuses ${what}`, () => expect(() => parsePutArgs(args)).to.throw(UsageError, message));
  }

  it('emulator: streams, quotas and faults', () => {
    const c = parseEmulatorArgs([
      '--stream',
      'a:3',
      '--stream',
      'b',
      '--port',
      '0',
      '--host',
      '::1',
      '--quotas',
      '500,65536',
      '--record-failure-rate',
      '0.1',
      '--reset-rate',
      '0',
      '--latency-ms',
      '5',
      '--seed',
      '7',
    ]);
    expect(c).to.deep.include({
      streams: [
        { name: 'a', shards: 3 },
        { name: 'b', shards: 1 },
      ],
      port: 0,
      host: '::1',
      quotas: { recordsPerSecond: 500, bytesPerSecond: 65536 },
      faults: { recordFailureRate: 0.1, resetRate: 0, latencyMs: 5, seed: 7 },
    });
    expect(parseEmulatorArgs(['--quotas', 'off']).quotas).to.equal(false);
    expect(parseEmulatorArgs([]).streams).to.deep.equal([]);
    // Unset unless given, so a config file's keepRecords is not overridden by a default.
    expect(parseEmulatorArgs([])).not.to.have.property('keepRecords');
    expect(parseEmulatorArgs(['--no-keep-records']).keepRecords).to.equal(false);
  });

  for (const [args, message] of [
    [['--stream', 'a:0'], /positive integer/],
    [['--stream', 'a:1', '--stream', 'a:2'], /each stream name once/],
    [['--stream', 'bad name'], /NAME or NAME:SHARDS/],
    [['--port', '70000'], /0\.\.65535/],
    [['--quotas', '1000'], /RECORDS_PER_SECOND,BYTES_PER_SECOND/],
    [['--record-failure-rate', '1.5'], /\[0, 1\]/],
    [['--latency-ms=-3'], /integer ≥ 0/],
    [['extra'], /Unexpected argument 'extra'/],
  ] as [string[], RegExp][]) {
    it(`emulator: refuses ${args.join(' ')}`, () =>
      expect(() => parseEmulatorArgs(args)).to.throw(UsageError, message));
  }
});

describe('rx-kinesis command: keys', () => {
  it('fieldAt follows dotted paths into objects and arrays, and refuses non-scalars', () => {
    const v = { a: { b: [{ c: 'x' }, 7] }, n: 0, t: true, z: null, o: {} };
    expect(fieldAt(v, 'a.b.0.c')).to.equal('x');
    expect(fieldAt(v, 'a.b.1')).to.equal('7');
    expect(fieldAt(v, 'n')).to.equal('0');
    expect(fieldAt(v, 't')).to.equal('true');
    for (const path of ['z', 'o', 'a', 'a.b', 'missing', 'a.missing.c', 'toString', 'a.b.length']) {
      expect(fieldAt(v, path), path).to.equal(undefined);
    }
    expect(fieldAt('str', 'length')).to.equal(undefined);
  });

  it('a template is its fields and literals joined, and undefined when a field is missing', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.string().map((s) => s.replace(/[{}]/g, '')),
            fc.constantFrom('{a}', '{b.c}', '{{', '}}'),
          ),
          {
            minLength: 1,
          },
        ),
        fc.string(),
        fc.integer(),
        (parts, a, c) => {
          if (!parts.some((p) => p === '{a}' || p === '{b.c}')) parts.push('{a}');
          const expected = parts
            .map((p) =>
              p === '{a}' ? a : p === '{b.c}' ? String(c) : p === '{{' ? '{' : p === '}}' ? '}' : p,
            )
            .join('');
          const key = compileTemplate(parts.join(''));
          expect(key({ a, b: { c } })).to.equal(expected);
          expect(key({ b: {} })).to.equal(undefined);
        },
      ),
    );
  });

  it('refuses templates that are malformed or have no field, naming the position', () => {
    expect(() => compileTemplate('x{a')).to.throw(SyntaxError, /position 2/);
    expect(() => compileTemplate('x}')).to.throw(SyntaxError, /unmatched } at position 2/);
    expect(() => compileTemplate('{a..b}')).to.throw(SyntaxError, /position 1/);
    expect(() => compileTemplate('fixed')).to.throw(SyntaxError, /same key/);
    expect(() => compileTemplate('{{a}}')).to.throw(SyntaxError, /same key/);
  });

  it('random keys are 16 hex digits, drawn from a pool refilled as needed', () => {
    let draws = 0;
    const key = randomKeys((n) => {
      draws++;
      return Buffer.alloc(n, draws);
    });
    const keys = Array.from({ length: 1025 }, key);
    expect(keys[0]).to.equal('0101010101010101');
    expect(keys[1024]).to.equal('0202020202020202');
    expect(draws).to.equal(2);
  });

  it('builds records from a field, a template, a hash key field or at random', () => {
    const value = { id: 'd1', h: '340282366920938463463374607431768211455' };
    expect(recordBuilder({ key: { field: 'id' } })(value, 'x')).to.deep.equal({
      PartitionKey: 'd1',
      Data: 'x',
    });
    expect(recordBuilder({ key: { template: 'k-{id}' } })(value, 'x')).to.deep.equal({
      PartitionKey: 'k-d1',
      Data: 'x',
    });
    expect(recordBuilder({ key: 'random', hashKeyField: 'h' })(value, 'x')).to.deep.equal({
      PartitionKey: 'h',
      ExplicitHashKey: value.h,
      Data: 'x',
    });
    expect(recordBuilder({ key: { field: 'nope' } })(value, 'x')).to.equal('KEY_MISSING');
    expect(recordBuilder({ key: { field: 'id' }, hashKeyField: 'nope' })(value, 'x')).to.equal(
      'HASH_KEY_MISSING',
    );
    const random = recordBuilder({ key: 'random' });
    const a = random(value, 'x');
    const b = random(value, 'x');
    expect(a)
      .to.have.property('PartitionKey')
      .that.matches(/^[0-9a-f]{16}$/);
    expect(a).not.to.deep.equal(b);
  });
});

describe('rx-kinesis command: reading input', () => {
  it('readLines gives the same lines however the bytes are chunked (UTF-8 split mid-character included)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.string({ unit: 'grapheme' }).map((s) => s.replace(/[\r\n]/g, '')),
          { maxLength: 20 },
        ),
        fc.boolean(),
        fc.boolean(),
        fc.array(fc.nat(), { maxLength: 10 }),
        async (lines, crlf, trailing, cuts) => {
          const text = lines.join(crlf ? '\r\n' : '\n') + (trailing && lines.length > 0 ? '\n' : '');
          const got = await collect(readLines(chunked(text, cuts), 1_000_000));
          const expected = text === '' ? [] : text.replace(/\r?\n$/, '').split(/\r?\n/);
          expect(got.map((l) => l.text)).to.deep.equal(expected);
          expect(got.map((l) => l.line)).to.deep.equal(expected.map((_, i) => i + 1));
          expect(got.every((l) => !l.tooLong)).to.equal(true);
        },
      ),
    );
  });

  it('readLines reports a line over the limit as tooLong, keeps counting lines, and does not hold it', async () => {
    const long = 'x'.repeat(10_000);
    const got = await collect(readLines(chunked(`a\n${long}\nb\n${long}`, [1, 500, 3000, 7000, 12000]), 100));
    expect(got).to.deep.equal([
      { line: 1, text: 'a', tooLong: false },
      { line: 2, text: '', tooLong: true },
      { line: 3, text: 'b', tooLong: false },
      { line: 4, text: '', tooLong: true },
    ] satisfies InputLine[]);
  });

  it('parseCsvRecord reads back any row written per RFC 4180', () => {
    fc.assert(
      fc.property(fc.array(fc.string(), { minLength: 1, maxLength: 8 }), (fields) => {
        const text = fields.map(csvField).join(',');
        expect(parseCsvRecord(text)).to.deep.equal(text === '' ? [''] : fields);
      }),
    );
  });

  it('parseCsvRecord: an open quote asks for the next line; a stray quote is a problem', () => {
    expect(parseCsvRecord('a,"b')).to.equal('open');
    expect(parseCsvRecord('a,"b"c')).to.equal('CSV_BAD_QUOTE');
    expect(parseCsvRecord('a,b"c')).to.equal('CSV_BAD_QUOTE');
    expect(parseCsvRecord('a;"b;c"', ';')).to.deep.equal(['a', 'b;c']);
  });

  it('readCsv: a header, rows across lines, wrong field counts and an unclosed quote, with line numbers', async () => {
    const text = 'id,note\n1,plain\n2,"two\nlines"\n3\n4,"x""y"\n5,"never closed\nmore';
    const rows = await collect(readCsv(readLines(chunked(text, [7, 19]), 1000), 1000));
    expect(rows).to.deep.equal([
      { line: 2, text: '1,plain', fields: { id: '1', note: 'plain' } },
      { line: 3, text: '2,"two\nlines"', fields: { id: '2', note: 'two\nlines' } },
      { line: 5, text: '3', problem: 'CSV_FIELD_COUNT' },
      { line: 6, text: '4,"x""y"', fields: { id: '4', note: 'x"y' } },
      { line: 7, text: '5,"never closed\nmore', problem: 'CSV_UNCLOSED_QUOTE' },
    ]);
  });

  it('readCsv holds a row spanning lines to the limit too', async () => {
    const text = `a\n"${'y\n'.repeat(100)}"\nz`;
    const rows = await collect(readCsv(readLines(chunked(text, []), 1000), 50));
    expect(rows).to.deep.equal([
      { line: 2, text: '', problem: 'RECORD_TOO_LARGE' },
      { line: 103, text: 'z', fields: { a: 'z' } },
    ]);
  });

  it('readRecords: ndjson problems carry their line and text; blank lines are skipped', async () => {
    const input = '{"id":"a"}\n\n{bad\n{"other":1}\n   \n{"id":2}\n';
    const got = await collect(
      readRecords(chunked(input, []), 'f', 'ndjson', recordBuilder({ key: { field: 'id' } }), 1000),
    );
    expect(got).to.deep.equal([
      { source: 'f', line: 1, text: '{"id":"a"}', record: { PartitionKey: 'a', Data: '{"id":"a"}' } },
      { source: 'f', line: 3, text: '{bad', reason: 'INVALID_JSON' },
      { source: 'f', line: 4, text: '{"other":1}', reason: 'KEY_MISSING' },
      { source: 'f', line: 6, text: '{"id":2}', record: { PartitionKey: '2', Data: '{"id":2}' } },
    ]);
  });

  it('readRecords: csv rows are sent as JSON objects of their fields', async () => {
    const got = await collect(
      readRecords(chunked('dev,t\nd1,20\n', []), 'f', 'csv', recordBuilder({ key: { field: 'dev' } }), 1000),
    );
    expect(got).to.deep.equal([
      { source: 'f', line: 2, text: 'd1,20', record: { PartitionKey: 'd1', Data: '{"dev":"d1","t":"20"}' } },
    ]);
  });
});

describe('rx-kinesis command: progress', () => {
  it('a status line: totals, the rate since the last line, and the per-shard rate range', () => {
    const metrics = new KinesisMetrics();
    const tally = new Tally(undefined);
    const out = Object.assign(new PassThrough(), { columns: 60 });
    let written = '';
    out.on('data', (c: Buffer) => (written += c.toString()));
    const progress = new Progress(tally, metrics, 's', out, {
      tty: true,
      intervalMs: 1000,
      retrying: () => 3,
    });
    progress.start();
    progress.stop();
    for (let i = 0; i < 300; i++) metrics.userRecordPut('s', 'shardId-000000000000', 1, 10);
    for (let i = 0; i < 100; i++) metrics.userRecordPut('s', 'shardId-000000000001', 1, 10);
    tally.read = 410;
    tally.delivered(400);
    tally.failedCount = 2;
    const line = progress.line(Date.now() + 2000);
    expect(line).to.match(
      /^\d+s 400\/410 delivered \d+\/s \| retrying 3 failed 2 invalid 0 \| 2 shards \d+–\d+\/s$/,
    );
    const [low, high] = /(\d+)–(\d+)\/s$/.exec(line)!.slice(1).map(Number);
    expect(high).to.be.closeTo(150, 10); // 300 records in ~2 s
    expect(low).to.be.closeTo(50, 5);
    expect(written).to.equal('\r\x1b[2K'); // stop() clears the line it drew on
  });
});
