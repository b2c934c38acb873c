import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type { SchedulerLike, Subscription } from 'rxjs';
import { describeError, isRetryableRequestError, type KinesisSinkErrorCode } from '../errors.js';
import { ShardMap, type StreamRef } from '../kinesis/shard-map.js';
import type { PendingRecord } from './pending.js';
import type { ShardLanes } from './shard-lanes.js';

/** Shard-map refreshes: at most one a second, backing off ×1.5 to 30 s while ListShards fails (as KPL). */
export const MAP_REFRESH_MIN_INTERVAL_MS = 1000;
export const MAP_REFRESH_MAX_INTERVAL_MS = 30_000;

/** Where the stream is (the pipeline's resolved options fit). */
export interface RouterOptions extends StreamRef {
  client: KinesisClient;
  scheduler: SchedulerLike;
}

/** Whom the router tells. */
export interface RouterHooks {
  /** The map could not be loaded, or a refresh failed for good while records waited for it. */
  onFailed: (code: KinesisSinkErrorCode, message: string, cause: unknown) => void;
  /** Every record that waited for the map (its first load, or a refresh) has been routed. */
  onRouted: () => void;
}

/**
 * The KPL's ShardMap stage: routes each record to its shard's lane by the shard map, and owns that map —
 * its first load, refreshes when it proved stale (at most once a second, backing off while ListShards
 * fails), and the records that wait for it: those routed before it loaded, keys that fell in a gap (a map
 * read mid-reshard), and aggregates that landed on another shard. After a refresh, lanes of shards that
 * closed are retired and their records routed again on the new map.
 *
 * @example
 * ```ts
 * const router = new Router<unknown>({ client, streamName: 'sensors', scheduler }, lanes, {
 *   onFailed: (code, message) => console.error(code, message),
 *   onRouted: () => {},
 * });
 * router.route(record); // to its shard's lane now, or once the map is there
 * ```
 */
export class Router<T> {
  private map: ShardMap | undefined;
  private waiting: PendingRecord<T>[] = [];
  private lastRefresh = -Infinity;
  private refreshing = false;
  private refreshDelay = MAP_REFRESH_MIN_INTERVAL_MS;
  private timer: Subscription | undefined;
  private closed = false;
  private readonly abort = new AbortController();

  constructor(
    private readonly options: RouterOptions,
    private readonly lanes: Pick<ShardLanes<T>, 'push' | 'shardIds' | 'retire'>,
    private readonly hooks: RouterHooks,
  ) {
    void this.load();
  }

  /** Records waiting for the map (not yet loaded, or being refreshed). */
  get size(): number {
    return this.waiting.length;
  }

  /** Whether the map knows `shardId` as open (false before it loaded). */
  knows(shardId: string): boolean {
    return this.map?.has(shardId) ?? false;
  }

  /** Sends a record to its shard's lane; a retry (a record sent before) goes ahead of fresh ones. */
  route(record: PendingRecord<T>): void {
    if (this.closed) return;
    if (!this.map) {
      this.waiting.push(record);
      return;
    }
    try {
      record.shardId = this.map.shardFor(record.record.hashKey).shardId;
    } catch {
      // A gap in the map means it was read mid-reshard: hold the record until a refresh fills the gap.
      this.waiting.push(record);
      this.refresh();
      return;
    }
    this.lanes.push(record, record.attempts > 0);
  }

  /** Records to route once the map is refreshed (aggregates that landed on another shard: re-packed then). */
  holdForRefresh(records: readonly PendingRecord<T>[]): void {
    for (const record of records) this.waiting.push(record);
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
    this.map.refresh().then(
      () => {
        this.refreshing = false;
        this.refreshDelay = MAP_REFRESH_MIN_INTERVAL_MS;
        this.onMapChanged();
      },
      (error) => {
        this.refreshing = false;
        if (!isRetryableRequestError(error) && this.waiting.length > 0) {
          this.hooks.onFailed(
            'SHARD_MAP_FAILED',
            `could not refresh the shard map: ${describeError(error)}`,
            error,
          );
          return;
        }
        this.refreshDelay = Math.min(MAP_REFRESH_MAX_INTERVAL_MS, this.refreshDelay * 1.5);
        this.refresh();
      },
    );
  }

  /** Routes nothing more and stops refreshing (the pipeline ended or failed); a load under way completes. */
  close(): void {
    this.closed = true;
    this.timer?.unsubscribe();
    this.timer = undefined;
  }

  /** Also cancels a map load or refresh under way (the pipeline was destroyed). */
  cancel(): void {
    this.close();
    this.abort.abort();
  }

  private async load(): Promise<void> {
    const { client, streamName, streamARN } = this.options;
    try {
      this.map = await ShardMap.load(client, { streamName, streamARN }, { abortSignal: this.abort.signal });
    } catch (error) {
      this.hooks.onFailed(
        'SHARD_MAP_FAILED',
        `could not list the stream's shards: ${describeError(error)}`,
        error,
      );
      return;
    }
    this.lastRefresh = this.options.scheduler.now();
    this.routeWaiting();
  }

  private routeWaiting(): void {
    const waiting = this.waiting;
    this.waiting = [];
    for (const record of waiting) this.route(record);
    this.hooks.onRouted();
  }

  /** Closed shards' lanes hand their records back for routing on the new map (ShardLanes drops their limiters). */
  private onMapChanged(): void {
    if (this.closed) return;
    const closed = this.lanes.shardIds().filter((id) => !this.map!.has(id));
    this.lanes.retire(closed, (record) => this.route(record));
    this.routeWaiting();
  }
}
