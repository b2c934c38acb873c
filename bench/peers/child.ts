/**
 * One program of scenario 7, alone in its process: `child.ts PROGRAM ENDPOINT STREAM COUNT`. It builds the
 * workload, feeds it to the program as fast as the program accepts it and tells the parent when it started,
 * when the program had taken every record (`fed`) and when the program itself said it was done (`done`), if it
 * has a way to say so. The parent owns the emulator, the deadline and the verdict; it kills this process at the
 * deadline, which is the only way to stop a program that retries forever.
 *
 * The peers are CommonJS packages without types, installed in bench/peers/node_modules only: they are loaded
 * with `require` and typed by the small interfaces below, so the root type-check never needs them.
 */
import { createRequire } from 'node:module';
import { Readable } from 'node:stream';
import { KinesisClient, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { bufferCount, from, lastValueFrom, mergeMap } from 'rxjs';
import { putAll } from '../../src/index.js';
import { PROGRAMS, workload, type ChildMessage, type PeerRecord, type Program } from './workload.js';

const REGION = 'us-east-1';
const KEY = 'bench';

function tell(message: ChildMessage): void {
  process.send?.(message);
}

const now = () => Date.now();
const errorText = (e: unknown) =>
  e instanceof Error ? `${(e as { code?: string }).code ?? e.name}: ${e.message}` : String(e);

/** SDK v3, configured like every other scenario's client (harness.clientFor). */
function v3Client(endpoint: string): KinesisClient {
  return new KinesisClient({
    endpoint,
    region: REGION,
    credentials: { accessKeyId: KEY, secretAccessKey: KEY },
    requestHandler: new NodeHttpHandler(),
  });
}

// SDK v2 (aws-sdk) and the peers, as far as this file uses them.
interface V2Kinesis {
  putRecords(params: unknown): { promise(): Promise<unknown> };
}
interface AwsSdkV2 {
  Kinesis: new (options: Record<string, unknown>) => V2Kinesis;
}
type Writable = NodeJS.WritableStream & NodeJS.EventEmitter;
interface KinesisStreams {
  KinesisWritable: new (client: V2Kinesis, streamName: string, options: Record<string, unknown>) => Writable;
}
type AwsKinesisWritable = new (params: Record<string, unknown>) => Writable;
interface LifionKinesis {
  putRecords(params: { records: { partitionKey: string; data: string }[] }): Promise<unknown>;
}
type LifionKinesisClass = new (options: Record<string, unknown>) => LifionKinesis;

const peerRequire = createRequire(new URL('./package.json', import.meta.url));

/** The SDK v2 options every v2-based peer gets: the emulator's plain-HTTP endpoint and fake credentials. */
function v2Options(endpoint: string): Record<string, unknown> {
  return { endpoint, region: REGION, accessKeyId: KEY, secretAccessKey: KEY };
}

const asObject = (r: PeerRecord): unknown => JSON.parse(r.data);

async function run(program: Program, endpoint: string, streamName: string, records: PeerRecord[]) {
  switch (program) {
    case 'rx-kinesis toKinesis()': {
      // Defaults throughout; putAll pulls the next record only while the buffer has room.
      const client = v3Client(endpoint);
      tell({ type: 'start', at: now() });
      await lastValueFrom(
        putAll(records, {
          client,
          streamName,
          toRecord: (r) => ({ PartitionKey: r.partitionKey, Data: r.data }),
        }),
        { defaultValue: undefined },
      );
      tell({ type: 'fed', at: now() });
      tell({ type: 'done', at: now() });
      client.destroy();
      return;
    }
    case 'naive RxJS (bufferCount + mergeMap)': {
      // What one writes first: batches of 500, all sent at once, the response's FailedRecordCount unread.
      const client = v3Client(endpoint);
      tell({ type: 'start', at: now() });
      await lastValueFrom(
        from(records).pipe(
          bufferCount(500),
          mergeMap((batch) =>
            client.send(
              new PutRecordsCommand({
                StreamName: streamName,
                Records: batch.map((r) => ({ PartitionKey: r.partitionKey, Data: Buffer.from(r.data) })),
              }),
            ),
          ),
        ),
        { defaultValue: undefined },
      );
      tell({ type: 'fed', at: now() });
      tell({ type: 'done', at: now() });
      client.destroy();
      return;
    }
    case 'kinesis-streams': {
      // README: new KinesisWritable(client, streamName, options); highWaterMark is its batch size (max 500).
      // getPartitionKey is its hook for the key (the default is the constant '0'); it sends JSON.stringify(item).
      const AWS = peerRequire('aws-sdk') as AwsSdkV2;
      const { KinesisWritable } = peerRequire('kinesis-streams') as KinesisStreams;
      class Keyed extends KinesisWritable {
        getPartitionKey(item: { k: string }): string {
          return item.k;
        }
      }
      const writable = new Keyed(new AWS.Kinesis(v2Options(endpoint)), streamName, { highWaterMark: 500 });
      tell({ type: 'start', at: now() });
      // Piped as its README shows, with the stream's own back-pressure: _write waits for each full batch's
      // PutRecords. Its 'finish' waits for _flush, which writes until its queue (failed records included) is
      // empty. Not stream.pipeline(): FlushWritable delays only the 'finish' event, and Node's autoDestroy
      // closes the stream first, so pipeline() resolves while the last batches are still unsent.
      await new Promise<void>((resolve, reject) => {
        writable.on('error', reject).on('finish', resolve);
        Readable.from(records.map(asObject)).pipe(writable);
      });
      tell({ type: 'fed', at: now() });
      tell({ type: 'done', at: now() });
      return;
    }
    case 'lifion-kinesis': {
      // README: new Kinesis({ streamName, ...AWS.Kinesis options }); kinesis.putRecords({ records }) resolves
      // once every record of the call is written, retrying failed ones forever. It has no back-pressure,
      // so the whole workload is pushed at once in calls of 500 records.
      const Kinesis = peerRequire('lifion-kinesis') as LifionKinesisClass;
      const kinesis = new Kinesis({ streamName, ...v2Options(endpoint) });
      tell({ type: 'start', at: now() });
      const calls: Promise<unknown>[] = [];
      for (let i = 0; i < records.length; i += 500) {
        const batch = records.slice(i, i + 500).map((r) => ({ partitionKey: r.partitionKey, data: r.data }));
        calls.push(
          kinesis.putRecords({ records: batch }).catch((e: unknown) => {
            tell({ type: 'error', at: now(), message: errorText(e) });
          }),
        );
      }
      tell({ type: 'fed', at: now() });
      await Promise.all(calls);
      tell({ type: 'done', at: now() });
      return;
    }
    case 'aws-kinesis-writable': {
      // README: new KinesisWritable({ region, streamName, partitionKey, buffer: { length } }) plus endpoint and
      // credentials (documented in its JSDoc); objectMode to write objects, sent as safeStringify(item).
      // _write never waits (no back-pressure), and nothing tells when its last PutRecords has been answered:
      // the parent waits for the emulator to go quiet.
      const KinesisWritable = peerRequire('aws-kinesis-writable') as AwsKinesisWritable;
      const writable = new KinesisWritable({
        ...v2Options(endpoint),
        streamName,
        objectMode: true,
        partitionKey: (item: { k: string }) => item.k,
        buffer: { length: 500 },
      });
      // It emits 'error' for a batch whose request failed after its retries; keep writing regardless.
      writable.on('error', (e: unknown) => tell({ type: 'error', at: now(), message: errorText(e) }));
      tell({ type: 'start', at: now() });
      await new Promise<void>((resolve) => {
        writable.on('finish', resolve);
        Readable.from(records.map(asObject)).pipe(writable);
      });
      tell({ type: 'fed', at: now() });
      return;
    }
  }
}

// Never outlive the parent: a peer that retries forever would keep this process alive on its own.
process.on('disconnect', () => process.exit(0));

const [program, endpoint, streamName, count] = process.argv.slice(2);
if (!PROGRAMS.includes(program as Program)) throw new Error(`unknown program ${program}`);
try {
  await run(program as Program, endpoint, streamName, workload(Number(count)));
} catch (e) {
  tell({ type: 'error', at: now(), message: errorText(e) });
}
