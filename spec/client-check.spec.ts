import { Agent } from 'node:http';
import { KinesisClient, ListShardsCommand } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { expect } from 'chai';
import {
  CONNECTION_PER_REQUEST_WARNING,
  opensConnectionPerRequest,
  warnIfConnectionPerRequest,
} from '../src/pipeline/client-check.js';
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

  it('warns once, with its code and no data, only over TLS (a plain-HTTP endpoint has no handshake)', async () => {
    const warnings: { code?: string; message: string }[] = [];
    const listen = (w: Error & { code?: string }) => warnings.push(w);
    process.on('warning', listen);
    const h2PerRequest = (protocol: string) => ({
      config: {
        endpoint: async () => ({ protocol, hostname: 'secret-host' }),
        requestHandler: {
          metadata: { handlerProtocol: 'h2' },
          httpHandlerConfigs: () => ({ disableConcurrentStreams: true }),
        },
      },
    });
    try {
      await warnIfConnectionPerRequest(h2PerRequest('http:')); // control: nothing over plain HTTP
      // No endpoint of its own: the SDK's endpoint variable names a plain-HTTP emulator (the examples in CI).
      const { endpoint: _, ...noEndpoint } = h2PerRequest('https:').config;
      const saved = process.env.AWS_ENDPOINT_URL_KINESIS;
      process.env.AWS_ENDPOINT_URL_KINESIS = 'http://127.0.0.1:4567';
      try {
        await warnIfConnectionPerRequest({ config: noEndpoint });
      } finally {
        if (saved === undefined) delete process.env.AWS_ENDPOINT_URL_KINESIS;
        else process.env.AWS_ENDPOINT_URL_KINESIS = saved;
      }
      await new Promise((r) => setImmediate(r));
      expect(warnings).to.deep.equal([]);
      await warnIfConnectionPerRequest(h2PerRequest('https:'));
      await warnIfConnectionPerRequest(h2PerRequest('https:'));
      await new Promise((r) => setImmediate(r));
      expect(warnings.map((w) => w.code)).to.deep.equal([CONNECTION_PER_REQUEST_WARNING]);
      expect(warnings[0].message).not.to.contain('secret-host');
    } finally {
      process.off('warning', listen);
    }
  });
});
