/**
 * `npm run example:mqtt`: a sensor bridge, MQTT → Kinesis, at-least-once end to end.
 *
 * The bridge subscribes to `sensors/+/readings` at QoS 1 on a persistent session (a fixed client id, no
 * clean start, a session that outlives the connection), and writes each message to Kinesis: partition key =
 * the device id from the topic, Data = the payload. The broker keeps a QoS 1 message until it gets its
 * PUBACK, and the bridge sends that PUBACK only once the record is safe on our side:
 * - `--spool DIR` (or `BRIDGE_SPOOL`), `--ack accepted` (its default): once `producer.put()` resolves,
 *   which with the producer's durable spool (`spool: { directory }`) means the record is on disk
 *   (fdatasync'd, one per group of appends). The fast safe mode: put() does not wait for Kinesis, so a
 *   request fills with many records while the broker gets its PUBACKs. A restarted bridge on the same
 *   directory first sends what the killed one left in the spool.
 * - `--ack delivered` (the default without a spool): once Kinesis has it (a SequenceNumber). Safe without
 *   any disk, but mqtt.js hands messages over one at a time (its `handleMessage` hook, the documented way to
 *   defer an ack) and MQTT wants PUBACKs in arrival order, so this moves one record per PutRecords round trip.
 * - `--ack accepted` without a spool: once the producer holds the record in memory; a crash loses what was
 *   held. `--ack received`: at once, before the producer has it; a crash loses every record the broker
 *   already forgot. Both only as the controls of `spec/mqtt-bridge.spec.ts`.
 * Kill the bridge at any moment and restart it with the same client id (and spool): the broker redelivers
 * every message not acknowledged and the spool replays every record not delivered, so nothing is lost; a
 * record that landed (or was spooled) but whose PUBACK or spool ack was cut off is sent twice
 * (at-least-once: consumers dedupe on the payload's device + seq).
 *
 * Without `MQTT_URL` the example starts its own mosquitto (Debian's `mosquitto` package) on a free loopback
 * port; without `KINESIS_STREAM` it writes to the `rx-kinesis/testing` emulator. A simulated fleet publishes
 * `--devices` × `--readings` readings at QoS 1, progress is printed each second, and at the end the
 * emulator's ledger is checked: exits 0 only if every reading the broker acknowledged arrived. The demo
 * spools to a new temp directory (removed after) unless given `--spool DIR` or `--ack delivered`.
 *
 * `--bridge-only` runs just the bridge until SIGINT/SIGTERM (the spec runs it so, to kill it). A real
 * stream: `KINESIS_STREAM` plus the SDK's own settings (`AWS_REGION`, credentials, `AWS_ENDPOINT_URL_KINESIS`).
 * Environment: `MQTT_URL`, `MQTT_TOPIC` (default `sensors/+/readings`), `MQTT_CLIENT_ID` (default
 * `rx-kinesis-bridge`), `KINESIS_STREAM`, `BRIDGE_SPOOL` (the spool directory, as `--spool`).
 *
 *     npm run example:mqtt -- --devices 20 --readings 50                  # spool, ack accepted
 *     npm run example:mqtt -- --devices 20 --readings 50 --ack delivered  # no spool
 */
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { emulatorClient } from './support/target.js';
import mqtt, { type IPublishPacket, type MqttClient } from 'mqtt';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
// In your code: `from 'rx-kinesis'` and `from 'rx-kinesis/testing'`.
import { KinesisProducer, type KinesisEmission, type SpooledRecord } from '../src/index.js';
import { startEmulator, type ExpectedRecord, type KinesisEmulator } from '../src/testing/index.js';
import { positiveInteger } from './support/args.js';
import { startMosquitto, type Mosquitto } from './support/mosquitto.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

/** When the bridge acknowledges a message to the broker. */
type AckWhen = 'delivered' | 'accepted' | 'received';

interface BridgeOptions {
  /** The broker, e.g. `mqtt://127.0.0.1:1883`. */
  url: string;
  /** A filter with one `+` level: the device id. */
  topic: string;
  /** Fixed, so a restarted bridge resumes its session and gets what was not acknowledged. */
  clientId: string;
  client: KinesisClient;
  streamName: string;
  ack: AckWhen;
  /** The spool directory: `put()` resolves once the record is on disk there. */
  spool?: string;
  /** How long records wait for a request to fill (`lingerMs`). */
  lingerMs?: number;
}

/** What a running bridge has done so far. */
interface BridgeCounts {
  received: number;
  acked: number;
  delivered: number;
  /** Of those delivered, records a killed bridge left in the spool (this bridge never acked them). */
  replayed: number;
  failed: number;
}

/** The device id: the topic level where the filter has its `+`. */
function deviceIdOf(filter: string, topic: string): string {
  const level = filter.split('/').indexOf('+');
  return topic.split('/')[level] ?? '';
}

interface Message {
  readonly deviceId: string;
  readonly payload: Buffer;
  /** Settles once the record is final: resolves delivered, rejects finally failed. */
  readonly final: Deferred;
}

interface Deferred {
  readonly promise: Promise<void>;
  resolve(): void;
  reject(error: Error): void;
}

// Promise.withResolvers() needs Node 22; the package supports Node 20.
function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

/**
 * Starts a bridge and resolves once it is subscribed. `stop()` takes no more messages, sends what the
 * producer holds, and disconnects, keeping the session for the next start.
 */
async function startBridge(options: BridgeOptions): Promise<{ counts: BridgeCounts; stop(): Promise<void> }> {
  const counts: BridgeCounts = { received: 0, acked: 0, delivered: 0, replayed: 0, failed: 0 };
  // With a spool, the emissions carry the records read back from it (this process's or a killed one's),
  // not our messages: nothing waits on them, since put() resolving already meant durable.
  const onSpooledEmission = (e: KinesisEmission<SpooledRecord>) => {
    if (e.aggregated) return; // not enabled here
    e.items.forEach((r, i) => {
      if (e.retrying[i]) return;
      if (e.response.Records?.[i]?.SequenceNumber) {
        counts.delivered++;
        if (r.replayed) counts.replayed++;
      } else counts.failed++; // finally failed: it left the spool, so it is counted (and the demo exits 1)
    });
  };
  const onEmission = (e: KinesisEmission<Message>) => {
    if (e.aggregated) return; // not enabled here
    e.items.forEach((m, i) => {
      if (e.retrying[i]) return;
      if (e.response.Records?.[i]?.SequenceNumber) {
        counts.delivered++;
        m.final.resolve();
      } else {
        counts.failed++;
        m.final.reject(new Error(`record of ${m.deviceId} failed: ${e.response.Records?.[i]?.ErrorCode}`));
      }
    });
  };
  const producerOptions = {
    client: options.client,
    streamName: options.streamName,
    toRecord: (m: Message) => ({ PartitionKey: m.deviceId, Data: m.payload }),
    // Acking on delivery, the next message only comes once this one is delivered: nothing would join it.
    lingerMs: options.lingerMs ?? (options.ack === 'delivered' ? 0 : 100),
  };
  // The switch to disk: with `spool`, put() resolves once the record is durable, which makes `--ack
  // accepted` safe across kill -9 (defaults: fsync per batch, block when full — the broker then holds on).
  const producer = options.spool
    ? new KinesisProducer<Message>(
        { ...producerOptions, spool: { directory: options.spool } },
        onSpooledEmission,
      )
    : new KinesisProducer<Message>(producerOptions, onEmission);

  let stopping = false;
  const client: MqttClient = mqtt.connect(options.url, {
    clientId: options.clientId,
    protocolVersion: 5,
    // A persistent session: the broker keeps the subscription and queues QoS 1 messages while we are away.
    clean: false,
    // Receive Maximum: QoS 1 messages the broker sends before it waits for PUBACKs. Handled one at a time
    // anyway; this bounds what a backlog puts on the wire at once (MQTT 5's default is 65,535).
    properties: { sessionExpiryInterval: 24 * 3600, receiveMaximum: 100 },
    reconnectPeriod: 1000,
    resubscribe: false,
    manualConnect: true,
  });
  // mqtt.js calls this for each PUBLISH, one at a time, and sends the PUBACK when `done` is called: the
  // supported way to defer an ack (customHandleAcks only picks the reason code, and only with MQTT 5).
  client.handleMessage = (packet, done) => {
    if (packet.cmd !== 'publish') return done();
    const publish = packet as IPublishPacket;
    if (stopping) return; // never acked: the broker sends it again to the next bridge
    counts.received++;
    const message: Message = {
      deviceId: deviceIdOf(options.topic, publish.topic),
      payload: Buffer.from(publish.payload),
      final: deferred(),
    };
    message.final.promise.catch(() => {}); // observed below, or reported by the emission count
    const acked = () => {
      counts.acked++;
      done();
    };
    producer.put(message).then(
      () => {
        if (options.ack === 'received') return;
        if (options.ack === 'accepted') return acked();
        message.final.promise.then(acked, (error: unknown) => {
          // Not acked: a restarted bridge gets it again. Carrying on would ack later messages past it.
          console.error(`bridge: ${String(error)}; stopping without acknowledging it`);
          stopping = true;
          client.end(true);
          process.exitCode = 1;
        });
      },
      (error: unknown) => {
        console.error(`bridge: the producer refused a record: ${String(error)}`);
        stopping = true;
        client.end(true);
        process.exitCode = 1;
      },
    );
    if (options.ack === 'received') acked();
  };
  client.on('error', (error) => console.error(`bridge: mqtt: ${error.message}`));
  // A resumed session has the subscription already, and the broker sends its backlog at once: a SUBACK
  // would queue behind all of it (mqtt.js handles packets one at a time), so only a new session subscribes
  // (the first start, or a broker that lost its state). Hence `resubscribe: false` above.
  const subscribed = new Promise<void>((resolve, reject) => {
    client.on('connect', (connack) => {
      if (connack.sessionPresent) return resolve();
      client.subscribe(options.topic, { qos: 1 }, (error) => (error ? reject(error) : resolve()));
    });
    client.once('error', reject);
  });
  client.connect();
  await subscribed;

  return {
    counts,
    async stop() {
      stopping = true;
      await producer.end();
      await client.endAsync();
    },
  };
}

// ---------------------------------------------------------------------------------------------------------
// The runnable example.

const { values: args } = parseArgs({
  options: {
    'bridge-only': { type: 'boolean', default: false },
    ack: { type: 'string' },
    spool: { type: 'string' },
    devices: { type: 'string', default: '20' },
    readings: { type: 'string', default: '25' },
    'linger-ms': { type: 'string' },
    'progress-ms': { type: 'string', default: '1000' },
  },
});
/** `--spool`, else `BRIDGE_SPOOL`; the demo (not `--bridge-only`) makes a temp one unless `--ack delivered`. */
const SPOOL = args.spool ?? (process.env.BRIDGE_SPOOL || undefined);
const ackArg = args.ack ?? (SPOOL || !args['bridge-only'] ? 'accepted' : 'delivered');
if (ackArg !== 'delivered' && ackArg !== 'accepted' && ackArg !== 'received') {
  console.error(`--ack must be delivered, accepted or received, got ${ackArg}`);
  process.exit(2);
}
const ACK: AckWhen = ackArg;
if (SPOOL && ACK === 'delivered') {
  // put() resolves on disk and emissions carry the spooled records, not the messages: acking on delivery
  // would have nothing to wait on. Without the spool it needs no disk.
  console.error('--ack delivered is the mode without a spool; with --spool, ack accepted');
  process.exit(2);
}
const DEVICES = positiveInteger('--devices', args.devices);
const READINGS = positiveInteger('--readings', args.readings);
const PROGRESS_MS = positiveInteger('--progress-ms', args['progress-ms']);
const LINGER_MS = args['linger-ms'] === undefined ? undefined : Number(args['linger-ms']);
const TOPIC = process.env.MQTT_TOPIC ?? 'sensors/+/readings';
const CLIENT_ID = process.env.MQTT_CLIENT_ID ?? 'rx-kinesis-bridge';

/** This run's bridge, from its command line: the broker, the stream and the spool vary by mode. */
const bridgeFor = (url: string, client: KinesisClient, streamName: string, spool: string | undefined) =>
  startBridge({
    url,
    topic: TOPIC,
    clientId: CLIENT_ID,
    client,
    streamName,
    ack: ACK,
    spool,
    lingerMs: LINGER_MS,
  });

if (args['bridge-only']) await runBridgeOnly();
else await runExample();

function progressLine(c: BridgeCounts): string {
  return (
    `bridge: ${c.received} received, ${c.acked} acked, ${c.delivered} delivered ` +
    `(${c.replayed} replayed), ${c.failed} failed`
  );
}

/** The bridge alone, until a signal: on a real broker and stream, or as the spec's child process. */
async function runBridgeOnly(): Promise<void> {
  const url = process.env.MQTT_URL;
  const streamName = process.env.KINESIS_STREAM;
  if (!url || !streamName) {
    console.error('--bridge-only needs MQTT_URL and KINESIS_STREAM');
    process.exit(2);
  }
  const client = new KinesisClient({});
  const bridge = await bridgeFor(url, client, streamName, SPOOL);
  console.log(`READY ${process.pid}`);
  let last = '';
  const progress = setInterval(() => {
    const line = progressLine(bridge.counts);
    if (line !== last) console.log((last = line));
  }, PROGRESS_MS);
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  console.log(`${signal}: sending what is held, then disconnecting`);
  clearInterval(progress);
  await bridge.stop();
  console.log(progressLine(bridge.counts));
  client.destroy();
}

/** Broker, stream and bridge, a fleet publishing, and the check at the end. */
async function runExample(): Promise<void> {
  let broker: Mosquitto | undefined;
  let emu: KinesisEmulator | undefined;
  const url = process.env.MQTT_URL ?? (broker = await startMosquitto()).url;
  const streamName = process.env.KINESIS_STREAM ?? 'sensors';
  let client: KinesisClient;
  if (process.env.KINESIS_STREAM) {
    client = new KinesisClient({});
  } else {
    emu = await startEmulator({ streamName, shards: 2 });
    client = emulatorClient(emu);
  }
  // The demo spools unless told to ack on delivery; a temp spool is its own, removed at the end.
  const tempSpool =
    !SPOOL && ACK !== 'delivered' ? await mkdtemp(join(tmpdir(), 'mqtt-bridge-spool-')) : undefined;
  const spool = SPOOL ?? tempSpool;
  console.log(
    `broker ${url}${broker ? ' (mosquitto, started here)' : ''}, stream "${streamName}"` +
      `${emu ? ` on the emulator ${emu.endpoint}` : ''}; ${DEVICES} devices × ${READINGS} readings, ack ${ACK}` +
      `${spool ? `, spool ${spool}${tempSpool ? ' (temp)' : ''}` : ', no spool'}`,
  );
  const bridge = await bridgeFor(url, client, streamName, spool);

  // The fleet: one MQTT connection, each device publishing its readings at QoS 1 in turn. A reading counts
  // as published once the broker acknowledged it: from then on it is the broker's and the bridge's.
  const fleet = await mqtt.connectAsync(url, { clientId: `fleet-${process.pid}`, protocolVersion: 5 });
  const published: ExpectedRecord[] = [];
  const started = performance.now();
  const progress = setInterval(
    () => console.log(`fleet: ${published.length} published | ${progressLine(bridge.counts)}`),
    1000,
  );
  for (let seq = 0; seq < READINGS; seq++) {
    await Promise.all(
      Array.from({ length: DEVICES }, async (_, d) => {
        const deviceId = `sensor-${String(d).padStart(3, '0')}`;
        const payload = JSON.stringify({
          deviceId,
          seq,
          celsius: Math.round((20 + 5 * Math.sin(seq / 7 + d)) * 100) / 100,
        });
        await fleet.publishAsync(TOPIC.replace('+', deviceId), payload, { qos: 1 });
        published.push({ partitionKey: deviceId, data: payload });
      }),
    );
  }
  await fleet.endAsync();
  // Everything published gets acked (once spooled, or delivered): wait for that (or give up after 60 s).
  for (const deadline = Date.now() + 60_000; bridge.counts.acked < published.length && Date.now() < deadline;)
    await new Promise((resolve) => setTimeout(resolve, 50));
  clearInterval(progress);
  await bridge.stop();
  const seconds = (performance.now() - started) / 1000;
  console.log(`fleet: ${published.length} published | ${progressLine(bridge.counts)}`);
  if (tempSpool) await rm(tempSpool, { recursive: true, force: true });

  let ok = bridge.counts.failed === 0;
  if (emu) {
    const lost = emu.missing(published).length;
    const duplicates = emu.duplicates(published).count;
    console.log(
      `summary: ${seconds.toFixed(1)} s (${(published.length / seconds).toFixed(0)} readings/s), ` +
        `${published.length} published, ${emu.records.length} in the stream, ` +
        `${lost} lost, ${duplicates} duplicates, ${bridge.counts.failed} failed`,
    );
    ok &&= lost === 0;
  } else {
    console.log(
      `summary: ${seconds.toFixed(1)} s, ${published.length} published, ${bridge.counts.delivered} delivered`,
    );
    ok &&= bridge.counts.delivered >= published.length;
  }
  client.destroy();
  await emu?.close();
  await broker?.stop();
  process.exitCode = ok ? 0 : 1;
}
