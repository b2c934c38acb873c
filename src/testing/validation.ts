import { KinesisError, ValidationErrors, describeBlob, quote } from './errors.js';
import { MAX_HASH_KEY } from './routing.js';

// The patterns and limits AWS's validation layer states in its messages, quoted as it quotes them.
const STREAM_NAME_PATTERN = '[a-zA-Z0-9_.-]+';
/** A valid stream name (also the shard-id pattern AWS checks). */
export const STREAM_NAME = /^[a-zA-Z0-9_.-]{1,128}$/;
const STREAM_ARN_PATTERN = 'arn:aws.*:kinesis:.*:\\d{12}:stream/\\S+';
/** A stream ARN; groups: region, account, stream name. */
export const STREAM_ARN = /^arn:aws[^:]*:kinesis:([^:]*):(\d{12}):stream\/([a-zA-Z0-9_.-]{1,128})$/;
const HASH_KEY_PATTERN = '0|([1-9]\\d{0,38})';
const HASH_KEY = /^(0|[1-9]\d{0,38})$/;
const MAX_PARTITION_KEY_LENGTH = 256;

type Fields = Readonly<Record<string, unknown>>;

function lowerFirst(name: string): string {
  return name[0].toLowerCase() + name.slice(1);
}

/**
 * Adds the violations of a stream name.
 *
 * @example
 * ```ts
 * checkStreamName('bad name!', errors); // errors.count === 1
 * ```
 */
export function checkStreamName(name: string, errors: ValidationErrors): void {
  if (name.length < 1)
    errors.add(quote(name), 'streamName', 'Member must have length greater than or equal to 1');
  else if (name.length > 128) {
    errors.add(quote(name), 'streamName', 'Member must have length less than or equal to 128');
  } else if (!STREAM_NAME.test(name)) {
    errors.add(
      quote(name),
      'streamName',
      `Member must satisfy regular expression pattern: ${STREAM_NAME_PATTERN}`,
    );
  }
}

/**
 * Adds the violations of a request's optional `StreamName` and `StreamARN`.
 *
 * @example
 * ```ts
 * checkStreamFields({ StreamARN: 'nope' }, errors); // errors.count === 1
 * ```
 */
export function checkStreamFields(input: Fields, errors: ValidationErrors): void {
  const name = input.StreamName;
  if (name !== undefined && name !== null) {
    if (typeof name !== 'string') errors.add(quote(name), 'streamName', 'Member must be a string');
    else checkStreamName(name, errors);
  }
  const arn = input.StreamARN;
  if (arn !== undefined && arn !== null && (typeof arn !== 'string' || !STREAM_ARN.test(arn))) {
    errors.add(
      quote(arn),
      'streamARN',
      `Member must satisfy regular expression pattern: ${STREAM_ARN_PATTERN}`,
    );
  }
}

/**
 * Adds a violation unless `input[field]` is a shard id.
 *
 * @example
 * ```ts
 * requireShardId({ ShardToSplit: 'shardId-000000000000' }, 'ShardToSplit', errors); // no violation
 * ```
 */
export function requireShardId(input: Fields, field: string, errors: ValidationErrors): void {
  const value = input[field];
  if (typeof value !== 'string') errors.add('null', lowerFirst(field), 'Member must not be null');
  else if (!STREAM_NAME.test(value)) {
    errors.add(
      quote(value),
      lowerFirst(field),
      `Member must satisfy regular expression pattern: ${STREAM_NAME_PATTERN}`,
    );
  }
}

/**
 * Adds a violation unless `value` is a decimal hash key (SplitShard's `NewStartingHashKey`).
 *
 * @example
 * ```ts
 * checkHashKeySyntax('12', 'newStartingHashKey', errors); // no violation
 * ```
 */
export function checkHashKeySyntax(value: unknown, path: string, errors: ValidationErrors): void {
  if (typeof value !== 'string') errors.add('null', path, 'Member must not be null');
  else if (!HASH_KEY.test(value)) {
    errors.add(quote(value), path, `Member must satisfy regular expression pattern: ${HASH_KEY_PATTERN}`);
  }
}

/**
 * Validates one record (a PutRecords entry, or PutRecord's own fields with an empty `path`) and returns
 * its decoded data, or undefined after adding the violations to `errors`.
 *
 * @example
 * ```ts
 * const data = checkEntry({ PartitionKey: 'k', Data: 'aGk=' }, '', 1024 * 1024, errors); // <Buffer 68 69>
 * ```
 */
export function checkEntry(
  entry: unknown,
  path: string,
  maxRecordBytes: number,
  errors: ValidationErrors,
): Buffer | undefined {
  if (typeof entry !== 'object' || entry === null) {
    errors.add('null', path.slice(0, -1) || 'record', 'Member must not be null');
    return undefined;
  }
  const { PartitionKey: key, Data: encoded, ExplicitHashKey: ehk } = entry as Fields;
  let valid = true;
  if (typeof key !== 'string') {
    errors.add('null', path + 'partitionKey', 'Member must not be null');
    valid = false;
  } else if (key.length < 1) {
    errors.add("''", path + 'partitionKey', 'Member must have length greater than or equal to 1');
    valid = false;
  } else if (key.length > MAX_PARTITION_KEY_LENGTH) {
    errors.add(
      quote(key),
      path + 'partitionKey',
      `Member must have length less than or equal to ${MAX_PARTITION_KEY_LENGTH}`,
    );
    valid = false;
  }
  if (ehk !== undefined && ehk !== null && (typeof ehk !== 'string' || !HASH_KEY.test(ehk))) {
    errors.add(
      quote(ehk),
      path + 'explicitHashKey',
      `Member must satisfy regular expression pattern: ${HASH_KEY_PATTERN}`,
    );
    valid = false;
  }
  if (typeof encoded !== 'string') {
    errors.add('null', path + 'data', 'Member must not be null');
    return undefined;
  }
  const data = Buffer.from(encoded, 'base64');
  // The record limit covers data and partition key together; AWS reports it against the data.
  const keyBytes = typeof key === 'string' ? Buffer.byteLength(key) : 0;
  if (data.length + keyBytes > maxRecordBytes) {
    errors.add(
      describeBlob(data.length),
      path + 'data',
      `Member must have length less than or equal to ${maxRecordBytes}`,
    );
    return undefined;
  }
  return valid ? data : undefined;
}

/**
 * The entry's ExplicitHashKey as a number (already matching the pattern), range-checked like AWS.
 *
 * @example
 * ```ts
 * explicitHashKey({ ExplicitHashKey: '7' }); // 7n
 * ```
 */
export function explicitHashKey(entry: Fields): bigint | undefined {
  const ehk = entry.ExplicitHashKey;
  if (typeof ehk !== 'string') return undefined;
  const value = BigInt(ehk);
  if (value > MAX_HASH_KEY) {
    throw new KinesisError(
      'InvalidArgumentException',
      `Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. Specified value was ${ehk}`,
    );
  }
  return value;
}
