import {
  ListShardsCommand,
  type KinesisClient,
  type ListShardsInput,
  type Shard,
} from '@aws-sdk/client-kinesis';
import { expect } from 'chai';
import fc from 'fast-check';
import { hashKeyOf, hashPrefixOf, prefixOfHashKey } from '../src/kinesis/hash-key.js';
import { md5Prefix30 } from '../src/kinesis/md5-prefix.js';
import { ShardMap, streamFields, type ShardRange } from '../src/kinesis/shard-map.js';

const MAX = 2n ** 128n - 1n;

/** Contiguous ranges covering 0..2^128−1, starting a new range at each split point (in 1..MAX). */
function rangesFromSplits(splits: readonly bigint[]): ShardRange[] {
  const starts = [0n, ...[...new Set(splits)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))];
  return starts.map((start, i) => ({
    shardId: `shardId-${String(i).padStart(12, '0')}`,
    startingHashKey: start,
    endingHashKey: i + 1 < starts.length ? starts[i + 1] - 1n : MAX,
  }));
}

/** The reference answer: scan every range. */
function bruteForce(ranges: readonly ShardRange[], hashKey: bigint): ShardRange | undefined {
  return ranges.find((r) => r.startingHashKey <= hashKey && hashKey <= r.endingHashKey);
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  expect.fail('expected an error to be thrown');
}

/** Split points anywhere, clustered at the bottom and at the top so that tiny and adjacent ranges occur. */
const splitPoint = fc.oneof(
  fc.bigInt({ min: 1n, max: MAX }),
  fc.bigInt({ min: 1n, max: 64n }),
  fc.bigInt({ min: MAX - 64n, max: MAX }),
  fc.bigInt({ min: 1n, max: 2n ** 64n }),
);

/** A layout, and the same ranges in a shuffled order for the constructor. */
const layout = fc
  .array(splitPoint, { maxLength: 40 })
  .map(rangesFromSplits)
  .chain((ranges) =>
    fc
      .shuffledSubarray(ranges, { minLength: ranges.length, maxLength: ranges.length })
      .map((shuffled) => ({ ranges, shuffled })),
  );

/** Every boundary of a layout, its neighbours inside the space, and the ends of the space. */
function boundaryKeys(ranges: readonly ShardRange[]): bigint[] {
  const keys = [0n, 1n, MAX - 1n, MAX];
  for (const r of ranges) {
    keys.push(r.startingHashKey, r.endingHashKey);
    if (r.startingHashKey > 0n) keys.push(r.startingHashKey - 1n);
    if (r.endingHashKey < MAX) keys.push(r.endingHashKey + 1n);
  }
  return keys;
}

function expectRoutesLikeBruteForce(map: ShardMap, ranges: readonly ShardRange[], hashKey: bigint): void {
  const expected = bruteForce(ranges, hashKey);
  if (expected === undefined) {
    const e = thrown(() => map.shardFor(hashKey));
    expect(e, `hash key ${hashKey}`).to.be.instanceOf(RangeError);
  } else {
    expect(map.shardFor(hashKey), `hash key ${hashKey}`).to.deep.equal(expected);
  }
}

describe('ShardMap', () => {
  describe('routing', () => {
    it('routes every hash key to the range a brute-force scan finds (property)', () => {
      fc.assert(
        fc.property(
          layout,
          fc.array(fc.bigInt({ min: 0n, max: MAX }), { maxLength: 50 }),
          fc.array(fc.string({ unit: 'binary', minLength: 1, maxLength: 256 }), { maxLength: 50 }),
          ({ ranges, shuffled }, hashKeys, partitionKeys) => {
            const map = new ShardMap(shuffled);
            const keys = [...boundaryKeys(ranges), ...hashKeys, ...partitionKeys.map(hashKeyOf)];
            for (const k of keys) {
              const expected = bruteForce(ranges, k);
              expect(expected, 'the layout covers the whole space').not.to.equal(undefined);
              expect(map.shardFor(k)).to.deep.equal(expected);
            }
          },
        ),
        { numRuns: 300 },
      );
    });

    it('shardOf (30-bit prefixes, full key only on a tie) routes as shardFor, gaps included (property)', () => {
      fc.assert(
        fc.property(
          layout,
          fc.nat(),
          fc.array(fc.bigInt({ min: 0n, max: MAX }), { maxLength: 50 }),
          fc.array(fc.string({ unit: 'binary', minLength: 1, maxLength: 256 }), { maxLength: 30 }),
          ({ ranges }, drop, hashKeys, partitionKeys) => {
            // A map read mid-reshard may miss a range: its keys must fail in both, not go to a neighbour.
            const kept = ranges.length > 1 ? ranges.filter((_, i) => i !== drop % ranges.length) : ranges;
            const map = new ShardMap(kept);
            let fullKeyReads = 0;
            const at = (k: bigint) => ({
              hashPrefix: prefixOfHashKey(k),
              get hashKey() {
                fullKeyReads++;
                return k;
              },
            });
            for (const k of [...boundaryKeys(ranges), ...hashKeys, ...partitionKeys.map(hashKeyOf)]) {
              const expected = bruteForce(kept, k);
              if (expected === undefined)
                expect(thrown(() => map.shardOf(at(k)))).to.be.instanceOf(RangeError);
              else expect(map.shardOf(at(k))).to.equal(map.shardFor(k));
            }
            // Control: the boundaries themselves tie on their prefix, so the full key was needed there.
            expect(fullKeyReads).to.be.greaterThan(0);
          },
        ),
        { numRuns: 300 },
      );
    });

    it('hashPrefixOf is the top 30 bits of hashKeyOf, for any well-formed string (property)', () => {
      fc.assert(
        fc.property(fc.string({ unit: 'binary', minLength: 1, maxLength: 256 }), (key) => {
          fc.pre(key.isWellFormed()); // others are refused before routing (no UTF-8 form)
          expect(hashPrefixOf(key)).to.equal(Number(hashKeyOf(key) >> 98n));
        }),
        { numRuns: 2000 },
      );
    });

    it('md5Prefix30 equals node:crypto around the one-block limit (55 UTF-8 bytes), ASCII and not (property)', () => {
      const unit = fc.oneof(
        fc.constantFrom('a', 'Z', '-', '0'),
        fc.constantFrom('é', 'ÿ', '\u07ff'), // two UTF-8 bytes
        fc.constantFrom('€', '\uffff', '\ud7ff'), // three
        fc.constantFrom('😀', '\u{10ffff}'), // four (a surrogate pair)
      );
      fc.assert(
        fc.property(fc.array(unit, { maxLength: 60 }), (parts) => {
          const key = parts.join('');
          const prefix = md5Prefix30(key);
          if (Buffer.byteLength(key) > 55)
            expect(prefix).to.equal(-1); // crypto's job
          else expect(prefix).to.equal(Number(hashKeyOf(key) >> 98n));
        }),
        { numRuns: 3000 },
      );
    });

    it('hashPrefixOf stays exact whether its memory of recent keys is on or off: unique keys, then repeating ones', () => {
      // 20,000 unique keys turn the memory off (too few hits), repeating ones turn it on again.
      const keys = [
        ...Array.from({ length: 20_000 }, (_, i) => `unique-${i}-${i * 7919}`),
        ...Array.from({ length: 100_000 }, (_, i) => `device-${i % 500}`),
      ];
      for (let i = 0; i < keys.length; i += 997)
        expect(hashPrefixOf(keys[i])).to.equal(Number(hashKeyOf(keys[i]) >> 98n));
      for (const key of keys) hashPrefixOf(key);
      for (let i = 0; i < keys.length; i += 991)
        expect(hashPrefixOf(keys[i])).to.equal(Number(hashKeyOf(keys[i]) >> 98n));
    });

    it('lists the shards ordered by starting hash key, whatever order they were given in (property)', () => {
      fc.assert(
        fc.property(layout, ({ ranges, shuffled }) => {
          const map = new ShardMap(shuffled);
          expect(map.shards).to.deep.equal(ranges);
          for (const r of ranges) expect(map.has(r.shardId)).to.equal(true);
          expect(map.has('shardId-nope')).to.equal(false);
        }),
      );
    });

    it('routes the ends of a range to that range, and the keys just outside to its neighbours', () => {
      const map = new ShardMap(rangesFromSplits([2n ** 127n, 2n ** 127n + 1n, MAX]).reverse());
      expect(map.shardFor(0n).shardId).to.equal('shardId-000000000000');
      expect(map.shardFor(2n ** 127n - 1n).shardId).to.equal('shardId-000000000000');
      expect(map.shardFor(2n ** 127n).shardId).to.equal('shardId-000000000001');
      expect(map.shardFor(2n ** 127n + 1n).shardId).to.equal('shardId-000000000002');
      expect(map.shardFor(MAX - 1n).shardId).to.equal('shardId-000000000002');
      expect(map.shardFor(MAX).shardId).to.equal('shardId-000000000003');
    });

    it('routes everything to a single shard covering the whole space', () => {
      const map = new ShardMap([{ shardId: 'only', startingHashKey: 0n, endingHashKey: MAX }]);
      for (const k of [0n, 1n, hashKeyOf('device-7'), MAX]) expect(map.shardFor(k).shardId).to.equal('only');
    });

    it('throws a RangeError for hash keys outside 0..2^128−1', () => {
      const map = new ShardMap(rangesFromSplits([2n ** 64n]));
      for (const k of [-1n, -(2n ** 200n), MAX + 1n, 2n ** 200n]) {
        expect(() => map.shardFor(k), String(k)).to.throw(RangeError);
      }
    });

    it('throws a RangeError for hash keys in a gap, and still routes the rest (property)', () => {
      const withGaps = layout
        .filter(({ ranges }) => ranges.length >= 2)
        .chain(({ ranges, shuffled }) =>
          fc
            .subarray(shuffled, { minLength: 1, maxLength: shuffled.length - 1 })
            .map((kept) => ({ ranges, kept })),
        );
      fc.assert(
        fc.property(
          withGaps,
          fc.array(fc.bigInt({ min: 0n, max: MAX }), { maxLength: 30 }),
          ({ ranges, kept }, extra) => {
            const map = new ShardMap(kept);
            const keys = [...boundaryKeys(ranges), ...extra];
            let gapKeys = 0;
            for (const k of keys) {
              if (bruteForce(kept, k) === undefined) gapKeys++;
              expectRoutesLikeBruteForce(map, kept, k);
            }
            // Some range was dropped, so at least its own boundaries fall in a gap.
            expect(gapKeys).to.be.greaterThan(0);
          },
        ),
      );
    });

    it('throws a RangeError for a key in a gap between two shards (a map caught mid-reshard)', () => {
      const map = new ShardMap([
        { shardId: 'low', startingHashKey: 0n, endingHashKey: 99n },
        { shardId: 'high', startingHashKey: 200n, endingHashKey: MAX },
      ]);
      expect(map.shardFor(99n).shardId).to.equal('low');
      expect(map.shardFor(200n).shardId).to.equal('high');
      for (const k of [100n, 150n, 199n]) {
        const e = thrown(() => map.shardFor(k));
        expect(e).to.be.instanceOf(RangeError);
        expect((e as RangeError).message).to.include(String(k));
      }
    });

    it('throws a RangeError when built with no shards', () => {
      expect(() => new ShardMap([])).to.throw(RangeError);
    });

    it('cannot refresh when built from fixed ranges', async () => {
      const map = new ShardMap(rangesFromSplits([]));
      let error: unknown;
      await map.refresh().catch((e: unknown) => (error = e));
      expect(error).to.be.instanceOf(Error);
      expect(map.shards).to.have.length(1);
    });
  });

  describe('load and refresh', () => {
    type Page = { Shards?: Shard[]; NextToken?: string };

    /** A stand-in KinesisClient answering ListShards from a queue of pages, recording each request. */
    function fakeClient(pages: Page[]) {
      const requests: Array<{ input: ListShardsInput; options: unknown }> = [];
      const client = {
        async send(command: unknown, options?: unknown) {
          expect(command).to.be.instanceOf(ListShardsCommand);
          requests.push({ input: { ...(command as ListShardsCommand).input }, options });
          const page = pages.shift();
          if (page === undefined) throw new Error('fake client: no more pages');
          return page;
        },
      };
      return { client: client as unknown as KinesisClient, requests, pages };
    }

    const QUARTER = 2n ** 126n;
    function shard(id: string, start: bigint, end: bigint, closed = false): Shard {
      return {
        ShardId: id,
        HashKeyRange: { StartingHashKey: String(start), EndingHashKey: String(end) },
        SequenceNumberRange: {
          StartingSequenceNumber: '49590338271490256608559692538361571095921575989136588898',
          ...(closed
            ? { EndingSequenceNumber: '49590338271490256608559692540925702759324208523137515618' }
            : {}),
        },
      };
    }

    it('follows NextToken, sending it without the stream name on later pages', async () => {
      const { client, requests } = fakeClient([
        {
          Shards: [shard('s-0', 0n, QUARTER - 1n), shard('s-1', QUARTER, 2n * QUARTER - 1n)],
          NextToken: 'tok-1',
        },
        { Shards: [shard('s-3', 3n * QUARTER, MAX)], NextToken: 'tok-2' },
        { Shards: [shard('s-2', 2n * QUARTER, 3n * QUARTER - 1n)] },
      ]);
      const map = await ShardMap.load(client, { streamName: 'sensors' });
      expect(requests.map((r) => r.input)).to.deep.equal([
        { StreamName: 'sensors' },
        { NextToken: 'tok-1' },
        { NextToken: 'tok-2' },
      ]);
      expect(map.shards).to.deep.equal([
        { shardId: 's-0', startingHashKey: 0n, endingHashKey: QUARTER - 1n },
        { shardId: 's-1', startingHashKey: QUARTER, endingHashKey: 2n * QUARTER - 1n },
        { shardId: 's-2', startingHashKey: 2n * QUARTER, endingHashKey: 3n * QUARTER - 1n },
        { shardId: 's-3', startingHashKey: 3n * QUARTER, endingHashKey: MAX },
      ]);
      expect(map.shardFor(2n * QUARTER).shardId).to.equal('s-2');
      expect(map.shardFor(MAX).shardId).to.equal('s-3');
    });

    it('addresses the stream by ARN, or by both name and ARN, on the first page only', async () => {
      const arn = 'arn:aws:kinesis:us-east-1:123456789012:stream/sensors';
      for (const [stream, first] of [
        [{ streamARN: arn }, { StreamARN: arn }],
        [
          { streamName: 'sensors', streamARN: arn },
          { StreamName: 'sensors', StreamARN: arn },
        ],
      ] as const) {
        const { client, requests } = fakeClient([
          { Shards: [shard('a', 0n, QUARTER - 1n)], NextToken: 'next' },
          { Shards: [shard('b', QUARTER, MAX)] },
        ]);
        const map = await ShardMap.load(client, stream);
        expect(requests.map((r) => r.input)).to.deep.equal([first, { NextToken: 'next' }]);
        expect(map.shards.map((s) => s.shardId)).to.deep.equal(['a', 'b']);
      }
    });

    it('passes the abort signal to every request', async () => {
      const controller = new AbortController();
      const { client, requests } = fakeClient([
        { Shards: [shard('a', 0n, QUARTER - 1n)], NextToken: 'next' },
        { Shards: [shard('b', QUARTER, MAX)] },
      ]);
      await ShardMap.load(client, { streamName: 'sensors' }, { abortSignal: controller.signal });
      expect(requests).to.have.length(2);
      for (const r of requests) {
        expect((r.options as { abortSignal?: AbortSignal }).abortSignal).to.equal(controller.signal);
      }
    });

    it('drops closed shards (those with an EndingSequenceNumber)', async () => {
      const { client } = fakeClient([
        {
          Shards: [
            shard('parent', 0n, MAX, true),
            shard('child-low', 0n, 2n * QUARTER - 1n),
            shard('child-high', 2n * QUARTER, MAX),
          ],
        },
      ]);
      const map = await ShardMap.load(client, { streamName: 'sensors' });
      expect(map.shards.map((s) => s.shardId)).to.deep.equal(['child-low', 'child-high']);
      expect(map.has('parent')).to.equal(false);
      expect(map.shardFor(0n).shardId).to.equal('child-low');
      expect(map.shardFor(MAX).shardId).to.equal('child-high');
    });

    it('fails with a RangeError when every shard is closed', async () => {
      const { client } = fakeClient([{ Shards: [shard('parent', 0n, MAX, true)] }]);
      let error: unknown;
      await ShardMap.load(client, { streamName: 'sensors' }).catch((e: unknown) => (error = e));
      expect(error).to.be.instanceOf(RangeError);
    });

    it('refresh() replaces the ranges: after a split the parent drops out and its children come in', async () => {
      const half = 2n * QUARTER;
      const { client, requests, pages } = fakeClient([
        { Shards: [shard('shardId-0', 0n, half - 1n), shard('shardId-1', half, MAX)] },
      ]);
      const map = await ShardMap.load(client, { streamName: 'sensors' });
      expect(map.shardFor(QUARTER).shardId).to.equal('shardId-0');

      // shardId-0 splits at QUARTER into shardId-2 and shardId-3; the listing spans two pages.
      pages.push(
        { Shards: [shard('shardId-0', 0n, half - 1n, true), shard('shardId-1', half, MAX)], NextToken: 'p2' },
        { Shards: [shard('shardId-2', 0n, QUARTER - 1n), shard('shardId-3', QUARTER, half - 1n)] },
      );
      await map.refresh();

      expect(requests.map((r) => r.input)).to.deep.equal([
        { StreamName: 'sensors' },
        { StreamName: 'sensors' },
        { NextToken: 'p2' },
      ]);
      expect(map.shards).to.deep.equal([
        { shardId: 'shardId-2', startingHashKey: 0n, endingHashKey: QUARTER - 1n },
        { shardId: 'shardId-3', startingHashKey: QUARTER, endingHashKey: half - 1n },
        { shardId: 'shardId-1', startingHashKey: half, endingHashKey: MAX },
      ]);
      expect(map.has('shardId-0')).to.equal(false);
      expect(map.shardFor(0n).shardId).to.equal('shardId-2');
      expect(map.shardFor(QUARTER - 1n).shardId).to.equal('shardId-2');
      expect(map.shardFor(QUARTER).shardId).to.equal('shardId-3');
      expect(map.shardFor(half - 1n).shardId).to.equal('shardId-3');
      expect(map.shardFor(half).shardId).to.equal('shardId-1');
    });

    it('a refresh that finds no open shard fails and leaves the map as it was', async () => {
      const { client, pages } = fakeClient([{ Shards: [shard('a', 0n, MAX)] }]);
      const map = await ShardMap.load(client, { streamName: 'sensors' });
      pages.push({ Shards: [shard('a', 0n, MAX, true)] });
      let error: unknown;
      await map.refresh().catch((e: unknown) => (error = e));
      expect(error).to.be.instanceOf(RangeError);
      expect(map.shards.map((s) => s.shardId)).to.deep.equal(['a']);
      expect(map.shardFor(MAX).shardId).to.equal('a');
    });
  });
});

describe('streamFields', () => {
  const arn = 'arn:aws:kinesis:eu-west-1:123456789012:stream/sensors';

  it('sends the name alone', () => {
    expect(streamFields({ streamName: 'sensors' })).to.deep.equal({ StreamName: 'sensors' });
  });

  it('sends the ARN alone', () => {
    expect(streamFields({ streamARN: arn })).to.deep.equal({ StreamARN: arn });
  });

  it('sends both when both are given', () => {
    expect(streamFields({ streamName: 'sensors', streamARN: arn })).to.deep.equal({
      StreamName: 'sensors',
      StreamARN: arn,
    });
  });

  it('throws a TypeError when neither is given', () => {
    expect(() => streamFields({})).to.throw(TypeError, /streamName/);
    expect(() => streamFields({ streamName: undefined, streamARN: undefined })).to.throw(TypeError);
  });
});
