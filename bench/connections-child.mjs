// Scenario 17's producer, in a child process so NODE_EXTRA_CA_CERTS trusts the run's self-signed
// certificate: 20,000 records through putAll() with the client named on the command line.
import { Agent } from 'node:https';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { lastValueFrom } from 'rxjs';
import { putAll } from '../dist/index.js';

const [endpoint, kind, countArg] = process.argv.slice(2);
const count = Number(countArg);
const requestHandler =
  kind === 'keep-alive'
    ? new NodeHttpHandler({ httpsAgent: new Agent({ keepAlive: true, maxSockets: 16 }) })
    : undefined;
const client = new KinesisClient({
  endpoint,
  region: 'us-east-1',
  credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
  ...(requestHandler ? { requestHandler } : {}),
});
async function* records() {
  for (let i = 0; i < count; i++) yield { PartitionKey: `k-${i % 1000}`, Data: Buffer.alloc(100, 0x61) };
}
const started = Date.now();
await lastValueFrom(
  putAll(records(), {
    client,
    streamName: 'bench',
    shardRecordsPerSecond: Infinity,
    shardBytesPerSecond: Infinity,
    maxInFlightRequests: 16,
  }),
);
client.destroy();
process.send({ seconds: (Date.now() - started) / 1000 });
