// Scenario 9's producer, in a process of its own: the built dist through putAll(), a saturating source of
// 100-byte records for the given seconds, with the given options; then it leaves.
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { putAll } from '../dist/index.js';

const [endpoint, secondsArg, optionsJson, name] = process.argv.slice(2);
const client = new KinesisClient({
  endpoint,
  region: 'us-east-1',
  credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
  requestHandler: new NodeHttpHandler(),
});

async function* records() {
  for (let i = 0; ; i++) {
    const data = Buffer.alloc(100, 0x63);
    data.writeUInt32BE(i % 2 ** 32, 0);
    yield { PartitionKey: `${name}-${(i * 2654435761) % 1_000_003}`, Data: data };
  }
}

const subscription = putAll(records(), { client, streamName: 'bench', ...JSON.parse(optionsJson) }).subscribe(
  {
    error: (e) => {
      console.error(`${name}: ${e}`);
      process.exitCode = 1;
    },
  },
);
setTimeout(
  () => {
    subscription.unsubscribe();
    client.destroy();
  },
  Number(secondsArg) * 1000,
);
