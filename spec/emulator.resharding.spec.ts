/** The emulator's resharding and per-shard quotas. */
import { ListShardsCommand, MergeShardsCommand, SplitShardCommand } from '@aws-sdk/client-kinesis';
import { expect } from 'chai';
import {
  ARN,
  MiB,
  TOP,
  entries,
  failure,
  hashKeyOfShard,
  putRecords,
  emulatorSpec,
} from './support/emulator-kit.js';

const { start, clientFor } = emulatorSpec();

describe('Kinesis emulator', () => {
  describe('resharding', () => {
    it('splits a shard: parent closed, children open, writes reach only open shards', async () => {
      const emu = await start({ shards: 2, quotas: false });
      const client = clientFor(emu);
      await putRecords(client, entries(50, 'before'));
      const [low, high] = emu.splitShard('shardId-000000000000');
      expect([low, high]).to.deep.equal(['shardId-000000000002', 'shardId-000000000003']);
      const { Shards: shards = [] } = await client.send(new ListShardsCommand({ StreamName: 'demo' }));
      const parent = shards.find((s) => s.ShardId === 'shardId-000000000000')!;
      expect(parent.SequenceNumberRange?.EndingSequenceNumber).to.be.a('string');
      const children = shards.filter((s) => s.ParentShardId === 'shardId-000000000000');
      expect(children.map((s) => s.ShardId)).to.deep.equal([low, high]);
      expect(children.map((s) => s.HashKeyRange)).to.deep.equal([
        { StartingHashKey: '0', EndingHashKey: ((1n << 126n) - 1n).toString() },
        { StartingHashKey: (1n << 126n).toString(), EndingHashKey: ((1n << 127n) - 1n).toString() },
      ]);
      expect(children.every((s) => s.SequenceNumberRange?.EndingSequenceNumber === undefined)).to.equal(true);

      emu.clearRecords();
      await putRecords(client, entries(200, 'after'));
      const used = new Set(emu.records.map((r) => r.shardId));
      expect(used.has('shardId-000000000000')).to.equal(false);
      expect(used).to.include.all.keys(low, high);
      const parentEnd = BigInt(parent.SequenceNumberRange!.EndingSequenceNumber!);
      expect(emu.records.every((r) => BigInt(r.sequenceNumber) > parentEnd)).to.equal(true);

      const latest = await client.send(
        new ListShardsCommand({ StreamName: 'demo', ShardFilter: { Type: 'AT_LATEST' } }),
      );
      expect(latest.Shards!.map((s) => s.ShardId)).to.deep.equal(['shardId-000000000001', low, high]);
    });

    it('merges adjacent shards, in either order, into a child with both parents', async () => {
      const emu = await start({ shards: 3, quotas: false });
      const child = emu.mergeShards('shardId-000000000002', 'shardId-000000000001');
      const shard = emu.listShards().find((s) => s.ShardId === child)!;
      expect(shard).to.deep.include({
        ParentShardId: 'shardId-000000000002',
        AdjacentParentShardId: 'shardId-000000000001',
        HashKeyRange: { StartingHashKey: hashKeyOfShard(1, 3), EndingHashKey: TOP.toString() },
      });
      await putRecords(clientFor(emu), entries(100));
      expect(new Set(emu.records.map((r) => r.shardId))).to.deep.equal(
        new Set(['shardId-000000000000', child]),
      );
      expect(() => emu.mergeShards('shardId-000000000000', 'shardId-000000000001')).to.throw(
        /already been merged or split/,
      );
      const other = await start({ shards: 3 });
      expect(() => other.mergeShards('shardId-000000000000', 'shardId-000000000002')).to.throw(
        /not an adjacent pair/,
      );
    });

    it('serves the SplitShard and MergeShards actions', async () => {
      const emu = await start({ shards: 1 });
      const client = clientFor(emu);
      /** The service error of a SplitShard on stream 'demo'. */
      const splitRefused = (shard: string, key: string) =>
        failure(
          client.send(
            new SplitShardCommand({ StreamName: 'demo', ShardToSplit: shard, NewStartingHashKey: key }),
          ),
        );
      await client.send(
        new SplitShardCommand({
          StreamName: 'demo',
          ShardToSplit: 'shardId-000000000000',
          NewStartingHashKey: '1000',
        }),
      );
      expect(emu.listShards().map((s) => s.HashKeyRange.StartingHashKey)).to.deep.equal(['0', '0', '1000']);
      await client.send(
        new MergeShardsCommand({
          StreamARN: ARN,
          ShardToMerge: 'shardId-000000000001',
          AdjacentShardToMerge: 'shardId-000000000002',
        }),
      );
      expect(
        emu
          .stats()
          .shards.filter((s) => s.open)
          .map((s) => s.shardId),
      ).to.deep.equal(['shardId-000000000003']);
      const closed = await splitRefused('shardId-000000000000', '5');
      expect(closed.name).to.equal('ResourceInUseException');
      const outside = await splitRefused('shardId-000000000003', '1');
      expect(outside.name).to.equal('InvalidArgumentException');
      const missing = await splitRefused('shardId-000000000009', '5');
      expect(missing.name).to.equal('ResourceNotFoundException');
    });
  });

  describe('quotas', () => {
    it('holds a saturated shard to 1,000 records/s (± 5%) after the initial burst', async function () {
      this.timeout(20_000);
      const emu = await start({ shards: 2, keepData: false });
      const client = clientFor(emu, 'http1');
      const batch = [
        ...entries(250, 'a', { ExplicitHashKey: '0' }),
        ...entries(250, 'b', { ExplicitHashKey: hashKeyOfShard(1, 2) }),
      ];
      const began = performance.now();
      const deadline = began + 5_000;
      await Promise.all(
        [0, 1].map(async () => {
          while (performance.now() < deadline) await putRecords(client, batch);
        }),
      );
      const seconds = (performance.now() - began) / 1000;
      const stats = emu.stats();
      for (const shard of stats.shards) {
        const rate = (shard.accepted - 1_000) / seconds;
        expect(rate, `${shard.shardId}: ${rate.toFixed(0)} records/s`).to.be.within(950, 1_050);
        expect(shard.throttled).to.be.greaterThan(shard.accepted);
        expect(shard.timeline.reduce((a, b) => a + b, 0)).to.equal(shard.accepted);
        expect(shard.peakPerSecond).to.be.at.least(1_000);
      }
      expect(stats.throttled).to.equal(stats.shards[0].throttled + stats.shards[1].throttled);
    });

    it('limits bytes to 1 MiB/s per shard', async () => {
      const emu = await start({ quotas: { bytesPerSecond: MiB } });
      const big = Array.from({ length: 12 }, (_, i) => ({
        PartitionKey: `k${i}`,
        Data: Buffer.alloc(100 * 1024),
      }));
      const out = await putRecords(clientFor(emu), big);
      // 10 records of 100 KiB + key fit in the 1 MiB burst; the 11th does not.
      expect(out.FailedRecordCount).to.equal(2);
      expect(out.Records!.slice(10).map((r) => r.ErrorCode)).to.deep.equal(
        Array(2).fill('ProvisionedThroughputExceededException'),
      );
    });

    it('can be turned off', async () => {
      const emu = await start({ quotas: false });
      const client = clientFor(emu, 'http1');
      const results = await Promise.all(Array.from({ length: 10 }, () => putRecords(client, entries(500))));
      expect(results.map((r) => r.FailedRecordCount)).to.deep.equal(Array(10).fill(0));
      expect(emu.stats().accepted).to.equal(5_000);
    });
  });
});
