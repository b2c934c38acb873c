/** Test support: KPL aggregates read back by `aws-kinesis-agg`, the independent decoder the specs trust. */
import { deaggregateSync, type UserRecord } from 'aws-kinesis-agg';

/** The user records a KCL-style consumer reads from one Kinesis record (checksum verified). */
export function decodeWithAwsKinesisAgg(entry: {
  PartitionKey: string;
  ExplicitHashKey?: string;
  Data: Uint8Array;
}): { partitionKey: string; explicitHashKey: string | undefined; data: Buffer }[] {
  let out: UserRecord[] | undefined;
  let failure: Error | undefined;
  deaggregateSync(
    {
      partitionKey: entry.PartitionKey,
      explicitPartitionKey: entry.ExplicitHashKey,
      data: Buffer.from(entry.Data).toString('base64'),
      sequenceNumber: '1',
    } as never,
    true,
    (err, records) => {
      failure = err ?? undefined;
      out = records;
    },
  );
  if (failure) throw failure;
  return out!.map((r) => ({
    partitionKey: r.partitionKey,
    explicitHashKey: r.explicitPartitionKey,
    data: Buffer.from(r.data, 'base64'),
  }));
}
