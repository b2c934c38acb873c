/**
 * One producer of a fleet, in a process of its own (`node --import tsx spec/support/cluster-child.ts JSON`):
 * writes 100-byte records through `putAll()` to the parent's emulator, then prints one JSON line with what
 * became of every record it pulled and exits by itself (no `process.exit`: a limiter left open would keep it
 * alive, and the parent times the exit).
 *
 * Config (argv[2], JSON): {@link ChildConfig}. Imported (not run), it only exports the record shape.
 */
import { pathToFileURL } from 'node:url';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { KinesisSinkError, putAll, type KinesisRecordInput, type ToKinesisOptions } from '../../src/index.js';

export interface ChildConfig {
  endpoint: string;
  streamName: string;
  name: string;
  /** A saturating source for this long … */
  seconds?: number;
  /** … or exactly this many records (both: whichever ends first). */
  count?: number;
  /** Unsubscribe this long after the first emission (so mid-run, however slow the start) instead of ending. */
  unsubscribeAfterMs?: number;
  /** Passed to `putAll()` as they are. */
  options: Partial<ToKinesisOptions<Item>>;
}

export interface Item {
  id: number;
  key: string;
}

/** Record `id` of child `name`: a spread partition key, 100 bytes of data that start with `name:id:`. */
export function recordOf(
  name: string,
  id: number,
): KinesisRecordInput & { PartitionKey: string; Data: Buffer } {
  const data = Buffer.alloc(100, 0x63);
  data.write(`${name}:${id}:`);
  return { PartitionKey: `${name}-${(id * 2654435761) % 1_000_003}`, Data: data };
}

/** What the child prints when its pipeline has ended. */
export interface ChildReport {
  name: string;
  /** Records pulled from the source. */
  pulled: number;
  /** Finally delivered (a sequence number), each id once. */
  delivered: number;
  /** Finally failed in an emission. */
  failed: number;
  /** In the error's `unsent`. */
  unsent: number;
  /** Pulled but in none of the above, or in more than one: must be 0. */
  unaccounted: number;
  duplicates: number;
  /** Ids delivered (only when `count` is set: the parent checks them against the emulator's ledger). */
  deliveredIds?: number[];
  error?: string;
  /** Left by unsubscribing (`unsubscribeAfterMs`): what was in flight is not accounted for. */
  unsubscribed: boolean;
  /** Warnings emitted (e.g. the limiter's fallback), by message. */
  warnings: string[];
  startedAt: number;
  endedAt: number;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  process.stdout.write(JSON.stringify(await run(JSON.parse(process.argv[2]) as ChildConfig)) + '\n');
}

async function run(config: ChildConfig): Promise<ChildReport> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const warnings: string[] = [];
  process.on('warning', (w) => warnings.push(`${w.name}: ${w.message}`));
  const client = new KinesisClient({
    endpoint: config.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
    requestHandler: new NodeHttpHandler(),
  });

  const startedAt = Date.now();
  let pulled = 0;
  function* items(): Generator<Item> {
    const until = config.seconds === undefined ? Infinity : startedAt + config.seconds * 1000;
    const count = config.count ?? Infinity;
    for (let id = 0; id < count && Date.now() < until; id++) {
      pulled++;
      yield { id, key: recordOf(config.name, id).PartitionKey };
    }
  }

  // 0 = pending, 1 = delivered, 2 = failed, 3 = unsent; an id settled twice is a duplicate outcome.
  const outcome: number[] = [];
  let duplicates = 0;
  const settle = (id: number, how: number) => {
    if (outcome[id]) duplicates++;
    outcome[id] = how;
  };

  let error: unknown;
  let unsubscribed = false;
  await new Promise<void>((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    const subscription = putAll(items(), {
      client,
      streamName: config.streamName,
      toRecord: (item) => recordOf(config.name, item.id),
      ...config.options,
    }).subscribe({
      next: (e) => {
        e.response.Records?.forEach((r, i) => {
          if (r.SequenceNumber) settle(e.items[i].id, 1);
          else if (!e.retrying[i]) settle(e.items[i].id, 2);
        });
        if (config.unsubscribeAfterMs !== undefined && !timer) {
          timer = setTimeout(() => {
            unsubscribed = true;
            subscription.unsubscribe();
            resolve();
          }, config.unsubscribeAfterMs);
        }
      },
      error: (e) => {
        error = e;
        if (e instanceof KinesisSinkError) for (const item of e.unsent as Item[]) settle(item.id, 3);
        resolve();
      },
      complete: resolve,
    });
  });
  client.destroy();

  const count = (how: number) => outcome.reduce((n, o) => n + (o === how ? 1 : 0), 0);
  let unaccounted = 0;
  for (let id = 0; id < pulled; id++) if (!outcome[id]) unaccounted++;
  return {
    name: config.name,
    pulled,
    delivered: count(1),
    failed: count(2),
    unsent: count(3),
    unaccounted,
    duplicates,
    deliveredIds: config.count === undefined ? undefined : outcome.flatMap((o, id) => (o === 1 ? [id] : [])),
    error: error === undefined ? undefined : `${(error as Error).name}: ${(error as Error).message}`,
    unsubscribed,
    warnings,
    startedAt,
    endedAt: Date.now(),
  };
}
