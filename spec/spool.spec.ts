/**
 * The durable spool, one behaviour at a time: round trip, replay after reopen, ack persistence, segment
 * rollover and deletion, each `whenFull` policy, the directory lock, and damage (torn tail, flipped bit)
 * detected and reported, never read as data.
 */
import { appendFile, mkdtemp, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import {
  Spool,
  SpoolError,
  SpoolFullError,
  SpoolLockedError,
  type SpoolCorruption,
  type SpoolDrop,
  type SpoolEntry,
  type SpoolOptions,
  type SpoolRecord,
} from '../src/spool/index.js';
import { frameBytes, SEGMENT_HEADER_BYTES } from '../src/spool/format.js';

/** Records of one size for a given data size (keys are 5 bytes); `hashKey` adds an ExplicitHashKey. */
const record = (n: number, size = 10, hashKey = false): SpoolRecord => ({
  PartitionKey: `key-${n % 7}`,
  ...(hashKey ? { ExplicitHashKey: String(BigInt(n) * 12345678901234567n) } : {}),
  Data: Buffer.alloc(size, n % 251),
});

/** An entry as plain comparable data. */
const plain = (e: SpoolEntry | SpoolRecord) => ({
  PartitionKey: e.PartitionKey,
  ExplicitHashKey: e.ExplicitHashKey,
  Data: Buffer.from(e.Data).toString('hex'),
});

async function readAll(spool: Spool): Promise<SpoolEntry[]> {
  const out: SpoolEntry[] = [];
  for (let batch = await spool.read(7); batch.length > 0; batch = await spool.read(7)) out.push(...batch);
  return out;
}

const segmentFiles = async (dir: string) => (await readdir(dir)).filter((f) => f.endsWith('.log')).sort();

describe('Spool', () => {
  let dir: string;
  const open: Spool[] = [];
  const openSpool = async (options: Partial<SpoolOptions> = {}) => {
    const spool = await Spool.open({ directory: dir, ...options });
    open.push(spool);
    return spool;
  };

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rx-kinesis-spool-'));
  });
  afterEach(async () => {
    for (const spool of open.splice(0)) await spool.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('reads back what was appended, in order, with increasing ids', async () => {
    const spool = await openSpool();
    const records = Array.from({ length: 50 }, (_, n) => record(n, n * 3, n % 3 === 0));
    const ids = [...(await spool.append(records.slice(0, 20))), ...(await spool.append(records.slice(20)))];
    expect(ids).to.deep.equal(Array.from({ length: 50 }, (_, n) => n + 1));
    const entries = await readAll(spool);
    expect(entries.map((e) => e.id)).to.deep.equal(ids);
    expect(entries.map(plain)).to.deep.equal(records.map(plain));
    expect(await spool.read()).to.deep.equal([]);
  });

  it('shares one write and fsync among concurrent appends (group commit) and keeps call order', async () => {
    const appendAll = (spool: Spool) =>
      Promise.all(Array.from({ length: 30 }, (_, n) => spool.append([record(n), record(n + 100)])));
    const spool = await openSpool({ fsync: 'batch' });
    const results = await appendAll(spool);
    expect(results.flat()).to.deep.equal(Array.from({ length: 60 }, (_, n) => n + 1));
    expect((await readAll(spool)).map(plain)).to.deep.equal(
      results.flatMap((_, n) => [plain(record(n)), plain(record(n + 100))]),
    );
    expect(spool.stats().syncs).to.be.within(1, 3);
    await spool.close();
    open.splice(0);
    // Control: 'always' pays one fsync per record (and the header).
    await rm(dir, { recursive: true });
    const always = await openSpool({ fsync: 'always' });
    await appendAll(always);
    expect(always.stats().syncs).to.equal(61);
  });

  it('limits a read by entries and by bytes, always returning at least one entry', async () => {
    const spool = await openSpool();
    await spool.append(Array.from({ length: 10 }, (_, n) => record(n, 100)));
    expect(await spool.read(3)).to.have.length(3);
    expect(await spool.read(100, 250)).to.have.length(2);
    expect(await spool.read(100, 1)).to.have.length(1);
    expect(await spool.read(100)).to.have.length(4);
  });

  it('streams through a read window smaller than a frame, growing it only for that frame', async () => {
    const spool = await openSpool({ readWindowBytes: 64, segmentBytes: 4096 });
    const records = Array.from({ length: 40 }, (_, n) => record(n, (n * 37) % 300));
    await spool.append(records);
    expect((await readAll(spool)).map(plain)).to.deep.equal(records.map(plain));
  });

  it('whenReadable resolves once an append is durable, and at close', async () => {
    const spool = await openSpool();
    let woke = false;
    const waiting = spool.whenReadable().then(() => (woke = true));
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(woke).to.equal(false);
    await spool.append([record(1)]);
    await waiting;
    expect(await spool.read()).to.have.length(1);
    const atClose = spool.whenReadable();
    await spool.close();
    await atClose;
  });

  it('close fails appends still waiting for space with SPOOL_CLOSED, and later appends, reads and acks', async () => {
    const size = frameBytes(record(0, 100));
    const spool = await openSpool({ segmentBytes: 4 * size, maxBytes: 4 * size, whenFull: 'block' });
    await spool.append([record(1, 100), record(2, 100)]);
    const blocked = spool.append([record(3, 100), record(4, 100)]).catch((e: unknown) => e);
    await spool.close();
    expect(await blocked)
      .to.be.instanceOf(SpoolError)
      .with.property('code', 'SPOOL_CLOSED');
    for (const after of [spool.append([record(5)]), spool.read(), spool.ack([1])])
      expect(await after.catch((e: unknown) => e))
        .to.be.instanceOf(SpoolError)
        .with.property('code', 'SPOOL_CLOSED');
  });

  for (const fsync of ['always', 'batch', 'interval', 'never'] as const)
    it(`fsync '${fsync}': keeps nothing alive after close (no timer, no open file)`, async () => {
      // Open files counted by the kernel (Linux): FileHandles do not show as active resources.
      const files = async () => (await readdir('/proc/self/fd')).length;
      const timers = () => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
      const before = { files: await files(), timers: timers() };
      const spool = await openSpool({ fsync, fsyncIntervalMs: 5, segmentBytes: 512 });
      await spool.append(Array.from({ length: 20 }, (_, n) => record(n, 40)));
      await spool.ack((await spool.read(5)).map((e) => e.id));
      await new Promise((resolve) => setTimeout(resolve, 20));
      const during = { files: await files(), timers: timers() };
      await spool.close();
      open.splice(0);
      expect({ files: await files(), timers: timers() }).to.deep.equal(before);
      // Control: while open it does hold files. (The 'interval' timer is unref'd: not counted either way.)
      expect(during.files).to.be.above(before.files);
      const reopened = await openSpool({ fsync });
      expect((await readAll(reopened)).map((e) => e.id)).to.deep.equal(
        Array.from({ length: 15 }, (_, n) => n + 6),
      );
    });

  it('replays what a closed spool left unacknowledged, then continues the ids', async () => {
    let spool = await openSpool();
    await spool.append(Array.from({ length: 10 }, (_, n) => record(n)));
    const first = await spool.read(4);
    await spool.ack(first.slice(0, 3).map((e) => e.id)); // 4 read but not acked: it comes back
    await spool.close();
    spool = await openSpool();
    expect(spool.recoveredEntries).to.equal(7);
    expect((await readAll(spool)).map((e) => e.id)).to.deep.equal([4, 5, 6, 7, 8, 9, 10]);
    expect(await spool.append([record(99)])).to.deep.equal([11]);
  });

  it('persists acks out of order, so a reopened spool reads only what was never acked', async () => {
    let spool = await openSpool({ segmentBytes: 1024 });
    await spool.append(Array.from({ length: 40 }, (_, n) => record(n)));
    const entries = await readAll(spool);
    const acked = entries.filter((e) => e.id % 3 !== 0 && e.id !== 17).map((e) => e.id);
    await spool.ack(acked.reverse());
    await spool.ack([1, 2, 12345]); // repeats and unknown ids are ignored
    expect(spool.stats().ackedEntries).to.equal(acked.length);
    await spool.close();
    spool = await openSpool({ segmentBytes: 1024 });
    const left = (await readAll(spool)).map((e) => e.id);
    expect(left).to.deep.equal(entries.map((e) => e.id).filter((id) => id % 3 === 0 || id === 17));
  });

  it('rolls segments at segmentBytes and deletes each once all its entries are acked', async () => {
    const size = frameBytes(record(0, 100));
    const perSegment = 4;
    const spool = await openSpool({ segmentBytes: SEGMENT_HEADER_BYTES + perSegment * size });
    await spool.append(Array.from({ length: 4 * perSegment + 1 }, (_, n) => record(n, 100)));
    expect(await segmentFiles(dir)).to.have.length(5);
    expect((await stat(join(dir, (await segmentFiles(dir))[0]))).size).to.equal(
      SEGMENT_HEADER_BYTES + 4 * size,
    );
    const entries = await readAll(spool);
    await spool.ack(entries.slice(0, perSegment * 2 - 1).map((e) => e.id)); // the second is one short
    expect(await segmentFiles(dir)).to.have.length(4);
    await spool.ack([entries[perSegment * 2 - 1].id]);
    expect(await segmentFiles(dir)).to.have.length(3);
    expect(spool.stats().usedBytes).to.equal(3 * SEGMENT_HEADER_BYTES + (2 * perSegment + 1) * size);
    // The active (last) segment stays while open, even fully acked.
    await spool.ack(entries.slice(perSegment * 2).map((e) => e.id));
    expect(await segmentFiles(dir)).to.have.length(1);
    await spool.close();
    await openSpool();
    expect(await segmentFiles(dir)).to.have.length(0);
    expect(await readdir(dir)).to.deep.equal(['lock']);
  });

  describe('when full', () => {
    const size = frameBytes(record(0, 100));
    const segmentBytes = SEGMENT_HEADER_BYTES + 4 * size;
    const maxBytes = 3 * segmentBytes;
    const fill = (spool: Spool) => spool.append(Array.from({ length: 12 }, (_, n) => record(n, 100)));

    it('reject: fails the append with SpoolFullError naming the limit, stores none of it', async () => {
      const spool = await openSpool({ segmentBytes, maxBytes, whenFull: 'reject' });
      await fill(spool);
      const error = await spool.append([record(1, 100), record(2, 100)]).catch((e: unknown) => e);
      expect(error).to.be.instanceOf(SpoolFullError);
      expect(error).to.include({ code: 'SPOOL_FULL', maxBytes, usedBytes: maxBytes });
      expect((error as Error).message).to.include(`maxBytes ${maxBytes}`);
      expect(spool.stats()).to.include({ rejectedAppends: 1, appendedEntries: 12 });
      // Acks that free a segment make room again.
      await spool.ack((await spool.read(4)).map((e) => e.id));
      expect(await spool.append([record(1, 100)])).to.deep.equal([13]);
    });

    it('block: the append waits until acks free a segment, later appends queue behind it', async () => {
      const spool = await openSpool({ segmentBytes, maxBytes, whenFull: 'block' });
      await fill(spool);
      const order: string[] = [];
      const blocked = spool.append([record(100, 100)]).then((ids) => order.push(`a${ids}`));
      const behind = spool.append([record(101, 10)]).then((ids) => order.push(`b${ids}`));
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(order).to.deep.equal([]);
      expect(spool.stats().waitingAppends).to.equal(2);
      const entries = await spool.read(3);
      await spool.ack(entries.map((e) => e.id)); // 3 of 4: the segment stays, nothing moves
      await new Promise((resolve) => setTimeout(resolve, 20));
      expect(order).to.deep.equal([]);
      await spool.ack((await spool.read(1)).map((e) => e.id));
      await Promise.all([blocked, behind]);
      expect(order).to.deep.equal(['a13', 'b14']);
    });

    it('block: seals a lone active segment so that acking it frees the room', async () => {
      const spool = await openSpool({ segmentBytes: 10 * size, maxBytes: 10 * size, whenFull: 'block' });
      await spool.append(Array.from({ length: 9 }, (_, n) => record(n, 100)));
      const blocked = spool.append([record(9, 100)]);
      await spool.ack((await readAll(spool)).map((e) => e.id));
      expect(await blocked).to.deep.equal([10]);
    });

    it('block: a record changed while its append waited is refused (INVALID_RECORD), never written', async () => {
      const spool = await openSpool({ segmentBytes, maxBytes, whenFull: 'block' });
      await fill(spool);
      const changed = record(100, 100);
      const blocked = spool.append([changed]).catch((e: unknown) => e);
      changed.Data = Buffer.alloc(200); // the caller broke append's contract: its size was taken already
      await spool.ack((await readAll(spool)).map((e) => e.id));
      const error = await blocked;
      expect(error).to.be.instanceOf(SpoolError).with.property('code', 'INVALID_RECORD');
      expect((error as Error).message).to.match(/record 13 changed between append\(\) and its encoding/);
      await spool.close();
      const reopened = await openSpool({ segmentBytes, maxBytes });
      expect(reopened.recoveredEntries).to.equal(0);
      expect(await readAll(reopened)).to.deep.equal([]);
    });

    it('drop-oldest: deletes the oldest whole segment and reports its unacked entries', async () => {
      const drops: SpoolDrop[] = [];
      const spool = await openSpool({
        segmentBytes,
        maxBytes,
        whenFull: 'drop-oldest',
        onDrop: (d) => drops.push(d),
      });
      await fill(spool);
      await spool.ack((await spool.read(1)).map((e) => e.id));
      expect(await spool.append([record(100, 100)])).to.deep.equal([13]);
      expect(drops).to.deep.equal([{ file: 'seg-0000000000000001.log', firstId: 1, lastId: 4, entries: 3 }]);
      expect(spool.stats()).to.include({ droppedEntries: 3, droppedSegments: 1 });
      expect((await readAll(spool)).map((e) => e.id)).to.deep.equal([5, 6, 7, 8, 9, 10, 11, 12, 13]);
    });

    it('refuses an append no empty spool could hold, whatever the policy', async () => {
      const spool = await openSpool({ segmentBytes, maxBytes, whenFull: 'block' });
      const error = await spool.append(Array.from({ length: 13 }, (_, n) => record(n, 100))).catch((e) => e);
      expect(error).to.be.instanceOf(SpoolError).with.property('code', 'APPEND_TOO_LARGE');
      expect(await spool.append(Array.from({ length: 12 }, (_, n) => record(n, 100)))).to.have.length(12);
    });
  });

  it('refuses records it cannot frame with a typed error naming the limit, not the data', async () => {
    const spool = await openSpool();
    const error = await spool
      .append([
        record(1),
        { PartitionKey: 'k', ExplicitHashKey: 'x'.repeat(300), Data: Buffer.from('secret') },
      ])
      .catch((e: unknown) => e);
    expect(error).to.be.instanceOf(SpoolError).with.property('code', 'INVALID_RECORD');
    expect((error as Error).message).to.match(/record 1: ExplicitHashKey exceeds 254 bytes/);
    expect((error as Error).message).not.to.include('secret');
    expect(spool.stats().appendedEntries).to.equal(0);
  });

  it('holds its directory: a second opener in the same process gets SpoolLockedError', async () => {
    const spool = await openSpool();
    const error = await Spool.open({ directory: dir }).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(SpoolLockedError);
    expect(error).to.include({ code: 'SPOOL_LOCKED', pid: process.pid });
    await spool.close();
    open.splice(0);
    await openSpool(); // released on close
  });

  it('takes over a stale lock whose pid is dead', async () => {
    await writeFile(join(dir, 'lock'), '2147483646\n'); // no such pid
    await writeFile(join(dir, 'lock.2147483646.tmp'), '2147483646\n'); // what it left mid-take
    const spool = await openSpool();
    await spool.append([record(1)]);
    expect((await readFile(join(dir, 'lock'), 'utf8')).trim()).to.equal(String(process.pid));
    expect((await readdir(dir)).filter((f) => f.startsWith('lock'))).to.deep.equal(['lock']);
  });

  describe('damage', () => {
    async function spoolWith(n: number): Promise<string> {
      const spool = await Spool.open({ directory: dir });
      await spool.append(Array.from({ length: n }, (_, i) => record(i, 50)));
      await spool.close();
      return join(dir, (await segmentFiles(dir))[0]);
    }
    const reopen = async () => {
      const corruptions: SpoolCorruption[] = [];
      const spool = await openSpool({ onCorruption: (c) => corruptions.push(c) });
      return { spool, corruptions, ids: (await readAll(spool)).map((e) => e.id) };
    };

    it('a torn tail is reported and skipped; every whole frame before it is read', async () => {
      const file = await spoolWith(5);
      const size = frameBytes(record(0, 50));
      await truncate(file, SEGMENT_HEADER_BYTES + 3 * size + 7);
      const { spool, corruptions, ids } = await reopen();
      expect(ids).to.deep.equal([1, 2, 3]);
      expect(corruptions).to.deep.equal([
        {
          kind: 'torn-tail',
          file: 'seg-0000000000000001.log',
          offset: SEGMENT_HEADER_BYTES + 3 * size,
          bytes: 7,
          lostEntries: undefined,
        },
      ]);
      expect(spool.stats().corruptions).to.equal(1);
      // New appends continue after the last valid frame, in a new segment.
      expect(await spool.append([record(9)])).to.deep.equal([4]);
      // The tail was cut off at open: the next open finds no damage, and the same entries.
      await spool.close();
      open.splice(0);
      const again = await reopen();
      expect(again.corruptions).to.deep.equal([]);
      expect(again.ids).to.deep.equal([1, 2, 3, 4]);
    });

    it('a clean cut at a frame boundary is no damage (control)', async () => {
      const file = await spoolWith(5);
      await truncate(file, SEGMENT_HEADER_BYTES + 3 * frameBytes(record(0, 50)));
      const { corruptions, ids } = await reopen();
      expect(ids).to.deep.equal([1, 2, 3]);
      expect(corruptions).to.deep.equal([]);
    });

    it('a flipped bit costs its frame only: reported with the entries lost, the rest is read', async () => {
      const file = await spoolWith(5);
      const size = frameBytes(record(0, 50));
      const bytes = await readFile(file);
      bytes[SEGMENT_HEADER_BYTES + 2 * size + 40] ^= 0x10; // in the data of the third frame
      await writeFile(file, bytes);
      const { corruptions, ids } = await reopen();
      expect(ids).to.deep.equal([1, 2, 4, 5]);
      expect(corruptions).to.deep.equal([
        {
          kind: 'corrupt-frames',
          file: 'seg-0000000000000001.log',
          offset: SEGMENT_HEADER_BYTES + 2 * size,
          bytes: size,
          lostEntries: 1,
        },
      ]);
    });

    it('a flipped bit in a length field does not swallow the segment', async () => {
      const file = await spoolWith(5);
      const size = frameBytes(record(0, 50));
      const bytes = await readFile(file);
      bytes[SEGMENT_HEADER_BYTES + size + 9] ^= 0x40; // length of the second frame
      await writeFile(file, bytes);
      const { corruptions, ids } = await reopen();
      expect(ids).to.deep.equal([1, 3, 4, 5]);
      expect(corruptions.map((c) => [c.kind, c.lostEntries])).to.deep.equal([['corrupt-frames', 1]]);
    });

    it('a damaged header is reported; its frames still check themselves', async () => {
      const file = await spoolWith(3);
      const bytes = await readFile(file);
      bytes[1] ^= 0xff;
      await writeFile(file, bytes);
      const { corruptions, ids } = await reopen();
      expect(ids).to.deep.equal([1, 2, 3]);
      expect(corruptions.map((c) => c.kind)).to.deep.equal(['corrupt-header']);
    });

    it('a torn ack record is reported and cut off, so acks appended after a restart still count', async () => {
      const spool = await openSpool();
      await spool.append(Array.from({ length: 6 }, (_, i) => record(i, 50)));
      await spool.ack((await spool.read(2)).map((e) => e.id));
      await spool.close();
      open.splice(0);
      const ackFile = join(dir, 'seg-0000000000000001.ack');
      const before = (await stat(ackFile)).size;
      await appendFile(ackFile, Buffer.from([1, 2, 3, 4, 5])); // a write cut short
      const first = await reopen();
      expect(first.ids).to.deep.equal([3, 4, 5, 6]);
      expect(first.corruptions).to.deep.equal([
        {
          kind: 'torn-tail',
          file: 'seg-0000000000000001.ack',
          offset: before,
          bytes: 5,
          lostEntries: undefined,
        },
      ]);
      await first.spool.ack([3, 5]);
      await first.spool.close();
      open.splice(0);
      const second = await reopen();
      expect(second.ids).to.deep.equal([4, 6]);
      expect(second.corruptions).to.deep.equal([]);
    });

    it('a damaged ack record is reported; its entries come back (a duplicate, never a loss)', async () => {
      const spool = await openSpool();
      await spool.append(Array.from({ length: 6 }, (_, i) => record(i, 50)));
      const [a, b, c] = await spool.read(3);
      await spool.ack([a.id]);
      await spool.ack([c.id]);
      await spool.close();
      open.splice(0);
      const ackFile = join(dir, 'seg-0000000000000001.ack');
      const bytes = await readFile(ackFile);
      bytes[bytes.length - 3] ^= 1; // the record acking c
      await writeFile(ackFile, bytes);
      const { corruptions, ids } = await reopen();
      expect(ids).to.deep.equal([b.id, c.id, 4, 5, 6]);
      expect(corruptions.map((x) => [x.kind, x.bytes])).to.deep.equal([['corrupt-acks', 16]]);
    });

    it('refuses a segment of a newer format version and leaves it untouched', async () => {
      const file = await spoolWith(3);
      const bytes = await readFile(file);
      bytes.writeUInt16BE(2, 4);
      await writeFile(file, bytes);
      const error = await Spool.open({ directory: dir }).catch((e: unknown) => e);
      expect(error).to.be.instanceOf(SpoolError).with.property('code', 'UNSUPPORTED_FORMAT');
      expect(await readFile(file)).to.deep.equal(bytes);
      expect(await readdir(dir)).not.to.include('lock'); // the failed open released its lock
    });
  });
});
