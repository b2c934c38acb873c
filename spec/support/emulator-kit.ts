/**
 * Test support for specs that run the operator against the in-process emulator: clients for either HTTP
 * protocol, traceable items, a run collector, emission checks, and a client-side count of PutRecords
 * attempts that got no HTTP answer (the only way a record can land twice).
 */
import { hash } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { KinesisClient, PutRecordsCommand, type PutRecordsRequestEntry } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { expect } from 'chai';
import type { Observable } from 'rxjs';
import type { KinesisRecordInput, PutRecordsEmission } from '../../src/index.js';
import {
  startEmulator,
  type AcceptedRecord,
  type EmulatorOptions,
  type ExpectedRecord,
  type KinesisEmulator,
} from '../../src/testing/index.js';
import { seededRandom } from '../../src/testing/faults.js';
import { onUnanswered } from '../../bench/support/unanswered.js';
import { realDelay, until as untilFixture } from './fixtures.js';

export type Protocol = 'http2' | 'http1';

/** A source item: `data` is distinct per item (it starts with the id), so every record is traceable. */
export interface Item {
  readonly id: number;
  readonly key: string;
  readonly data: Buffer;
}

export const toRecord = (item: Item): KinesisRecordInput => ({ PartitionKey: item.key, Data: item.data });

/** `n` items; `keyOf(id, random)` names each one's partition key. */
export function makeItems(
  n: number,
  keyOf: (id: number, random: () => number) => string,
  seed = 1,
  payloadBytes = 24,
): Item[] {
  const random = seededRandom(seed);
  return Array.from({ length: n }, (_, id) => {
    const tail = Buffer.alloc(payloadBytes);
    for (let i = 0; i < payloadBytes; i++) tail[i] = Math.floor(random() * 256);
    return { id, key: keyOf(id, random), data: Buffer.concat([Buffer.from(`${id}:`), tail]) };
  });
}

/** Random 40-bit keys: spread over every shard, practically never repeated. */
export const randomKey = (_id: number, random: () => number) =>
  `key-${Math.floor(random() * 2 ** 40).toString(36)}`;

/** What the ledger checks expect: the items as sent, in source order. */
export const expected = (items: readonly Item[]): ExpectedRecord[] =>
  items.map((i) => ({ partitionKey: i.key, data: i.data }));

export const sha256 = (data: Uint8Array) => hash('sha256', data, 'hex');

/** Starts emulators and clients and frees them all in `close()` (call it in `afterEach`). */
export class EmulatorKit {
  private readonly emulators: KinesisEmulator[] = [];
  private readonly clients: KinesisClient[] = [];

  async emulator(options: EmulatorOptions = {}): Promise<KinesisEmulator> {
    const emu = await startEmulator(options);
    this.emulators.push(emu);
    return emu;
  }

  /** The SDK's default handler (HTTP/2), or `NodeHttpHandler` (HTTP/1.1); SDK retries as configured. */
  client(emu: KinesisEmulator, protocol: Protocol = 'http2', maxAttempts?: number): KinesisClient {
    const client = new KinesisClient({
      endpoint: emu.endpoint,
      region: emu.region,
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
      ...(maxAttempts === undefined ? {} : { maxAttempts }),
      ...(protocol === 'http1' ? { requestHandler: new NodeHttpHandler() } : {}),
    });
    this.clients.push(client);
    return client;
  }

  /** Destroys the clients started so far (their sockets and sessions). */
  destroyClients(): void {
    for (const client of this.clients.splice(0)) client.destroy();
  }

  async close(): Promise<void> {
    this.destroyClients();
    await Promise.all(this.emulators.splice(0).map((emu) => emu.close()));
  }
}

// ---- For the emulator's own specs (spec/emulator*.spec.ts) ----

/** An SDK error as the specs inspect it. */
export type ServiceError = Error & {
  $metadata?: { httpStatusCode?: number };
  $fault?: string;
  code?: string;
};

export const MiB = 1024 * 1024;
/** 2^128 − 1, written out here rather than taken from the code under test. */
export const TOP = (1n << 128n) - 1n;
export const ACCOUNT = '000000000000';
export const ARN = `arn:aws:kinesis:us-east-1:${ACCOUNT}:stream/demo`;

/**
 * Starts emulators and clients for one spec file and frees them after each test. Clients make one
 * attempt by default, so every injected fault reaches the test instead of the SDK's retry loop.
 */
export function emulatorSpec(): {
  start(options?: EmulatorOptions): Promise<KinesisEmulator>;
  clientFor(emu: KinesisEmulator, protocol?: Protocol, maxAttempts?: number): KinesisClient;
  kit: EmulatorKit;
} {
  const kit = new EmulatorKit();
  afterEach(() => kit.close());
  return {
    start: (options) => kit.emulator(options),
    clientFor: (emu, protocol = 'http2', maxAttempts = 1) => kit.client(emu, protocol, maxAttempts),
    kit,
  };
}

/** The error `promise` rejects with; fails the test if it resolves. */
export async function failure(promise: Promise<unknown>): Promise<ServiceError> {
  try {
    await promise;
  } catch (error) {
    return error as ServiceError;
  }
  throw new Error('expected the call to fail');
}

/** `count` entries `prefix-i` with data `prefix-i`. */
export function entries(
  count: number,
  prefix = 'r',
  extra: Partial<PutRecordsRequestEntry> = {},
): PutRecordsRequestEntry[] {
  return Array.from({ length: count }, (_, i) => ({
    PartitionKey: `${prefix}-${i}`,
    Data: Buffer.from(`${prefix}-${i}`),
    ...extra,
  }));
}

/** The ExplicitHashKey at the start of shard `index` of `count` evenly split shards. */
export function hashKeyOfShard(index: number, count: number): string {
  return ((BigInt(index) * (TOP + 1n)) / BigInt(count)).toString();
}

export function putRecords(
  client: KinesisClient,
  records: PutRecordsRequestEntry[],
  stream: object = { StreamName: 'demo' },
  abortSignal?: AbortSignal,
) {
  return client.send(new PutRecordsCommand({ ...stream, Records: records }), { abortSignal });
}

/** Counts of each resource kind, to compare before/after without caring about order. */
export function resourceCounts(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const kind of process.getActiveResourcesInfo()) counts.set(kind, (counts.get(kind) ?? 0) + 1);
  return counts;
}

/** A bare HTTP/1.1 POST, for bodies the SDK would never send. */
export function rawPost(
  emu: KinesisEmulator,
  target: string,
  body: string,
): Promise<{ status: number; body: string }> {
  const url = new URL(emu.endpoint);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        method: 'POST',
        agent: false,
        headers: { 'content-type': 'application/x-amz-json-1.1', 'x-amz-target': target },
      },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Counts, per record `Data` (by identity), the PutRecords attempts that carried it and got no HTTP answer
 * (a reset connection): the emulator may have applied them, so a resend can land a second copy. Sits inside
 * the SDK's retry loop, so the SDK's own retries are counted too.
 */
export function trackUnanswered(client: KinesisClient): {
  readonly counts: Map<unknown, number>;
  total(): number;
} {
  const counts = new Map<unknown, number>();
  onUnanswered(client, 'trackUnanswered', (entry) => {
    counts.set(entry.Data, (counts.get(entry.Data) ?? 0) + 1);
  });
  return {
    counts,
    total: () => [...counts.values()].reduce((a, b) => a + b, 0),
  };
}

export interface Run<T> {
  readonly emissions: PutRecordsEmission<T>[];
  error: unknown;
  completed: boolean;
}

/** Subscribes and resolves once the Observable completed or errored. */
export function collect<T>(observable: Observable<PutRecordsEmission<T>>): Promise<Run<T>> {
  const run: Run<T> = { emissions: [], error: undefined, completed: false };
  return new Promise((resolve) => {
    observable.subscribe({
      next: (e) => run.emissions.push(e),
      error: (e) => {
        run.error = e;
        resolve(run);
      },
      complete: () => {
        run.completed = true;
        resolve(run);
      },
    });
  });
}

/** Final outcomes per item, from the emissions: 'delivered' or 'failed <code>' (an item may end twice: a bug). */
export function finalOutcomes<T>(emissions: readonly PutRecordsEmission<T>[]): Map<T, string[]> {
  const ends = new Map<T, string[]>();
  for (const e of emissions) {
    e.items.forEach((item, i) => {
      const r = e.response.Records![i];
      let how: string | undefined;
      if (r.SequenceNumber !== undefined) how = 'delivered';
      else if (!e.retrying[i]) how = `failed ${r.ErrorCode}`;
      if (how !== undefined) ends.set(item, [...(ends.get(item) ?? []), how]);
    });
  }
  return ends;
}

/**
 * Checks every emission against what was sent and what the emulator holds: `items[i]` is the item behind
 * `request.Records[i]`, the arrays line up, `retrying` only where an entry failed, attempts grow per item,
 * and each delivered entry's SequenceNumber is in the emulator's ledger with that ShardId, key and data.
 * Plain comparisons, one assertion at the end: a chai assertion per entry is slow for 100,000 records.
 */
export function checkEmissions(
  emissions: readonly PutRecordsEmission<Item>[],
  ledger: readonly AcceptedRecord[],
): void {
  const bySequence = new Map<string, AcceptedRecord>();
  for (const r of ledger) bySequence.set(r.sequenceNumber, r);
  const lastAttempt = new Map<Item, number>();
  const problems: string[] = [];
  const problem = (text: string) => problems.length < 10 && problems.push(text);
  emissions.forEach((e, n) => {
    const entries = e.request.Records!;
    const results = e.response.Records!;
    const count = entries.length;
    if ([e.items.length, e.attempts.length, e.retrying.length, results.length].some((l) => l !== count)) {
      problem(`emission ${n}: arrays of different lengths`);
      return;
    }
    if (e.response.FailedRecordCount !== results.filter((r) => r.ErrorCode !== undefined).length) {
      problem(`emission ${n}: FailedRecordCount ${e.response.FailedRecordCount}`);
    }
    e.items.forEach((item, i) => {
      const entry = entries[i];
      const result = results[i];
      const at = `emission ${n}, entry ${i} (item ${item.id})`;
      if (entry.Data !== item.data || entry.PartitionKey !== item.key)
        problem(`${at}: not the item's record`);
      if (!(e.attempts[i] > (lastAttempt.get(item) ?? 0))) problem(`${at}: attempts ${e.attempts[i]}`);
      lastAttempt.set(item, e.attempts[i]);
      if (result.SequenceNumber !== undefined) {
        if (result.ErrorCode !== undefined || e.retrying[i]) problem(`${at}: delivered yet failed/retrying`);
        const landed = bySequence.get(result.SequenceNumber);
        if (landed === undefined) problem(`${at}: ${result.SequenceNumber} not in the ledger`);
        else if (
          landed.shardId !== result.ShardId ||
          landed.partitionKey !== item.key ||
          !landed.data?.equals(item.data)
        ) {
          problem(
            `${at}: ledger has ${landed.partitionKey} on ${landed.shardId}, response says ${result.ShardId}`,
          );
        }
      } else if (typeof result.ErrorCode !== 'string') {
        problem(`${at}: neither SequenceNumber nor ErrorCode`);
      }
    });
  });
  expect(problems.join('\n')).to.equal('');
}

export const sleep = realDelay;

/** fixtures' `until` with the emulator specs' patience: polls every 5 ms, throws after `ms` (20 s). */
export const until = (condition: () => boolean, what: string, ms = 20_000): Promise<void> =>
  untilFixture(condition, what, ms, 5);

/** The stream's open shard ids, sorted. */
export const openShards = (emu: KinesisEmulator) =>
  emu
    .listShards()
    .filter((s) => s.SequenceNumberRange.EndingSequenceNumber === undefined)
    .map((s) => s.ShardId)
    .sort();
