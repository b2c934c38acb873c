/**
 * A process that runs one pipeline and then does nothing: `spec/lifecycle.spec.ts` measures how long it
 * lives after the pipeline ended (or was unsubscribed). Nothing here calls `process.exit()`, destroys the
 * client or clears anything: whatever the pipeline leaves behind keeps this process alive.
 *
 * Run as `node --import tsx spec/support/lifecycle-child.ts '<ChildConfig as JSON>'`. Prints one line
 * `ENDED <how> <ms>` when the pipeline ends (ms: `performance.now()`), and `EXIT <ms>` from the process's
 * `exit` event. If still alive 1.5 s after ending, it prints what keeps it alive to stderr (from an
 * unref'd timer, which keeps nothing alive itself).
 */
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { concat, from, Observable, range, throwError, type Subscription } from 'rxjs';
import { putAll, toKinesis, type KinesisRecordInput, type ToKinesisOptions } from '../../src/index.js';
import { fatalError, FakeKinesis } from './fake-kinesis.js';

export type ChildMode =
  /** The source completes; the pipeline completes once everything is delivered. */
  | 'complete'
  /** `putAll` over a generator, to completion. */
  | 'putAll'
  /** The source errors after its items; the pipeline forwards the error once they are delivered. */
  | 'source-error'
  /** Unsubscribe `unsubscribeAfterMs` after subscribing (mid-request, mid-admission...). */
  | 'unsubscribe'
  /** Unsubscribe at the first emission: every entry failed and waits out a long backoff. */
  | 'unsubscribe-in-backoff'
  /** Kinesis refuses a request for good (fake client in this process, with latency). */
  | 'fatal'
  /** A synchronous source overruns `maxBufferedRecords`. */
  | 'overflow'
  /** An invalid record ends the pipeline. */
  | 'invalid';

export interface ChildConfig {
  mode: ChildMode;
  /** The emulator's endpoint in the parent; absent: a fake client in this process. */
  endpoint?: string;
  streamName?: string;
  protocol?: 'http1' | 'http2';
  records?: number;
  unsubscribeAfterMs?: number;
  /** SDK client retries. */
  sdkMaxAttempts?: number;
  options?: Partial<ToKinesisOptions<number>>;
}

const config = JSON.parse(process.argv[2] ?? '{}') as ChildConfig;
const records = config.records ?? 2000;
let endedAt: number | undefined;

function ended(how: string): void {
  if (endedAt !== undefined) return;
  endedAt = performance.now();
  process.stdout.write(`ENDED ${how} ${endedAt}\n`);
  setTimeout(() => {
    process.stderr.write(`still alive 1.5 s after ending: ${process.getActiveResourcesInfo().join(', ')}\n`);
  }, 1500).unref();
}

process.on('exit', () => process.stdout.write(`EXIT ${performance.now()}\n`));

const client =
  config.endpoint !== undefined
    ? new KinesisClient({
        endpoint: config.endpoint,
        region: 'us-east-1',
        credentials: { accessKeyId: 'child', secretAccessKey: 'child' },
        ...(config.sdkMaxAttempts === undefined ? {} : { maxAttempts: config.sdkMaxAttempts }),
        ...(config.protocol === 'http1' ? { requestHandler: new NodeHttpHandler() } : {}),
      })
    : new FakeKinesis({
        streamName: 'child',
        latencyMs: 20,
        requests: ({ request }) => (config.mode === 'fatal' && request === 2 ? fatalError() : undefined),
      }).client;

const options: ToKinesisOptions<number> = {
  client,
  streamName: config.streamName ?? 'child',
  toRecord: (n): KinesisRecordInput => ({ PartitionKey: `key-${n % 97}`, Data: `record ${n}` }),
  maxBatchRecords: 100,
  lingerMs: 20,
  ...config.options,
};

let source: Observable<number> = range(0, records);
if (config.mode === 'source-error')
  source = concat(
    source,
    throwError(() => new Error('source failed')),
  );
if (config.mode === 'invalid') {
  source = from([1, 2, 3, -1, 4]);
  options.toRecord = (n) => ({ PartitionKey: n < 0 ? '' : `key-${n}`, Data: `record ${n}` });
}

const pipeline =
  config.mode === 'putAll'
    ? putAll(
        (function* () {
          for (let n = 0; n < records; n++) yield n;
        })(),
        options,
      )
    : source.pipe(toKinesis(options));

let emissions = 0;
const subscription: Subscription = pipeline.subscribe({
  next: () => {
    emissions++;
    if (config.mode === 'unsubscribe-in-backoff' && emissions === 1) {
      subscription.unsubscribe();
      ended('unsubscribed-in-backoff');
    }
  },
  error: (error: { name?: string; code?: string }) => ended(`error:${error?.code ?? error?.name}`),
  complete: () => ended('complete'),
});

if (config.mode === 'unsubscribe') {
  setTimeout(() => {
    subscription.unsubscribe();
    ended(`unsubscribed-after-${emissions}-emissions`);
  }, config.unsubscribeAfterMs ?? 300);
}
