/** Test support for the prepareRecord specs: a leak detector, hash-key constants and refusal checks. */
import { createHash } from 'node:crypto';
import { expect } from 'chai';
import {
  InvalidRecordError,
  prepareRecord,
  type InvalidRecordReason,
  type RecordLimits,
} from '../../src/kinesis/records.js';

/** A data string distinctive enough that finding it in an error message means the data leaked. */
export const SECRET = 'zq-SECRET-payload-9f27c1';
/** 2^128 − 1 written out, independently of MAX_HASH_KEY. */
export const TOP = '340282366920938463463374607431768211455';
export const TWO_TO_128 = '340282366920938463463374607431768211456';

/** MD5 of the key's UTF-8 bytes as an unsigned 128-bit big-endian integer, computed without hashKeyOf. */
export function md5HashKey(key: string): bigint {
  const digest = createHash('md5').update(Buffer.from(key, 'utf8')).digest();
  return (digest.readBigUInt64BE(0) << 64n) | digest.readBigUInt64BE(8);
}

/** Whether a string survives UTF-8 (i.e. has no lone surrogate), independently of the code under test. */
export function isWellFormed(s: string): boolean {
  return Buffer.from(s, 'utf8').toString('utf8') === s;
}

export function bytesOf(u: Uint8Array): number[] {
  return Array.from(u);
}

export function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  expect.fail('expected an error to be thrown');
}

/** Asserts prepareRecord refuses `item` with `reason`, carrying the item and a data-free message. */
export function expectRefused(
  item: unknown,
  reason: InvalidRecordReason,
  options: { limits?: RecordLimits; mentions?: readonly string[] } = {},
): InvalidRecordError {
  const error = thrown(() => prepareRecord(item, options.limits));
  expect(error).to.be.instanceOf(InvalidRecordError);
  expect(error).to.be.instanceOf(Error);
  const e = error as InvalidRecordError;
  expect(e.name).to.equal('InvalidRecordError');
  expect(e.reason).to.equal(reason);
  expect(Object.is(e.item, item), 'error.item is the input itself').to.equal(true);
  expect(e.message).to.be.a('string').and.not.equal('');
  expect(e.message).not.to.include(SECRET);
  for (const m of options.mentions ?? []) expect(e.message).to.include(m);
  return e;
}
