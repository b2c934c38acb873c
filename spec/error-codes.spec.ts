/**
 * Classification by what the error is, not its HTTP status: the fatal list (each with its reason), every
 * error without an AWS code retried even with a 200 status, and messages quoting a cause without data.
 */
import { expect } from 'chai';
import fc from 'fast-check';
import { isRetryableRequestError } from '../src/errors.js';
import {
  describeCause,
  FATAL_ERROR_CODES,
  MAX_QUOTED_MESSAGE,
  sanitizedMessage,
  TRANSIENT_ERROR_CODES,
} from '../src/kinesis/error-codes.js';
import { RequestTimeoutError } from '../src/pipeline/deadline.js';
import { sdkError } from './support/fake-kinesis.js';

const withStatus = (error: Error, status: number | undefined, code?: string) =>
  Object.assign(error, { $metadata: { httpStatusCode: status }, ...(code ? { code } : {}) });

describe('error classification (kinesis/error-codes.ts)', () => {
  it('every fatal code has a reason and is not retried, whatever its status', () => {
    expect(Object.keys(FATAL_ERROR_CODES)).to.include.members([
      'ResourceNotFoundException',
      'AccessDeniedException',
      'InvalidArgumentException',
      'ValidationException',
      'KMSDisabledException',
      'KMSAccessDeniedException',
      'UnrecognizedClientException',
      'InvalidSignatureException',
    ]);
    for (const [code, reason] of Object.entries(FATAL_ERROR_CODES)) {
      expect(reason.length, code).to.be.greaterThan(10);
      for (const status of [400, 403, 200, undefined]) {
        expect(isRetryableRequestError(sdkError(code, status ?? 400)), code).to.equal(false);
      }
    }
  });

  it('transient codes, 5xx and unknown codes are retried (a wrong retry costs the budget, a wrong fatal the run)', () => {
    for (const code of Object.keys(TRANSIENT_ERROR_CODES)) {
      expect(isRetryableRequestError(sdkError(code, 400)), code).to.equal(true);
    }
    expect(isRetryableRequestError(sdkError('ResourceInUseException', 400))).to.equal(true);
    expect(isRetryableRequestError(sdkError('SomeNewException', 400))).to.equal(true);
    expect(isRetryableRequestError(sdkError('InternalFailure', 500))).to.equal(true);
  });

  it('errors without an AWS code are retried even with status 200: parse errors, HTTP/2 stream errors, resets, timeouts, aborts', () => {
    const cases = [
      withStatus(new SyntaxError('Unexpected token < in JSON'), 200),
      withStatus(
        Object.assign(new Error('Stream closed with error code NGHTTP2_INTERNAL_ERROR'), {}),
        200,
        'ERR_HTTP2_STREAM_ERROR',
      ),
      withStatus(new Error('socket hang up'), undefined, 'ECONNRESET'),
      Object.assign(new Error('Request aborted'), { name: 'AbortError' }),
      new RequestTimeoutError('PutRecords', 6000),
      new Error('Region is missing'),
      undefined,
      'a string',
    ];
    for (const error of cases) expect(isRetryableRequestError(error), String(error)).to.equal(true);
    // Control: 0.2.0 decided by status and called the 200s fatal; a 400 without a code still is not fatal.
    expect(isRetryableRequestError(withStatus(new Error('bad'), 400))).to.equal(true);
  });

  it('describeCause names the code, the Node code, the status and a sanitised message', () => {
    const error = withStatus(new Error('connect ECONNREFUSED 127.0.0.1:1'), undefined, 'ECONNREFUSED');
    expect(describeCause(error)).to.equal('Error ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:1');
    const refused = sdkError(
      'ValidationException',
      400,
      "Value 'pk-secret' at 'records.1.member.partitionKey' failed",
    );
    expect(describeCause(refused)).to.equal('ValidationException (HTTP 400): Value … at … failed');
  });

  it('property: a sanitised message quotes no quoted value, no access key, no long token, and is capped', () => {
    fc.assert(
      fc.property(
        fc.string(),
        fc.string({ minLength: 1 }).filter((s) => !/['"`\n]/.test(s)),
        fc.constantFrom("'", '"', '`'),
        fc.string(),
        (before, secret, quote, after) => {
          const token = 'AKIA' + 'ABCDEFGHIJKLMNOP';
          const clean = (s: string) => s.replace(/['"`]/g, '');
          const message = `${clean(before)} ${quote}§SECRET§${secret}${quote} ${token} ${'x'.repeat(30)} ${clean(after)}`;
          const out = sanitizedMessage(new Error(message));
          expect(out).to.not.contain(`§SECRET§`); // fc.string() draws no §, so only the quoted value holds it
          expect(out).to.not.contain(token);
          expect(out).to.not.contain('x'.repeat(30));
          expect(out.length).to.be.at.most(MAX_QUOTED_MESSAGE);
        },
      ),
      { numRuns: 300 },
    );
  });
});
