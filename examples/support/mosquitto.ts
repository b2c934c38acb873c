/**
 * A real `mosquitto` broker of our own, on a free loopback port, for the MQTT bridge example and its spec:
 * started by them, stopped after. Never the system instance (Debian's package may start one on 1883).
 *
 * The config lives in a temp directory: one loopback listener, anonymous clients, persistence on (so
 * sessions and queued QoS 1 messages survive a broker restart on the same directory), and queue limits
 * raised: mosquitto's default `max_queued_messages 1000` silently drops QoS 1 messages for a persistent
 * client that is away longer than 1,000 messages — the very case a bridge restart creates.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connects, startDaemon } from './daemon.js';

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
  const config = join(directory, 'mosquitto.conf');
  let daemon;
  try {
    daemon = await startDaemon({
      name: 'mosquitto',
      binary: MOSQUITTO_BINARY,
      port: options.port,
      async args(port) {
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
        return ['-c', config];
      },
      ready: (port) => connects(port),
      stopSignal: 'SIGTERM',
    });
  } catch (error) {
    if (owned) await rm(directory, { recursive: true, force: true });
    throw error;
  }
  const { port, pid } = daemon;
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    pid,
    directory,
    async stop(signal) {
      await daemon.stop(signal);
      if (owned) await rm(directory, { recursive: true, force: true });
    },
  };
}
