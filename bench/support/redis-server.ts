/**
 * A real `redis-server` of a spec's own, on a free loopback port, with no persistence: started by the spec,
 * stopped after it. Never the system instance (CI's Debian package may start one on 6379).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';

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

/** A port nobody listens on now: bind port 0, read it, let it go (redis-server needs an explicit port). */
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

/** Sends PING over a raw socket; resolves true on +PONG. */
function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')));
  });
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
  // Another process may take the port between freePort() and redis binding it: try a few.
  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const child = spawn(
      REDIS_SERVER_BINARY,
      [
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
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout!.on('data', (d) => (output += d));
    child.stderr!.on('data', (d) => (output += d));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    let gone = false;
    void exited.then(() => (gone = true));
    const deadline = Date.now() + 10_000;
    while (!gone && Date.now() < deadline) {
      if (await ping(port)) return handle(child, port, exited);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    if (!gone) {
      child.kill('SIGKILL');
      await exited;
    }
    if (attempt >= 3) throw new Error(`redis-server did not start on port ${port}: ${output.trim()}`);
  }
}

function handle(child: ChildProcess, port: number, exited: Promise<void>): RedisServer {
  let stopped: Promise<void> | undefined;
  // A run that ends without stop() (an uncaught error, a closed pipe) must not leave the server behind.
  const orphaned = () => child.kill('SIGKILL');
  process.once('exit', orphaned);
  void exited.then(() => process.removeListener('exit', orphaned));
  return {
    host: '127.0.0.1',
    port,
    pid: child.pid!,
    stop(signal: NodeJS.Signals = 'SIGKILL') {
      stopped ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill(signal);
        await exited;
      })();
      return stopped;
    },
  };
}
