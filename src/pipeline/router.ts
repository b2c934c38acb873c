import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type { SchedulerLike, Subscription } from 'rxjs';
import { describeRequestError, isRetryableRequestError, type KinesisSinkErrorCode } from '../errors.js';
import { listOpenShards, ShardMap, type ShardRange, type StreamRef } from '../kinesis/shard-map.js';
import { Deadline, type DeadlineOptions } from './deadline.js';
import { knownShards, rememberShards } from './known-maps.js';
import type { PendingRecord } from './pending.js';
import type { ShardLanes } from './shard-lanes.js';

/** Shard-map refreshes: at most one a second, backing off ×1.5 to 30 s while ListShards fails (as KPL). */
export const MAP_REFRESH_MIN_INTERVAL_MS = 1000;
export const MAP_REFRESH_MAX_INTERVAL_MS = 30_000;
/**
 * The first load's first retry: sooner than a refresh's 1 s, since nothing can be sent until it succeeds;
 * then ×1.5 to 30 s like a refresh (a 1.5 s outage at startup costs ~1.6 s, not 2.5 s).
 */
export const MAP_LOAD_FIRST_RETRY_MS = 250;

/** Where the stream is, and the budgets (the pipeline's resolved options fit). */
export interface RouterOptions extends StreamRef, DeadlineOptions {
  client: KinesisClient;
  scheduler: SchedulerLike;
  /** How long records may wait for a map that routes them (as long as they may be retried). */
  recordTtlMs: number;
}

/** Whom the router tells. */
export interface RouterHooks {
  /**
   * The pipeline cannot go on: ListShards refused for good (`FATAL_REQUEST_ERROR`), or records waited for a
   * map longer than their TTL (`SHARD_MAP_FAILED`, carrying the last cause).
   */
  onFailed: (code: KinesisSinkErrorCode, message: string, cause: unknown) => void;
  /** Every record that waited for the map (its first load, or a refresh) has been routed. */
  onRouted: () => void;
}

/**
 * The KPL's ShardMap stage: routes each record to its shard's lane by the shard map, and owns that map —
 * its first load (retried with backoff like a refresh), refreshes when it proved stale (at most once a
 * second, backing off while ListShards fails), and the records that wait for it: those routed before it
 * loaded, keys that fell in a gap (a map read mid-reshard), and aggregates that landed on another shard.
 * Waiting is bounded by `recordTtlMs`: past it the pipeline fails with `SHARD_MAP_FAILED` and the records
 * are reported unsent. After a refresh, lanes of shards that closed are retired and their records routed
 * again on the new map. Each ListShards listing has the request deadline (`requestTimeoutMs`).
 *
 * @example
 * ```ts
 * const router = new Router(resolveOptions({ client, streamName: 'sensors' }), lanes, {
 *   onFailed: (code, message) => console.error(code, message),
 *   onRouted: () => {},
 * });
 * router.route(record); // to its shard's lane now, or once the map is there
 * ```
 */
export class Router<T> {
  private map: ShardMap | undefined;
  private waiting: PendingRecord<T>[] = [];
  /** Since when records have waited without the waiting list ever emptying (scheduler time). */
  private waitingSince: number | undefined;
  private lastRefresh = -Infinity;
  private refreshing = false;
  private refreshDelay = MAP_REFRESH_MIN_INTERVAL_MS;
  private loadDelay = MAP_LOAD_FIRST_RETRY_MS;
  /** Fails the pipeline once records have waited `recordTtlMs` (set while any wait). */
  private ttlTimer: Subscription | undefined;
  private lastError: unknown;
  /** The last refresh failed (else the map loaded fine and a gap is the map's own). */
  private refreshFailing = false;
  private timer: Subscription | undefined;
  private afterRefresh: (() => void)[] = [];
  private closed = false;
  private readonly abort = new AbortController();

  constructor(
    private readonly options: RouterOptions,
    private readonly lanes: Pick<ShardLanes<T>, 'push' | 'shardIds' | 'retire'>,
    private readonly hooks: RouterHooks,
  ) {
    // Another pipeline on this client listed the stream's shards: route on them now (see knownShards).
    const known = knownShards(options.client, options);
    if (known) {
      this.map = new ShardMap(known);
      this.lastRefresh = options.scheduler.now();
    } else void this.load();
  }

  /** Records waiting for the map (not yet loaded, or being refreshed). */
  get size(): number {
    return this.waiting.length;
  }

  /** Whether the map knows `shardId` as open (false before it loaded). */
  knows(shardId: string): boolean {
    return this.map?.has(shardId) ?? false;
  }

  /** The hash-key range of open shard `shardId` in the current map, if it knows it. */
  rangeOf(shardId: string): ShardRange | undefined {
    return this.map?.shards.find((s) => s.shardId === shardId);
  }

  /** Sends a record to its shard's lane; a retry (a record sent before) goes ahead of fresh ones. */
  route(record: PendingRecord<T>): void {
    if (this.closed) return;
    if (!this.map) {
      this.wait(record);
      return;
    }
    try {
      record.shardId = this.map.shardOf(record.record).shardId;
    } catch {
      // A gap in the map means it was read mid-reshard: hold the record until a refresh fills the gap.
      this.wait(record);
      this.refresh();
      return;
    }
    this.lanes.push(record, record.attempts > 0);
  }

  /** Records to route once the map is refreshed (aggregates that landed on another shard: re-packed then). */
  holdForRefresh(records: readonly PendingRecord<T>[]): void {
    for (let i = 0; i < records.length; i++) this.wait(records[i]);
  }

  /**
   * Runs `then` once the next refresh has completed (or failed), and asks for one: for an aggregate that
   * landed on a shard the map does not know yet, whose range decides which of its records stay there.
   */
  refreshThen(then: () => void): void {
    if (this.closed) return;
    this.afterRefresh.push(then);
    this.refresh();
  }

  /**
   * Reloads the shard map when it proved stale (a record landed on a shard the map did not predict, or
   * a key fell in a gap): at most once a second, backing off while ListShards fails. A signal that comes
   * too soon is kept as a scheduled refresh, never dropped.
   */
  refresh(): void {
    if (!this.map || this.refreshing || this.timer || this.closed) return;
    const scheduler = this.options.scheduler;
    const wait = this.lastRefresh + this.refreshDelay - scheduler.now();
    if (wait > 0) {
      this.timer = scheduler.schedule(() => {
        this.timer = undefined;
        this.refresh();
      }, wait);
      return;
    }
    this.refreshing = true;
    this.lastRefresh = scheduler.now();
    this.list().then(
      (ranges) => {
        this.refreshing = false;
        if (this.closed) return;
        this.refreshFailing = false;
        this.refreshDelay = MAP_REFRESH_MIN_INTERVAL_MS;
        this.map = new ShardMap(ranges);
        rememberShards(this.options.client, this.options, ranges);
        this.onMapChanged();
        this.runAfterRefresh();
      },
      (error) => {
        this.refreshing = false;
        if (this.closed) return;
        this.lastError = error;
        this.refreshFailing = true;
        // Refused for good while records need the map: they can never be routed. With none waiting, the
        // old map still routes everything else, so the refresh is only tried again later.
        if (!isRetryableRequestError(error) && (this.waiting.length > 0 || this.afterRefresh.length > 0)) {
          this.hooks.onFailed(
            'FATAL_REQUEST_ERROR',
            `Kinesis refused ListShards: ${describeRequestError(error)}`,
            error,
          );
          return;
        }
        this.runAfterRefresh();
        this.refreshDelay = Math.min(MAP_REFRESH_MAX_INTERVAL_MS, this.refreshDelay * 1.5);
        this.refresh();
      },
    );
  }

  /** Routes nothing more and stops refreshing (the pipeline ended or failed); a load under way completes. */
  close(): void {
    this.closed = true;
    this.afterRefresh = [];
    this.timer?.unsubscribe();
    this.timer = undefined;
    this.ttlTimer?.unsubscribe();
    this.ttlTimer = undefined;
  }

  /** Also cancels a map load or refresh under way (the pipeline was destroyed). */
  cancel(): void {
    this.close();
    this.abort.abort();
  }

  /** One ListShards listing (all pages), cut off at the request deadline. */
  private async list(): Promise<ShardRange[]> {
    const { client, streamName, streamARN, scheduler, requestTimeoutMs } = this.options;
    const deadline = new Deadline(scheduler, this.abort.signal, requestTimeoutMs);
    try {
      const ranges = await listOpenShards(
        client,
        { streamName, streamARN },
        { abortSignal: deadline.signal },
      );
      if (ranges.length === 0) throw new RangeError('the stream has no open shards');
      return ranges;
    } catch (error) {
      throw deadline.explain(error, 'ListShards');
    } finally {
      deadline.clear();
    }
  }

  /**
   * The first load, retried like a refresh (from 250 ms, ×1.5 to 30 s) while the error is retryable: the
   * records waiting for it bound how long (`recordTtlMs`, see {@link wait}), not the load itself, so an
   * idle producer outlives a bad minute. A fatal code ends the pipeline with `FATAL_REQUEST_ERROR`.
   */
  private async load(): Promise<void> {
    let ranges: ShardRange[];
    try {
      ranges = await this.list();
    } catch (error) {
      if (this.closed) return;
      this.lastError = error;
      if (!isRetryableRequestError(error)) {
        this.hooks.onFailed(
          'FATAL_REQUEST_ERROR',
          `Kinesis refused ListShards: ${describeRequestError(error)}`,
          error,
        );
        return;
      }
      this.timer = this.options.scheduler.schedule(() => {
        this.timer = undefined;
        void this.load();
      }, this.loadDelay);
      this.loadDelay = Math.min(MAP_REFRESH_MAX_INTERVAL_MS, this.loadDelay * 1.5);
      return;
    }
    if (this.closed) return;
    this.map = new ShardMap(ranges);
    rememberShards(this.options.client, this.options, ranges);
    this.lastRefresh = this.options.scheduler.now();
    this.routeWaiting();
  }

  /** Holds a record for the map; the first to wait starts the `recordTtlMs` clock of them all. */
  private wait(record: PendingRecord<T>): void {
    const { scheduler, recordTtlMs } = this.options;
    this.waitingSince ??= scheduler.now();
    this.waiting.push(record);
    // No bound with an infinite TTL (a spool: records wait out an outage); a timer of Infinity ms would
    // fire at once (Node clamps it to 1 ms).
    if (recordTtlMs === Infinity) return;
    this.ttlTimer ??= scheduler.schedule(
      () => this.onWaitedTooLong(),
      this.waitingSince + recordTtlMs - scheduler.now(),
    );
  }

  /**
   * Records have waited for a map that routes them as long as they may be retried (ListShards kept failing
   * or timing out, or a hash range stayed uncovered): fails the pipeline, which reports them unsent.
   */
  private onWaitedTooLong(): void {
    this.ttlTimer = undefined;
    const since = this.waitingSince;
    if (this.closed || since === undefined || this.waiting.length === 0) return;
    const { scheduler, recordTtlMs } = this.options;
    const left = since + recordTtlMs - scheduler.now();
    if (left > 0) {
      this.ttlTimer = scheduler.schedule(() => this.onWaitedTooLong(), left);
      return;
    }
    const cause = this.lastError;
    const why = !this.map
      ? `could not list the stream's shards: ${cause === undefined ? 'no answer yet' : describeRequestError(cause)}`
      : cause !== undefined && this.refreshFailing
        ? `could not refresh the shard map: ${describeRequestError(cause)}`
        : 'no open shard covers their hash keys';
    this.hooks.onFailed(
      'SHARD_MAP_FAILED',
      `${this.waiting.length} records waited longer than recordTtlMs (${recordTtlMs} ms) for a shard map: ${why}`,
      cause,
    );
  }

  private routeWaiting(): void {
    const since = this.waitingSince;
    const waiting = this.waiting;
    this.waiting = [];
    this.waitingSince = undefined;
    for (let i = 0; i < waiting.length; i++) this.route(waiting[i]); // indexed: see BatchCollector.takeRound
    // Records still waiting (their key is in a gap again) keep the oldest one's start: the bound holds.
    if (this.waiting.length > 0) this.waitingSince = since ?? this.waitingSince;
    else {
      this.ttlTimer?.unsubscribe();
      this.ttlTimer = undefined;
    }
    this.hooks.onRouted();
  }

  private runAfterRefresh(): void {
    const callbacks = this.afterRefresh;
    this.afterRefresh = [];
    for (const then of callbacks) then();
  }

  /** Closed shards' lanes hand their records back for routing on the new map (ShardLanes drops their limiters). */
  private onMapChanged(): void {
    if (this.closed) return;
    const closed = this.lanes.shardIds().filter((id) => !this.map!.has(id));
    this.lanes.retire(closed, (record) => this.route(record));
    this.routeWaiting();
  }
}
