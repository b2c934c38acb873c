/**
 * A 30 s outage on the virtual clock: the emulator answers every PutRecords with a 500 while the source
 * keeps producing 1,000 records/s; the spool grows on disk, the in-memory window stays within
 * `maxBufferedRecords`, nothing lands during the outage, and after it every record is delivered exactly
 * once (a 500 is not applied, so nothing is duplicated). The spool's file I/O is real; the pipeline's timers
 * (backoff, linger) and the emulator's clock are virtual, so 30 s of outage cost a few seconds.
 * Heap and RSS under a longer outage are measured in `npm run bench` (scenario 14), not here.
 */
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { KinesisProducer } from '../src/index.js';
import { Spool } from '../src/spool/index.js';
import { EmulatorKit } from './support/emulator-kit.js';
import { advanceWithRequests, countInFlight } from './support/emulator-time.js';
import { withVirtualTime } from './support/virtual-time.js';

const dirBytes = async (dir: string) => {
  let total = 0;
  for (const f of await readdir(dir)) total += (await stat(join(dir, f))).size;
  return total;
};

describe('spool through an outage', function () {
  this.timeout(120_000);
  const kit = new EmulatorKit();
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rx-kinesis-spool-outage-'));
  });
  afterEach(async () => {
    await kit.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('30 s of 500s: the spool grows, the window stays bounded, everything arrives once afterwards', async () => {
    await withVirtualTime(async (scheduler) => {
      const emu = await kit.emulator({ shards: 2, quotas: false, clock: () => scheduler.now() });
      const client = kit.client(emu, 'http1');
      const inFlight = countInFlight(client);
      const WINDOW = 500;
      const RECORDS = 40_000; // 1,000/s: 30 s of outage, then 10 s more
      const payload = Buffer.alloc(400, 7);
      const producer = new KinesisProducer({
        client,
        streamName: 'demo',
        scheduler,
        maxBufferedRecords: WINDOW,
        retryMaxDelayMs: 2000,
        spool: { directory: dir, segmentBytes: 1024 * 1024 },
      });
      // Control: faults on before the first request, so the outage covers the whole first 30 s.
      emu.setFaults({ requestFailureRate: 1 });
      let outageEnded = false;
      let atOutageEnd: { delivered: number; spoolBytes: Promise<number>; produced: number } | undefined;
      let produced = 0;
      scheduler.schedule(() => {
        atOutageEnd = { delivered: emu.records.length, spoolBytes: dirBytes(dir), produced };
        emu.setFaults({ requestFailureRate: 0 });
        outageEnded = true;
      }, 30_000);
      let mostBuffered = 0;
      const sample = scheduler.schedule(function () {
        mostBuffered = Math.max(mostBuffered, producer.stats.buffered);
        this.schedule(undefined, 10);
      }, 10);

      const source = (async () => {
        for (let n = 0; n < RECORDS; n++) {
          const data = Buffer.concat([Buffer.from(`${n} `), payload]);
          await producer.take({ PartitionKey: `k${n % 64}`, Data: data });
          produced++;
          if (n % 100 === 99) await new Promise((resolve) => scheduler.schedule(resolve, 100));
        }
        await producer.end();
      })();
      let ended = false;
      void source.finally(() => (ended = true));
      // The source keeps its pace in virtual time: the clock moves on only once it produced what is due
      // (its appends are real I/O, which the virtual clock would otherwise outrun).
      const due = () => Math.min(RECORDS, (Math.floor(scheduler.now() / 100) + 1) * 100);
      while (!ended && scheduler.now() < 600_000) {
        while (!ended && produced < due()) await new Promise((resolve) => setImmediate(resolve));
        await advanceWithRequests(scheduler, inFlight, 100);
      }
      await source;
      sample.unsubscribe();

      expect(outageEnded).to.equal(true);
      const spoolBytes = await atOutageEnd!.spoolBytes;
      const context = `at the outage's end: ${atOutageEnd!.produced} produced, ${spoolBytes} bytes spooled`;
      expect(atOutageEnd!.delivered, context).to.equal(0);
      expect(atOutageEnd!.produced, context).to.be.at.least(29_900);
      expect(spoolBytes, context).to.be.greaterThan(atOutageEnd!.produced * 400 - WINDOW * 500);
      expect(mostBuffered, 'window').to.be.within(1, WINDOW);
      const seen = new Map<number, number>();
      for (const r of emu.records) {
        const n = Number(r.data!.subarray(0, r.data!.indexOf(32)).toString());
        seen.set(n, (seen.get(n) ?? 0) + 1);
      }
      expect(seen.size).to.equal(RECORDS);
      expect([...seen.values()].every((c) => c === 1)).to.equal(true);
      // Nothing left for a next process (the last, active segment is deleted when the spool next opens).
      const reopened = await Spool.open({ directory: dir });
      expect(reopened.recoveredEntries).to.equal(0);
      await reopened.close();
    });
  });
});
