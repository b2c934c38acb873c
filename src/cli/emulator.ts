/**
 * `rx-kinesis emulator`: the `rx-kinesis/testing` emulator as a server for any language. It prints its
 * endpoint on stdout, serves until SIGINT/SIGTERM, then prints each stream's counters as one JSON line and
 * exits 0 with every socket closed. The emulator listens on the asked host and port itself: no relay, so
 * what a client sees (HTTP/2 sessions, injected resets) is exactly what the emulator did.
 */
import { readFile } from 'node:fs/promises';
import {
  startEmulator,
  type EmulatorOptions,
  type EmulatorStats,
  type KinesisEmulator,
} from '../testing/index.js';
import { UsageError, type EmulatorConfig } from './args.js';

/**
 * The JSON of `--config FILE`: `EmulatorOptions` without `clock` (and with `streams`, not
 * `streamName`/`shards`). Command-line flags win over it.
 *
 * @example
 * ```json
 * { "port": 4567, "streams": [{ "name": "events", "shards": 4 }], "quotas": { "recordsPerSecond": 500 },
 *   "faults": { "seed": 7, "recordFailureRate": 0.05 }, "keepRecords": true }
 * ```
 */
export type EmulatorConfigFile = Omit<EmulatorOptions, 'clock' | 'streamName' | 'shards'>;

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
  const options: EmulatorOptions = {
    ...file,
    streams,
    host: config.host ?? file.host ?? '127.0.0.1',
    port: config.port ?? file.port ?? DEFAULT_PORT,
    ...(config.region === undefined ? {} : { region: config.region }),
    ...(config.quotas === undefined ? {} : { quotas: config.quotas }),
    ...(config.keepRecords === undefined ? {} : { keepRecords: config.keepRecords }),
    faults: { ...file.faults, ...config.faults },
  };
  let emulator: KinesisEmulator;
  try {
    emulator = await startEmulator(options);
  } catch (error) {
    if (error instanceof RangeError || error instanceof TypeError) throw new UsageError(error.message);
    throw error;
  }

  const { endpoint, region } = emulator;
  const quotas = options.quotas === false ? 'off' : 'on';
  const kept =
    options.keepRecords === false
      ? 'records not kept (write-only: reads are refused)'
      : 'records kept for GetRecords (memory grows with every record; --no-keep-records for write-only loads)';
  io.stdout.write(
    `rx-kinesis emulator listening on ${endpoint}\n` +
      `streams: ${streams.map((s) => `${s.name} (${s.shards ?? 1} shards)`).join(', ')}; quotas ${quotas}; region ${region}\n` +
      `${kept}\n` +
      `try: AWS_ACCESS_KEY_ID=x AWS_SECRET_ACCESS_KEY=x aws --endpoint-url ${endpoint} --region ${region}` +
      ` kinesis list-shards --stream-name ${streams[0].name}\n`,
  );

  let onSignal: (signal: NodeJS.Signals) => void = () => {};
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    onSignal = resolve;
    io.signals.once('SIGINT', onSignal);
    io.signals.once('SIGTERM', onSignal);
  });
  io.signals.off('SIGINT', onSignal);
  io.signals.off('SIGTERM', onSignal);
  // Every stream there at the end: those created by clients too, not those they deleted.
  const counters: Record<string, { accepted: number; throttled: number; failed: number; bytes: number }> = {};
  let requests: EmulatorStats['requests'] | undefined; // server-wide, the same from any stream
  for (const name of emulator.streamNames) {
    const { accepted, throttled, failed, bytes, requests: all } = emulator.stats(name);
    counters[name] = { accepted, throttled, failed, bytes };
    requests ??= all;
  }
  await emulator.close();
  io.stderr.write(`${signal}: emulator stopped\n`);
  io.stdout.write(`${JSON.stringify({ streams: counters, requests: requests ?? null })}\n`);
  return 0;
}
