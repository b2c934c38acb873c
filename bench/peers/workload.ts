/** Scenario 7's workload, built identically by the parent (for the ledger checks) and by each program's child. */
import { keys } from '../harness.js';

/** One record as every program sends it: `data` is 100 bytes of JSON that embeds the record's sequence number. */
export interface PeerRecord {
  readonly partitionKey: string;
  readonly data: string;
}

export const RECORD_BYTES = 100;
export const KEY_COUNT = 1000;

/**
 * `count` records with keys drawn (seeded, so every program gets the same sequence) from 1,000 keys. The data
 * is JSON (`{"k":key,"s":seq,"p":padding}`) because two peers JSON-serialise whatever they are given: handed
 * `JSON.parse(data)`, they send exactly these bytes, so one ledger check fits every program.
 */
export function workload(count: number, seed = 7): PeerRecord[] {
  const pool = keys(KEY_COUNT);
  let state = seed >>> 0;
  const random = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 15), z | 1);
    z ^= z + Math.imul(z ^ (z >>> 7), z | 61);
    return ((z ^ (z >>> 14)) >>> 0) / 0x1_0000_0000;
  };
  return Array.from({ length: count }, (_, s) => {
    const k = pool[Math.floor(random() * pool.length)];
    const bare = JSON.stringify({ k, s, p: '' }).length;
    const data = JSON.stringify({ k, s, p: 'x'.repeat(RECORD_BYTES - bare) });
    return { partitionKey: k, data };
  });
}

/** What the child tells the parent. */
export type ChildMessage =
  | { type: 'start'; at: number }
  | { type: 'fed'; at: number }
  | { type: 'done'; at: number }
  | { type: 'error'; at: number; message: string };

export const PROGRAMS = [
  'rx-kinesis toKinesis()',
  'naive RxJS (bufferCount + mergeMap)',
  'kinesis-streams',
  'lifion-kinesis',
  'aws-kinesis-writable',
] as const;
export type Program = (typeof PROGRAMS)[number];
