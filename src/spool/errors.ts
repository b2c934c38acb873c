/**
 * Why a spool operation failed.
 *
 * @example
 * ```ts
 * const waitAndRetry = (code: SpoolErrorCode) => code === 'SPOOL_FULL';
 * ```
 */
export type SpoolErrorCode =
  /** `whenFull: 'reject'` and the append does not fit under `maxBytes`. */
  | 'SPOOL_FULL'
  /** Another live process (or another `Spool` in this one) holds the directory. */
  | 'SPOOL_LOCKED'
  /** A record cannot be framed: no bytes for `Data`, or a field past its size limit. */
  | 'INVALID_RECORD'
  /** One append needs more than `maxBytes`: the spool could never hold it. */
  | 'APPEND_TOO_LARGE'
  /** A segment was written by a newer format version; it is left untouched. */
  | 'UNSUPPORTED_FORMAT'
  /** The spool was closed (appends still waiting for space end with this). */
  | 'SPOOL_CLOSED'
  /** A write, fsync or read failed, or bytes this process wrote read back damaged; the spool stops. */
  | 'SPOOL_IO';

/**
 * A spool failure. The message names the limit or the file, never record data.
 *
 * @example
 * ```ts
 * try {
 *   await spool.append(records);
 * } catch (e) {
 *   if (e instanceof SpoolError && e.code === 'SPOOL_FULL') deadLetter(records);
 * }
 * ```
 */
export class SpoolError extends Error {
  override readonly name: string = 'SpoolError';
  constructor(
    readonly code: SpoolErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * `whenFull: 'reject'`: the append would take the spool past `maxBytes`. Nothing of it was stored.
 *
 * @example
 * ```ts
 * if (e instanceof SpoolFullError) console.warn(`spool full: ${e.neededBytes} more bytes needed`);
 * ```
 */
export class SpoolFullError extends SpoolError {
  override readonly name = 'SpoolFullError';
  constructor(
    readonly maxBytes: number,
    readonly usedBytes: number,
    readonly neededBytes: number,
  ) {
    super('SPOOL_FULL', `spool full: ${usedBytes} of maxBytes ${maxBytes} used, append needs ${neededBytes}`);
  }
}

/**
 * The directory is held by a live process: one process per spool directory.
 *
 * @example
 * ```ts
 * if (e instanceof SpoolLockedError) console.error(`spool in use by pid ${e.pid}`);
 * ```
 */
export class SpoolLockedError extends SpoolError {
  override readonly name = 'SpoolLockedError';
  constructor(
    readonly directory: string,
    readonly pid: number,
  ) {
    super('SPOOL_LOCKED', `spool directory ${directory} is locked by live process ${pid}`);
  }
}
