/**
 * Command-line arguments of `rx-kinesis put` and `rx-kinesis emulator`, parsed with Node's own
 * `util.parseArgs` (no dependency; it knows `--name value`, `--name=value`, repeatable and boolean options,
 * which is all these commands need) and checked here, so a bad argument ends the command with exit code 64
 * before anything is read or sent.
 */
import { parseArgs } from 'node:util';

/**
 * A bad command line: printed with a pointer to `--help`, exit code 64 (EX_USAGE).
 *
 * @example
 * ```ts
 * throw new UsageError('--stream or --stream-arn is required');
 * ```
 */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

/** Input formats of `put`. */
export type InputFormat = 'ndjson' | 'lines' | 'csv';

/**
 * Everything `rx-kinesis put` was asked to do, checked.
 *
 * @example
 * ```ts
 * const config: PutConfig = parsePutArgs(['--stream', 'events', 'events.ndjson']);
 * ```
 */
export interface PutConfig {
  readonly files: readonly string[];
  readonly format: InputFormat;
  readonly streamName?: string;
  readonly streamARN?: string;
  readonly key: { readonly field: string } | { readonly template: string } | 'random';
  readonly hashKeyField?: string;
  readonly aggregate: boolean;
  readonly ordering: 'none' | 'per-key';
  readonly shardRecordsPerSecond?: number;
  readonly shardBytesPerSecond?: number;
  readonly maxRecordBytes?: number;
  readonly maxAttempts?: number;
  readonly maxBufferedRecords: number;
  readonly endpointUrl?: string;
  readonly region?: string;
  readonly profile?: string;
  readonly deadLetter?: string;
  readonly strict: boolean;
  readonly drainTimeoutMs: number;
  readonly quiet: boolean;
  readonly json: boolean;
  readonly help: boolean;
}

/**
 * Everything `rx-kinesis emulator` was asked to do, checked (the config file is read later).
 *
 * @example
 * ```ts
 * const config: EmulatorConfig = parseEmulatorArgs(['--port', '4567', '--stream', 'events:4']);
 * ```
 */
export interface EmulatorConfig {
  readonly host?: string;
  readonly port?: number;
  readonly streams: readonly { readonly name: string; readonly shards: number }[];
  readonly region?: string;
  readonly quotas?: false | { readonly recordsPerSecond: number; readonly bytesPerSecond: number };
  readonly faults: Readonly<Record<string, number>>;
  /** `--no-keep-records`: false; otherwise unset (the config file or the default, on, decides). */
  readonly keepRecords?: false;
  readonly configFile?: string;
  readonly help: boolean;
}

/** parseArgs' own errors (unknown option, missing value) as usage errors. */
function usage<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/**
 * A number argument > 0 (`off` or `Infinity` where `allowOff`, meaning no limit).
 *
 * @example
 * ```ts
 * positiveNumber('--drain-timeout', '30'); // 30
 * ```
 */
export function positiveNumber(
  name: string,
  text: string,
  { integer = false, allowOff = false } = {},
): number {
  if (allowOff && (text === 'off' || text === 'Infinity')) return Infinity;
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) {
    const what = integer ? 'a positive integer' : 'a positive number';
    throw new UsageError(`${name} must be ${what}${allowOff ? " or 'off'" : ''}, got '${text}'`);
  }
  return n;
}

function rate(name: string, text: string): number {
  const n = Number(text);
  if (text.trim() === '' || !(n >= 0 && n <= 1))
    throw new UsageError(`${name} must be in [0, 1], got '${text}'`);
  return n;
}

const putOptions = {
  stream: { type: 'string' },
  'stream-arn': { type: 'string' },
  format: { type: 'string', default: 'ndjson' },
  key: { type: 'string' },
  'key-template': { type: 'string' },
  'hash-key-field': { type: 'string' },
  aggregate: { type: 'boolean', default: false },
  ordering: { type: 'string', default: 'none' },
  'shard-records-per-second': { type: 'string' },
  'shard-bytes-per-second': { type: 'string' },
  'max-record-bytes': { type: 'string' },
  'max-attempts': { type: 'string' },
  // Not the library's 200,000: a file gains nothing from reading more than seconds ahead of the stream's
  // quota (50,000 is 2.5 s of 20 shards), and bench/cli.ts measured ~2.5 KiB per buffered record, so
  // 1,000,000 lines peaked at 630 MiB with 200,000 and 341 MiB with 50,000, at the same throughput.
  'max-buffered-records': { type: 'string', default: '50000' },
  'endpoint-url': { type: 'string' },
  region: { type: 'string' },
  profile: { type: 'string' },
  'dead-letter': { type: 'string' },
  strict: { type: 'boolean', default: false },
  'drain-timeout': { type: 'string', default: '30' },
  quiet: { type: 'boolean', short: 'q', default: false },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

/**
 * Parses `rx-kinesis put`'s arguments (after the word `put`). Throws a {@link UsageError}.
 *
 * @example
 * ```ts
 * parsePutArgs(['--stream', 'events', '--key', 'device.id', 'a.ndjson', 'b.ndjson']).files; // ['a.ndjson', 'b.ndjson']
 * ```
 */
export function parsePutArgs(args: readonly string[]): PutConfig {
  const { values: v, positionals } = usage(() =>
    parseArgs({ args: [...args], options: putOptions, allowPositionals: true, strict: true }),
  );
  const help = v.help;
  if (help) return { ...defaultsForHelp, help };
  if (v.stream === undefined && v['stream-arn'] === undefined) {
    throw new UsageError('name the stream: --stream NAME or --stream-arn ARN');
  }
  const format = v.format as InputFormat;
  if (!['ndjson', 'lines', 'csv'].includes(format)) {
    throw new UsageError(`--format must be ndjson, lines or csv, got '${v.format}'`);
  }
  if (v.key !== undefined && v['key-template'] !== undefined) {
    throw new UsageError('give --key or --key-template, not both');
  }
  if (format === 'lines' && (v.key ?? v['key-template'] ?? v['hash-key-field']) !== undefined) {
    throw new UsageError('--format lines has no fields: a key can only be random (leave out --key…)');
  }
  for (const name of ['key', 'hash-key-field'] as const) {
    const path = v[name];
    if (path !== undefined && !/^[^.]+(\.[^.]+)*$/.test(path)) {
      throw new UsageError(`--${name} must be a field path like a.b.c, got '${path}'`);
    }
  }
  const key =
    v.key !== undefined
      ? { field: v.key }
      : v['key-template'] !== undefined
        ? { template: v['key-template'] }
        : ('random' as const);
  if (v.ordering !== 'none' && v.ordering !== 'per-key') {
    throw new UsageError(`--ordering must be none or per-key, got '${v.ordering}'`);
  }
  if (v.ordering === 'per-key' && key === 'random' && v['hash-key-field'] === undefined) {
    throw new UsageError(
      '--ordering per-key needs --key, --key-template or --hash-key-field (random keys have no order to keep)',
    );
  }
  const files = positionals.length === 0 ? ['-'] : positionals;
  if (files.filter((f) => f === '-').length > 1) throw new UsageError("stdin ('-') can be read only once");
  return {
    files,
    format,
    streamName: v.stream,
    streamARN: v['stream-arn'],
    key,
    hashKeyField: v['hash-key-field'],
    aggregate: v.aggregate,
    ordering: v.ordering,
    shardRecordsPerSecond: optional('--shard-records-per-second', v['shard-records-per-second'], true),
    shardBytesPerSecond: optional('--shard-bytes-per-second', v['shard-bytes-per-second'], true),
    maxRecordBytes:
      v['max-record-bytes'] === undefined
        ? undefined
        : positiveNumber('--max-record-bytes', v['max-record-bytes'], { integer: true }),
    maxAttempts:
      v['max-attempts'] === undefined
        ? undefined
        : positiveNumber('--max-attempts', v['max-attempts'], { integer: true }),
    maxBufferedRecords: positiveNumber('--max-buffered-records', v['max-buffered-records'], {
      integer: true,
    }),
    endpointUrl: v['endpoint-url'],
    region: v.region,
    profile: v.profile,
    deadLetter: v['dead-letter'],
    strict: v.strict,
    drainTimeoutMs: positiveNumber('--drain-timeout', v['drain-timeout']) * 1000,
    quiet: v.quiet,
    json: v.json,
    help,
  };
}

function optional(name: string, text: string | undefined, allowOff: boolean): number | undefined {
  return text === undefined ? undefined : positiveNumber(name, text, { allowOff });
}

const defaultsForHelp: PutConfig = {
  files: [],
  format: 'ndjson',
  key: 'random',
  aggregate: false,
  ordering: 'none',
  strict: false,
  drainTimeoutMs: 30_000,
  maxBufferedRecords: 50_000,
  quiet: false,
  json: false,
  help: true,
};

const emulatorOptions = {
  host: { type: 'string' },
  port: { type: 'string' },
  stream: { type: 'string', multiple: true },
  region: { type: 'string' },
  quotas: { type: 'string' },
  seed: { type: 'string' },
  'record-failure-rate': { type: 'string' },
  'request-failure-rate': { type: 'string' },
  'request-throttle-rate': { type: 'string' },
  'reset-rate': { type: 'string' },
  'latency-ms': { type: 'string' },
  'jitter-ms': { type: 'string' },
  config: { type: 'string' },
  'no-keep-records': { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

/** Fault flags and the `FaultOptions` field each sets. */
const FAULT_FLAGS = {
  'record-failure-rate': 'recordFailureRate',
  'request-failure-rate': 'requestFailureRate',
  'request-throttle-rate': 'requestThrottleRate',
  'reset-rate': 'resetRate',
} as const;

/**
 * Parses `rx-kinesis emulator`'s arguments (after the word `emulator`). Throws a {@link UsageError}.
 *
 * @example
 * ```ts
 * parseEmulatorArgs(['--stream', 'a:2', '--stream', 'b:1']).streams; // [{ name: 'a', shards: 2 }, { name: 'b', shards: 1 }]
 * ```
 */
export function parseEmulatorArgs(args: readonly string[]): EmulatorConfig {
  const { values: v } = usage(() =>
    parseArgs({ args: [...args], options: emulatorOptions, allowPositionals: false, strict: true }),
  );
  const streams = (v.stream ?? []).map((spec) => {
    const match = /^([a-zA-Z0-9_.-]{1,128})(?::(\d+))?$/.exec(spec);
    if (!match) throw new UsageError(`--stream must be NAME or NAME:SHARDS, got '${spec}'`);
    return {
      name: match[1],
      shards: match[2] === undefined ? 1 : positiveNumber('--stream shards', match[2], { integer: true }),
    };
  });
  const names = streams.map((s) => s.name);
  if (new Set(names).size !== names.length) throw new UsageError('--stream: each stream name once');
  let port: number | undefined;
  if (v.port !== undefined) {
    port = Number(v.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new UsageError(`--port must be 0..65535 (0: any free port), got '${v.port}'`);
    }
  }
  let quotas: EmulatorConfig['quotas'];
  if (v.quotas === 'off') {
    quotas = false;
  } else if (v.quotas !== undefined) {
    const [records, bytes, extra] = v.quotas.split(',');
    if (extra !== undefined || bytes === undefined) {
      throw new UsageError(`--quotas must be off or RECORDS_PER_SECOND,BYTES_PER_SECOND, got '${v.quotas}'`);
    }
    quotas = {
      recordsPerSecond: positiveNumber('--quotas records/s', records),
      bytesPerSecond: positiveNumber('--quotas bytes/s', bytes),
    };
  }
  const faults: Record<string, number> = {};
  for (const [flag, field] of Object.entries(FAULT_FLAGS)) {
    const text = v[flag as keyof typeof FAULT_FLAGS];
    if (text !== undefined) faults[field] = rate(`--${flag}`, text);
  }
  for (const [flag, field] of [
    ['latency-ms', 'latencyMs'],
    ['jitter-ms', 'jitterMs'],
    ['seed', 'seed'],
  ] as const) {
    const text = v[flag];
    if (text === undefined) continue;
    const n = Number(text);
    if (text.trim() === '' || !Number.isInteger(n) || n < 0) {
      throw new UsageError(`--${flag} must be an integer ≥ 0, got '${text}'`);
    }
    faults[field] = n;
  }
  return {
    host: v.host,
    port,
    streams,
    region: v.region,
    quotas,
    faults,
    ...(v['no-keep-records'] ? { keepRecords: false as const } : {}),
    configFile: v.config,
    help: v.help,
  };
}
