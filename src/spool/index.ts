/**
 * The durable on-disk spool: a segment log of Kinesis records with CRC-checked frames and persisted acks.
 *
 * @example
 * ```ts
 * const spool = await Spool.open({ directory: '/var/spool/sensors' });
 * ```
 */
export { Spool } from './spool.js';
export { SpoolError, SpoolFullError, SpoolLockedError, type SpoolErrorCode } from './errors.js';
export { FORMAT_VERSION as SPOOL_FORMAT_VERSION, type SpoolEntry, type SpoolRecord } from './format.js';
export type { SpoolCorruption } from './recover.js';
export type { SpoolFsync } from './writer.js';
export type { SpoolDrop, SpoolOptions, SpoolStats, SpoolWhenFull } from './options.js';
