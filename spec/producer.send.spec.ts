/**
 * KinesisProducer.send(): a promise per record, like the KPL's future per addUserRecord, against the
 * emulator with faults. Each record's promise must agree with what the emulator stored and with the
 * emissions: delivered ⇒ resolved with the shard and sequence number the emulator gave it; finally failed ⇒
 * RecordFailedError with the entry's ErrorCode and attempts; pipeline failed first ⇒ its KinesisSinkError.
 */
import { expect } from 'chai';
import {
  InvalidRecordError,
  KinesisProducer,
  KinesisSinkError,
  RecordFailedError,
  type KinesisRecordInput,
  type PutRecordsEmission,
} from '../src/index.js';
import { emulatorSpec } from './support/emulator-kit.js';

const record = (i: number): KinesisRecordInput => ({ PartitionKey: `k${i % 7}`, Data: `record ${i}` });
const FAST = { lingerMs: 5, retryBaseDelayMs: 1, retryMaxDelayMs: 5 };

/** Every promise's outcome, in order, without letting one rejection hide the others. */
const settleAll = (promises: Promise<unknown>[]) => Promise.allSettled(promises);

describe('KinesisProducer.send(): a promise per record', function () {
  this.timeout(60_000);
  const { start, clientFor } = emulatorSpec();

  it('resolves each record with the shard and sequence number the emulator stored it under, through InternalFailures', async () => {
    const emu = await start({ shards: 3, quotas: false, faults: { seed: 3, recordFailureRate: 0.3 } });
    const emissions: PutRecordsEmission<KinesisRecordInput>[] = [];
    const producer = new KinesisProducer(
      { client: clientFor(emu, 'http1'), streamName: 'demo', ...FAST },
      (e) => emissions.push(e),
    );
    const items = Array.from({ length: 300 }, (_, i) => record(i));
    const results = await Promise.all(items.map((item) => producer.send(item)));
    await producer.end();

    const stored = new Map(emu.records.map((r) => [r.sequenceNumber, r]));
    expect(stored.size).to.equal(300);
    results.forEach((r, i) => {
      const s = stored.get(r.SequenceNumber);
      expect(s, `record ${i}`).to.not.equal(undefined);
      expect(s!.shardId).to.equal(r.ShardId);
      expect(Buffer.from(s!.data!).toString()).to.equal(`record ${i}`);
    });
    // Faults happened, and attempts agree with the emissions' own count for the final send.
    expect(results.some((r) => r.attempts > 1)).to.equal(true);
    const finalAttempts = new Map<KinesisRecordInput, number>();
    for (const e of emissions)
      e.items.forEach(
        (item, i) => e.response.Records?.[i].SequenceNumber && finalAttempts.set(item, e.attempts[i]),
      );
    results.forEach((r, i) => expect(r.attempts).to.equal(finalAttempts.get(items[i])));
  });

  it('rejects a record finally throttled with RecordFailedError (its ErrorCode and attempts); the others resolve', async () => {
    // One record per second per shard on the emulator; our side unlimited and given 3 attempts: most fail.
    const emu = await start({ shards: 1, quotas: { recordsPerSecond: 1, bytesPerSecond: 1024 * 1024 } });
    const producer = new KinesisProducer({
      client: clientFor(emu, 'http1'),
      streamName: 'demo',
      ...FAST,
      shardRecordsPerSecond: Infinity,
      shardBytesPerSecond: Infinity,
      adaptiveRate: false,
      maxAttempts: 3,
    });
    const items = Array.from({ length: 20 }, (_, i) => record(i));
    const outcomes = await settleAll(items.map((item) => producer.send(item)));
    await producer.end();

    const delivered = outcomes.filter((o) => o.status === 'fulfilled');
    const failed = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason as unknown] : []));
    expect(delivered.length).to.equal(emu.records.length);
    expect(failed.length).to.be.above(0);
    for (const e of failed) {
      expect(e).to.be.instanceOf(RecordFailedError);
      const f = e as RecordFailedError<KinesisRecordInput>;
      expect(f.code).to.equal('ProvisionedThroughputExceededException');
      expect(f.attempts).to.equal(3);
      expect(items).to.include(f.item);
      expect(f.message).to.not.include('record 1'); // never the data
    }
  });

  it('rejects an invalid record with its InvalidRecordError and carries on with the rest', async () => {
    const emu = await start({ quotas: false });
    const producer = new KinesisProducer({ client: clientFor(emu, 'http1'), streamName: 'demo', ...FAST });
    const bad = producer.send({ PartitionKey: '', Data: 'x' });
    const good = producer.send(record(1));
    const [b, g] = await settleAll([bad, good]);
    await producer.end();
    expect(b.status === 'rejected' && b.reason).to.be.instanceOf(InvalidRecordError);
    expect(g.status).to.equal('fulfilled');
  });

  it("rejects with the pipeline's KinesisSinkError when it fails first, and put()/send() afterwards reject with that same error", async () => {
    const emu = await start({ quotas: false });
    // A stream that does not exist: the shard map cannot load, a fatal error.
    const producer = new KinesisProducer({ client: clientFor(emu, 'http1'), streamName: 'missing', ...FAST });
    const pending = settleAll([producer.send(record(1)), producer.send(record(2))]);
    const ended = await producer.end().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(ended).to.be.instanceOf(KinesisSinkError);
    const failure = ended as KinesisSinkError;
    for (const o of await pending) expect(o.status === 'rejected' && o.reason).to.equal(failure);
    expect(failure.unsent).to.have.length(2);

    const later = await settleAll([producer.put(record(3)), producer.send(record(4))]);
    for (const o of later) expect(o.status === 'rejected' && o.reason).to.equal(failure);
    expect(() => producer.offer(record(5))).to.throw(KinesisSinkError);
  });

  it('control: after end() (no failure), put and send name themselves and end()', async () => {
    const emu = await start({ quotas: false });
    const producer = new KinesisProducer({ client: clientFor(emu, 'http1'), streamName: 'demo', ...FAST });
    await producer.end();
    const [p, s] = await settleAll([producer.put(record(1)), producer.send(record(2))]);
    expect(p.status === 'rejected' && (p.reason as Error).message).to.equal(
      'KinesisProducer.put: cannot put once close() was called',
    );
    expect(s.status === 'rejected' && (s.reason as Error).message).to.equal(
      'KinesisProducer.send: cannot send once close() was called',
    );
  });
});
