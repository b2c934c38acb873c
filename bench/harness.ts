/** What every benchmark scenario shares: the emulator, clients, child processes, machine facts and small statistics. */
import { fork } from 'node:child_process';
import { cpus, totalmem } from 'node:os';
import { fileURLToPath } from 'node:url';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { startEmulator, type EmulatorOptions, type KinesisEmulator } from '../src/testing/index.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export const STREAM = 'bench';

/** One row of the results table. */
export interface Row {
  scenario: string;
  measure: string;
  value: string;
  target: string;
  verdict: 'met' | 'MISSED' | 'info';
  note?: string;
}

/**
 * Runs a bench child (a file in bench/) in a process of its own and resolves with the one message it sends,
 * once it has exited. By default it runs as users run the package: plain node, no NODE_OPTIONS.
 */
export async function childResult<T>(
  file: string,
  args: readonly string[],
  options: { execArgv?: string[]; env?: NodeJS.ProcessEnv } = {},
): Promise<T> {
  const child = fork(fileURLToPath(new URL(file, import.meta.url)), args, {
    execArgv: options.execArgv ?? [],
    env: options.env ?? { ...process.env, NODE_OPTIONS: '' },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let result: { value: T } | undefined;
  child.once('message', (m) => (result = { value: m as T }));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (!result) throw new Error(`${file} exited ${code} without a result`);
  return result.value;
}

export function machine(): string {
  const cpu = cpus();
  return `${cpu.length} × ${cpu[0]?.model.trim() ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${process.platform}/${process.arch}`;
}

export async function emulator(options: EmulatorOptions): Promise<KinesisEmulator> {
  return startEmulator({ streamName: STREAM, keepRecords: false, ...options });
}

/** The same client for every program compared: HTTP/1.1 keep-alive, the SDK's usual retries. */
export function clientFor(emu: KinesisEmulator): KinesisClient {
  return new KinesisClient({
    endpoint: emu.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'bench', secretAccessKey: 'bench' },
    requestHandler: new NodeHttpHandler(),
  });
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

export function median(values: readonly number[]): number {
  return percentile(
    [...values].sort((a, b) => a - b),
    50,
  );
}

/** Sum of a per-second timeline over whole seconds [from, to). */
export function sumSeconds(timeline: readonly number[], from: number, to: number): number {
  let sum = 0;
  for (let s = from; s < to; s++) sum += timeline[s] ?? 0;
  return sum;
}

export const fmt = {
  ratio: (x: number) => x.toFixed(3),
  pct: (x: number) => `${(x * 100).toFixed(2)}%`,
  int: (x: number) => Math.round(x).toLocaleString('en-US'),
};

export function verdict(ok: boolean): Row['verdict'] {
  return ok ? 'met' : 'MISSED';
}

/** Random-looking but reproducible keys. */
export function keys(count: number, prefix = 'key'): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}-${(i * 2654435761) % 1_000_003}`);
}
