/**
 * `rx-kinesis put`: input lines → putAll() → Kinesis, with every record accounted for. The input is an
 * async generator that putAll() pulls only while the producer's buffer has room, so a file of any size is
 * read at the pace Kinesis takes it. A signal aborts putAll()'s `signal` (it stops pulling) and what was
 * read drains for `--drain-timeout` (`drainTimeoutMs`): the library's one shutdown mechanism. What is still
 * unsent then (the DRAIN_TIMEOUT's `unsent`) goes to the dead-letter file.
 */
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import type { Subscription } from 'rxjs';
import {
  DEFAULT_MAX_RECORD_BYTES,
  KinesisMetrics,
  KinesisSinkError,
  putAll,
  type InvalidRecordError,
  type KinesisEmission,
  type NamedStream,
} from '../index.js';
import type { PutConfig } from './args.js';
import { Progress } from './progress.js';
import { isProblem, readRecords, recordBuilder, type InputItem } from './records.js';
import { Tally } from './tally.js';

/**
 * The process around a run, passed in so specs can drive it.
 *
 * @example
 * ```ts
 * const io: PutIo = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, signals: process };
 * ```
 */
export interface PutIo {
  readonly stdin: Readable;
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  readonly signals: Pick<NodeJS.Process, 'on' | 'off'>;
}

/** Status lines on a terminal are redrawn this often; elsewhere a line is printed every 10 s. */
const TTY_INTERVAL_MS = 250;
const PLAIN_INTERVAL_MS = 10_000;

/**
 * Runs `rx-kinesis put` and resolves with its exit code (see `ExitCode`).
 *
 * @example
 * ```ts
 * process.exitCode = await runPut(parsePutArgs(process.argv.slice(3)), io);
 * ```
 */
export async function runPut(config: PutConfig, io: PutIo): Promise<number> {
  const tally = new Tally(config.deadLetter);
  const stream = config.streamARN ?? config.streamName!;
  const maxRecordBytes = config.maxRecordBytes ?? DEFAULT_MAX_RECORD_BYTES;
  const build = recordBuilder(config);
  const outstanding = new Set<InputItem>();
  const retrying = new Set<InputItem>();
  let stopped: string | undefined;
  let reading: Readable | undefined;
  let stoppedAt: { source: string; line: number } | undefined;

  async function* items(): AsyncGenerator<InputItem> {
    for (const file of config.files) {
      const source = file === '-' ? '-' : file;
      reading = file === '-' ? io.stdin : createReadStream(file);
      try {
        for await (const x of readRecords(reading, source, config.format, build, maxRecordBytes)) {
          if (stopped !== undefined) return;
          tally.read++;
          stoppedAt = { source, line: x.line };
          if (isProblem(x)) {
            tally.invalid(x);
            if (config.strict) {
              stopped = `--strict: invalid input at ${source}:${x.line}`;
              return;
            }
            continue;
          }
          outstanding.add(x);
          yield x;
        }
      } catch (error) {
        if (stopped !== undefined) return;
        throw error;
      } finally {
        if (reading !== io.stdin) reading.destroy();
      }
    }
    stoppedAt = undefined;
  }

  const settle = (item: InputItem, code: string | undefined, again: boolean) => {
    if (again) {
      retrying.add(item);
      return;
    }
    retrying.delete(item);
    outstanding.delete(item);
    if (code === undefined) tally.delivered(1);
    else tally.failed(item, code);
  };
  const onEmission = (e: KinesisEmission<InputItem>) => {
    const results = e.response.Records ?? [];
    e.items.forEach((packed, i) => {
      const code =
        results[i]?.SequenceNumber === undefined ? (results[i]?.ErrorCode ?? 'NO_RESULT') : undefined;
      if (e.aggregated) {
        (packed as readonly InputItem[]).forEach((item, j) => settle(item, code, e.retrying[i][j]));
      } else {
        settle(packed as InputItem, code, e.retrying[i]);
      }
    });
  };

  const metrics = new KinesisMetrics();
  const client = new KinesisClient({
    ...(config.endpointUrl === undefined ? {} : { endpoint: config.endpointUrl }),
    ...(config.region === undefined ? {} : { region: config.region }),
    ...(config.profile === undefined ? {} : { profile: config.profile }),
    // HTTP/1.1 with keep-alive (50 sockets, more than the 16 requests in flight), as the README's Client
    // setup advises: the SDK's default Kinesis handler opens an HTTP/2 session per request, against Kinesis a
    // TLS handshake per request (bench 17: 1.000 per request), and the library then warns the user about a
    // client the command made. On the emulator's plain HTTP the difference is small (300,000 lines, 20
    // shards: 6.7-6.8 s of CPU against 6.9-7.0 s). Bundled into dist/cli.js (a devDependency, and a
    // dependency of the SDK itself), so the command does not depend on how the user's SDK lays it out.
    requestHandler: new NodeHttpHandler(),
  });
  const progress = config.quiet
    ? undefined
    : new Progress(tally, metrics, stream, io.stderr, {
        tty: io.stderr.isTTY === true,
        intervalMs: io.stderr.isTTY === true ? TTY_INTERVAL_MS : PLAIN_INTERVAL_MS,
        retrying: () => retrying.size,
      });

  let subscription: Subscription | undefined;
  let fatal: unknown;
  let draining = false;
  const stopPulling = new AbortController();
  const done = new Promise<void>((resolve) => {
    const finish = (error?: unknown) => {
      fatal = error;
      resolve();
    };
    let source: ReturnType<typeof putAll<InputItem, boolean>>;
    try {
      source = putAll<InputItem, boolean>(items(), {
        client,
        // parseArgs refuses a command line that names neither.
        ...({ streamName: config.streamName, streamARN: config.streamARN } as NamedStream),
        toRecord: (item) => item.record,
        onInvalidRecord: (error: InvalidRecordError<InputItem>) => {
          outstanding.delete(error.item);
          tally.invalid({ ...error.item, reason: error.reason });
          if (config.strict) stop(`--strict: invalid input at ${error.item.source}:${error.item.line}`);
        },
        aggregation: config.aggregate ? { enabled: true } : undefined,
        ordering: config.ordering,
        shardRecordsPerSecond: config.shardRecordsPerSecond,
        shardBytesPerSecond: config.shardBytesPerSecond,
        maxRecordBytes: config.maxRecordBytes,
        maxAttempts: config.maxAttempts,
        maxBufferedRecords: config.maxBufferedRecords,
        metrics,
        signal: stopPulling.signal,
        drainTimeoutMs: config.drainTimeoutMs,
      });
    } catch (error) {
      finish(error);
      return;
    }
    subscription = source.subscribe({ next: onEmission, error: finish, complete: () => finish() });
  });

  const stop = (why: string) => {
    if (stopped !== undefined) return;
    stopped = why;
    // Wakes a read waiting on a quiet pipe: the generator then returns and putAll() drains.
    reading?.destroy();
  };
  const onSignal = (signal: NodeJS.Signals) => {
    if (draining) {
      abandon(`second ${signal}`);
      return;
    }
    draining = true;
    stop(signal);
    stopPulling.abort(); // putAll stops pulling; the drain's deadline (--drain-timeout) starts now
    io.stderr.write(
      `\n${signal}: stopped reading; draining ${outstanding.size} records (up to ${config.drainTimeoutMs / 1000} s, again to abandon)\n`,
    );
  };
  let abandoned: string | undefined;
  let abandonNow: () => void = () => {};
  const abandon = (why: string) => {
    abandoned = why;
    subscription?.unsubscribe();
    abandonNow();
  };
  io.signals.on('SIGINT', onSignal);
  io.signals.on('SIGTERM', onSignal);
  progress?.start();
  try {
    await Promise.race([done, new Promise<void>((resolve) => (abandonNow = resolve))]);
  } finally {
    io.signals.off('SIGINT', onSignal);
    io.signals.off('SIGTERM', onSignal);
    progress?.stop();
    subscription?.unsubscribe();
    client.destroy();
  }

  // The drain deadline passed: not a failure of the run; its rest is unsent (exit 75, the dead letter).
  if (fatal instanceof KinesisSinkError && fatal.code === 'DRAIN_TIMEOUT') abandoned = '--drain-timeout';
  if (fatal instanceof KinesisSinkError) {
    for (const item of fatal.unsent as readonly InputItem[]) {
      outstanding.delete(item);
      tally.unsent(item, abandoned === undefined ? fatal.code : 'UNSENT');
    }
    if (abandoned !== undefined) fatal = undefined;
  }
  for (const item of outstanding)
    tally.unsent(item, abandoned !== undefined ? 'UNSENT' : 'UNSENT_AFTER_ERROR');
  let deadLetterError: unknown;
  await tally.close().catch((error: unknown) => (deadLetterError = error));

  const isFatal = fatal !== undefined || deadLetterError !== undefined;
  const code = tally.exitCode(isFatal);
  report(io, config, tally, {
    fatal: fatal ?? deadLetterError,
    stopped,
    stoppedAt: stopped === undefined ? undefined : stoppedAt,
    abandoned,
    code,
  });
  return code;
}

function report(
  io: PutIo,
  config: PutConfig,
  tally: Tally,
  end: {
    fatal: unknown;
    stopped: string | undefined;
    stoppedAt: { source: string; line: number } | undefined;
    abandoned: string | undefined;
    code: number;
  },
): void {
  const lines: string[] = [];
  if (end.fatal !== undefined) {
    const e = end.fatal as Error & { code?: string };
    lines.push(`error: ${e.name}${e.code ? ` ${e.code}` : ''}: ${e.message}`);
  }
  if (end.stopped !== undefined) {
    const where = end.stoppedAt === undefined ? '' : ` after ${end.stoppedAt.source}:${end.stoppedAt.line}`;
    lines.push(`stopped reading (${end.stopped})${where}`);
  }
  if (end.abandoned !== undefined) lines.push(`abandoned the drain (${end.abandoned})`);
  for (const p of tally.problems) lines.push(`invalid: ${p.source}:${p.line} ${p.reason}`);
  if (tally.invalidCount > tally.problems.length) {
    lines.push(`invalid: … and ${tally.invalidCount - tally.problems.length} more`);
  }
  const failed = Object.entries(tally.failedByCode)
    .map(([c, n]) => `${c} ${n}`)
    .join(', ');
  lines.push(
    `read ${tally.read}, delivered ${tally.deliveredCount}, failed ${tally.failedCount}${failed ? ` (${failed})` : ''}` +
      `, invalid ${tally.invalidCount}, unsent ${tally.unsentCount}`,
  );
  const notDelivered = tally.failedCount + tally.invalidCount + tally.unsentCount;
  if (notDelivered > 0) {
    lines.push(
      config.deadLetter === undefined
        ? `${notDelivered} records not delivered (give --dead-letter FILE to keep them)`
        : `${notDelivered} records not delivered, written to ${config.deadLetter}`,
    );
  }
  io.stderr.write(`${lines.join('\n')}\n`);
  if (config.json) {
    io.stdout.write(
      `${JSON.stringify({
        read: tally.read,
        delivered: tally.deliveredCount,
        failed: tally.failedCount,
        failedByCode: tally.failedByCode,
        invalid: tally.invalidCount,
        unsent: tally.unsentCount,
        stopped: end.stopped ?? null,
        exitCode: end.code,
        maxRssBytes: process.resourceUsage().maxRSS * 1024,
      })}\n`,
    );
  }
}
