/**
 * What happened to every input record of `rx-kinesis put`: counts for the progress display and summary,
 * the first invalid line numbers for the report (never their data), and the dead-letter file, which gets
 * the original text of every record that was not delivered.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import type { InputItem, InputProblem } from './records.js';

/** Invalid lines reported one by one; the rest only counted. */
const REPORTED_PROBLEMS = 20;

/**
 * Exit codes of `rx-kinesis put` (after sysexits.h where one fits).
 *
 * @example
 * ```ts
 * process.exitCode = ExitCode.Usage;
 * ```
 */
export const ExitCode = {
  /** Every record read was delivered. */
  Ok: 0,
  /** The run could not go on: the stream is missing, access denied, the input unreadable… */
  Fatal: 1,
  /** Bad command line (EX_USAGE). */
  Usage: 64,
  /** Some input was invalid (EX_DATAERR); every valid record was delivered. */
  InvalidInput: 65,
  /** Some valid records were not delivered, finally failed or left unsent at the drain deadline (EX_TEMPFAIL: the dead-letter file replays them). */
  Partial: 75,
} as const;

/**
 * Counts and the dead-letter file of one run.
 *
 * @example
 * ```ts
 * const tally = new Tally('failed.ndjson');
 * tally.delivered(1);
 * await tally.close();
 * ```
 */
export class Tally {
  read = 0;
  deliveredCount = 0;
  failedCount = 0;
  invalidCount = 0;
  unsentCount = 0;
  readonly problems: { source: string; line: number; reason: string }[] = [];
  readonly failedByCode: Record<string, number> = {};
  private readonly deadLetter: WriteStream | undefined;
  private deadLetterError: Error | undefined;

  constructor(deadLetterPath: string | undefined) {
    if (deadLetterPath !== undefined) {
      this.deadLetter = createWriteStream(deadLetterPath, { flags: 'w' });
      this.deadLetter.on('error', (error) => (this.deadLetterError ??= error));
    }
  }

  delivered(count: number): void {
    this.deliveredCount += count;
  }

  invalid(problem: InputProblem): void {
    this.invalidCount++;
    if (this.problems.length < REPORTED_PROBLEMS) {
      this.problems.push({ source: problem.source, line: problem.line, reason: problem.reason });
    }
    this.dead(problem, problem.reason);
  }

  failed(item: InputItem, code: string): void {
    this.failedCount++;
    this.failedByCode[code] = (this.failedByCode[code] ?? 0) + 1;
    this.dead(item, code);
  }

  unsent(item: InputItem, code: string): void {
    this.unsentCount++;
    this.dead(item, code);
  }

  /** Every record accounted for, or how it ended. */
  exitCode(fatal: boolean): number {
    if (fatal) return ExitCode.Fatal;
    if (this.failedCount > 0 || this.unsentCount > 0) return ExitCode.Partial;
    if (this.invalidCount > 0) return ExitCode.InvalidInput;
    return ExitCode.Ok;
  }

  /** Flushes and closes the dead-letter file; rejects if it could not be written. */
  async close(): Promise<void> {
    if (this.deadLetter !== undefined) {
      await new Promise<void>((resolve) => this.deadLetter!.end(resolve));
    }
    if (this.deadLetterError !== undefined) throw this.deadLetterError;
  }

  private dead(x: { source: string; line: number; text: string }, error: string): void {
    // The file grows with the failures, not with memory: write() queues, and failures are few or the
    // run stops being useful long before the queue matters.
    this.deadLetter?.write(
      `${JSON.stringify({ source: x.source, line: x.line, error, ...(x.text === '' ? {} : { input: x.text }) })}\n`,
    );
  }
}
