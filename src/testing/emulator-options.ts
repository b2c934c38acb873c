import type { FaultOptions } from './faults.js';
import type { QuotaOptions } from './quota.js';
import type { ReadQuotaOptions } from './read-quota.js';

/**
 * How to start the emulator. Every field is optional.
 *
 * @example
 * ```ts
 * const emu = await startEmulator({ shards: 4, streamName: 'demo', quotas: { recordsPerSecond: 500 } });
 * ```
 */
export interface EmulatorOptions {
  /** Stream created at start, ACTIVE at once. Default `'demo'`. */
  streamName?: string;
  /** Its shard count; hash ranges are split evenly like CreateStream does. Default 1. */
  shards?: number;
  /**
   * Several streams created at start, ACTIVE at once (instead of `streamName` and `shards`); the first is
   * the stream the methods below default to.
   */
  streams?: readonly EmulatorStream[];
  /** Address to listen on. Default `'127.0.0.1'`: loopback only; `'0.0.0.0'` or `'::'` for every interface. */
  host?: string;
  /** Port to listen on. Default 0: a free port (read it from `endpoint`). */
  port?: number;
  /** Region in ARNs. Default `'us-east-1'`. */
  region?: string;
  /** Account in ARNs and error messages. Default `'000000000000'`. */
  accountId?: string;
  /** Per-shard provisioned-mode limits, or `false` for no throttling. Default 1,000 records/s, 1 MiB/s. */
  quotas?: QuotaOptions | false;
  /** Largest record, data + partition key. Default 1 MiB. */
  maxRecordBytes?: number;
  /** Largest PutRecords request, data + partition keys. Default 5 MiB. */
  maxRequestBytes?: number;
  /** Faults to inject from the start (see `setFaults`). Default none. */
  faults?: FaultOptions;
  /**
   * Log every accepted record in `emu.records` and keep it for GetRecords. Memory grows with every record:
   * about 430 bytes each plus its data (measured: 200,000 records of 100 bytes took 100 MiB, of 1,000 bytes
   * 277 MiB). Turn off for long write-only runs that need only `stats()`; GetRecords is then refused.
   * Default true.
   */
  keepRecords?: boolean;
  /** Keep each record's bytes; when false only a SHA-256 is kept. Default true. */
  keepData?: boolean;
  /** Epoch milliseconds, for quotas, timelines and arrival times. Default `Date.now`. */
  clock?: () => number;
  /** How long a ListShards NextToken stays valid, ms. Default 300,000 like AWS. */
  nextTokenTtlMs?: number;
  /** Per-shard GetRecords limits, or `false` for none. Default 5 calls/s and 2 MiB/s, like AWS. */
  readQuotas?: ReadQuotaOptions | false;
}

/**
 * A stream to create at start.
 *
 * @example
 * ```ts
 * const emu = await startEmulator({ streams: [{ name: 'events', shards: 4 }, { name: 'audit' }] });
 * ```
 */
export interface EmulatorStream {
  name: string;
  /** Default 1. */
  shards?: number;
}

/** The streams to create, from either form of the options; refuses a mix of both and repeated names. */
export function streamsOf(options: EmulatorOptions): readonly EmulatorStream[] {
  if (options.streams === undefined) return [{ name: options.streamName ?? 'demo', shards: options.shards }];
  if (options.streamName !== undefined || options.shards !== undefined) {
    throw new RangeError('give either streams or streamName/shards, not both');
  }
  if (options.streams.length === 0) throw new RangeError('streams must name at least one stream');
  const names = new Set(options.streams.map((s) => s.name));
  if (names.size !== options.streams.length) throw new RangeError('streams must name each stream once');
  return options.streams;
}

/** The host a client dials: a wildcard address is reached on loopback; IPv6 goes in brackets. */
export function dialHost(host: string): string {
  if (host === '0.0.0.0') return '127.0.0.1';
  if (host === '::') return '[::1]';
  return host.includes(':') ? `[${host}]` : host;
}

export function positive(name: string, value: number): number {
  if (!(value > 0)) throw new RangeError(`${name} must be a positive number, got ${value}`);
  return value;
}
