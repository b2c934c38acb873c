/**
 * Reading input for `rx-kinesis put`: lines (or CSV rows) pulled from a Readable one chunk at a time, so
 * putAll()'s back-pressure reaches the file: while the producer's buffer is full nobody asks for the next
 * line, the stream's own buffer fills, and the file (or the pipe feeding stdin) is not read further.
 */
import { StringDecoder } from 'node:string_decoder';
import type { Readable } from 'node:stream';

/**
 * One unit of input: a line, or a whole CSV row (which may span lines). `tooLong` units were cut short at
 * `maxBytes` and skipped to their end: their `text` is empty, never a partial record.
 *
 * @example
 * ```ts
 * for await (const line of readLines(process.stdin, 1 << 20)) if (!line.tooLong) console.log(line.line);
 * ```
 */
export interface InputLine {
  /** 1-based line number where the unit starts. */
  readonly line: number;
  readonly text: string;
  readonly tooLong: boolean;
}

/**
 * Splits a stream into lines (LF or CRLF), decoding UTF-8 across chunk edges. A line longer than
 * `maxChars` is not kept: it is reported `tooLong` and memory stays bounded by `maxChars` plus one chunk,
 * whatever the input holds. A final line without a newline counts; an empty last line does not.
 *
 * @example
 * ```ts
 * for await (const { line, text } of readLines(createReadStream('events.ndjson'), 1024 * 1024)) JSON.parse(text);
 * ```
 */
export async function* readLines(input: Readable, maxChars: number): AsyncGenerator<InputLine> {
  const decoder = new StringDecoder('utf8');
  let pending = '';
  let skipping = false;
  let line = 1;
  const emit = (text: string): InputLine => {
    const unit =
      skipping || text.length > maxChars
        ? { line, text: '', tooLong: true }
        : { line, text: text.endsWith('\r') ? text.slice(0, -1) : text, tooLong: false };
    line++;
    skipping = false;
    return unit;
  };
  for await (const chunk of input) {
    let text = pending + (typeof chunk === 'string' ? chunk : decoder.write(chunk as Buffer));
    pending = '';
    let start = 0;
    for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
      const unit = emit(text.slice(start, nl));
      start = nl + 1;
      yield unit;
    }
    text = text.slice(start);
    if (skipping || text.length > maxChars) {
      skipping = true;
    } else {
      pending = text;
    }
  }
  const rest = pending + decoder.end();
  if (rest.length > 0 || skipping) yield emit(rest);
}

/**
 * Why a CSV unit could not be read as a row.
 *
 * @example
 * ```ts
 * const reason: CsvProblem = 'CSV_UNCLOSED_QUOTE';
 * ```
 */
export type CsvProblem = 'CSV_UNCLOSED_QUOTE' | 'CSV_BAD_QUOTE' | 'CSV_FIELD_COUNT';

/**
 * Parses one CSV record per RFC 4180: fields separated by `delimiter`, optionally quoted with `"`, a quote
 * inside quotes doubled. Returns the fields, or `'open'` when the record is inside quotes at its end (a
 * quoted field holding a newline: append the next line and parse again), or a problem.
 *
 * @example
 * ```ts
 * parseCsvRecord('a,"b ""c""",d'); // ['a', 'b "c"', 'd']
 * ```
 */
export function parseCsvRecord(text: string, delimiter = ','): string[] | 'open' | 'CSV_BAD_QUOTE' {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    if (text[i] === '"') {
      let value = '';
      let from = i + 1;
      for (;;) {
        const quote = text.indexOf('"', from);
        if (quote < 0) return 'open';
        value += text.slice(from, quote);
        if (text[quote + 1] === '"') {
          value += '"';
          from = quote + 2;
          continue;
        }
        i = quote + 1;
        break;
      }
      fields.push(value);
      if (i === text.length) return fields;
      if (text[i] !== delimiter) return 'CSV_BAD_QUOTE';
      i++;
    } else {
      const end = text.indexOf(delimiter, i);
      const field = end < 0 ? text.slice(i) : text.slice(i, end);
      if (field.includes('"')) return 'CSV_BAD_QUOTE';
      fields.push(field);
      if (end < 0) return fields;
      i = end + 1;
    }
  }
}

/**
 * One CSV data row: its fields by header name, or the problem that made it unreadable.
 *
 * @example
 * ```ts
 * const row: CsvRow = { line: 2, text: 'd1,20.5', fields: { device: 'd1', temp: '20.5' } };
 * ```
 */
export interface CsvRow {
  readonly line: number;
  /** The row as it was in the input (lines joined with `\n`); empty when `tooLong`. */
  readonly text: string;
  readonly fields?: Record<string, string>;
  readonly problem?: CsvProblem | 'RECORD_TOO_LARGE';
}

/**
 * Reads CSV rows from lines: the first row names the fields, every later row becomes an object of them.
 * A quoted field may hold newlines (the row then spans lines) but a row is held to `maxChars` like a line.
 *
 * @example
 * ```ts
 * for await (const row of readCsv(readLines(process.stdin, 1 << 20), 1 << 20)) console.log(row.fields);
 * ```
 */
export async function* readCsv(
  lines: AsyncIterable<InputLine>,
  maxChars: number,
  delimiter = ',',
): AsyncGenerator<CsvRow> {
  let header: string[] | undefined;
  let open: { line: number; text: string } | undefined;
  // A row cut for length while inside quotes: skip its lines until its quotes balance again.
  let skipping: { line: number; quotes: number } | undefined;
  for await (const unit of lines) {
    if (skipping !== undefined) {
      skipping.quotes += quotesIn(unit.text);
      if (unit.tooLong || skipping.quotes % 2 === 1) continue;
      yield { line: skipping.line, text: '', problem: 'RECORD_TOO_LARGE' };
      skipping = undefined;
      continue;
    }
    if (unit.tooLong) {
      yield { line: open?.line ?? unit.line, text: '', problem: 'RECORD_TOO_LARGE' };
      open = undefined;
      continue;
    }
    const line = open?.line ?? unit.line;
    const text = open === undefined ? unit.text : `${open.text}\n${unit.text}`;
    open = undefined;
    const parsed = parseCsvRecord(text, delimiter);
    if (text.length > maxChars) {
      if (parsed === 'open') skipping = { line, quotes: 1 };
      else yield { line, text: '', problem: 'RECORD_TOO_LARGE' };
      continue;
    }
    if (parsed === 'open') {
      open = { line, text };
      continue;
    }
    if (header === undefined) {
      if (parsed === 'CSV_BAD_QUOTE') yield { line, text, problem: parsed };
      else header = parsed;
      continue;
    }
    if (text === '') continue;
    if (parsed === 'CSV_BAD_QUOTE') {
      yield { line, text, problem: parsed };
    } else if (parsed.length !== header.length) {
      yield { line, text, problem: 'CSV_FIELD_COUNT' };
    } else {
      const fields: Record<string, string> = {};
      header.forEach((name, i) => (fields[name] = parsed[i]));
      yield { line, text, fields };
    }
  }
  if (skipping !== undefined) yield { line: skipping.line, text: '', problem: 'RECORD_TOO_LARGE' };
  if (open !== undefined) yield { line: open.line, text: open.text, problem: 'CSV_UNCLOSED_QUOTE' };
}

function quotesIn(text: string): number {
  let n = 0;
  for (let i = text.indexOf('"'); i >= 0; i = text.indexOf('"', i + 1)) n++;
  return n;
}
