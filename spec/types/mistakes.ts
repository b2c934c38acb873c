/**
 * Type-level spec (checked by spec/types.spec.ts, not run): the first-hour mistakes of issue 15 are compile
 * errors. Each `@ts-expect-error` must be needed — the checker reports an unused one — so this file fails on
 * types that let a mistake through.
 */
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { of } from 'rxjs';
import { KinesisProducer, putAll, toKinesis, type ToKinesisOptions } from '../../src/index.js';

const client = new KinesisClient({});

// A domain object and no toRecord.
// @ts-expect-error toRecord is required: the items are not KinesisRecordInputs
of({ deviceId: 'd1', value: 1 }).pipe(toKinesis({ client, streamName: 'sensors' }));

// Data that is not bytes or a string.
// @ts-expect-error Data: Date
of({ PartitionKey: 'k', Data: new Date() }).pipe(toKinesis({ client, streamName: 'sensors' }));
// @ts-expect-error Data: an object
of({ PartitionKey: 'k', Data: { t: 1 } }).pipe(toKinesis({ client, streamName: 'sensors' }));

// null items.
// @ts-expect-error null is not a record
of(null).pipe(toKinesis({ client, streamName: 'sensors' }));

// No stream named.
// @ts-expect-error neither streamName nor streamARN
of({ PartitionKey: 'k', Data: 'v' }).pipe(toKinesis({ client }));

// The same mistakes through putAll() and KinesisProducer.
// @ts-expect-error putAll of domain objects without toRecord
putAll([{ deviceId: 'd1' }], { client, streamName: 'sensors' });
// @ts-expect-error putAll without a stream
putAll([{ PartitionKey: 'k', Data: 'v' }], { client });
// @ts-expect-error a producer of domain objects without toRecord
new KinesisProducer<{ deviceId: string }>({ client, streamName: 'sensors' });
// @ts-expect-error put() of a Date as Data
new KinesisProducer({ client, streamName: 'sensors' }).put({ PartitionKey: 'k', Data: new Date() });
// @ts-expect-error options annotated for domain objects must carry toRecord
export const annotated: ToKinesisOptions<{ deviceId: string }> = { client, streamName: 'sensors' };
const toRecord = (r: { deviceId: string }) => ({ PartitionKey: r.deviceId, Data: r });
// @ts-expect-error toRecord must return a record, not the object as Data
of({ deviceId: 'd1' }).pipe(toKinesis({ client, streamName: 's', toRecord }));
