import type { PutRecordsOutput, PutRecordsResultEntry } from '@aws-sdk/client-kinesis';

/**
 * The `ErrorCode` given to a PutRecords entry the response left out (a `Records` array shorter than the
 * request) or left empty (neither `SequenceNumber` nor `ErrorCode`). Such an entry is a failed entry and
 * is retried like `InternalFailure`; the record may have been written (the emulator's `shortResponseRate`
 * and `emptyEntryRate` write it), so its retry can make a duplicate.
 *
 * @example
 * ```ts
 * const result: { ErrorCode?: string } = { ErrorCode: 'NoResult' };
 * if (result.ErrorCode === NO_RESULT_ERROR_CODE) console.warn('retried; it may have been written');
 * ```
 */
export const NO_RESULT_ERROR_CODE = 'NoResult';

const NO_RESULT_MESSAGE = 'the PutRecords response had no result for this record; it may have been written';

/**
 * The response with a result for each of the request's `n` entries: a missing or empty one becomes a
 * failed entry ({@link NO_RESULT_ERROR_CODE}) and `FailedRecordCount` counts it, so an emission never
 * holds an item that is neither delivered nor failed. A complete response is returned as is (no copy).
 *
 * @example
 * ```ts
 * completeResults(2, { Records: [] }).Records; // two { ErrorCode: 'NoResult', ErrorMessage } entries
 * ```
 */
export function completeResults(n: number, response: PutRecordsOutput): PutRecordsOutput {
  const records = response.Records ?? [];
  let complete = records.length === n;
  for (let i = 0; complete && i < n; i++) complete = hasOutcome(records[i]);
  if (complete) return response;
  const filled: PutRecordsResultEntry[] = new Array(n);
  let failed = 0;
  for (let i = 0; i < n; i++) {
    const entry = records[i];
    filled[i] = hasOutcome(entry)
      ? entry
      : { ErrorCode: NO_RESULT_ERROR_CODE, ErrorMessage: NO_RESULT_MESSAGE };
    if (filled[i].SequenceNumber === undefined) failed++;
  }
  return { ...response, Records: filled, FailedRecordCount: failed };
}

function hasOutcome(entry: PutRecordsResultEntry | undefined): entry is PutRecordsResultEntry {
  return (
    entry !== undefined &&
    entry !== null &&
    (entry.SequenceNumber !== undefined || entry.ErrorCode !== undefined)
  );
}
