/**
 * A server binary of our own (redis-server, mosquitto) on a free loopback port: started by a spec, an
 * example or the bench, and stopped after it — never a system instance, which Debian's packages may start
 * on their default ports.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createConnection, createServer, type Socket } from 'node:net';

/** A running server process. */
export interface Daemon {
  readonly port: number;
  readonly pid: number;
  /** Kills it (with the daemon's default signal unless told) and waits until it is gone. Idempotent. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export interface DaemonOptions {
  /** For messages: `redis-server`, `mosquitto`. */
  name: string;
  binary: string;
  /** The port to use; default a free one (then a port race is retried a few times). */
  port?: number;
  /** The command line for a port; may write a config file first. */
  args(port: number): string[] | Promise<string[]>;
  /** Whether it serves on that port yet: `connects`, or a protocol-level probe. */
  ready(port: number): Promise<boolean>;
  /** What `stop()` sends by default: SIGKILL for an abrupt loss, SIGTERM to let it save its state. */
  stopSignal: NodeJS.Signals;
}

/** A port nobody listens on now: bind port 0, read it, let it go (the servers need an explicit port). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Connects to a loopback port and resolves what `onConnect` decides (by default: true once connected);
 * false on an error or after 500 ms.
 */
export function connects(
  port: number,
  onConnect: (socket: Socket, done: (ok: boolean) => void) => void = (_, done) => done(true),
): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => onConnect(socket, done));
  });
}

/** Starts the daemon and resolves once `ready` says it serves; it dies with this process if not stopped. */
export async function startDaemon(options: DaemonOptions): Promise<Daemon> {
  // Another process may take the port between freePort() and the daemon binding it: try a few.
  for (let attempt = 0; ; attempt++) {
    const port = options.port ?? (await freePort());
    const child = spawn(options.binary, await options.args(port), { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout!.on('data', (d) => (output += d));
    child.stderr!.on('data', (d) => (output += d));
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    let gone = false;
    void exited.then(() => (gone = true));
    const deadline = Date.now() + 10_000;
    while (!gone && Date.now() < deadline) {
      if (await options.ready(port)) return handle(child, port, exited, options.stopSignal);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    if (!gone) {
      child.kill('SIGKILL');
      await exited;
    }
    if (attempt >= 3 || options.port !== undefined) {
      throw new Error(`${options.name} did not start on port ${port}: ${output.trim()}`);
    }
  }
}

function handle(
  child: ChildProcess,
  port: number,
  exited: Promise<void>,
  stopSignal: NodeJS.Signals,
): Daemon {
  let stopped: Promise<void> | undefined;
  // A run that ends without stop() (an uncaught error, a closed pipe) must not leave the server behind.
  const orphaned = () => child.kill('SIGKILL');
  process.once('exit', orphaned);
  void exited.then(() => process.removeListener('exit', orphaned));
  return {
    port,
    pid: child.pid!,
    stop(signal = stopSignal) {
      stopped ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) child.kill(signal);
        await exited;
      })();
      return stopped;
    },
  };
}
