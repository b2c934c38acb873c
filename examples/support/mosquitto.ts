/**
 * A real `mosquitto` broker of our own, on a free loopback port, for the MQTT bridge example and its spec:
 * started by them, stopped after. Never the system instance (Debian's package may start one on 1883).
 *
 * The config lives in a temp directory: one loopback listener, anonymous clients, persistence on (so
 * sessions and queued QoS 1 messages survive a broker restart on the same directory), and queue limits
 * raised: mosquitto's default `max_queued_messages 1000` silently drops QoS 1 messages for a persistent
 * client that is away longer than 1,000 messages — the very case a bridge restart creates.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Where Debian's `mosquitto` package puts the broker; `MOSQUITTO` overrides it. */
export const MOSQUITTO_BINARY = process.env.MOSQUITTO ?? '/usr/sbin/mosquitto';

/** Why there is no broker to start, or undefined when there is one. */
export function mosquittoMissing(): string | undefined {
  if (existsSync(MOSQUITTO_BINARY)) return undefined;
  return `mosquitto not installed at ${MOSQUITTO_BINARY} (apt-get install mosquitto)`;
}

/** A running broker. */
export interface Mosquitto {
  /** `mqtt://127.0.0.1:PORT`. */
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** Its config and persistence directory (removed by `stop()` unless it was given). */
  readonly directory: string;
  /** Kills it (SIGTERM by default: mosquitto saves its persistence file) and waits until it is gone. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export interface MosquittoOptions {
  /** Config and persistence directory; reuse one to restart a broker with its sessions. Default: a new temp dir. */
  directory?: string;
  /** Port; default a free one. */
  port?: number;
}

/** A port nobody listens on now: bind port 0, read it, let it go (mosquitto needs an explicit port). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => done(true));
  });
}

/**
 * Starts mosquitto on a free loopback port and resolves once it accepts connections.
 *
 * @example
 * ```ts
 * const broker = await startMosquitto();
 * const client = await mqtt.connectAsync(broker.url);
 * // ...
 * await client.endAsync();
 * await broker.stop();
 * ```
 */
export async function startMosquitto(options: MosquittoOptions = {}): Promise<Mosquitto> {
  const missing = mosquittoMissing();
  if (missing) throw new Error(missing);
  const owned = options.directory === undefined;
  const directory = options.directory ?? (await mkdtemp(join(tmpdir(), 'rx-kinesis-mosquitto-')));
  // Another process may take the port between freePort() and mosquitto binding it: try a few.
  for (let attempt = 0; ; attempt++) {
    const port = options.port ?? (await freePort());
    const config = join(directory, 'mosquitto.conf');
    await writeFile(
      config,
      [
        `listener ${port} 127.0.0.1`,
        'allow_anonymous true',
        'persistence true',
        `persistence_location ${directory}/`,
        // Per client: messages queued while it is away, and their bytes (0 = no byte limit).
        'max_queued_messages 1000000',
        'max_queued_bytes 0',
        'log_dest stderr',
        'log_type error',
        'log_type warning',
        '',
      ].join('\n'),
    );
    const child = spawn(MOSQUITTO_BINARY, ['-c', config], { stdio: ['ignore', 'ignore', 'pipe'] });
    let output = '';
    child.stderr!.on('data', (d) => (output += d));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    let gone = false;
    void exited.then(() => (gone = true));
    const deadline = Date.now() + 10_000;
    while (!gone && Date.now() < deadline) {
      if (await accepts(port)) return handle(child, port, directory, owned, exited);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    if (!gone) {
      child.kill('SIGKILL');
      await exited;
    }
    if (attempt >= 3 || options.port !== undefined) {
      if (owned) await rm(directory, { recursive: true, force: true });
      throw new Error(`mosquitto did not start on port ${port}: ${output.trim()}`);
    }
  }
}

function handle(
  child: ChildProcess,
  port: number,
  directory: string,
  owned: boolean,
  exited: Promise<void>,
): Mosquitto {
  let stopped: Promise<void> | undefined;
  // A run that ends without stop() (an uncaught error, a closed pipe) must not leave the broker behind.
  const orphaned = () => child.kill('SIGKILL');
  process.once('exit', orphaned);
  void exited.then(() => process.removeListener('exit', orphaned));
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    pid: child.pid!,
    directory,
    stop(signal: NodeJS.Signals = 'SIGTERM') {
      stopped ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill(signal);
        await exited;
        if (owned) await rm(directory, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
}
