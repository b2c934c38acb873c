/**
 * A real `redis-server` of a spec's own, on a free loopback port, with no persistence: started by the spec,
 * stopped after it. Never the system instance (CI's Debian package may start one on 6379).
 */
import { existsSync } from 'node:fs';
import { connects, startDaemon } from '../../examples/support/daemon.js';

/** Where Debian's `redis-server` package puts the binary; `REDIS_SERVER` overrides it. */
export const REDIS_SERVER_BINARY = process.env.REDIS_SERVER ?? '/usr/bin/redis-server';

/** A running redis-server. */
export interface RedisServer {
  readonly host: '127.0.0.1';
  readonly port: number;
  /** The process id, e.g. to kill it with a signal of the spec's choice. */
  readonly pid: number;
  /** Kills it (SIGKILL by default: an abrupt loss, as a crashed server) and waits until it is gone. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Whether the cluster specs can run. Outside CI a missing binary skips them, loudly; in CI (`CI` set) it is
 * an error, so a green CI run always means they ran.
 *
 * @example
 * ```ts
 * before(function () {
 *   if (!redisAvailable(this)) return; // skipped, with the reason printed
 * });
 * ```
 */
export function redisAvailable(context: Mocha.Context): boolean {
  if (existsSync(REDIS_SERVER_BINARY)) return true;
  const why = `redis-server not installed at ${REDIS_SERVER_BINARY} (apt-get install redis-server)`;
  if (process.env.CI) throw new Error(`${why}: CI must run the cluster specs (.ci/run installs it)`);
  console.warn(`\n  ************************************************************`);
  console.warn(`  SKIPPED: ${why}`);
  console.warn(`  ************************************************************\n`);
  context.skip();
  return false;
}

/**
 * Starts `redis-server` on a free loopback port and resolves once it answers PING.
 *
 * @example
 * ```ts
 * const redis = await startRedis();
 * const limiter = { datastore: 'ioredis', clientOptions: { host: redis.host, port: redis.port } } as const;
 * // ...
 * await redis.stop();
 * ```
 */
export async function startRedis(): Promise<RedisServer> {
  const daemon = await startDaemon({
    name: 'redis-server',
    binary: REDIS_SERVER_BINARY,
    args: (port) => [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--loglevel',
      'warning',
    ],
    // PING over a raw socket; ready on +PONG.
    ready: (port) =>
      connects(port, (socket, done) => {
        socket.once('data', (data) => done(data.toString().startsWith('+PONG')));
        socket.write('PING\r\n');
      }),
    stopSignal: 'SIGKILL',
  });
  return { host: '127.0.0.1', port: daemon.port, pid: daemon.pid, stop: (signal) => daemon.stop(signal) };
}
