/** The emulator's write path: routing, result alignment, throttling, and the validation AWS does. */
import {
  PutRecordCommand,
  type PutRecordsRequestEntry,
  type PutRecordsResultEntry,
} from '@aws-sdk/client-kinesis';
import { createHash } from 'node:crypto';
import { expect } from 'chai';
import fc from 'fast-check';
import { hashKeyOf } from '../src/kinesis/hash-key.js';
import type { KinesisEmulator } from '../src/testing/index.js';
import {
  ACCOUNT,
  MiB,
  TOP,
  entries,
  failure,
  hashKeyOfShard,
  putRecords,
  emulatorSpec,
} from './support/emulator-kit.js';

const { start, clientFor } = emulatorSpec();

/**
 * Kinesis routing done the slow, obvious way, sharing no code with the emulator or the library: the MD5
 * digest of the key's UTF-8 bytes folded byte by byte into a big-endian integer.
 */
function bruteForceHashKey(partitionKey: string, bigEndian = true): bigint {
  const digest = [...createHash('md5').update(Buffer.from(partitionKey, 'utf8')).digest()];
  if (!bigEndian) digest.reverse();
  let n = 0n;
  for (const byte of digest) n = n * 256n + BigInt(byte);
  return n;
}

/** The open shard whose listed range holds `hashKey`, found by scanning every shard ListShards describes. */
function bruteForceShard(emu: KinesisEmulator, hashKey: bigint): string | undefined {
  const owners = emu
    .listShards()
    .filter((s) => s.SequenceNumberRange.EndingSequenceNumber === undefined)
    .filter(
      (s) =>
        BigInt(s.HashKeyRange.StartingHashKey) <= hashKey && hashKey <= BigInt(s.HashKeyRange.EndingHashKey),
    );
  return owners.length === 1 ? owners[0].ShardId : undefined;
}

describe('Kinesis emulator', () => {
  describe('routing', () => {
    it('computes MD5 routing itself: known digests, and the brute-force shard for every key (property)', async () => {
      // RFC 1321's test suite: the digests as hex, read big-endian.
      expect(bruteForceHashKey('')).to.equal(0xd41d8cd98f00b204e9800998ecf8427en);
      expect(bruteForceHashKey('abc')).to.equal(0x900150983cd24fb0d6963f7d28e17f72n);
      // Uneven shards: a split and a merge, so the ranges are not the even CreateStream ones.
      const emu = await start({ shards: 4, quotas: false });
      emu.splitShard('shardId-000000000001', (1n << 126n) + 12345n);
      emu.mergeShards('shardId-000000000002', 'shardId-000000000003');
      const client = clientFor(emu, 'http1');
      const keys = fc.string({ unit: 'binary', minLength: 1, maxLength: 40 });
      await fc.assert(
        fc.asyncProperty(fc.array(keys, { minLength: 1, maxLength: 30 }), keys, async (batch, single) => {
          const out = await putRecords(
            client,
            batch.map((k) => ({ PartitionKey: k, Data: Buffer.from('x') })),
          );
          out.Records!.forEach((record, i) => {
            expect(record.ShardId, JSON.stringify(batch[i])).to.equal(
              bruteForceShard(emu, bruteForceHashKey(batch[i])),
            );
          });
          const one = await client.send(
            new PutRecordCommand({ StreamName: 'demo', PartitionKey: single, Data: Buffer.from('y') }),
          );
          expect(one.ShardId).to.equal(bruteForceShard(emu, bruteForceHashKey(single)));
        }),
        { numRuns: 60 },
      );
    });

    it("agrees with the library's hashKeyOf, and a wrong byte order would be caught (control)", () => {
      fc.assert(
        fc.property(fc.string({ unit: 'grapheme', maxLength: 60 }), (key) => {
          expect(hashKeyOf(key)).to.equal(bruteForceHashKey(key));
        }),
      );
      // The control: read little-endian, the same digests route elsewhere for most keys.
      const keys = Array.from({ length: 50 }, (_, i) => `device-${i}`);
      const moved = keys.filter((k) => bruteForceHashKey(k, false) >> 127n !== bruteForceHashKey(k) >> 127n);
      expect(moved.length).to.be.within(10, 40);
    });
  });

  describe('PutRecords', () => {
    it('routes by MD5 to the shard whose range holds the key, with increasing sequence numbers (property)', async () => {
      const emu = await start({ shards: 5, quotas: false });
      const client = clientFor(emu, 'http1');
      const ranges = new Map(
        emu
          .listShards()
          .map((s) => [
            s.ShardId,
            [BigInt(s.HashKeyRange.StartingHashKey), BigInt(s.HashKeyRange.EndingHashKey)],
          ]),
      );
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 30 }), {
            minLength: 1,
            maxLength: 40,
          }),
          async (keys) => {
            const out = await putRecords(
              client,
              keys.map((k) => ({ PartitionKey: k, Data: Buffer.from(k) })),
            );
            out.Records!.forEach((record, i) => {
              const [low, high] = ranges.get(record.ShardId!)!;
              const hash = bruteForceHashKey(keys[i]);
              expect(low <= hash && hash <= high, `${keys[i]} on ${record.ShardId}`).to.equal(true);
            });
          },
        ),
        { numRuns: 40 },
      );
      const last = new Map<string, bigint>();
      for (const record of emu.records) {
        const sequence = BigInt(record.sequenceNumber);
        expect(sequence > (last.get(record.shardId) ?? -1n)).to.equal(true);
        last.set(record.shardId, sequence);
      }
    });

    it('routes by ExplicitHashKey when given', async () => {
      const emu = await start({ shards: 4 });
      const client = clientFor(emu);
      const out = await putRecords(
        client,
        [0, 1, 2, 3, 3].map((shard, i) => ({
          PartitionKey: 'same-key',
          Data: Buffer.from(String(i)),
          ExplicitHashKey: i === 4 ? TOP.toString() : hashKeyOfShard(shard, 4),
        })),
      );
      expect(out.Records!.map((r) => r.ShardId)).to.deep.equal([
        'shardId-000000000000',
        'shardId-000000000001',
        'shardId-000000000002',
        'shardId-000000000003',
        'shardId-000000000003',
      ]);
      expect(emu.records[0].explicitHashKey).to.equal('0');
    });

    it('aligns response entries with request entries under partial failure (property)', async () => {
      const emu = await start({
        shards: 2,
        quotas: { recordsPerSecond: 20 },
        faults: { seed: 5, recordFailureRate: 0.1 },
      });
      const client = clientFor(emu);
      let serial = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.integer({ min: 0, max: 1 }), { minLength: 1, maxLength: 60 }),
          async (targets) => {
            const sent = targets.map((shard) => ({
              PartitionKey: `k${shard}`,
              Data: Buffer.from(`payload-${serial++}`),
              ExplicitHashKey: hashKeyOfShard(shard, 2),
            }));
            const out = await putRecords(client, sent);
            const bySequence = new Map(emu.records.map((r) => [r.sequenceNumber, r]));
            const throttledShards = new Set<string>();
            expect(out.Records).to.have.length(sent.length);
            expect(out.FailedRecordCount).to.equal(
              out.Records!.filter((r) => r.ErrorCode !== undefined).length,
            );
            out.Records!.forEach((result: PutRecordsResultEntry, i) => {
              const shardId = `shardId-00000000000${targets[i]}`;
              if (result.ErrorCode === undefined) {
                const landed = bySequence.get(result.SequenceNumber!)!;
                expect(landed.data?.toString()).to.equal(sent[i].Data.toString());
                expect(result.ShardId).to.equal(shardId);
                // Tokens do not refill within one request, so nothing passes after a throttle on that shard.
                expect(throttledShards.has(shardId)).to.equal(false);
              } else if (result.ErrorCode === 'ProvisionedThroughputExceededException') {
                throttledShards.add(shardId);
                expect(result.ErrorMessage).to.equal(
                  `Rate exceeded for shard ${shardId} in stream demo under account ${ACCOUNT}.`,
                );
              } else {
                expect(result).to.deep.include({
                  ErrorCode: 'InternalFailure',
                  ErrorMessage: 'Internal service failure.',
                });
              }
            });
          },
        ),
        { numRuns: 40 },
      );
      const stats = emu.stats();
      expect(stats.throttled).to.be.greaterThan(0);
      expect(stats.failed).to.equal(stats.faults.recordFailures);
    });

    it('throttles with the shard named in the message and still writes the rest of the request', async () => {
      const emu = await start({ shards: 2, quotas: { recordsPerSecond: 10 } });
      const client = clientFor(emu);
      const records = [
        ...entries(15, 'hot', { ExplicitHashKey: hashKeyOfShard(1, 2) }),
        ...entries(5, 'cold', { ExplicitHashKey: '0' }),
      ];
      const out = await putRecords(client, records);
      expect(out.FailedRecordCount).to.equal(5);
      expect(out.Records!.slice(10, 15).map((r) => r.ErrorMessage)).to.deep.equal(
        Array(5).fill(
          `Rate exceeded for shard shardId-000000000001 in stream demo under account ${ACCOUNT}.`,
        ),
      );
      expect(out.Records!.slice(15).every((r) => r.ShardId === 'shardId-000000000000')).to.equal(true);
      const single = await failure(
        client.send(
          new PutRecordCommand({
            StreamName: 'demo',
            PartitionKey: 'x',
            Data: Buffer.from('x'),
            ExplicitHashKey: hashKeyOfShard(1, 2),
          }),
        ),
      );
      expect(single.name).to.equal('ProvisionedThroughputExceededException');
    });
  });

  describe('validation', () => {
    async function rejection(
      emu: KinesisEmulator,
      records: PutRecordsRequestEntry[],
    ): Promise<[string, string]> {
      const error = await failure(putRecords(clientFor(emu), records));
      expect(error.$metadata?.httpStatusCode).to.equal(400);
      return [error.name, error.message];
    }

    it('refuses a request of 0 or 501 records', async () => {
      const emu = await start({ quotas: false });
      expect(await rejection(emu, [])).to.deep.equal([
        'ValidationException',
        "1 validation error detected: Value '[]' at 'records' failed to satisfy constraint: Member must have length greater than or equal to 1",
      ]);
      expect(await rejection(emu, entries(501))).to.deep.equal([
        'ValidationException',
        "1 validation error detected: Value at 'records' failed to satisfy constraint: Member must have length less than or equal to 500",
      ]);
      expect((await putRecords(clientFor(emu), entries(500))).FailedRecordCount).to.equal(0);
    });

    it('checks partition key length (1..256)', async () => {
      const emu = await start();
      expect(await rejection(emu, [{ PartitionKey: '', Data: Buffer.from('x') }])).to.deep.equal([
        'ValidationException',
        "1 validation error detected: Value '' at 'records.1.member.partitionKey' failed to satisfy constraint: Member must have length greater than or equal to 1",
      ]);
      const long = 'k'.repeat(257);
      expect(
        await rejection(emu, [...entries(1), { PartitionKey: long, Data: Buffer.from('x') }]),
      ).to.deep.equal([
        'ValidationException',
        `1 validation error detected: Value '${long}' at 'records.2.member.partitionKey' failed to satisfy constraint: Member must have length less than or equal to 256`,
      ]);
      expect(
        (await putRecords(clientFor(emu), [{ PartitionKey: 'k'.repeat(256), Data: Buffer.from('x') }]))
          .FailedRecordCount,
      ).to.equal(0);
      expect(emu.records).to.have.length(1);
    });

    it('checks ExplicitHashKey syntax (ValidationException) and range (InvalidArgumentException)', async () => {
      const emu = await start();
      for (const bad of ['01', '-1', 'abc', '1'.repeat(40)]) {
        expect(await rejection(emu, [{ ...entries(1)[0], ExplicitHashKey: bad }])).to.deep.equal([
          'ValidationException',
          `1 validation error detected: Value '${bad}' at 'records.1.member.explicitHashKey' failed to satisfy constraint: Member must satisfy regular expression pattern: 0|([1-9]\\d{0,38})`,
        ]);
      }
      const over = (TOP + 1n).toString();
      expect(await rejection(emu, [{ ...entries(1)[0], ExplicitHashKey: over }])).to.deep.equal([
        'InvalidArgumentException',
        `Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was ${over}`,
      ]);
      const top = await putRecords(clientFor(emu), [{ ...entries(1)[0], ExplicitHashKey: TOP.toString() }]);
      expect(top.FailedRecordCount).to.equal(0);
    });

    it('limits a record to 1 MiB of data + partition key, configurable', async () => {
      const emu = await start({ quotas: false });
      const key = 'key';
      expect(
        await rejection(emu, [{ PartitionKey: key, Data: Buffer.alloc(MiB - key.length + 1) }]),
      ).to.deep.equal([
        'ValidationException',
        `1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=${MiB - 2} cap=${MiB - 2}]' at 'records.1.member.data' failed to satisfy constraint: Member must have length less than or equal to ${MiB}`,
      ]);
      const exact = await putRecords(clientFor(emu), [
        { PartitionKey: key, Data: Buffer.alloc(MiB - key.length) },
      ]);
      expect(exact.FailedRecordCount).to.equal(0);

      const small = await start({ maxRecordBytes: 100 });
      const [name, message] = await rejection(small, [{ PartitionKey: 'k', Data: Buffer.alloc(100) }]);
      expect(name).to.equal('ValidationException');
      expect(message).to.contain('Member must have length less than or equal to 100');
    });

    it('limits a request to 5 MiB of data + partition keys', async () => {
      const emu = await start({ quotas: false });
      const record = (key: string, bytes: number) => ({ PartitionKey: key, Data: Buffer.alloc(bytes) });
      const fits = ['a', 'b', 'c', 'd', 'e'].map((k) => record(k, MiB - 1));
      expect((await putRecords(clientFor(emu), fits)).FailedRecordCount).to.equal(0);
      expect(await rejection(emu, [...fits.slice(0, 4), record('e', MiB - 1), record('f', 0)])).to.deep.equal(
        ['InvalidArgumentException', 'Records size exceeds 5 MB limit'],
      );
    });

    it('lists several violations in one ValidationException and rejects the whole request', async () => {
      const emu = await start();
      const [name, message] = await rejection(emu, [
        { PartitionKey: '', Data: Buffer.from('x') },
        ...entries(3),
        { PartitionKey: 'k', Data: Buffer.from('x'), ExplicitHashKey: 'x' },
      ]);
      expect(name).to.equal('ValidationException');
      expect(message).to.match(
        /^2 validation errors detected: .*records\.1\.member\.partitionKey.*; .*records\.5\.member\.explicitHashKey/,
      );
      expect(emu.records).to.have.length(0);
    });

    it('validates PutRecord the same way', async () => {
      const emu = await start();
      const error = await failure(
        clientFor(emu).send(
          new PutRecordCommand({ StreamName: 'demo', PartitionKey: '', Data: Buffer.from('x') }),
        ),
      );
      expect(error.name).to.equal('ValidationException');
      expect(error.message).to.equal(
        "1 validation error detected: Value '' at 'partitionKey' failed to satisfy constraint: Member must have length greater than or equal to 1",
      );
    });
  });
});
