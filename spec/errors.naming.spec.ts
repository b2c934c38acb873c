/** Each entry point names itself in its errors, and messages read as English (issue 15, item 2). */
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { expect } from 'chai';
import { KinesisProducer, putAll, toKinesis, type ToKinesisOptions } from '../src/index.js';
import { prepareRecord } from '../src/kinesis/records.js';

const client = new KinesisClient({ region: 'us-east-1' });
after(() => client.destroy());

describe('error messages', () => {
  // What JavaScript callers (no type checks) get wrong; the casts stand for them.
  const noStream = { client } as unknown as ToKinesisOptions;
  const badLinger = { client, streamName: 's', lingerMs: -1 };

  it('name the API that was called: toKinesis, putAll, KinesisProducer', () => {
    expect(() => toKinesis(noStream)).to.throw(TypeError, /^toKinesis: name the stream/);
    expect(() => putAll([], noStream)).to.throw(TypeError, /^putAll: name the stream/);
    expect(() => new KinesisProducer(noStream)).to.throw(TypeError, /^KinesisProducer: name the stream/);
    expect(() => putAll([], badLinger)).to.throw(RangeError, /^putAll: lingerMs must be ≥ 0, got -1$/);
  });

  it('say what to do when 10 MiB records meet the default request size', () => {
    expect(() => toKinesis({ client, streamName: 's', maxRecordBytes: 10 * 1024 * 1024 })).to.throw(
      RangeError,
      /^toKinesis: maxBatchBytes \(5242880, the default\) must be at least maxRecordBytes \(10485760\): .*raise maxBatchBytes/,
    );
  });

  it('use the right article, and no article for undefined and null', () => {
    const message = (item: unknown) => {
      try {
        prepareRecord(item);
      } catch (e) {
        return (e as Error).message;
      }
      return 'accepted';
    };
    expect(message({ Data: 'x' })).to.equal('PartitionKey must be a string, got undefined');
    expect(message({ PartitionKey: null, Data: 'x' })).to.equal('PartitionKey must be a string, got null');
    expect(message({ PartitionKey: 1, Data: 'x' })).to.equal('PartitionKey must be a string, got a number');
    expect(message({ PartitionKey: 'k', Data: 1n })).to.match(/got a bigint$/);
    expect(message({ PartitionKey: 'k', Data: new Date() })).to.match(/got a Date$/);
    expect(message({ PartitionKey: 'k', Data: { t: 1 } })).to.match(/got an object$/);
    expect(message(undefined)).to.match(/got undefined$/);
    expect(message({ PartitionKey: 'k', Data: 'x' })).to.equal('accepted'); // control
  });
});
