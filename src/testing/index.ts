/**
 * `rx-kinesis/testing`: an in-process Amazon Kinesis emulator for tests and benchmarks.
 *
 * @example
 * ```ts
 * import { startEmulator } from 'rx-kinesis/testing';
 *
 * const emu = await startEmulator({ shards: 4, streamName: 'demo' });
 * // point a KinesisClient at emu.endpoint, write, then assert on emu.records / emu.stats()
 * await emu.close();
 * ```
 *
 * @module rx-kinesis/testing
 */
export { startEmulator, KinesisEmulator } from './emulator.js';
export type { EmulatorOptions, EmulatorStream } from './emulator-options.js';
export type { EmulatorStats, ShardStats } from './stats.js';
export type { FaultOptions, FaultCounts, ThrottleErrorCode } from './fault-options.js';
export type { QuotaOptions } from './quota.js';
export type { ReadQuotaOptions } from './read-quota.js';
export { readAll, type ReadAllOptions, type ReadRecord } from './read-all.js';
export type {
  AcceptedRecord,
  AggregateRecord,
  ExpectedRecord,
  DuplicateGroup,
  OrderViolation,
  OrderCheckOptions,
} from './ledger.js';
export type { ShardDescription } from './stream-state.js';
export { deaggregate, type UserRecord } from './deaggregate.js';
// The emulator's seeded PRNG: fault injection replays from it, and tests (and the examples) make repeatable
// data and jitter with it.
export { seededRandom } from './faults.js';
