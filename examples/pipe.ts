/**
 * `npm run example:pipe`: pipe an Observable to a Kinesis stream, the smallest complete program.
 *
 * Runs against rx-kinesis's in-process Kinesis emulator, so it needs no AWS account: 1,000 orders from 50
 * customers are piped through `toKinesis()`, one line is printed per PutRecords call, and at the end the
 * emulator's ledger confirms that every order landed. Exits 0 only if nothing was lost.
 *
 * Against a real stream: `KINESIS_STREAM=orders AWS_REGION=eu-west-1 npm run example:pipe` (see
 * examples/support/target.ts for every variable); the ledger check is then skipped.
 */
import { interval, map, take } from 'rxjs';
// In your code: `from 'rx-kinesis'` and `from 'rx-kinesis/testing'`.
import { toKinesis } from '../src/index.js';
import { startEmulator, type ExpectedRecord } from '../src/testing/index.js';
import { emulatorClient, realStream } from './support/target.js';

const ORDERS = 1_000;

// The AWS SDK warns that its 2027 releases need Node 22; in a demo it only buries the output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

// A real stream when the environment names one; else a local stream with 2 shards, which the SDK's
// default client talks to (only the endpoint is special).
const real = realStream();
const emu = real ? undefined : await startEmulator({ streamName: 'orders', shards: 2 });
const stream = real?.stream ?? { streamName: 'orders' };
const client = real?.client ?? emulatorClient(emu!);

interface Order {
  id: number;
  customer: string;
  amount: number;
}

// The source: an order every millisecond or so, 1,000 in all.
const orders$ = interval(1).pipe(
  take(ORDERS),
  map((id): Order => ({ id, customer: `customer-${id % 50}`, amount: ((id * 37) % 10_000) / 100 })),
);

const sent: ExpectedRecord[] = []; // what we wrote, to check against the emulator at the end
let delivered = 0;
let failed = 0;

await new Promise<void>((resolve, reject) =>
  orders$
    .pipe(
      // Each item becomes a record: the partition key picks the shard (and keeps a customer's orders on one).
      map((order) => {
        const record = { PartitionKey: order.customer, Data: JSON.stringify(order) };
        sent.push({ partitionKey: record.PartitionKey, data: record.Data });
        return record;
      }),
      // Buffers records into PutRecords requests (≤ 500 records, sent after 100 ms at the latest), keeps
      // each shard under its quota and retries failed entries. Emits once per PutRecords response.
      toKinesis({ client, ...stream }),
    )
    .subscribe({
      next: (e) => {
        const perShard = new Map<string, number>();
        e.response.Records?.forEach((r, i) => {
          if (r.SequenceNumber) {
            delivered++;
            perShard.set(r.ShardId!, (perShard.get(r.ShardId!) ?? 0) + 1);
          } else if (!e.retrying[i]) {
            failed++; // finally failed: out of attempts; a real app would dead-letter e.items[i]
          }
        });
        const shards = [...perShard]
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([shard, n]) => `${shard} ×${n}`)
          .join(', ');
        console.log(
          `PutRecords: ${e.items.length} records, ${e.response.FailedRecordCount ?? 0} failed → ${shards}`,
        );
      },
      error: reject, // a KinesisSinkError (e.g. unknown stream) or an InvalidRecordError
      complete: resolve, // after the source completed and every record is delivered or finally failed
    }),
);

// The emulator's ledger says what landed; a real stream is not read back (responses only).
const lost = emu ? emu.missing(sent).length : 0;
console.log(
  `\nsummary: ${sent.length} sent, ${delivered} delivered, ${failed} failed, ` +
    (emu
      ? `${lost} lost; the emulator holds ${emu.stats().accepted} records`
      : 'not read back (a real stream)'),
);
client.destroy();
await emu?.close();
process.exitCode = lost === 0 && failed === 0 && delivered === ORDERS ? 0 : 1;
