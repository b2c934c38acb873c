/**
 * `rx-kinesis emulator`: the `rx-kinesis/testing` emulator as a server for any language. It prints its
 * endpoint on stdout, serves until SIGINT/SIGTERM, then prints each stream's counters as one JSON line and
 * exits 0 with every socket closed.
 */
import { readFile } from 'node:fs/promises';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { startEmulator, type EmulatorOptions, type KinesisEmulator } from '../testing/index.js';
import { UsageError, type EmulatorConfig } from './args.js';

/**
 * The JSON of `--config FILE`: `EmulatorOptions` (without `clock`, `streamName` and `shards`) plus where to
 * listen and which streams to create. Command-line flags win over it.
 *
 * @example
 * ```json
 * { "port": 4567, "streams": [{ "name": "events", "shards": 4 }], "quotas": { "recordsPerSecond": 500 },
 *   "faults": { "seed": 7, "recordFailureRate": 0.05 } }
 * ```
 */
export interface EmulatorConfigFile extends Omit<EmulatorOptions, 'clock' | 'streamName' | 'shards'> {
  host?: string;
  port?: number;
  streams?: { name: string; shards?: number }[];
}

/**
 * What the emulator process is given besides its arguments.
 *
 * @example
 * ```ts
 * const io: EmulatorIo = { stdout: process.stdout, stderr: process.stderr, signals: process };
 * ```
 */
export interface EmulatorIo {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly signals: Pick<NodeJS.Process, 'once' | 'off'>;
}

/** Port of the standalone emulator when none is given: kinesalite's, so existing setups find it. */
export const DEFAULT_PORT = 4567;

async function readConfig(path: string | undefined): Promise<EmulatorConfigFile> {
  if (path === undefined) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new UsageError(`--config ${path}: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new UsageError(`--config ${path}: expected a JSON object`);
  }
  return parsed as EmulatorConfigFile;
}

/**
 * Starts the emulator as configured, prints its endpoint, and resolves with exit code 0 once a signal
 * has shut it down.
 *
 * @example
 * ```ts
 * process.exitCode = await runEmulator(parseEmulatorArgs(['--port', '0']), io);
 * ```
 */
export async function runEmulator(config: EmulatorConfig, io: EmulatorIo): Promise<number> {
  const file = await readConfig(config.configFile);
  const streams =
    config.streams.length > 0 ? config.streams : (file.streams ?? [{ name: 'demo', shards: 1 }]);
  const host = config.host ?? file.host ?? '127.0.0.1';
  const port = config.port ?? file.port ?? DEFAULT_PORT;
  const { host: _h, port: _p, streams: _s, ...options } = file;
  const [first, ...more] = streams;
  let emulator: KinesisEmulator;
  try {
    emulator = await startEmulator({
      ...options,
      streamName: first.name,
      shards: first.shards ?? 1,
      ...(config.region === undefined ? {} : { region: config.region }),
      ...(config.quotas === undefined ? {} : { quotas: config.quotas }),
      faults: { ...options.faults, ...config.faults },
    });
    for (const s of more) emulator.createStream(s.name, s.shards ?? 1);
  } catch (error) {
    if (error instanceof RangeError || error instanceof TypeError) throw new UsageError(error.message);
    throw error;
  }
  let forwarder: Forwarder;
  try {
    forwarder = await Forwarder.listen(host, port, new URL(emulator.endpoint));
  } catch (error) {
    await emulator.close();
    throw error;
  }

  const endpoint = `http://${host.includes(':') ? `[${host}]` : host}:${forwarder.port}`;
  const quotas = options.quotas === false || config.quotas === false ? 'off' : 'on';
  io.stdout.write(
    `rx-kinesis emulator listening on ${endpoint}\n` +
      `streams: ${streams.map((s) => `${s.name} (${s.shards ?? 1} shards)`).join(', ')}; quotas ${quotas}; region ${emulator.region}\n` +
      `try: AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x aws --endpoint-url ${endpoint} --region ${emulator.region}` +
      ` kinesis list-shards --stream-name ${first.name}\n`,
  );

  let onSignal: (signal: NodeJS.Signals) => void = () => {};
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    onSignal = resolve;
    io.signals.once('SIGINT', onSignal);
    io.signals.once('SIGTERM', onSignal);
  });
  io.signals.off('SIGINT', onSignal);
  io.signals.off('SIGTERM', onSignal);
  const counters = Object.fromEntries(
    streams.map((s) => {
      const { accepted, throttled, failed, bytes } = emulator.stats(s.name);
      return [s.name, { accepted, throttled, failed, bytes }];
    }),
  );
  await forwarder.close();
  await emulator.close();
  io.stderr.write(`${signal}: emulator stopped\n`);
  io.stdout.write(
    `${JSON.stringify({ streams: counters, requests: emulator.stats(first.name).requests })}\n`,
  );
  return 0;
}

/**
 * Listens on the asked host and port and relays each connection, byte for byte, to the emulator (which
 * picks a free loopback port itself): HTTP/1.1 and HTTP/2 pass alike, and a reset the emulator injects
 * reaches the client as a reset.
 */
class Forwarder {
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    private readonly target: URL,
  ) {}

  static async listen(host: string, port: number, target: URL): Promise<Forwarder> {
    const server = createServer({ noDelay: true });
    const forwarder = new Forwarder(server, target);
    server.on('connection', (socket) => forwarder.relay(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    return forwarder;
  }

  get port(): number {
    const address = this.server.address();
    return typeof address === 'object' && address !== null ? address.port : 0;
  }

  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const socket of this.sockets) socket.destroy();
    await closed;
  }

  private relay(client: Socket): void {
    const upstream = connect({ host: this.target.hostname, port: Number(this.target.port), noDelay: true });
    for (const socket of [client, upstream]) {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    }
    client.pipe(upstream);
    upstream.pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ECONNRESET' && !client.destroyed) client.resetAndDestroy();
      else client.destroy();
    });
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  }
}
