/**
 * toKinesis against the emulator with every fault on, over both of the SDK's transports.
 *
 * Real time, on purpose: what this spec is about happens on real sockets — connection resets, an HTTP/2
 * session taking its sibling requests down, the SDK's own retry timers — and the emulator's injected latency
 * and jitter are real delays on them. It asserts no rates (the quotas only shape the traffic), so nothing it
 * checks depends on how fast the machine is; quota measurements run on the virtual clock instead
 * (spec/support/emulator-time.ts: adaptive-rate, aggregation, metrics.pipeline).
 */
import { expect } from 'chai';
import { from } from 'rxjs';
import { toKinesis } from '../src/index.js';
import {
  checkEmissions,
  collect,
  EmulatorKit,
  expected,
  finalOutcomes,
  makeItems,
  randomKey,
  sha256,
  toRecord,
  trackUnanswered,
  type Item,
  type Protocol,
} from './support/emulator-kit.js';

const RECORDS = 20_000;
const SHARDS = 4;
/** Per shard, on both sides: four times the real quota, so 20,000 records take about a second of quota. */
const RATE = 4_000;
const MiB = 1024 * 1024;
/** Small requests, so a 20,000-record run makes hundreds of them and every request-level fault fires. */
const BATCH = 50;

describe('toKinesis against the emulator, faults on', function () {
  this.timeout(120_000);
  const kit = new EmulatorKit();
  afterEach(() => kit.close());

  for (const [protocol, label] of [
    ['http2', "the SDK's default HTTP/2 handler"],
    ['http1', 'NodeHttpHandler (HTTP/1.1)'],
  ] as [Protocol, string][]) {
    it(`delivers ${RECORDS.toLocaleString('en')} random-key records through failures, resets and jitter (${label})`, async () => {
      const emu = await kit.emulator({
        shards: SHARDS,
        quotas: { recordsPerSecond: RATE, bytesPerSecond: 4 * MiB },
        faults: {
          seed: protocol === 'http2' ? 11 : 12,
          recordFailureRate: 0.05,
          requestFailureRate: 0.03,
          resetRate: 0.02,
          latencyMs: 1,
          jitterMs: 15,
        },
      });
      const client = kit.client(emu, protocol); // the SDK's own retries stay on: two retry layers
      const unanswered = trackUnanswered(client);
      const items = makeItems(RECORDS, randomKey, protocol === 'http2' ? 1 : 2);

      const run = await collect(
        from(items).pipe(
          toKinesis<Item>({
            client,
            streamName: emu.streamName,
            toRecord,
            shardRecordsPerSecond: RATE,
            shardBytesPerSecond: 4 * MiB,
            maxBatchRecords: BATCH,
            lingerMs: 10,
            maxAttempts: 40, // generous: nothing should run out
            retryBaseDelayMs: 20,
            retryMaxDelayMs: 400,
          }),
        ),
      );
      expect(run.error).to.equal(undefined);
      expect(run.completed).to.equal(true);

      const { faults } = emu.stats();
      // The faults did fire, at every level.
      expect(faults.recordFailures, 'record failures').to.be.greaterThan(0);
      expect(faults.requestFailures, 'request failures').to.be.greaterThan(0);
      expect(faults.resets, 'resets').to.be.greaterThan(0);
      expect(faults.delayedRequests).to.be.greaterThan(0);
      expect(
        run.emissions.some((e) => e.retrying.some(Boolean)),
        'some entries retried',
      ).to.equal(true);

      // Every item ends exactly once, delivered: the budget is generous, so none finally fails.
      const ends = finalOutcomes(run.emissions);
      const wrong = items.filter((item) => ends.get(item)?.join() !== 'delivered');
      expect(
        wrong.slice(0, 5).map((item) => `${item.id}: ${ends.get(item)?.join(', ') ?? 'no outcome'}`),
        `${wrong.length} items not delivered exactly once`,
      ).to.deep.equal([]);

      // Emissions line up with the requests and with the emulator's ledger.
      checkEmissions(run.emissions, emu.records);

      // Nothing is missing from the stream.
      const sent = expected(items);
      expect(emu.missing(sent)).to.deep.equal([]);

      // A second copy can only come from an attempt that got no answer (a reset connection, or on HTTP/2 a
      // request sharing the reset session) yet was applied: each duplicated record was in at least as many
      // unanswered attempts as it has surplus copies.
      const duplicates = emu.duplicates(sent);
      const itemByDigest = new Map(items.map((item) => [`${item.key}\u0000${sha256(item.data)}`, item]));
      for (const group of duplicates.groups) {
        const item = itemByDigest.get(`${group.partitionKey}\u0000${group.dataSha256}`)!;
        expect(group.copies - 1, `copies of item ${item.id}`).to.be.at.most(
          unanswered.counts.get(item.data) ?? 0,
        );
      }
      expect(duplicates.count).to.be.at.most(unanswered.total());
      if (faults.appliedResets === 0) expect(duplicates.count).to.equal(0);
      // On HTTP/1.1 a reset takes only its own request down: at most one request's records per applied reset.
      if (protocol === 'http1') expect(duplicates.count).to.be.at.most(faults.appliedResets * BATCH);
      // And what landed is exactly the items plus those surplus copies.
      expect(emu.records.length).to.equal(RECORDS + duplicates.count);
    });
  }
});
