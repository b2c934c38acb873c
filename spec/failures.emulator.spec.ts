/**
 * Issue 13, row by row: each real-world failure that 0.2.0 mishandled, reproduced with the emulator's
 * fault (a peer that never answers, a transport reset after the 200 header, a garbled 200 body, ListShards
 * failing at startup, a stream still CREATING, short or empty result entries, a hash range no listed shard
 * covers, an unknown stream, an unreachable endpoint), now ending inside the contract: every item
 * delivered, finally failed or in `unsent`, exactly once, and the error naming its cause.
 */
import { Agent } from 'node:http';
import { createServer } from 'node:net';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { expect } from 'chai';
import { from } from 'rxjs';
import { KinesisSinkError, NO_RESULT_ERROR_CODE, toKinesis, type ToKinesisOptions } from '../src/index.js';
import type { FaultOptions, KinesisEmulator } from '../src/testing/index.js';
import {
  checkEmissions,
  collect,
  EmulatorKit,
  expected,
  finalOutcomes,
  makeItems,
  randomKey,
  toRecord,
  type Item,
  type Protocol,
  type Run,
} from './support/emulator-kit.js';

/** Each item's ends: from the emissions (delivered / failed) and the error's `unsent`. */
function account(items: readonly Item[], run: Run<Item>): { ends: Map<Item, string[]>; unsent: Item[] } {
  const ends = finalOutcomes(run.emissions);
  const unsent = run.error instanceof KinesisSinkError ? [...(run.error.unsent as Item[])] : [];
  for (const item of unsent) ends.set(item, [...(ends.get(item) ?? []), 'unsent']);
  return { ends, unsent };
}

/** Every item ended exactly once. */
function expectEachEndedOnce(items: readonly Item[], run: Run<Item>): void {
  const { ends } = account(items, run);
  const wrong = items.filter((item) => ends.get(item)?.length !== 1).map((i) => i.id);
  expect(wrong, 'items that ended other than exactly once').to.deep.equal([]);
}

/** A keep-alive HTTP/1.1 client with one socket: a dead socket reused would block every later request. */
function oneSocketClient(emu: KinesisEmulator): KinesisClient {
  return new KinesisClient({
    endpoint: emu.endpoint,
    region: emu.region,
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler({ httpAgent: new Agent({ keepAlive: true, maxSockets: 1 }) }),
  });
}

describe('real-world failures on the emulator (issue 13)', function () {
  this.timeout(60_000);
  const kit = new EmulatorKit();
  const extra: KinesisClient[] = [];
  afterEach(async () => {
    for (const c of extra.splice(0)) c.destroy();
    await kit.close();
  });

  const base = (client: KinesisClient): ToKinesisOptions<Item> => ({
    client,
    streamName: 'demo',
    toRecord,
    lingerMs: 5,
    maxBatchRecords: 25,
    retryBaseDelayMs: 5,
    retryMaxDelayMs: 50,
    requestTimeoutMs: 300,
  });

  /** Runs `n` items through toKinesis against a fresh emulator with `faults` (SDK: one attempt). */
  async function runWith(
    faults: FaultOptions,
    protocol: Protocol,
    n = 200,
    options: Partial<ToKinesisOptions<Item>> = {},
  ) {
    const emu = await kit.emulator({ shards: 2, faults: { seed: 11, ...faults } });
    const items = makeItems(n, randomKey, 5);
    const client = protocol === 'http1' ? oneSocketClient(emu) : kit.client(emu, protocol, 1);
    if (protocol === 'http1') extra.push(client);
    const run = await collect(from(items).pipe(toKinesis({ ...base(client), ...options })));
    return { emu, items, run };
  }

  for (const protocol of ['http2', 'http1'] as const) {
    describe(`with ${protocol === 'http2' ? "the SDK's default HTTP/2 handler" : 'NodeHttpHandler (keep-alive, one socket)'}`, () => {
      it('a peer that accepts and never answers: cut at requestTimeoutMs, retried on a fresh connection, all delivered (0.2.0: hung forever / ~5 min)', async () => {
        const began = performance.now();
        const { emu, items, run } = await runWith({ stallRate: 0.3 }, protocol, 200, { maxBatchRecords: 5 });
        expect(run.error).to.equal(undefined);
        expect(run.completed).to.equal(true);
        expect(emu.stats().faults.stalls).to.be.greaterThan(2);
        expect(emu.missing(expected(items))).to.deep.equal([]);
        checkEmissions(run.emissions, emu.records);
        expectEachEndedOnce(items, run);
        // Stalls are not applied; a copy beyond the first can only come from a request cut at its deadline
        // that was in fact answered late (a loaded machine): then its items were sent more than once.
        const resent = run.emissions.reduce((n, e) => n + e.attempts.filter((a) => a > 1).length, 0);
        expect(emu.duplicates().count).to.be.at.most(resent);
        expect(performance.now() - began).to.be.below(20_000);
      });

      it('a transport reset after the 200 header (ERR_HTTP2_STREAM_ERROR / socket cut mid-body): retried, not fatal (0.2.0: FATAL_REQUEST_ERROR)', async () => {
        const { emu, items, run } = await runWith({ headerResetRate: 0.15 }, protocol, 200, {
          maxBatchRecords: 5,
        });
        expect(run.error).to.equal(undefined);
        expect(emu.stats().faults.headerResets).to.be.greaterThan(2);
        expect(emu.missing(expected(items))).to.deep.equal([]);
        expectEachEndedOnce(items, run);
        // Header resets were applied before the cut: the resend is the only source of duplicates.
        expect(emu.duplicates().count).to.be.at.most(emu.stats().faults.headerResets * 5);
      });

      it('a garbled (unparseable) 200 body: retried, not fatal (0.2.0: "SyntaxError (HTTP 200)" ended the run)', async () => {
        const { emu, items, run } = await runWith({ garbledBodyRate: 0.15 }, protocol, 200, {
          maxBatchRecords: 5,
        });
        expect(run.error).to.equal(undefined);
        expect(emu.stats().faults.garbledBodies).to.be.greaterThan(2);
        expect(emu.missing(expected(items))).to.deep.equal([]);
        expectEachEndedOnce(items, run);
      });
    });
  }

  it('a slow answer past the deadline counts one attempt and is retried: the first copy was written (the documented duplicate)', async () => {
    const { emu, items, run } = await runWith({ slowAnswerRate: 0.2, slowAnswerMs: 600 }, 'http2');
    expect(run.error).to.equal(undefined);
    expect(emu.stats().faults.slowAnswers).to.be.greaterThan(0);
    expect(emu.missing(expected(items))).to.deep.equal([]);
    expectEachEndedOnce(items, run);
    expect(emu.duplicates().count).to.be.greaterThan(0); // control: a timeout is not proof of not-written
    // Each timed-out attempt shows as one more attempt in the emission that finally delivered it.
    expect(run.emissions.some((e) => e.attempts.some((a) => a > 1))).to.equal(true);
  });

  it('the first ListShards fails with 500s (a bad minute at startup), SDK maxAttempts 1: retried, all delivered (0.2.0: SHARD_MAP_FAILED after 63 ms)', async () => {
    const { emu, items, run } = await runWith({ listShardsFailures: 3 }, 'http2', 50);
    expect(run.error).to.equal(undefined);
    expect(emu.stats().faults.listShardsFailures).to.equal(3);
    expect(emu.missing(expected(items))).to.deep.equal([]);
  });

  it('ListShards answered LimitExceededException, SDK maxAttempts 1: retried like a refresh, all delivered', async () => {
    const emu = await kit.emulator({ shards: 2, faults: { seed: 3, listShardsThrottleRate: 1 } });
    const items = makeItems(50, randomKey, 5);
    setTimeout(() => emu.setFaults({ listShardsThrottleRate: 0 }), 400);
    const run = await collect(from(items).pipe(toKinesis(base(kit.client(emu, 'http2', 1)))));
    expect(run.error).to.equal(undefined);
    expect(emu.stats().faults.listShardsThrottles).to.be.greaterThan(1);
    expect(emu.missing(expected(items))).to.deep.equal([]);
  });

  it('ResourceInUseException (stream CREATING/UPDATING) for 600 ms: retried, all delivered (0.2.0: fatal after 45 ms)', async () => {
    const { emu, items, run } = await runWith({ resourceInUseMs: 600 }, 'http2', 50);
    expect(run.error).to.equal(undefined);
    expect(emu.stats().faults.resourceInUse).to.be.greaterThan(0);
    expect(emu.missing(expected(items))).to.deep.equal([]);
  });

  it(`short Records arrays and empty entries become failed "${NO_RESULT_ERROR_CODE}" entries and are retried (0.2.0: neither delivered nor failed)`, async () => {
    const { emu, items, run } = await runWith({ shortResponseRate: 0.2, emptyEntryRate: 0.05 }, 'http2');
    expect(run.error).to.equal(undefined);
    const { shortResponses, emptyEntries } = emu.stats().faults;
    expect(shortResponses + emptyEntries).to.be.greaterThan(3);
    // Every entry of every emission has a SequenceNumber or an ErrorCode, FailedRecordCount counts them.
    checkEmissions(run.emissions, emu.records);
    const codes = run.emissions.flatMap((e) => e.response.Records!.map((r) => r.ErrorCode));
    expect(codes).to.include(NO_RESULT_ERROR_CODE);
    expectEachEndedOnce(items, run);
    const ends = account(items, run).ends;
    expect(items.filter((i) => ends.get(i)?.[0] !== 'delivered')).to.deep.equal([]);
  });

  it('a hash range no listed shard covers: those records wait at most recordTtlMs, then SHARD_MAP_FAILED with them unsent (0.2.0: forever)', async () => {
    const emu = await kit.emulator({ shards: 1 });
    const [, high] = emu.splitShard('shardId-000000000000');
    emu.setFaults({ unlistedShards: [high] });
    const items = makeItems(100, randomKey, 5);
    const began = performance.now();
    const run = await collect(
      from(items).pipe(toKinesis({ ...base(kit.client(emu, 'http2', 1)), recordTtlMs: 1_500 })),
    );
    const ms = performance.now() - began;
    expect(run.error).to.be.instanceOf(KinesisSinkError);
    const error = run.error as KinesisSinkError<Item>;
    expect(error.code).to.equal('SHARD_MAP_FAILED');
    expect(error.message).to.match(
      /waited longer than recordTtlMs \(1500 ms\) for a shard map: no open shard covers their hash keys/,
    );
    expect(ms).to.be.within(1_400, 4_000);
    expectEachEndedOnce(items, run);
    const { unsent } = account(items, run);
    expect(unsent.length).to.be.within(20, 80); // about half the keys fall in the gap
  });

  it('unknown stream at startup: FATAL_REQUEST_ERROR naming ResourceNotFoundException and why, everything unsent (0.2.0: SHARD_MAP_FAILED)', async () => {
    const emu = await kit.emulator({ shards: 1 });
    const items = makeItems(10, randomKey, 5);
    const run = await collect(
      from(items).pipe(toKinesis({ ...base(kit.client(emu, 'http2')), streamName: 'no-such-stream' })),
    );
    const error = run.error as KinesisSinkError<Item>;
    expect(error.code).to.equal('FATAL_REQUEST_ERROR');
    expect(error.message).to.match(
      /^Kinesis refused ListShards: ResourceNotFoundException \(HTTP 400\): .* — the stream does not exist/,
    );
    expect(error.unsent).to.have.length(10);
  });

  it("messages name the cause's code and message: an unreachable endpoint (ECONNREFUSED) and a missing region", async () => {
    const port = await new Promise<number>((resolve) => {
      const server = createServer().listen(0, '127.0.0.1', () => {
        const p = (server.address() as { port: number }).port;
        server.close(() => resolve(p));
      });
    });
    const refused = new KinesisClient({
      endpoint: `http://127.0.0.1:${port}`,
      region: 'us-east-1',
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
      maxAttempts: 1,
    });
    const noRegion = new KinesisClient({
      endpoint: `http://127.0.0.1:${port}`,
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
      maxAttempts: 1,
    });
    extra.push(refused, noRegion);
    const messages: string[] = [];
    for (const client of [refused, noRegion]) {
      const items = makeItems(5, randomKey, 5);
      const run = await collect(from(items).pipe(toKinesis({ ...base(client), recordTtlMs: 1_000 })));
      const error = run.error as KinesisSinkError<Item>;
      expect(error.code).to.equal('SHARD_MAP_FAILED');
      expect(error.unsent).to.have.length(5);
      messages.push(error.message);
    }
    expect(messages[0]).to.match(/ECONNREFUSED/);
    expect(messages[1]).to.match(/[Rr]egion is missing/);
    // 0.2.0 said "could not list the stream's shards: Error" for both.
    expect(messages[0]).to.not.equal(messages[1]);
  });

  it("done when: default options but small budgets, the SDK's default client, every request stalled: ends within maxAttempts × deadline + backoff, every item unsent", async () => {
    const emu = await kit.emulator({ shards: 2, faults: { stallRate: 1 } });
    const items = makeItems(40, randomKey, 5);
    const maxAttempts = 3;
    const requestTimeoutMs = 300;
    const retryBaseDelayMs = 100; // the default
    const began = performance.now();
    const run = await collect(
      from(items).pipe(
        toKinesis({ client: kit.client(emu), streamName: 'demo', toRecord, maxAttempts, requestTimeoutMs }),
      ),
    );
    const ms = performance.now() - began;
    const error = run.error as KinesisSinkError<Item>;
    expect(error.code).to.equal('RETRIES_EXHAUSTED');
    expect(error.message).to.match(/RequestTimeoutError ETIMEDOUT: PutRecords got no answer within 30\d ms/);
    expect(error.unsent).to.have.length(items.length);
    expectEachEndedOnce(items, run);
    // The bound: lingerMs (100) + maxAttempts × (requestTimeoutMs + bytes / minUploadBytesPerSecond, here
    // < 10 ms) + the backoff caps Σ min(retryMaxDelayMs, base·2^(k−1)) for k < maxAttempts, + slack.
    let backoff = 0;
    for (let k = 1; k < maxAttempts; k++) backoff += Math.min(5_000, retryBaseDelayMs * 2 ** (k - 1));
    const bound = 100 + maxAttempts * (requestTimeoutMs + 10) + backoff + 1_000;
    expect(ms).to.be.below(bound);
    expect(ms).to.be.at.least(maxAttempts * requestTimeoutMs); // control: it did wait out each deadline
    expect(emu.stats().faults.stalls).to.be.at.least(maxAttempts);
  });
});
