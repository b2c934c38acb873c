/**
 * The spool's invariant, as a property: for any sequence of appends, reads, acks and reopens — some of
 * them crashes that tear the last segment at a random byte — every read yields exactly the durably
 * appended entries that were never acknowledged, in append order, byte for byte, and nothing damaged.
 *
 * The model knows the on-disk layout only through what `docs/spool-format.md` states: a segment is named
 * by its first id, starts with a 16-byte header, and holds consecutive frames of `frameBytes(record)`.
 */
import { mkdtemp, readdir, rm, stat, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import fc from 'fast-check';
import { Spool, type SpoolCorruption, type SpoolFsync, type SpoolRecord } from '../src/spool/index.js';
import { frameBytes, parseSegmentName, SEGMENT_HEADER_BYTES } from '../src/spool/format.js';

type Command =
  | { readonly kind: 'append'; readonly batches: SpoolRecord[][] }
  | { readonly kind: 'read'; readonly max: number }
  | { readonly kind: 'ack'; readonly pick: boolean[] }
  | { readonly kind: 'reopen'; readonly crash: boolean; readonly cut: number };

const recordArb: fc.Arbitrary<SpoolRecord> = fc.record(
  {
    PartitionKey: fc.string({
      minLength: 1,
      maxLength: 12,
      unit: fc.constantFrom('a', 'é', '字', '😀', 'Z'),
    }),
    ExplicitHashKey: fc.bigInt({ min: 0n, max: (1n << 128n) - 1n }).map(String),
    Data: fc.uint8Array({ maxLength: 300 }),
  },
  { requiredKeys: ['PartitionKey', 'Data'] },
);

const commandArb: fc.Arbitrary<Command> = fc.oneof(
  {
    arbitrary: fc.record({
      kind: fc.constant('append' as const),
      batches: fc.array(fc.array(recordArb, { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 3 }),
    }),
    weight: 4,
  },
  {
    arbitrary: fc.record({ kind: fc.constant('read' as const), max: fc.integer({ min: 1, max: 20 }) }),
    weight: 3,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant('ack' as const),
      pick: fc.array(fc.boolean(), { maxLength: 30 }),
    }),
    weight: 3,
  },
  {
    arbitrary: fc.record({
      kind: fc.constant('reopen' as const),
      crash: fc.boolean(),
      cut: fc.double({ min: 0, max: 1, noNaN: true }),
    }),
    weight: 2,
  },
);

const plain = (r: SpoolRecord) => ({
  PartitionKey: r.PartitionKey,
  ExplicitHashKey: r.ExplicitHashKey,
  Data: Buffer.from(r.Data).toString('hex'),
});

describe('Spool (property)', () => {
  it('reads exactly the unacknowledged durable entries, in order, across reopens and torn crashes', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(commandArb, { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 150, max: 1500 }),
        fc.constantFrom<SpoolFsync>('always', 'batch', 'interval', 'never'),
        async (commands, segmentBytes, fsync) => {
          const directory = await mkdtemp(join(tmpdir(), 'rx-kinesis-spool-prop-'));
          const corruptions: SpoolCorruption[] = [];
          const options = {
            directory,
            segmentBytes,
            fsync,
            fsyncIntervalMs: 5,
            onCorruption: (c: SpoolCorruption) => corruptions.push(c),
          };
          let spool = await Spool.open(options);
          /** Stored and unacknowledged, by id (ids ascend with append order). */
          const stored = new Map<number, SpoolRecord>();
          /** Frame sizes of everything appended this session (acked or not), by id. */
          const sizes = new Map<number, number>();
          let unread: number[] = [];
          let inFlight: number[] = [];
          let sessionFirstId = Infinity;
          try {
            for (const command of commands) {
              if (command.kind === 'append') {
                // Concurrent appends: group commit must keep their call order.
                const results = await Promise.all(command.batches.map((batch) => spool.append(batch)));
                results.forEach((ids, b) =>
                  ids.forEach((id, i) => {
                    const record = command.batches[b][i];
                    stored.set(id, record);
                    sizes.set(id, frameBytes(record));
                    unread.push(id);
                    sessionFirstId = Math.min(sessionFirstId, id);
                  }),
                );
                expect(results.flat()).to.deep.equal([...results.flat()].sort((a, b) => a - b));
              } else if (command.kind === 'read') {
                const entries = await spool.read(command.max);
                const expected = unread.splice(0, command.max);
                expect(entries.map((e) => e.id)).to.deep.equal(expected);
                expect(entries.map(plain)).to.deep.equal(expected.map((id) => plain(stored.get(id)!)));
                inFlight.push(...expected);
              } else if (command.kind === 'ack') {
                const acked = inFlight.filter((_, i) => command.pick[i]);
                await spool.ack(acked);
                for (const id of acked) stored.delete(id);
                inFlight = inFlight.filter((_, i) => !command.pick[i]);
              } else {
                await spool.close();
                const before = corruptions.length;
                let torn = false;
                if (command.crash)
                  torn = await tearLastSegment(directory, command.cut, sessionFirstId, sizes, stored);
                spool = await Spool.open(options);
                const found = corruptions.slice(before);
                expect(found.map((c) => c.kind)).to.deep.equal(torn ? ['torn-tail'] : []);
                expect(spool.recoveredEntries).to.equal(stored.size);
                unread = [...stored.keys()].sort((a, b) => a - b);
                inFlight = [];
                sizes.clear();
                sessionFirstId = Infinity;
              }
            }
            // Whatever is left reads back in order, and nothing else.
            const rest = [];
            for (let batch = await spool.read(50); batch.length > 0; batch = await spool.read(50))
              rest.push(...batch);
            expect(rest.map((e) => e.id)).to.deep.equal(unread);
            expect(corruptions.every((c) => c.kind === 'torn-tail' || c.kind === 'corrupt-header')).to.equal(
              true,
            );
          } finally {
            await spool.close();
            await rm(directory, { recursive: true, force: true });
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});

/**
 * A crash mid-write: cuts the last segment — if this session wrote it — at a byte chosen by `cut`. The
 * entries whose frames no longer fit were never durable in this story: they leave the model. Returns
 * whether the cut left part of a frame (a torn tail to report).
 */
async function tearLastSegment(
  directory: string,
  cut: number,
  sessionFirstId: number,
  sizes: Map<number, number>,
  stored: Map<number, SpoolRecord>,
): Promise<boolean> {
  const names = (await readdir(directory)).filter((n) => parseSegmentName(n) !== undefined).sort();
  const last = names.at(-1);
  if (last === undefined) return false;
  const firstId = parseSegmentName(last)!;
  if (firstId < sessionFirstId) return false; // written by an earlier session: durable, leave it
  const path = join(directory, last);
  const size = (await stat(path)).size;
  const at = Math.max(SEGMENT_HEADER_BYTES, Math.floor(cut * size));
  await truncate(path, at);
  let end = SEGMENT_HEADER_BYTES;
  let torn = false;
  for (let id = firstId; sizes.has(id); id++) {
    const frameStart = end;
    end += sizes.get(id)!;
    if (end > at) {
      stored.delete(id);
      torn ||= at > frameStart;
    }
  }
  return torn;
}
