import { Agent } from 'node:http';
import { KinesisClient, ListShardsCommand } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { expect } from 'chai';
import { opensConnectionPerRequest } from '../src/pipeline/client-check.js';
import { startEmulator } from '../src/testing/index.js';

describe('opensConnectionPerRequest', () => {
  it("is true for the SDK's default client and a keep-alive-off agent, false for keep-alive and unknown clients", async () => {
    const emu = await startEmulator({ streamName: 's', shards: 1 });
    const base = {
      endpoint: emu.endpoint,
      region: 'us-east-1',
      credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
    };
    const clients = {
      default: new KinesisClient(base),
      keepAlive: new KinesisClient({ ...base, requestHandler: new NodeHttpHandler() }),
      keepAliveOff: new KinesisClient({
        ...base,
        requestHandler: new NodeHttpHandler({ httpAgent: new Agent({ keepAlive: false }) }),
      }),
    };
    try {
      // Control: before its first request the handler has not resolved its settings, so nothing is claimed.
      expect(opensConnectionPerRequest(clients.default)).to.equal(false);
      for (const c of Object.values(clients)) await c.send(new ListShardsCommand({ StreamName: 's' }));
      expect(opensConnectionPerRequest(clients.default)).to.equal(true);
      expect(opensConnectionPerRequest(clients.keepAlive)).to.equal(false);
      expect(opensConnectionPerRequest(clients.keepAliveOff)).to.equal(true);
      expect(opensConnectionPerRequest({ send: async () => ({}) })).to.equal(false);
    } finally {
      for (const c of Object.values(clients)) c.destroy();
      await emu.close();
    }
  });
});
