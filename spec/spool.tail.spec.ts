/**
 * The spool's fast path: entries just appended are handed over from memory (up to readWindowBytes of them),
 * not read back from disk — and only once durable, in id order, still in flight until acked, and read
 * from disk again after a restart. Controls: an earlier process's leftovers, and whatever was appended
 * past what the tail keeps (`readWindowBytes`), are read from disk, in their turn.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import fc from 'fast-check';
import { Spool, type SpoolEntry, type SpoolRecord } from '../src/spool/index.js';

const record = (n: number, size = 100): SpoolRecord => ({
  PartitionKey: `key-${n}`,
  ...(n % 3 === 0 ? { ExplicitHashKey: String(n * 1000) } : {}),
  Data: Buffer.alloc(size, n % 251),
});
const plain = (e: SpoolEntry | SpoolRecord) => [
  e.PartitionKey,
  e.ExplicitHashKey,
  Buffer.from(e.Data).toString('hex'),
];

async function readAll(spool: Spool, max = 7): Promise<SpoolEntry[]> {
  const out: SpoolEntry[] = [];
  for (let batch = await spool.read(max); batch.length > 0; batch = await spool.read(max)) out.push(...batch);
  return out;
}

describe('spool: appended entries handed over from memory', () => {
  let dir: string;
  beforeEach(async () => (dir = await mkdtemp(join(tmpdir(), 'rx-kinesis-spool-tail-'))));
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('the reader gets what was appended without a disk read, once it is durable', async () => {
    const spool = await Spool.open({ directory: dir });
    const records = Array.from({ length: 100 }, (_, i) => record(i));
    const appended = spool.append(records);
    // Placed but not yet written and synced: not readable, from memory or not.
    expect(await spool.read(500)).to.have.length(0);
    const ids = await appended;
    const entries = await readAll(spool);
    expect(entries.map((e) => e.id)).to.deep.equal(ids);
    expect(entries.map(plain)).to.deep.equal(records.map(plain));
    expect(spool.stats()).to.include({ readFromMemory: 100, readFromDisk: 0, inFlightEntries: 100 });
    await spool.ack(ids.slice(0, 50));
    await spool.close();
  });

  it('control: what an earlier process left is read from disk, first; new appends come after it', async () => {
    const first = await Spool.open({ directory: dir });
    const old = await first.append(Array.from({ length: 20 }, (_, i) => record(i)));
    await first.close();

    const spool = await Spool.open({ directory: dir });
    const ids = await spool.append(Array.from({ length: 10 }, (_, i) => record(100 + i)));
    const entries = await readAll(spool);
    expect(entries.map((e) => e.id)).to.deep.equal([...old, ...ids]);
    // The leftovers were never in this process's memory; the new ones were kept while the reader lagged.
    expect(spool.stats()).to.include({ readFromMemory: 10, readFromDisk: 20 });
    // `replayed` names the earlier process's entries (what the pipeline emits as they are).
    expect(entries.map((e) => e.replayed)).to.deep.equal([...old.map(() => true), ...ids.map(() => false)]);
    await spool.close();
  });

  it('control: past readWindowBytes the tail keeps nothing more; the rest is read from disk, in order', async () => {
    const spool = await Spool.open({ directory: dir, readWindowBytes: 4096, segmentBytes: 8192 });
    const records = Array.from({ length: 300 }, (_, i) => record(i));
    const ids = [...(await spool.append(records.slice(0, 150))), ...(await spool.append(records.slice(150)))];
    const entries = await readAll(spool, 13);
    expect(entries.map((e) => e.id)).to.deep.equal(ids);
    expect(entries.map(plain)).to.deep.equal(records.map(plain));
    const { readFromMemory, readFromDisk } = spool.stats();
    expect(readFromMemory).to.be.within(1, 4096 / 100);
    expect(readFromDisk).to.equal(300 - readFromMemory);
    // This process's entries, from memory or from disk: none is replayed.
    expect(entries.every((e) => e.replayed === false)).to.equal(true);
    await spool.close();
  });

  it('entries handed over from memory and not acked are read from disk after a restart', async () => {
    const spool = await Spool.open({ directory: dir });
    const records = Array.from({ length: 40 }, (_, i) => record(i));
    const ids = await spool.append(records);
    const entries = await readAll(spool);
    expect(spool.stats().readFromMemory).to.equal(40);
    await spool.ack(entries.filter((_, i) => i % 2 === 0).map((e) => e.id));
    await spool.close();

    const again = await Spool.open({ directory: dir });
    const left = await readAll(again);
    expect(left.map((e) => e.id)).to.deep.equal(ids.filter((_, i) => i % 2 === 1));
    expect(left.map(plain)).to.deep.equal(records.filter((_, i) => i % 2 === 1).map(plain));
    expect(again.stats()).to.include({ readFromMemory: 0, readFromDisk: 20 });
    await again.close();
  });

  it('property: appends in flight, reads and acks interleaved — every entry read once, in id order, intact', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.record({ append: fc.integer({ min: 1, max: 40 }), wait: fc.boolean() }),
            fc.record({ read: fc.integer({ min: 1, max: 60 }) }),
            fc.record({ ack: fc.boolean() }),
          ),
          { maxLength: 30 },
        ),
        fc.integer({ min: 600, max: 6000 }),
        fc.integer({ min: 10, max: 300 }),
        async (commands, segmentBytes, size) => {
          const directory = await mkdtemp(join(dir, 'p-'));
          const spool = await Spool.open({ directory, segmentBytes, readWindowBytes: 2048 });
          const appended: SpoolRecord[] = [];
          const read: SpoolEntry[] = [];
          const appends: Promise<number[]>[] = [];
          let n = 0;
          for (const c of commands) {
            if ('append' in c) {
              const records = Array.from({ length: c.append }, () => record(n++, size));
              appended.push(...records);
              appends.push(spool.append(records));
              if (c.wait) await appends.at(-1);
            } else if ('read' in c) read.push(...(await spool.read(c.read, 4096)));
            else if (c.ack) await spool.ack(read.map((e) => e.id));
          }
          const ids = (await Promise.all(appends)).flat();
          read.push(...(await readAll(spool, 50)));
          expect(read.map((e) => e.id)).to.deep.equal(ids);
          expect(read.map(plain)).to.deep.equal(appended.map(plain));
          const { readFromMemory, readFromDisk } = spool.stats();
          expect(readFromMemory + readFromDisk).to.equal(appended.length);
          await spool.close();
        },
      ),
      { numRuns: 60 },
    );
  });
});
