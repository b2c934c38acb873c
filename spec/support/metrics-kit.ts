/** Test support for the KinesisMetrics specs: names, and a scripted sequence of reports. */
import { KinesisMetrics } from '../../src/observe/metrics.js';
import type { Summary } from '../../src/observe/snapshot.js';

export const S = 'sensors';
export const S0 = 'shardId-000000000000';
export const S1 = 'shardId-000000000001';
export const THROTTLED = 'ProvisionedThroughputExceededException';

export function summary(values: number[]): Summary {
  if (values.length === 0) return { count: 0, sum: 0, min: 0, max: 0, mean: 0 };
  const sum = values.reduce((a, b) => a + b, 0);
  return {
    count: values.length,
    sum,
    min: Math.min(...values),
    max: Math.max(...values),
    mean: sum / values.length,
  };
}

/** A scripted run on one stream: two shards, aggregation, a throttle, a retry, a failed request. */
export function scripted(m: KinesisMetrics): void {
  m.received(S, 6);
  m.buffered(S, S0, 10);
  m.buffered(S, S0, 30);
  m.buffered(S, S1, 20);
  m.buffered(S, S1, 40);
  // First request: an aggregate of 2 on S0 put, a plain record on S1 put, a plain record on S1 throttled.
  m.request(S, 120, 3, 4);
  m.kinesisRecordPut(S, S0, 2, 300);
  m.userRecordPut(S, S0, 1, 140);
  m.userRecordPut(S, S0, 1, 150);
  m.kinesisRecordPut(S, S1, 1, 100);
  m.userRecordPut(S, S1, 1, 100);
  m.error(S, S1, THROTTLED, 1);
  m.retried(S, S1, 1);
  // Second request: the retry, put.
  m.request(S, 80, 1, 1);
  m.kinesisRecordPut(S, S1, 1, 90);
  m.userRecordPut(S, S1, 2, 90);
  // Third request fails as a whole (no shard): 2 records, finally failed.
  m.request(S, 5000, 2, 2);
  m.error(S, undefined, 'ResourceNotFoundException', 2);
  m.userRecordFailed(S, undefined, 'FATAL_REQUEST_ERROR');
  m.userRecordFailed(S, undefined, 'FATAL_REQUEST_ERROR');
}
