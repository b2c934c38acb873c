/**
 * An embedded local Kinesis for the examples and specs: kinesalite, in-process and in memory, on a free
 * loopback port. Everything kinesalite needs that a real Kinesis does not lives here, once:
 * - it speaks HTTP/1.1 only, so the client gets `NodeHttpHandler` (the SDK's default HTTP/2 handler fails);
 * - it rejects `StreamARN` alone, so streams are addressed by name;
 * - streams take `createStreamMs` to become ACTIVE, so `createStream` waits for that.
 */
import type { AddressInfo } from 'node:net';
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  KinesisClient,
  type KinesisClientConfig,
} from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import kinesalite from 'kinesalite';

// The SDK warns once per process that its 2027 releases need Node 22; in our demos and specs it only
// buries the output. Your own application still shows it unless you set this too.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export interface LocalKinesis {
  readonly endpoint: string;
  /** A client configured for kinesalite; the caller destroys it (or lets `close()` do so). */
  client(config?: Partial<KinesisClientConfig>): KinesisClient;
  /** Creates a stream and resolves once it is ACTIVE. */
  createStream(name: string, shards: number): Promise<void>;
  close(): Promise<void>;
}

export async function startLocalKinesis(options: { shardLimit?: number } = {}): Promise<LocalKinesis> {
  const server = kinesalite({
    createStreamMs: 0,
    deleteStreamMs: 0,
    updateStreamMs: 0,
    shardLimit: options.shardLimit ?? 50,
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const endpoint = `http://127.0.0.1:${port}`;
  const clients: KinesisClient[] = [];

  const client = (config: Partial<KinesisClientConfig> = {}): KinesisClient => {
    const c = new KinesisClient({
      endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      requestHandler: new NodeHttpHandler(),
      ...config,
    });
    clients.push(c);
    return c;
  };
  const admin = client();

  return {
    endpoint,
    client,
    async createStream(name, shards) {
      await admin.send(new CreateStreamCommand({ StreamName: name, ShardCount: shards }));
      for (;;) {
        const { StreamDescriptionSummary: s } = await admin.send(
          new DescribeStreamSummaryCommand({ StreamName: name }),
        );
        if (s?.StreamStatus === 'ACTIVE') return;
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async close() {
      for (const c of clients) c.destroy();
      server.closeAllConnections?.();
      await new Promise<void>((resolve, reject) => server.close((err) => (err ? reject(err) : resolve())));
    },
  };
}
