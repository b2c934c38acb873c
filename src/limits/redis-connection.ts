/**
 * The ioredis side of the shared buckets: loading ioredis, the timeouts of our own connections, closing
 * them without leaving timers, and describing a loss without leaking a host or a credential.
 */
import type { IORedisClientLike } from './shared-options.js';

/** ioredis `commandTimeout` unless the caller sets one: a hung Redis counts as lost after this long. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 2_000;
/**
 * ioredis `disconnectTimeout` unless the caller sets one. Its 2 s default is a ref'd timer that, when a
 * pipeline ends while the connection is still in its handshake, outlives the socket and holds Node for 2 s.
 */
export const DEFAULT_DISCONNECT_TIMEOUT_MS = 200;

/** The connection closed without our asking (server stopped, network gone). */
export class RedisClosedError extends Error {
  override readonly name = 'RedisClosedError';
  readonly code = 'CONNECTION_CLOSED';
  constructor() {
    super('the Redis connection closed');
  }
}

/**
 * Why Redis was lost, for the warning: the error's name and code (ECONNREFUSED, …), or that a command timed
 * out. Never its message otherwise: ioredis messages may name hosts, and a caller's errors anything.
 */
export function reason(error: unknown): string {
  const { name, code, message } = (error ?? {}) as { name?: unknown; code?: unknown; message?: unknown };
  const parts = [typeof name === 'string' ? name : 'Error'];
  if (typeof code === 'string' && /^[A-Z0-9_]{1,40}$/.test(code)) parts.push(code);
  else if (typeof message === 'string' && /timed out/i.test(message)) parts.push('command timed out');
  return parts.join(' ');
}

/** Waits for `promise` (ignoring its outcome), `ms` at most, leaving no timer behind. */
export async function within(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    promise.catch(() => {}),
    new Promise<void>((resolve) => (timer = setTimeout(resolve, ms))),
  ]);
  clearTimeout(timer);
}

/** The timeouts of our duplicates of a caller's client: theirs where set, else ours. */
export function timeouts(client: IORedisClientLike): { commandTimeout: number; disconnectTimeout: number } {
  const own = (client as { options?: { commandTimeout?: number; disconnectTimeout?: number } }).options;
  return {
    commandTimeout: own?.commandTimeout ?? DEFAULT_COMMAND_TIMEOUT_MS,
    // ioredis fills in its 2 s default, so a caller's own setting cannot be told from it: ours wins.
    disconnectTimeout: DEFAULT_DISCONNECT_TIMEOUT_MS,
  };
}

/**
 * A dynamic import of a specifier computed at run time, so that bundlers do not resolve the optional peer at
 * build time (see `importOpenTelemetryApi` in observe/otel.ts: esbuild fails on a literal one when the
 * package is absent).
 */
const importAtRunTime = (specifier: string): Promise<unknown> => import(/* webpackIgnore: true */ specifier);

export async function importIORedis(): Promise<unknown> {
  try {
    const module = (await importAtRunTime('ioredis')) as { default?: unknown; Redis?: unknown };
    return module.default ?? module.Redis;
  } catch (error) {
    const e = new Error(
      "limiter.datastore 'ioredis' needs the ioredis package (npm install ioredis), or pass it as limiter.Redis",
      { cause: error },
    );
    (e as { code?: string }).code = 'IOREDIS_NOT_INSTALLED';
    throw e;
  }
}
