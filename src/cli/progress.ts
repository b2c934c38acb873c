/**
 * The live status of `rx-kinesis put` on stderr: on a terminal one line redrawn in place (`\r` and
 * erase-line, no library: a single line needs neither layout nor colour, and every terminal and Windows'
 * console since 10 understands those two codes); elsewhere (a pipe, a CI log) one plain line now and then,
 * which reads well in a file.
 */
import type { KinesisMetrics } from '../index.js';
import type { Tally } from './tally.js';

/**
 * Where progress goes and how often.
 *
 * @example
 * ```ts
 * const progress = new Progress(tally, metrics, 'events', process.stderr, { tty: false, intervalMs: 10_000, retrying: () => 0 });
 * ```
 */
export interface ProgressOptions {
  readonly tty: boolean;
  readonly intervalMs: number;
  /** Items now waiting to be retried. */
  readonly retrying: () => number;
}

/**
 * Draws the status every `intervalMs` until `stop()`.
 *
 * @example
 * ```ts
 * const progress = new Progress(tally, metrics, 'events', process.stderr, { tty: true, intervalMs: 250, retrying: () => 0 });
 * progress.start();
 * // ... run ...
 * progress.stop();
 * ```
 */
export class Progress {
  private timer: NodeJS.Timeout | undefined;
  private last = { time: 0, delivered: 0, shards: new Map<string, number>() };
  private readonly startedAt = Date.now();

  constructor(
    private readonly tally: Tally,
    private readonly metrics: KinesisMetrics,
    private readonly stream: string,
    private readonly out: NodeJS.WritableStream & { columns?: number },
    private readonly options: ProgressOptions,
  ) {}

  start(): void {
    this.last.time = Date.now();
    this.timer = setInterval(() => this.draw(), this.options.intervalMs);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    if (this.options.tty) this.out.write('\r\x1b[2K');
  }

  /** One status line: totals, overall and per-shard rates since the last line. */
  line(now = Date.now()): string {
    const t = this.tally;
    const seconds = Math.max(now - this.last.time, 1) / 1000;
    const rate = (t.deliveredCount - this.last.delivered) / seconds;
    const shardRates: number[] = [];
    const shards = this.metrics.snapshot().streams[this.stream]?.shards ?? {};
    const next = new Map<string, number>();
    for (const [id, shard] of Object.entries(shards)) {
      next.set(id, shard.userRecordsPut);
      shardRates.push((shard.userRecordsPut - (this.last.shards.get(id) ?? 0)) / seconds);
    }
    this.last = { time: now, delivered: t.deliveredCount, shards: next };
    const perShard =
      shardRates.length === 0
        ? ''
        : ` | ${shardRates.length} shards ${Math.round(Math.min(...shardRates))}–${Math.round(Math.max(...shardRates))}/s`;
    const elapsed = Math.round((now - this.startedAt) / 1000);
    return (
      `${elapsed}s ${t.deliveredCount}/${t.read} delivered ${Math.round(rate)}/s` +
      ` | retrying ${this.options.retrying()} failed ${t.failedCount} invalid ${t.invalidCount}${perShard}`
    );
  }

  private draw(): void {
    const text = this.line();
    if (this.options.tty) {
      const width = this.out.columns ?? 80;
      this.out.write(`\r\x1b[2K${text.length >= width ? text.slice(0, width - 1) : text}`);
    } else {
      this.out.write(`${text}\n`);
    }
  }
}
