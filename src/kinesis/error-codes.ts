/**
 * What a failed Kinesis request means, decided by what the error is — its AWS error code — never by its
 * HTTP status: transport failures after a 200 header (`ERR_HTTP2_ERROR`, measured on 5–9% of requests
 * against kinesis-mock) and unparseable 200 bodies carry status 200, and a 400 can be a throttle.
 *
 * Fatal: only the codes below, each of which means the service refused the request for good — resending
 * the same request with the same credentials fails the same way. Everything else is retried within the
 * records' `maxAttempts` / `recordTtlMs` budget: errors without an AWS code (resets, timeouts, aborted
 * streams, unparseable bodies, DNS), the transient codes, and codes this list does not know (a wrong
 * "retry" costs at most the budget; a wrong "fatal" ends the whole run).
 */

/**
 * The AWS error codes that end a pipeline (`FATAL_REQUEST_ERROR`), and why retrying cannot help.
 *
 * @example
 * ```ts
 * const error = Object.assign(new Error('no'), { name: 'KMSDisabledException' });
 * const why = FATAL_ERROR_CODES[error.name]; // "the stream's KMS key is disabled"; undefined: retried
 * ```
 */
export const FATAL_ERROR_CODES: Readonly<Record<string, string>> = {
  ResourceNotFoundException: 'the stream does not exist in this account and region',
  AccessDeniedException: 'these credentials may not write to this stream',
  InvalidArgumentException: 'the stream rejects the request as malformed; the same request fails again',
  ValidationException: 'the request breaks an API constraint; the same request fails again',
  KMSDisabledException: "the stream's KMS key is disabled",
  KMSInvalidStateException: "the stream's KMS key is not in a usable state (pending deletion, import)",
  KMSAccessDeniedException: "these credentials may not use the stream's KMS key",
  KMSNotFoundException: "the stream's KMS key does not exist",
  KMSOptInRequired: 'the account is not subscribed to KMS',
  UnrecognizedClientException: 'the access key id is unknown to AWS',
  InvalidSignatureException: 'the request signature does not match (wrong secret key)',
  IncompleteSignature: 'the request signature is incomplete',
  MissingAuthenticationToken: 'the request carries no credentials',
  InvalidClientTokenId: 'the access key id or session token is invalid',
  ExpiredTokenException:
    'the session token has expired; the SDK refreshes credentials before they expire, so this one is not refreshed',
  CredentialsProviderError: 'no credentials were found: the SDK already tried every source in its chain',
};

/**
 * Codes known to pass: retried within the budget (the list is for the README's table and for tests; any
 * code not in {@link FATAL_ERROR_CODES} is retried).
 *
 * @example
 * ```ts
 * const error = Object.assign(new Error('busy'), { name: 'ResourceInUseException' });
 * if (error.name in TRANSIENT_ERROR_CODES) console.info('Kinesis is busy; rx-kinesis retries');
 * ```
 */
export const TRANSIENT_ERROR_CODES: Readonly<Record<string, string>> = {
  ProvisionedThroughputExceededException: "a shard's write quota was exceeded",
  LimitExceededException: 'a control-plane rate (ListShards: 1,000/s per stream) was exceeded',
  ThrottlingException: 'the account or API was throttled',
  KMSThrottlingException: "KMS throttled the stream's encryption",
  ResourceInUseException: 'the stream is CREATING or UPDATING (a reshard); it becomes ACTIVE',
  InternalFailure: 'a 5xx: the service failed, not the request',
  InternalFailureException: 'a 5xx: the service failed, not the request',
  ServiceUnavailable: 'a 5xx: the service failed, not the request',
  ServiceUnavailableException: 'a 5xx: the service failed, not the request',
};

/** An error as the SDK throws it: service errors have a code in `name` and an HTTP status. */
interface ErrorLike {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  $metadata?: { httpStatusCode?: number };
}

/**
 * The AWS error code of a service error; undefined for errors the service did not answer with (transport
 * errors, timeouts, unparseable bodies), whose `name` is a JavaScript class name.
 */
export function awsErrorCode(error: unknown): string | undefined {
  const name = (error as ErrorLike | undefined)?.name;
  if (typeof name !== 'string') return undefined;
  if (Object.hasOwn(FATAL_ERROR_CODES, name) || Object.hasOwn(TRANSIENT_ERROR_CODES, name)) return name;
  // A service error carries the answer's status; a class name like `Error` or `TypeError` is no AWS code.
  const answered = (error as ErrorLike).$metadata?.httpStatusCode !== undefined;
  return answered && /^[A-Z][A-Za-z]+$/.test(name) && !/^(Error|[A-Z][a-z]+Error)$/.test(name)
    ? name
    : undefined;
}

/**
 * Why the error is fatal (from {@link FATAL_ERROR_CODES}), or undefined when it is worth retrying.
 *
 * @example
 * ```ts
 * fatalReason(Object.assign(new Error('x'), { name: 'ResourceNotFoundException' }));
 * // 'the stream does not exist in this account and region'
 * ```
 */
export function fatalReason(error: unknown): string | undefined {
  const name = (error as ErrorLike | undefined)?.name;
  return typeof name === 'string' && Object.hasOwn(FATAL_ERROR_CODES, name)
    ? FATAL_ERROR_CODES[name]
    : undefined;
}

/** Longest error message quoted in our own messages. */
export const MAX_QUOTED_MESSAGE = 160;

/**
 * An error's message made safe to quote: quoted values (AWS validation messages quote the offending
 * input: a partition key, a record), key-like and long opaque tokens (access keys, session tokens,
 * base64) are replaced with `…`, and it is cut to {@link MAX_QUOTED_MESSAGE} characters.
 */
export function sanitizedMessage(error: unknown): string {
  const raw = (error as ErrorLike | undefined)?.message;
  if (typeof raw !== 'string') return '';
  const text = raw
    .replace(/(["'`])(?:(?!\1)[^\n]){0,2000}\1/g, '…')
    .replace(/\b(?:AKIA|ASIA)[A-Z0-9]{12,}\b/g, '…')
    .replace(/[A-Za-z0-9+/=_-]{24,}/g, '…')
    .replace(/\s+/g, ' ')
    .trim();
  return text.length > MAX_QUOTED_MESSAGE ? `${text.slice(0, MAX_QUOTED_MESSAGE - 1)}…` : text;
}

/**
 * A short description of an error for our messages: its code (the AWS code, else the Node `code` such as
 * `ECONNRESET`, else its class name), its HTTP status if it got one, and its sanitised message.
 */
export function describeCause(error: unknown): string {
  const e = (error ?? {}) as ErrorLike;
  const name = typeof e.name === 'string' && e.name ? e.name : 'Error';
  const code = typeof e.code === 'string' && e.code !== name ? ` ${e.code}` : '';
  const status = e.$metadata?.httpStatusCode;
  const message = sanitizedMessage(error);
  return `${name}${code}${status ? ` (HTTP ${status})` : ''}${message ? `: ${message}` : ''}`;
}
