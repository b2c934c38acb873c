/**
 * A process that writes a generated 1,000,000-record cold source with `putAll()` to the emulator at
 * `process.argv[2]` and, on SIGTERM, stops pulling and drains for `process.argv[4]` ms (`signal` +
 * `drainTimeoutMs`). It prints `READY` once records flow, then one `SUMMARY <json>` line: pulled,
 * delivered, unsent, notPulled and the SHA-256 of each delivered record's data (for the ledger check).
 */
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { hash } from 'node:crypto';
import { KinesisSinkError, putAll, type KinesisRecordInput } from '../../src/index.js';

const [endpoint, streamName, drainTimeoutMs] = [process.argv[2], process.argv[3], Number(process.argv[4])];
const TOTAL = 1_000_000;
const client = new KinesisClient({
  endpoint,
  region: 'us-east-1',
  credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
  requestHandler: new NodeHttpHandler(),
});
let pulled = 0;
function* records(): Generator<KinesisRecordInput> {
  for (let i = 0; i < TOTAL; i++) {
    pulled++;
    yield { PartitionKey: `k${i % 997}`, Data: Buffer.from(`record ${i}`) };
  }
}
const stop = new AbortController();
let signalledAt = 0;
process.once('SIGTERM', () => {
  signalledAt = performance.now();
  stop.abort();
});
const delivered: string[] = [];
let ready = false;
putAll(records(), { client, streamName, signal: stop.signal, drainTimeoutMs }).subscribe({
  next: (e) => {
    e.items.forEach((item, i) => {
      if (e.response.Records![i].SequenceNumber !== undefined)
        delivered.push(hash('sha256', item.Data as Uint8Array, 'hex'));
    });
    if (!ready && delivered.length > 0) {
      ready = true;
      process.stdout.write('READY\n');
    }
  },
  error: (e: unknown) =>
    report(
      e instanceof KinesisSinkError ? e.unsent.length : -1,
      e instanceof KinesisSinkError ? e.code : String(e),
    ),
  complete: () => report(0, undefined),
});

function report(unsent: number, error: string | undefined): void {
  const summary = {
    pulled,
    delivered: delivered.length,
    unsent,
    notPulled: TOTAL - pulled,
    error,
    drainMs: performance.now() - signalledAt,
    deliveredHashes: delivered,
  };
  process.stdout.write(`SUMMARY ${JSON.stringify(summary)}\n`);
  client.destroy();
}
