/**
 * Lifecycle, out of process: a child process running a pipeline exits within 1 s of the pipeline ending,
 * however it ends (nothing keeps Node alive).
 */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { startEmulator, type FaultOptions, type KinesisEmulator } from '../src/testing/index.js';
import type { ChildConfig } from './support/lifecycle-child.js';

const here = dirname(fileURLToPath(import.meta.url));

interface ChildResult {
  ended: string;
  /** From the child's `ENDED` line to its `exit` event, by its own clock. */
  exitAfterMs: number;
  /** From receiving `ENDED` to the parent seeing the process exit. */
  observedExitAfterMs: number;
  code: number | null;
  stderr: string;
}

function runChild(config: ChildConfig): Promise<ChildResult> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(here, 'support', 'lifecycle-child.ts'), JSON.stringify(config)],
    {
      env: { ...process.env, NODE_OPTIONS: '', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stdout = '';
  let stderr = '';
  let endedSeenAt: number | undefined;
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    if (endedSeenAt === undefined && stdout.includes('ENDED ')) endedSeenAt = performance.now();
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`child still running after 30 s: ${stdout} ${stderr}`));
    }, 30_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      const exitedAt = performance.now();
      const ended = /ENDED (\S+) ([\d.]+)/.exec(stdout);
      const exit = /EXIT ([\d.]+)/.exec(stdout);
      if (!ended || !exit) {
        reject(new Error(`child exited ${code} without ENDED/EXIT: ${stdout} ${stderr}`));
        return;
      }
      resolve({
        ended: ended[1],
        exitAfterMs: Number(exit[1]) - Number(ended[2]),
        observedExitAfterMs: exitedAt - endedSeenAt!,
        code,
        stderr,
      });
    });
  });
}

// ---------------------------------------------------------------------------------------------------------

describe('lifecycle', function () {
  this.timeout(180_000);

  describe('a child process exits within 1 s of its pipeline ending', () => {
    let emu: KinesisEmulator;
    const faults = (f: FaultOptions) =>
      emu.setFaults({ recordFailureRate: 0, resetRate: 0, latencyMs: 0, listShardsThrottleRate: 0, ...f });
    before(async () => {
      emu = await startEmulator({ shards: 2, streamName: 'child', keepRecords: false });
    });
    after(() => emu.close());

    /** What the emulator saw of one child's run. */
    interface Seen {
      putRecords: number;
      accepted: number;
      failed: number;
    }
    const seen = (): Seen => {
      const stats = emu.stats();
      return {
        putRecords: stats.requests.byOperation.PutRecords ?? 0,
        accepted: stats.accepted,
        failed: stats.failed,
      };
    };
    const cases: [string, () => ChildConfig, string | RegExp, ((seen: Seen) => void)?][] = [
      [
        'completes (HTTP/2, the SDK default)',
        () => ({ mode: 'complete', endpoint: emu.endpoint }),
        'complete',
      ],
      [
        'completes (HTTP/1.1)',
        () => ({ mode: 'complete', endpoint: emu.endpoint, protocol: 'http1' }),
        'complete',
      ],
      ['putAll completes', () => ({ mode: 'putAll', endpoint: emu.endpoint }), 'complete'],
      [
        'the source errors',
        () => ({ mode: 'source-error', endpoint: emu.endpoint }),
        'error:Error', // the source's own error
      ],
      [
        'unsubscribed mid-request (HTTP/2)',
        () => {
          faults({ latencyMs: 10_000 });
          return { mode: 'unsubscribe', endpoint: emu.endpoint, unsubscribeAfterMs: 800 };
        },
        'unsubscribed-after-0-emissions',
        // Requests had arrived, and none was answered: they were in flight.
        ({ putRecords, accepted }) => expect([putRecords > 0, accepted]).to.deep.equal([true, 0]),
      ],
      [
        'unsubscribed mid-request (HTTP/1.1)',
        () => {
          faults({ latencyMs: 10_000 });
          return { mode: 'unsubscribe', endpoint: emu.endpoint, protocol: 'http1', unsubscribeAfterMs: 800 };
        },
        'unsubscribed-after-0-emissions',
        ({ putRecords, accepted }) => expect([putRecords > 0, accepted]).to.deep.equal([true, 0]),
      ],
      [
        'unsubscribed while records wait for their shard’s tokens',
        () => ({
          mode: 'unsubscribe',
          endpoint: emu.endpoint,
          unsubscribeAfterMs: 800,
          options: { shardRecordsPerSecond: 50 },
        }),
        /^unsubscribed-after-\d+-emissions$/,
        // Some went out, most were still waiting for tokens.
        ({ accepted }) => expect(accepted).to.be.within(1, 1000),
      ],
      [
        'unsubscribed mid-backoff',
        () => {
          faults({ recordFailureRate: 1 });
          return {
            mode: 'unsubscribe-in-backoff',
            endpoint: emu.endpoint,
            options: { retryBaseDelayMs: 30_000, retryMaxDelayMs: 30_000 },
          };
        },
        'unsubscribed-in-backoff',
        ({ failed }) => expect(failed).to.be.greaterThan(0), // every entry failed: all were waiting to be retried
      ],
      [
        'retries run out (every connection reset)',
        () => {
          faults({ resetRate: 1, applyBeforeResetRate: 0 });
          return {
            mode: 'complete',
            endpoint: emu.endpoint,
            sdkMaxAttempts: 1,
            options: { maxAttempts: 2, retryBaseDelayMs: 10 },
          };
        },
        'error:RETRIES_EXHAUSTED',
      ],
      [
        'the stream does not exist (refused at startup)',
        () => ({ mode: 'complete', endpoint: emu.endpoint, streamName: 'no-such-stream' }),
        'error:FATAL_REQUEST_ERROR',
      ],
      [
        'the shard map cannot be loaded within recordTtlMs (ListShards throttled)',
        () => {
          faults({ listShardsThrottleRate: 1 });
          return {
            mode: 'complete',
            endpoint: emu.endpoint,
            sdkMaxAttempts: 1,
            options: { recordTtlMs: 300 },
          };
        },
        'error:SHARD_MAP_FAILED',
      ],
      ['a fatal request error (fake client)', () => ({ mode: 'fatal' }), 'error:FATAL_REQUEST_ERROR'],
      [
        'the buffer overflows',
        () => ({ mode: 'overflow', endpoint: emu.endpoint, options: { maxBufferedRecords: 100 } }),
        'error:BUFFER_OVERFLOW',
      ],
      ['an invalid record', () => ({ mode: 'invalid', endpoint: emu.endpoint }), 'error:InvalidRecordError'],
    ];

    for (const [label, config, expected, check] of cases) {
      it(label, async () => {
        faults({});
        const before = seen();
        const result = await runChild(config());
        const after = seen();
        const what = `${JSON.stringify(result)}`;
        check?.({
          putRecords: after.putRecords - before.putRecords,
          accepted: after.accepted - before.accepted,
          failed: after.failed - before.failed,
        });
        if (typeof expected === 'string') expect(result.ended, what).to.equal(expected);
        else expect(result.ended, what).to.match(expected);
        expect(result.code, what).to.equal(0);
        expect(result.stderr, what).to.equal('');
        expect(result.exitAfterMs, what).to.be.below(1000);
        expect(result.observedExitAfterMs, what).to.be.below(1000);
        console.log(`        exited ${result.exitAfterMs.toFixed(0)} ms after the pipeline ended`);
      });
    }
  });
});
