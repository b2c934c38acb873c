/**
 * A producer writing through the spool until it is SIGKILLed (see `spool-kill.ts`). It puts items `first`
 * .. `total − 1` (`Data` = `item <n>`), at most `outstanding` puts waiting at once, and prints `P <n>` once
 * put(n) resolved — the item is in the spool, which is what the source may forget (an MQTT ack, a cursor
 * commit). Stdout is a pipe, which Node writes synchronously on Linux, so a line printed before the kill is
 * a line the parent gets. Prints `READY` once the producer is built, `C <kind> <lost>` per damage report,
 * and `DONE` after `end()` resolved.
 *
 * Run as `node --import tsx bench/support/spool-kill-child.ts '<SpoolKillChildConfig as JSON>'`.
 */
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { KinesisProducer, type SpoolFsync } from '../../src/index.js';

export interface SpoolKillChildConfig {
  endpoint: string;
  directory: string;
  first: number;
  total: number;
  /** maxBufferedRecords: the in-memory window read back from the spool. */
  window: number;
  /** put() calls waiting at once. */
  outstanding: number;
  fsync: SpoolFsync;
  keys: number;
}

const config = JSON.parse(process.argv[2] ?? '{}') as SpoolKillChildConfig;
const out = (line: string) => process.stdout.write(`${line}\n`);
const client = new KinesisClient({
  endpoint: config.endpoint,
  region: 'us-east-1',
  credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
  requestHandler: new NodeHttpHandler(),
});
const producer = new KinesisProducer({
  client,
  streamName: 'demo',
  lingerMs: 10,
  maxBufferedRecords: config.window,
  // Ride out anything: the spool, not a retry budget, is what keeps records here.
  maxAttempts: Infinity,
  recordTtlMs: Infinity,
  spool: {
    directory: config.directory,
    fsync: config.fsync,
    segmentBytes: 64 * 1024,
    onCorruption: (c) => out(`C ${c.kind} ${c.lostEntries ?? 0}`),
  },
});
out('READY');
const waiting = new Set<Promise<void>>();
for (let n = config.first; n < config.total; n++) {
  while (waiting.size >= config.outstanding) await Promise.race(waiting);
  const put: Promise<void> = producer
    .put({ PartitionKey: `k${n % config.keys}`, Data: Buffer.from(`item ${n}`) })
    .then(() => {
      out(`P ${n}`);
      waiting.delete(put);
    });
  waiting.add(put);
}
await Promise.all(waiting);
await producer.end();
client.destroy();
out('DONE');
