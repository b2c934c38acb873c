/**
 * Lifecycle: whatever way a pipeline ends — the source completes or errors, the subscriber unsubscribes,
 * Kinesis fails it — at whatever moment (mid-request, mid-backoff, while records wait for tokens), it
 * leaves nothing behind: no timer, socket or limiter, nothing that keeps Node alive. And a fatal error
 * accounts for every item: each one is delivered or in `error.unsent`, exactly once.
 */
import { createHook } from 'node:async_hooks';
import { expect } from 'chai';
import fc from 'fast-check';
import { Observable, type Subscription } from 'rxjs';
import {
  KinesisSinkError,
  putAll,
  toKinesis,
  type PutRecordsEmission,
  type ToKinesisOptions,
} from '../src/index.js';
import {
  fatalError,
  FakeKinesis,
  networkError,
  seededRandom,
  serverError,
  throttleError,
  type RecordOutcome,
} from './support/fake-kinesis.js';
import { keyedItems, toRecord, type Item } from './support/fixtures.js';

const STREAM = 'lifecycle-stream';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

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

/** A scenario that ends by itself: the source completes, nothing fails, nobody unsubscribes. */
const completing = (api: Scenario['api']): Scenario => ({
  items: 40,
  chunk: 10,
  gapMs: 2,
  sourceEnd: 'complete',
  unsubscribeAtMs: undefined,
  unsubscribeInNext: undefined,
  latencyMs: 3,
  recordFailureRate: 0,
  requestErrorRate: 0,
  fatalAt: -1,
  retryBaseDelayMs: 1,
  shardRecordsPerSecond: Infinity,
  lingerMs: 5,
  maxInFlightRequests: 4,
  maxBufferedRecords: 200_000,
  ordering: 'none',
  api,
  seed: 1,
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
  const items = keyedItems(s.items);
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
              // Node queues a fired timer's destroy hook to the next check phase: when a busy machine held the
              // loop past 20 ms, every due timer fired in the same batch as this sleep and its destroy was
              // still queued here (measured: the source's own fired 5 ms sleep listed as created and not
              // destroyed, seed -1458555811). Two turns of the check phase let those hooks run.
              await new Promise((resolve) => setImmediate(resolve));
              await new Promise((resolve) => setImmediate(resolve));
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
          // Some endings are rare among 80 random runs (a pipeline left to complete: 2-7; a fatal answer: 1-6;
          // an unsubscribe mid-request: 3-8), so now and then one never came up and the check below failed
          // by chance (complete: 0, seen once in a full suite). One run of each is given.
          {
            numRuns: 80,
            examples: [
              [completing('toKinesis')],
              [completing('putAll')],
              [{ ...completing('toKinesis'), fatalAt: 0 }],
              [
                {
                  ...completing('toKinesis'),
                  sourceEnd: 'open',
                  unsubscribeAtMs: 20,
                  latencyMs: 40,
                  gapMs: 0,
                },
              ],
            ],
          },
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
});
