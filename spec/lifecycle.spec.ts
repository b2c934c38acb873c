/**
 * Lifecycle: whatever way a pipeline ends — the source completes or errors, the subscriber unsubscribes,
 * Kinesis fails it — at whatever moment (mid-request, mid-backoff, while records wait for tokens), it
 * leaves nothing behind: no timer, socket or limiter, nothing that keeps Node alive. And a fatal error
 * accounts for every item: each one is delivered or in `error.unsent`, exactly once.
 */
import { createHook } from 'node:async_hooks';
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import fc from 'fast-check';
import { from, Observable, type Subscription } from 'rxjs';
import {
  KinesisSinkError,
  putAll,
  toKinesis,
  type KinesisRecordInput,
  type PutRecordsEmission,
  type ToKinesisOptions,
} from '../src/index.js';
import { startEmulator, type FaultOptions, type KinesisEmulator } from '../src/testing/index.js';
import {
  fatalError,
  FakeKinesis,
  networkError,
  seededRandom,
  serverError,
  throttleError,
  type RecordOutcome,
} from './support/fake-kinesis.js';
import { withVirtualTime } from './support/virtual-time.js';
import type { ChildConfig } from './support/lifecycle-child.js';

const STREAM = 'lifecycle-stream';
const here = dirname(fileURLToPath(import.meta.url));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface Item {
  readonly id: number;
  readonly key: string;
  readonly data: Uint8Array;
}

const toRecord = (item: Item): KinesisRecordInput => ({ PartitionKey: item.key, Data: item.data });

function makeItems(n: number, keys = 50): Item[] {
  return Array.from({ length: n }, (_, id) => ({
    id,
    key: `key-${(id * 7919) % keys}`,
    data: Buffer.from(`item ${id}`),
  }));
}

// ---------------------------------------------------------------------------------------------------------
// Resources

/** Resources keeping the event loop alive, by type (`process.getActiveResourcesInfo()`). */
function activeResources(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const type of process.getActiveResourcesInfo()) counts.set(type, (counts.get(type) ?? 0) + 1);
  return counts;
}

/** Types with more resources now than at the baseline, as 'Type: before → now'. */
function moreThan(baseline: Map<string, number>, now: Map<string, number>): string[] {
  return [...now]
    .filter(([type, n]) => n > (baseline.get(type) ?? 0))
    .map(([type, n]) => `${type}: ${baseline.get(type) ?? 0} → ${n}`);
}

const TRACKED = new Set([
  'Timeout',
  'Immediate',
  'TCPWRAP',
  'TCPCONNECTWRAP',
  'HTTP2SESSION',
  'FSREQCALLBACK',
]);

/**
 * Timers (unref'd ones too, which `getActiveResourcesInfo()` does not list), immediates and sockets
 * created while installed and not yet destroyed: a leaked unref'd interval keeps nothing alive but still
 * fires forever.
 */
function trackResources() {
  const live = new Map<number, string>();
  let recording = false;
  const hook = createHook({
    init(asyncId, type) {
      if (recording && TRACKED.has(type)) live.set(asyncId, type);
    },
    destroy(asyncId) {
      live.delete(asyncId);
    },
  });
  return {
    start: () => {
      recording = true;
      hook.enable();
    },
    /** Stops recording new resources (the test's own waiting), still following those recorded. */
    pause: () => (recording = false),
    stop: () => hook.disable(),
    live: () => [...live.values()].sort(),
  };
}

// ---------------------------------------------------------------------------------------------------------
// The in-process property

interface Scenario {
  items: number;
  chunk: number;
  gapMs: number;
  /** How the source ends, after its last item ('open': it never does). */
  sourceEnd: 'complete' | 'error' | 'open';
  /** When to unsubscribe, ms after subscribing; undefined: wait for the pipeline to end by itself. */
  unsubscribeAtMs: number | undefined;
  /** Unsubscribe from inside the n-th emission's `next` (as `take(n)` does); undefined: not there. */
  unsubscribeInNext: number | undefined;
  latencyMs: number;
  recordFailureRate: number;
  requestErrorRate: number;
  /** Request index answered with a fatal error (-1: none). */
  fatalAt: number;
  retryBaseDelayMs: number;
  shardRecordsPerSecond: number;
  lingerMs: number;
  maxInFlightRequests: number;
  maxBufferedRecords: number;
  ordering: 'none' | 'per-key';
  api: 'toKinesis' | 'putAll';
  seed: number;
}

const scenarioArb: fc.Arbitrary<Scenario> = fc
  .record({
    items: fc.integer({ min: 0, max: 150 }),
    chunk: fc.integer({ min: 1, max: 60 }),
    gapMs: fc.constantFrom(0, 0, 2, 10),
    sourceEnd: fc.constantFrom<Scenario['sourceEnd']>('complete', 'error', 'open'),
    unsubscribeAtMs: fc.option(fc.integer({ min: 0, max: 250 }), { nil: undefined, freq: 2 }),
    unsubscribeInNext: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined, freq: 3 }),
    latencyMs: fc.constantFrom(0, 3, 15, 40),
    recordFailureRate: fc.constantFrom(0, 0.2, 0.6),
    requestErrorRate: fc.constantFrom(0, 0, 0.25),
    fatalAt: fc.oneof({ weight: 4, arbitrary: fc.constant(-1) }, fc.integer({ min: 0, max: 6 })),
    retryBaseDelayMs: fc.constantFrom(1, 20, 5000),
    shardRecordsPerSecond: fc.constantFrom(Infinity, 400),
    lingerMs: fc.constantFrom(0, 5, 100),
    maxInFlightRequests: fc.constantFrom(1, 4, 16),
    maxBufferedRecords: fc.constantFrom(30, 200_000),
    ordering: fc.constantFrom<Scenario['ordering']>('none', 'per-key'),
    api: fc.constantFrom<Scenario['api']>('toKinesis', 'putAll'),
    seed: fc.nat(),
  })
  .map((s) => {
    // A pipeline left to end by itself must be able to: its source ends, and retries are quick.
    if (s.unsubscribeAtMs !== undefined) return s;
    if (s.sourceEnd === 'open' || s.retryBaseDelayMs > 20) return { ...s, unsubscribeAtMs: 150 };
    return s;
  });

/** Items `chunk` at a time, `gapMs` apart (real timers, cleared on unsubscribe), then ends as told. */
function sourceOf(items: readonly Item[], s: Scenario): Observable<Item> {
  return new Observable<Item>((subscriber) => {
    let next = 0;
    let timer: NodeJS.Timeout | undefined;
    const emit = () => {
      for (const end = Math.min(items.length, next + s.chunk); next < end && !subscriber.closed; next++) {
        subscriber.next(items[next]);
      }
      if (subscriber.closed) return;
      if (next < items.length) timer = setTimeout(emit, s.gapMs);
      else if (s.sourceEnd === 'complete') subscriber.complete();
      else if (s.sourceEnd === 'error') subscriber.error(new Error('source failed'));
    };
    if (s.gapMs === 0) emit();
    else timer = setTimeout(emit, s.gapMs);
    return () => clearTimeout(timer);
  });
}

/** The same for `putAll`: an async generator (an error becomes a throw; 'open' waits until cancelled). */
async function* generatorOf(items: readonly Item[], s: Scenario, cancelled: () => boolean) {
  for (let next = 0; next < items.length; next++) {
    if (next > 0 && next % s.chunk === 0 && s.gapMs > 0) await sleep(s.gapMs);
    yield items[next];
  }
  if (s.sourceEnd === 'error') throw new Error('source failed');
  while (s.sourceEnd === 'open' && !cancelled()) await sleep(5);
}

function fakeFor(s: Scenario): FakeKinesis {
  const records = seededRandom(s.seed);
  const requests = seededRandom(s.seed ^ 0x2545f491);
  const latency = seededRandom(s.seed ^ 0x68e31da4);
  const retryable = [serverError, throttleError, networkError];
  return new FakeKinesis({
    streamName: STREAM,
    shards: 3,
    latencyMs: () => (s.latencyMs === 0 ? 0 : Math.floor(latency() * s.latencyMs) + 1),
    records: (): RecordOutcome => (records() < s.recordFailureRate ? 'InternalFailure' : 'ok'),
    requests: ({ request }) => {
      if (request === s.fatalAt) return fatalError('AccessDeniedException');
      const r = requests();
      return r < s.requestErrorRate ? retryable[Math.floor((r / s.requestErrorRate) * 3)]() : undefined;
    },
  });
}

interface Observed {
  emissions: PutRecordsEmission<Item>[];
  /** Emissions, requests and resources when the pipeline ended or was left. */
  emissionsAtEnd: number;
  requestsAtEnd: number;
  how: 'complete' | 'error' | 'unsubscribed' | 'hung';
  /** Unsubscribed from inside an emission. */
  inNext: boolean;
  error: unknown;
  midRequest: boolean;
  midBackoff: boolean;
}

/** Runs a scenario to its end (or its unsubscribe); resolves when it got there. */
async function runScenario(s: Scenario, fake: FakeKinesis): Promise<Observed> {
  const items = makeItems(s.items);
  const options: ToKinesisOptions<Item> = {
    client: fake.client,
    streamName: STREAM,
    toRecord,
    lingerMs: s.lingerMs,
    shardRecordsPerSecond: s.shardRecordsPerSecond,
    maxInFlightRequests: s.maxInFlightRequests,
    maxBufferedRecords: s.maxBufferedRecords,
    ordering: s.ordering,
    maxAttempts: 6,
    retryBaseDelayMs: s.retryBaseDelayMs,
    retryMaxDelayMs: s.retryBaseDelayMs * 8,
  };
  let cancelled = false;
  const observable =
    s.api === 'toKinesis'
      ? sourceOf(items, s).pipe(toKinesis(options))
      : putAll(
          generatorOf(items, s, () => cancelled),
          options,
        );
  const o: Observed = {
    emissions: [],
    emissionsAtEnd: 0,
    requestsAtEnd: 0,
    how: 'hung',
    inNext: false,
    error: undefined,
    midRequest: false,
    midBackoff: false,
  };
  let subscription: Subscription | undefined;
  let unsubscribeTimer: NodeJS.Timeout | undefined;
  await new Promise<void>((resolve) => {
    const finish = (how: Observed['how']) => {
      if (o.how !== 'hung') return;
      o.how = how;
      o.emissionsAtEnd = o.emissions.length;
      o.requestsAtEnd = fake.requests.length;
      clearTimeout(unsubscribeTimer);
      clearTimeout(deadline);
      resolve();
    };
    const deadline = setTimeout(() => finish('hung'), 10_000);
    const leave = () => {
      o.midRequest = fake.inFlight > 0;
      o.midBackoff = waitingForRetry(o.emissions, fake);
      cancelled = true;
      subscription!.unsubscribe();
      finish('unsubscribed');
    };
    subscription = observable.subscribe({
      next: (e) => {
        o.emissions.push(e);
        if (o.emissions.length === s.unsubscribeInNext && o.how === 'hung') {
          o.inNext = true;
          leave();
        }
      },
      // The test's 'open' generator polls this flag (an await in a generator body cannot be interrupted by
      // return()): once the pipeline has ended, the source is told to stop like a real one would be.
      error: (e) => {
        o.error = e;
        cancelled = true;
        finish('error');
      },
      complete: () => {
        cancelled = true;
        finish('complete');
      },
    });
    if (s.unsubscribeAtMs !== undefined) {
      unsubscribeTimer = setTimeout(leave, s.unsubscribeAtMs);
    }
  });
  if (o.how === 'hung') {
    subscription?.unsubscribe();
    cancelled = true;
  }
  return o;
}

/** Whether some entry answered `retrying` has not been sent again yet: it waits out its backoff. */
function waitingForRetry(emissions: readonly PutRecordsEmission<Item>[], fake: FakeKinesis): boolean {
  const lastSent = new Map<Uint8Array, number>();
  fake.requests.forEach((r, n) => r.input.Records!.forEach((e) => lastSent.set(e.Data!, n)));
  return emissions.some((e) => {
    const n = fake.requests.findIndex((r) => r.input === e.request);
    return e.items.some((item, i) => e.retrying[i] && lastSent.get(item.data) === n);
  });
}

// ---------------------------------------------------------------------------------------------------------
// Child processes

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

  describe('in process: nothing is left behind, however and whenever the pipeline ends', () => {
    it('property: no timer, socket or limiter remains; nothing is sent or emitted afterwards', async () => {
      const stray: unknown[] = [];
      const onStray = (e: unknown) => stray.push(e);
      process.on('unhandledRejection', onStray);
      process.on('uncaughtException', onStray);
      const seen = {
        complete: 0,
        error: 0,
        unsubscribed: 0,
        inNext: 0,
        midRequest: 0,
        midBackoff: 0,
        fatal: 0,
      };
      try {
        await fc.assert(
          fc.asyncProperty(scenarioArb, async (s) => {
            await sleep(5);
            const baseline = activeResources();
            const tracker = trackResources();
            tracker.start();
            const fake = fakeFor(s);
            let o: Observed;
            let left: string[];
            try {
              o = await runScenario(s, fake);
              tracker.pause();
              await sleep(20); // let what was cancelled unwind (aborted requests reject on a later tick)
              left = tracker.live();
            } finally {
              tracker.stop();
            }
            const what = `ended by ${o.how}: ${String(o.error)}`;
            expect(o.how, what).to.not.equal('hung');
            seen[o.how as 'complete' | 'error' | 'unsubscribed']++;
            if (o.inNext) seen.inNext++;
            if (o.midRequest) seen.midRequest++;
            if (o.midBackoff) seen.midBackoff++;
            if (o.error instanceof KinesisSinkError && o.error.code === 'FATAL_REQUEST_ERROR') seen.fatal++;

            // Nothing keeps the process alive, and nothing (not even unref'd) is left running.
            expect(moreThan(baseline, activeResources()), what).to.deep.equal([]);
            expect(left, `${what}: created and not destroyed`).to.deep.equal([]);
            // No request is pending; requests in flight at an unsubscribe were aborted.
            expect(fake.inFlight, what).to.equal(0);
            expect(
              fake.requests.filter((r) => r.outcome === 'pending'),
              what,
            ).to.deep.equal([]);
            if (o.how === 'unsubscribed') {
              for (const r of fake.requests.slice(0, o.requestsAtEnd)) {
                if (r.outcome === 'aborted') expect(r.signal?.aborted, what).to.equal(true);
              }
            }
            // Nothing is sent or emitted any more, not even once a refill or a backoff would have passed.
            await sleep(s.retryBaseDelayMs <= 20 ? 60 : 10);
            expect(fake.requests.length, `${what}: sent afterwards`).to.equal(o.requestsAtEnd);
            expect(o.emissions.length, `${what}: emitted afterwards`).to.equal(o.emissionsAtEnd);
            expect(stray, 'unhandled rejections / uncaught exceptions').to.deep.equal([]);
          }),
          { numRuns: 80 },
        );
      } finally {
        process.off('unhandledRejection', onStray);
        process.off('uncaughtException', onStray);
      }
      // Every way of ending happened, at every moment the property is about.
      for (const [how, n] of Object.entries(seen))
        expect(n, `${how} in ${JSON.stringify(seen)}`).to.be.greaterThan(0);
    });
  });

  describe('a child process exits within 1 s of its pipeline ending', () => {
    let emu: KinesisEmulator;
    const faults = (f: FaultOptions) =>
      emu.setFaults({ recordFailureRate: 0, resetRate: 0, latencyMs: 0, ...f });
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
        'the shard map fails (no such stream)',
        () => ({ mode: 'complete', endpoint: emu.endpoint, streamName: 'no-such-stream' }),
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

  describe('fatal errors carry every item not delivered', () => {
    const FATAL = [
      'ResourceNotFoundException',
      'AccessDeniedException',
      'KMSDisabledException',
      'KMSNotFoundException',
      'KMSAccessDeniedException',
      'KMSInvalidStateException',
      'ValidationException',
      'ExpiredTokenException',
    ];

    it('property: whichever request the fatal error strikes, each item ends exactly once, undelivered ones in unsent', async () => {
      let struck = 0;
      let afterFatal = 0;
      await fc.assert(
        fc.asyncProperty(
          fc.record({
            items: fc.integer({ min: 1, max: 300 }),
            fatalAt: fc.integer({ min: 0, max: 40 }),
            fatal: fc.constantFrom(...FATAL),
            maxBatchRecords: fc.constantFrom(1, 7, 50, 500),
            maxInFlightRequests: fc.constantFrom(1, 3, 16),
            recordFailureRate: fc.constantFrom(0, 0.1, 0.5),
            requestErrorRate: fc.constantFrom(0, 0.2),
            ordering: fc.constantFrom<'none' | 'per-key'>('none', 'per-key'),
            api: fc.constantFrom<'toKinesis' | 'putAll'>('toKinesis', 'putAll'),
            maxBufferedRecords: fc.constantFrom(20, 200_000),
            seed: fc.nat(),
          }),
          async (p) =>
            withVirtualTime(async (scheduler) => {
              const records = seededRandom(p.seed);
              const requests = seededRandom(p.seed ^ 0x1b873593);
              const latency = seededRandom(p.seed ^ 0x7feb352d);
              const answered: number[] = []; // request indexes, in the order they were answered
              const fake = new FakeKinesis({
                streamName: STREAM,
                shards: 4,
                latencyMs: () => Math.floor(latency() * 4), // real ms: requests overlap and finish out of order
                records: () => (records() < p.recordFailureRate ? 'InternalFailure' : 'ok'),
                requests: ({ request }) => {
                  answered.push(request);
                  if (request === p.fatalAt) return fatalError(p.fatal);
                  return requests() < p.requestErrorRate ? serverError() : undefined;
                },
              });
              const items = makeItems(p.items, 30);
              const options: ToKinesisOptions<Item> = {
                client: fake.client,
                streamName: STREAM,
                toRecord,
                scheduler,
                lingerMs: 5,
                maxBatchRecords: p.maxBatchRecords,
                maxInFlightRequests: p.maxInFlightRequests,
                maxBufferedRecords: p.maxBufferedRecords,
                ordering: p.ordering,
                maxAttempts: 1000,
                retryBaseDelayMs: 10,
                shardRecordsPerSecond: Infinity,
                shardBytesPerSecond: Infinity,
              };
              const observable =
                p.api === 'toKinesis'
                  ? from(items).pipe(toKinesis(options))
                  : putAll(
                      (function* () {
                        yield* items;
                      })(),
                      options,
                    );
              const emissions: PutRecordsEmission<Item>[] = [];
              let error: unknown;
              let done = false;
              observable.subscribe({
                next: (e) => emissions.push(e),
                error: (e) => {
                  error = e;
                  done = true;
                },
                complete: () => (done = true),
              });
              await scheduler.runUntil(() => done);

              // With 1,000 attempts an item finally fails only once the pipeline is failing: an entry that
              // failed in the answer to a request still in flight when the fatal error struck is not retried
              // and ends there, finally failed (README: "finally failed where ErrorCode is set and retrying[i]
              // is false"), instead of in `unsent`.
              const fatalAnswer = answered.indexOf(p.fatalAt);
              const delivered = new Map<Item, number>();
              const finallyFailed = new Map<Item, number>();
              for (const e of emissions) {
                const request = fake.requests.find((r) => r.input === e.request)!.index;
                e.items.forEach((item, i) => {
                  const r = e.response.Records![i];
                  if (r.SequenceNumber !== undefined) delivered.set(item, (delivered.get(item) ?? 0) + 1);
                  else if (!e.retrying[i]) {
                    finallyFailed.set(item, (finallyFailed.get(item) ?? 0) + 1);
                    expect(fatalAnswer, `item ${item.id} finally failed`).to.be.at.least(0);
                    expect(answered.indexOf(request), `item ${item.id} finally failed`).to.be.greaterThan(
                      fatalAnswer,
                    );
                  }
                });
              }
              // BUFFER_OVERFLOW can only come before the fatal error is known; then it carries one item.
              const overflowed = error instanceof KinesisSinkError && error.code === 'BUFFER_OVERFLOW';
              if (fake.requests.length <= p.fatalAt || overflowed) {
                // The fatal error never struck: what was taken is delivered, once each.
                if (!overflowed) {
                  expect(error, String(error)).to.equal(undefined);
                  expect(delivered.size).to.equal(items.length);
                }
                expect(finallyFailed.size).to.equal(0);
                for (const n of delivered.values()) expect(n).to.equal(1);
                return;
              }
              struck++;
              expect(error).to.be.instanceOf(KinesisSinkError);
              const e = error as KinesisSinkError<Item>;
              expect(e.code).to.equal('FATAL_REQUEST_ERROR');
              expect((e.cause as Error).name).to.equal(p.fatal);
              expect(e.message)
                .to.contain(p.fatal)
                .and.match(new RegExp(`\\(${e.unsent.length} items unsent\\)$`));
              const unsent = new Map<Item, number>();
              for (const item of e.unsent) unsent.set(item, (unsent.get(item) ?? 0) + 1);
              afterFatal += finallyFailed.size;
              // Every item the source handed over ends exactly once: delivered, unsent or (see above) finally
              // failed.
              const accounted = items.filter(
                (item) => delivered.has(item) || unsent.has(item) || finallyFailed.has(item),
              );
              for (const item of accounted) {
                const ends =
                  (delivered.get(item) ?? 0) + (unsent.get(item) ?? 0) + (finallyFailed.get(item) ?? 0);
                expect(ends, `item ${item.id}`).to.equal(1);
              }
              // Items the source never handed over form a tail: none was skipped in the middle. A synchronous
              // source hands over everything (or up to the item that overflowed the buffer).
              expect(accounted.map((item) => item.id)).to.deep.equal(
                items.slice(0, accounted.length).map((i) => i.id),
              );
              if (p.api === 'toKinesis' && p.maxBufferedRecords > p.items)
                expect(accounted).to.have.length(p.items);
              // The fatal request's own records: refused, so neither delivered nor finally failed: unsent.
              for (const entry of fake.requests[p.fatalAt].input.Records!) {
                const item = items.find((i) => i.data === entry.Data)!;
                expect(unsent.get(item), `item ${item.id} of the fatal request`).to.equal(1);
              }
            }),
        ),
        { numRuns: 150 },
      );
      expect(struck).to.be.greaterThan(50);
      console.log(
        `      (${struck} runs struck; ${afterFatal} items finally failed in answers after the fatal one)`,
      );
    });
  });
});
