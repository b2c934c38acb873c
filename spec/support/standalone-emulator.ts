/**
 * `rx-kinesis emulator` as a user runs it: a separate process (tsx on src/cli/main.ts) on a free loopback
 * port, so the specs that use it talk to the emulator only over the network, like any other language would.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** What the command prints as its last line when it stops. */
export interface EmulatorCounters {
  streams: Record<string, { accepted: number; throttled: number; failed: number; bytes: number }>;
  requests: { total: number; byOperation: Record<string, number>; errors: Record<string, number> } | null;
}

/**
 * One running `rx-kinesis emulator` process.
 *
 * @example
 * ```ts
 * const emu = await StandaloneEmulator.start(['--stream', 'events:2']);
 * // … point any client at emu.endpoint …
 * const { code, counters } = await emu.stop();
 * ```
 */
export class StandaloneEmulator {
  private out = '';
  private err = '';
  private exitCode: number | undefined;
  private readonly exited: Promise<number>;
  /** `http://127.0.0.1:PORT`, as the command printed it. */
  endpoint = '';

  private constructor(readonly child: ChildProcess) {
    child.stdout!.on('data', (c: Buffer) => (this.out += c.toString()));
    child.stderr!.on('data', (c: Buffer) => (this.err += c.toString()));
    this.exited = new Promise((done) => child.once('close', (code) => done((this.exitCode = code ?? -1))));
  }

  /** Spawns `rx-kinesis emulator --port 0 …args` and resolves once it printed its endpoint. */
  static async start(args: readonly string[]): Promise<StandaloneEmulator> {
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'emulator', '--port', '0', ...args],
      {
        cwd: root,
        env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const emu = new StandaloneEmulator(child);
    // tsx compiles on start: a few seconds on a loaded machine.
    for (let waited = 0; waited < 30_000 && emu.exitCode === undefined; waited += 50) {
      const match = /listening on (http:\/\/\S+)/.exec(emu.out);
      if (match) {
        emu.endpoint = match[1];
        return emu;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    await emu.kill();
    throw new Error(`rx-kinesis emulator did not start (exit ${emu.exitCode}): ${emu.err}`);
  }

  get stdout(): string {
    return this.out;
  }

  get stderr(): string {
    return this.err;
  }

  /** Sends `signal`, waits for the exit, and parses the counters line. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<{ code: number; counters: EmulatorCounters }> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    const code = await this.exited;
    const last = this.out.trim().split('\n').pop() ?? '';
    return { code, counters: JSON.parse(last) as EmulatorCounters };
  }

  /** For afterEach: ends the process whatever state it is in, and waits for it. */
  async kill(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
    await this.exited;
  }
}
