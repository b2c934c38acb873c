/**
 * The durable spool wired into the pipeline (`spool` option of putAll, toKinesis and KinesisProducer),
 * against the in-process emulator: items go through the disk, what an earlier process left goes first (and
 * before a key's new records with 'per-key'), the spool empties once records are final, and each way an
 * entry can leave the spool unsent (lock, full, drop, damage) is reported.
 */
import { appendFile, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import fc from 'fast-check';
import { from, lastValueFrom, toArray } from 'rxjs';
import {
  KinesisMetrics,
  KinesisProducer,
  KinesisSinkError,
  putAll,
  SpoolFullError,
  SpoolLockedError,
  toKinesis,
  type PutRecordsEmission,
  type SpoolCorruption,
  type SpooledRecord,
} from '../src/index.js';
import { Spool } from '../src/spool/index.js';
import type { KinesisEmulator } from '../src/testing/index.js';
import { EmulatorKit, collect, sleep, until } from './support/emulator-kit.js';

interface Reading {
  readonly n: number;
  readonly key: string;
}
const toRecord = (r: Reading) => ({ PartitionKey: r.key, Data: Buffer.from(`reading ${r.n}`) });
const readings = (n: number, keys = 7, first = 0): Reading[] =>
  Array.from({ length: n }, (_, i) => ({ n: first + i, key: `k${(first + i) % keys}` }));
/** The `reading <n>` numbers in the emulator's ledger, in arrival order. */
const ledgerNumbers = (emu: KinesisEmulator) =>
  emu.records.map((r) => Number(r.data!.toString().slice('reading '.length)));
const delivered = (emissions: readonly PutRecordsEmission<SpooledRecord>[]) =>
  emissions.flatMap((e) => e.items.filter((_, i) => e.response.Records?.[i]?.SequenceNumber !== undefined));

describe('toKinesis/putAll with a spool', function () {
  this.timeout(60_000);
  const kit = new EmulatorKit();
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rx-kinesis-spool-pipe-'));
  });
  afterEach(async () => {
    await kit.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function setup(shards = 2) {
    const emu = await kit.emulator({ shards, quotas: false });
    const client = kit.client(emu, 'http1');
    return { emu, client, base: { client, streamName: 'demo', lingerMs: 5 } };
  }

  it('putAll delivers every item through the disk, emits SpooledRecords and leaves the spool empty', async () => {
    const { emu, base } = await setup();
    const metrics = new KinesisMetrics();
    const items = readings(3000);
    const run = await collect(
      putAll(items, { ...base, toRecord, metrics, maxBufferedRecords: 200, spool: { directory: dir } }),
    );
    expect(run.error).to.equal(undefined);
    expect(ledgerNumbers(emu).sort((a, b) => a - b)).to.deep.equal(items.map((r) => r.n));
    const sent = delivered(run.emissions);
    expect(sent).to.have.length(3000);
    expect(sent.every((r) => typeof r.id === 'number' && r.replayed === false)).to.equal(true);
    expect(new Set(sent.map((r) => r.id)).size).to.equal(3000);
    expect(metrics.snapshot().streams['demo']!.spool).to.deep.include({ spooled: 3000, replayed: 0 });
    // Acked segments are deleted: nothing is left for the next process.
    const reopened = await Spool.open({ directory: dir });
    expect(reopened.recoveredEntries).to.equal(0);
    await reopened.close();
  });

  it('sends what an earlier process left first, and with per-key a key’s old records before its new ones', async () => {
    const { emu, base } = await setup();
    // The "earlier process": records appended and never acked.
    const earlier = await Spool.open({ directory: dir });
    await earlier.append(readings(500).map(toRecord));
    await earlier.close();

    const metrics = new KinesisMetrics();
    const run = await collect(
      putAll(readings(500, 7, 500), {
        maxBatchRecords: 7,
        ...base,
        toRecord,
        metrics,
        ordering: 'per-key',
        maxBufferedRecords: 50,
        spool: { directory: dir },
      }),
    );
    expect(run.error).to.equal(undefined);
    const numbers = ledgerNumbers(emu);
    expect([...numbers].sort((a, b) => a - b)).to.deep.equal(readings(1000).map((r) => r.n));
    for (let k = 0; k < 7; k++) {
      const ofKey = numbers.filter((n) => n % 7 === k);
      expect(ofKey, `key k${k} in source order`).to.deep.equal([...ofKey].sort((a, b) => a - b));
    }
    const sent = delivered(run.emissions);
    expect(sent.filter((r) => r.replayed)).to.have.length(500);
    const replayedNumbers = sent
      .filter((r) => r.replayed)
      .map((r) => Number(Buffer.from(r.Data).toString().slice(8)));
    expect(Math.max(...replayedNumbers)).to.equal(499);
    expect(metrics.snapshot().streams['demo']!.spool).to.deep.include({ spooled: 500, replayed: 500 });
  });

  it('a second producer on the directory ends with SPOOL_LOCKED (cause: SpoolLockedError with the pid)', async () => {
    const { base } = await setup();
    const first = new KinesisProducer({ ...base, spool: { directory: dir } });
    await first.put({ PartitionKey: 'a', Data: 'one' });
    const second = await collect(
      putAll([{ PartitionKey: 'b', Data: 'two' }], { ...base, spool: { directory: dir } }),
    );
    expect(second.error).to.be.instanceOf(KinesisSinkError).with.property('code', 'SPOOL_LOCKED');
    const cause = (second.error as KinesisSinkError).cause;
    expect(cause).to.be.instanceOf(SpoolLockedError).with.property('pid', process.pid);
    expect((second.error as KinesisSinkError).unsent).to.have.length(1);
    await first.end();
    // Control: once the first has ended, the directory is free.
    const third = await collect(
      putAll([{ PartitionKey: 'b', Data: 'two' }], { ...base, spool: { directory: dir } }),
    );
    expect(third.error).to.equal(undefined);
  });

  it('a torn tail is reported (callback and metrics) and never sent', async () => {
    const { emu, base } = await setup();
    const earlier = await Spool.open({ directory: dir });
    await earlier.append(readings(20).map(toRecord));
    await earlier.close();
    const [segment] = (await readdir(dir)).filter((f) => f.endsWith('.log'));
    // Half a frame: the mark and a few bytes, as a write cut short by a crash.
    await appendFile(join(dir, segment!), Buffer.from([0xfe, 0x8b, 0xf7, 0x15, 0, 0, 0, 9, 0, 0]));

    const corruptions: SpoolCorruption[] = [];
    const metrics = new KinesisMetrics();
    const run = await collect(
      putAll([], {
        ...base,
        toRecord,
        metrics,
        spool: { directory: dir, onCorruption: (c) => corruptions.push(c) },
      }),
    );
    expect(run.error).to.equal(undefined);
    expect(corruptions.map((c) => c.kind)).to.deep.equal(['torn-tail']);
    expect(metrics.snapshot().streams['demo']!.spool).to.deep.include({ corruptions: 1, replayed: 20 });
    expect(ledgerNumbers(emu).sort((a, b) => a - b)).to.deep.equal(readings(20).map((r) => r.n));
  });

  it("whenFull 'reject': put() rejects with SpoolFullError and putAll ends with SPOOL_FULL, counted", async () => {
    const { emu, base } = await setup(1);
    emu.setFaults({ requestFailureRate: 1 }); // nothing is delivered, so nothing leaves the spool
    const metrics = new KinesisMetrics();
    const spool = { directory: dir, maxBytes: 4096, segmentBytes: 1024, whenFull: 'reject' as const };
    const producer = new KinesisProducer({ ...base, toRecord, metrics, spool });
    let refused: unknown;
    let taken = 0;
    for (const r of readings(200)) {
      try {
        await producer.put(r);
        taken++;
      } catch (e) {
        refused = e;
        break;
      }
    }
    expect(refused).to.be.instanceOf(SpoolFullError);
    expect(taken).to.be.within(1, 199);
    expect(metrics.snapshot().streams['demo']!.spool!.rejected).to.be.at.least(1);
    producer.destroy();
    await sleep(50);

    const run = await collect(putAll(readings(200), { ...base, toRecord, metrics, spool }));
    expect(run.error).to.be.instanceOf(KinesisSinkError).with.property('code', 'SPOOL_FULL');
    expect((run.error as KinesisSinkError).unsent.length).to.be.greaterThan(0);
  });

  it("whenFull 'drop-oldest': dropped segments are reported and counted; the rest is delivered", async () => {
    const { emu, base } = await setup(1);
    emu.setFaults({ requestFailureRate: 1 });
    const metrics = new KinesisMetrics();
    let droppedEntries = 0;
    const spool = {
      directory: dir,
      maxBytes: 8192,
      segmentBytes: 1024,
      whenFull: 'drop-oldest' as const,
      onDrop: (d: { entries: number }) => (droppedEntries += d.entries),
    };
    const producer = new KinesisProducer({
      ...base,
      toRecord,
      metrics,
      maxBufferedRecords: 10,
      maxAttempts: Infinity,
      recordTtlMs: Infinity,
      spool,
    });
    for (const r of readings(1000)) await producer.put(r);
    expect(droppedEntries).to.be.greaterThan(0);
    emu.setFaults({ requestFailureRate: 0 });
    await producer.end();
    const s = metrics.snapshot().streams['demo']!.spool!;
    expect(s.dropped).to.equal(droppedEntries);
    const landed = new Set(ledgerNumbers(emu));
    // Everything not dropped arrives; the window (read before the drop) may still go out: at most 10 more.
    expect(landed.size).to.be.within(1000 - droppedEntries, 1000 - droppedEntries + 10);
  });

  it("whenFull 'block' holds a cold source back during an outage and delivers everything after it", async () => {
    const { emu, base } = await setup(1);
    emu.setFaults({ requestFailureRate: 1 });
    const spool = { directory: dir, maxBytes: 8192, segmentBytes: 1024 };
    let pulled = 0;
    function* source() {
      for (const r of readings(600)) {
        pulled++;
        yield r;
      }
    }
    const done = collect(
      putAll(source(), {
        ...base,
        toRecord,
        maxBufferedRecords: 10,
        maxAttempts: Infinity,
        recordTtlMs: Infinity,
        retryMaxDelayMs: 50,
        spool,
      }),
    );
    await sleep(500);
    expect(pulled, 'the source is held back by the full spool').to.be.lessThan(600);
    emu.setFaults({ requestFailureRate: 0 });
    const run = await done;
    expect(run.error).to.equal(undefined);
    expect(new Set(ledgerNumbers(emu)).size).to.equal(600);
  });

  it('toKinesis with a spool: a pushed source is spooled and delivered; the window stays within its bound', async () => {
    const { emu, base } = await setup();
    const producerMax = 25;
    const run = await collect(
      from(readings(1000)).pipe(
        toKinesis({ ...base, toRecord, maxBufferedRecords: 2000, spool: { directory: dir } }),
      ),
    );
    expect(run.error).to.equal(undefined);
    expect(new Set(ledgerNumbers(emu)).size).to.equal(1000);
    // The window bound, on the producer directly.
    const producer = new KinesisProducer({
      ...base,
      toRecord,
      maxBufferedRecords: producerMax,
      spool: { directory: dir },
    });
    let most = 0;
    const watch = setInterval(() => (most = Math.max(most, producer.stats.buffered)), 1);
    for (const r of readings(2000, 7, 1000)) await producer.put(r);
    await producer.end();
    clearInterval(watch);
    expect(most).to.be.within(1, producerMax);
    await until(() => emu.records.length >= 3000, 'all delivered');
  });

  it('close({ deadlineMs }) with a spool: at the deadline what is undelivered stays in the spool, and it completes', async () => {
    const { emu, base } = await setup(1);
    emu.setFaults({ requestFailureRate: 1 });
    const producer = new KinesisProducer({
      ...base,
      toRecord,
      retryMaxDelayMs: 50,
      spool: { directory: dir },
    });
    for (const r of readings(100)) await producer.put(r);
    await producer.close({ deadlineMs: 300 }); // resolves: nothing is lost, it is on disk
    const reopened = await Spool.open({ directory: dir });
    expect(reopened.recoveredEntries).to.equal(100);
    await reopened.close();
    emu.setFaults({ requestFailureRate: 0 });
    const run = await collect(putAll([], { ...base, spool: { directory: dir } }));
    expect(run.error).to.equal(undefined);
    expect(new Set(ledgerNumbers(emu)).size).to.equal(100);
    // Control: without a spool the same deadline rejects with DRAIN_TIMEOUT and the items in `unsent`. With
    // the spool's unlimited attempts, as above: 10 attempts can run out within the 300 ms (RETRIES_EXHAUSTED).
    emu.setFaults({ requestFailureRate: 1 });
    const memory = new KinesisProducer({ ...base, toRecord, retryMaxDelayMs: 50, maxAttempts: Infinity });
    for (const r of readings(10)) await memory.put(r);
    const error = await memory.close({ deadlineMs: 300 }).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(KinesisSinkError).with.property('code', 'DRAIN_TIMEOUT');
    expect((error as KinesisSinkError).unsent).to.have.length(10);
  });

  it('flush() with a spool waits until what was put has left the spool; the producer stays open', async () => {
    const { emu, base } = await setup();
    const producer = new KinesisProducer({ ...base, toRecord, lingerMs: 1000, spool: { directory: dir } });
    for (const r of readings(300)) await producer.put(r);
    await producer.flush();
    expect(new Set(ledgerNumbers(emu)).size).to.equal(300);
    for (const r of readings(50, 7, 300)) await producer.put(r);
    await producer.end();
    expect(new Set(ledgerNumbers(emu)).size).to.equal(350);
  });

  it('property: any items, window and segment size — each delivered once, per-key order kept', async () => {
    const { emu, base } = await setup(3);
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 120 }),
        fc.integer({ min: 1, max: 64 }),
        fc.integer({ min: 256, max: 8192 }),
        fc.integer({ min: 1, max: 9 }),
        async (n, window, segmentBytes, keys) => {
          emu.clearRecords();
          const items = readings(n, keys);
          const emissions = await lastValueFrom(
            putAll(items, {
              ...base,
              toRecord,
              ordering: 'per-key',
              maxBufferedRecords: window,
              spool: { directory: dir, segmentBytes, maxBytes: 1 << 20 },
            }).pipe(toArray()),
          );
          const numbers = ledgerNumbers(emu);
          expect([...numbers].sort((a, b) => a - b)).to.deep.equal(items.map((r) => r.n));
          for (let k = 0; k < keys; k++) {
            const ofKey = numbers.filter((x) => x % keys === k);
            expect(ofKey).to.deep.equal([...ofKey].sort((a, b) => a - b));
          }
          expect(delivered(emissions)).to.have.length(n);
        },
      ),
      { numRuns: 10 },
    );
  });
});
