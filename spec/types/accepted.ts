/**
 * Type-level spec (checked by spec/types.spec.ts, not run): what must keep compiling under strict tsc —
 * each Data form the pipeline accepts, a stream by name, by ARN or both, toRecord with inferred parameters,
 * and the emission types inferred from the options.
 */
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { from, of, type Observable } from 'rxjs';
import {
  KinesisProducer,
  putAll,
  toKinesis,
  type AggregatedPutRecordsEmission,
  type KinesisRecordInput,
  type PutRecordsEmission,
  type ToKinesisOptions,
} from '../../src/index.js';

const client = new KinesisClient({});
interface Reading {
  deviceId: string;
  value: number;
}

// Every Data form prepareRecord takes.
const data = [
  'text',
  new Uint8Array(2),
  Buffer.from('b'),
  new DataView(new ArrayBuffer(4)),
  new Float32Array(2),
  new ArrayBuffer(8),
];
from(data.map((Data) => ({ PartitionKey: 'k', Data }))).pipe(toKinesis({ client, streamName: 's' }));

// A stream by name, by ARN, or both.
of({ PartitionKey: 'k', Data: 'v' }).pipe(toKinesis({ client, streamName: 's' }));
of({ PartitionKey: 'k', Data: 'v' }).pipe(
  toKinesis({ client, streamARN: 'arn:aws:kinesis:eu-west-1:1:stream/s' }),
);
of({ PartitionKey: 'k', Data: 'v' }).pipe(
  toKinesis({ client, streamName: 's', streamARN: 'arn:aws:kinesis:eu-west-1:1:stream/s' }),
);

// Domain objects with toRecord: its parameter is inferred from the source.
const readings$: Observable<Reading> = of({ deviceId: 'd1', value: 1 });
const out$: Observable<PutRecordsEmission<Reading>> = readings$.pipe(
  toKinesis({
    client,
    streamName: 's',
    toRecord: (r) => ({ PartitionKey: r.deviceId, Data: JSON.stringify(r) }),
  }),
);
// Aggregation's emission type follows from the options.
const agg$: Observable<AggregatedPutRecordsEmission<KinesisRecordInput>> = of({
  PartitionKey: 'k',
  Data: 'v',
}).pipe(toKinesis({ client, streamName: 's', aggregation: { enabled: true } }));
// A record type with extra fields is still a record.
of({ PartitionKey: 'k', Data: 'v', ExplicitHashKey: '1', traceId: 't' }).pipe(
  toKinesis({ client, streamName: 's' }),
);

// putAll and KinesisProducer.
putAll([{ PartitionKey: 'k', Data: 'v' }], { client, streamName: 's' });
putAll([{ deviceId: 'd1', value: 1 }], {
  client,
  streamName: 's',
  toRecord: (r) => ({ PartitionKey: r.deviceId, Data: `${r.value}` }),
});
const producer = new KinesisProducer({ client, streamName: 's' });
void producer.put({ PartitionKey: 'k', Data: new Uint8Array(1) });
const typed = new KinesisProducer<Reading>({
  client,
  streamName: 's',
  toRecord: (r) => ({ PartitionKey: r.deviceId, Data: 'x' }),
});
void typed.put({ deviceId: 'd', value: 2 });
// Options built ahead, annotated.
const options: ToKinesisOptions<Reading> = {
  client,
  streamARN: 'arn',
  toRecord: (r) => ({ PartitionKey: r.deviceId, Data: '' }),
};
readings$.pipe(toKinesis(options));

export { out$, agg$ };
