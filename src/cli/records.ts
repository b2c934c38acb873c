/**
 * Turns the input of `rx-kinesis put` into records: each line (or CSV row) becomes an {@link InputItem}
 * carrying its Kinesis record and where it came from, or an {@link InputProblem} naming why it cannot be
 * sent. Problems carry a line number and the original text (for the dead-letter file only, never printed).
 */
import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { KinesisRecordInput } from '../index.js';
import type { InputFormat, PutConfig } from './args.js';
import { readCsv, readLines } from './input.js';
import { compileTemplate, fieldAt, randomKeys } from './keys.js';

/**
 * One input record on its way to Kinesis.
 *
 * @example
 * ```ts
 * const item: InputItem = { source: 'a.ndjson', line: 3, text: '{"id":1}', record: { PartitionKey: '1', Data: '{"id":1}' } };
 * ```
 */
export interface InputItem {
  readonly source: string;
  readonly line: number;
  /** The input as read (the record's data for ndjson and lines). */
  readonly text: string;
  readonly record: KinesisRecordInput;
}

/**
 * Why a line was not sent: a CLI check (`INVALID_JSON`, `KEY_MISSING`, `HASH_KEY_MISSING`,
 * `RECORD_TOO_LARGE` for a line longer than the record limit, `CSV_…`) or the pipeline's `InvalidRecordReason` (e.g. `RECORD_TOO_LARGE`).
 *
 * @example
 * ```ts
 * const problem: InputProblem = { source: '-', line: 9, text: '{oops', reason: 'INVALID_JSON' };
 * ```
 */
export interface InputProblem {
  readonly source: string;
  readonly line: number;
  readonly text: string;
  readonly reason: string;
}

type KeyOf = (value: unknown) => string | undefined;

/**
 * Builds the record of one parsed value (JSON or a CSV row object) by the `--key…` and `--hash-key-field`
 * options; returns the reason when a needed field is missing.
 *
 * @example
 * ```ts
 * const build = recordBuilder({ key: { field: 'id' } });
 * build({ id: 7 }, '{"id":7}'); // { PartitionKey: '7', Data: '{"id":7}' }
 * ```
 */
export function recordBuilder(
  config: Pick<PutConfig, 'key' | 'hashKeyField'>,
  random: (bytes: number) => Buffer = randomBytes,
): (value: unknown, data: string) => KinesisRecordInput | 'KEY_MISSING' | 'HASH_KEY_MISSING' {
  const { key, hashKeyField } = config;
  const randomKey = randomKeys(random);
  const keyOf: KeyOf | undefined =
    key === 'random'
      ? undefined
      : 'field' in key
        ? (value) => fieldAt(value, key.field)
        : compileTemplate(key.template);
  return (value, data) => {
    let ExplicitHashKey: string | undefined;
    if (hashKeyField !== undefined) {
      ExplicitHashKey = fieldAt(value, hashKeyField);
      if (ExplicitHashKey === undefined) return 'HASH_KEY_MISSING';
    }
    let PartitionKey: string | undefined;
    if (keyOf === undefined) {
      // With an explicit hash key the partition key does not route; a fixed one saves the bytes.
      PartitionKey = ExplicitHashKey === undefined ? randomKey() : 'h';
    } else {
      PartitionKey = keyOf(value);
      if (PartitionKey === undefined) return 'KEY_MISSING';
    }
    return ExplicitHashKey === undefined
      ? { PartitionKey, Data: data }
      : { PartitionKey, ExplicitHashKey, Data: data };
  };
}

/**
 * Reads one input (a file or stdin) in `format` and yields its records and problems, one line at a time
 * (blank lines are skipped). `maxChars` bounds what a single line may hold in memory.
 *
 * @example
 * ```ts
 * const build = recordBuilder({ key: { field: 'id' } });
 * for await (const x of readRecords(process.stdin, '-', 'ndjson', build, 1 << 20))
 *   if (isProblem(x)) tally.invalid(x);
 *   else console.log(x.line, x.record.PartitionKey);
 * ```
 */
export async function* readRecords(
  input: Readable,
  source: string,
  format: InputFormat,
  build: ReturnType<typeof recordBuilder>,
  maxChars: number,
): AsyncGenerator<InputItem | InputProblem> {
  const lines = readLines(input, maxChars);
  if (format === 'csv') {
    for await (const row of readCsv(lines, maxChars)) {
      if (row.problem !== undefined) {
        yield { source, line: row.line, text: row.text, reason: row.problem };
        continue;
      }
      yield toItem(source, row.line, row.text, row.fields, JSON.stringify(row.fields), build);
    }
    return;
  }
  for await (const { line, text, tooLong } of lines) {
    if (tooLong) {
      yield { source, line, text: '', reason: 'RECORD_TOO_LARGE' };
      continue;
    }
    if (text.trim() === '') continue;
    if (format === 'lines') {
      yield toItem(source, line, text, undefined, text, build);
      continue;
    }
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      yield { source, line, text, reason: 'INVALID_JSON' };
      continue;
    }
    yield toItem(source, line, text, value, text, build);
  }
}

function toItem(
  source: string,
  line: number,
  text: string,
  value: unknown,
  data: string,
  build: ReturnType<typeof recordBuilder>,
): InputItem | InputProblem {
  const record = build(value, data);
  return typeof record === 'string' ? { source, line, text, reason: record } : { source, line, text, record };
}

/**
 * Tells an item from a problem.
 *
 * @example
 * ```ts
 * const x = { source: '-', line: 9, text: '{oops', reason: 'INVALID_JSON' } as InputItem | InputProblem;
 * if (isProblem(x)) tally.invalid(x); // else x.record goes to the stream
 * ```
 */
export function isProblem(x: InputItem | InputProblem): x is InputProblem {
  return 'reason' in x;
}
