// Scenario 5's producer, alone in its process and run as users run the package (the built dist, plain
// node, no TypeScript loader): 1M × 1 KiB records from an async generator through putAll() with default
// buffer limits. Reports its peak RSS to the parent.
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { lastValueFrom, tap } from 'rxjs';
import { putAll } from '../dist/index.js';

const [endpoint, countArg] = process.argv.slice(2);
const count = Number(countArg);
const client = new KinesisClient({
  endpoint,
  region: 'us-east-1',
  credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
  requestHandler: new NodeHttpHandler(),
});

async function* records() {
  for (let i = 0; i < count; i++) {
    const data = Buffer.alloc(1024, 0x62);
    data.writeUInt32BE(i, 0);
    yield { PartitionKey: `device-${i % 5000}`, Data: data };
  }
}

const started = Date.now();
let delivered = 0;
await lastValueFrom(
  putAll(records(), {
    client,
    streamName: 'bench',
    shardRecordsPerSecond: Infinity,
    shardBytesPerSecond: Infinity,
  }).pipe(tap((e) => e.response.Records.forEach((r) => r.SequenceNumber && delivered++))),
);
client.destroy();
// maxRSS is in KiB.
process.send({
  peakRssMiB: process.resourceUsage().maxRSS / 1024,
  delivered,
  seconds: (Date.now() - started) / 1000,
});
