import { randomUUID } from 'node:crypto';
import { Http2ServerResponse } from 'node:http2';
import { codecFor, type Codec } from './codecs.js';
import { KinesisError } from './errors.js';
import type { FaultInjector, RequestFate } from './faults.js';
import type { KinesisApi } from './kinesis-api.js';
import type { AnyRequest, AnyResponse, DualProtocolServer } from './server.js';

const TARGET_PREFIX = 'Kinesis_20131202.';
// Far above the 5 MiB request limit once base64 and JSON overhead are added.
const MAX_BODY_BYTES = 64 * 1024 * 1024;
const INTERNAL_FAILURE = 'Internal service failure.';

/**
 * Requests by operation and error responses by code, as `emu.stats().requests` reports them.
 *
 * @example
 * ```ts
 * const counts: RequestCounts = { total: 0, byOperation: {}, errors: {} };
 * ```
 */
export interface RequestCounts {
  total: number;
  byOperation: Record<string, number>;
  errors: Record<string, number>;
}

function isClosed(response: AnyResponse): boolean {
  return response instanceof Http2ServerResponse ? response.stream.destroyed : response.destroyed;
}

function count(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}

/**
 * The emulator's HTTP side: reads each request, picks its wire format from `Content-Type` (JSON 1.1 or
 * CBOR, see {@link codecFor}), names its operation from `X-Amz-Target`, decides its injected fate on
 * arrival (so a seeded run does not depend on timer order), runs it on the {@link KinesisApi} and answers — or, as the fate says, answers late, garbled, short, cut after the
 * header, not at all, or with a connection reset.
 *
 * @example
 * ```ts
 * let dispatcher: Dispatcher | undefined;
 * const server = await DualProtocolServer.listen((req, res) => dispatcher?.receive(req, res));
 * dispatcher = new Dispatcher(api, faults, server, accountId);
 * ```
 */
export class Dispatcher {
  readonly counts: RequestCounts = { total: 0, byOperation: {}, errors: {} };
  private readonly timers = new Set<NodeJS.Timeout>();
  /** Each request's wire format, chosen on arrival; answers (errors too) go out in the same one. */
  private readonly codecs = new WeakMap<AnyResponse, Codec>();

  constructor(
    private readonly api: KinesisApi,
    private readonly faults: FaultInjector,
    private readonly server: DualProtocolServer,
    private readonly accountId: string,
  ) {}

  /** Drops requests still waiting on a timer (delayed or answered late); they are never answered. */
  close(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  receive(request: AnyRequest, response: AnyResponse): void {
    this.counts.total++;
    this.codecs.set(response, codecFor(request.headers['content-type']));
    const chunks: Buffer[] = [];
    let size = 0;
    request.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size <= MAX_BODY_BYTES) chunks.push(chunk);
    });
    request.on('end', () => {
      if (size > MAX_BODY_BYTES) {
        this.fail(response, new KinesisError('SerializationException', 'Request body too large.', 413));
        return;
      }
      this.dispatch(request, response, chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
    });
  }

  private dispatch(request: AnyRequest, response: AnyResponse, body: Buffer): void {
    const target = request.headers['x-amz-target'];
    const operation =
      typeof target === 'string' && target.startsWith(TARGET_PREFIX)
        ? target.slice(TARGET_PREFIX.length)
        : '';
    count(this.counts.byOperation, operation === '' ? '(unknown target)' : operation);
    if (operation !== '' && this.faults.resourceInUse(operation)) {
      this.fail(response, this.resourceInUse(response, body));
      return;
    }
    if (operation === 'ListShards') {
      const fate = this.faults.listShardsFate();
      if (fate === 'fail') {
        this.fail(response, new KinesisError('InternalFailure', INTERNAL_FAILURE, 500));
        return;
      }
      if (fate === 'throttle') {
        this.fail(response, new KinesisError('LimitExceededException', this.rateExceeded(response, body)));
        return;
      }
    }
    if (operation === '' || !this.faults.applies(operation)) {
      this.execute(request, response, operation, body, 'process');
      return;
    }
    const delay = this.faults.delay();
    const fate = this.faults.fate(operation);
    this.later(delay, () => this.execute(request, response, operation, body, fate));
  }

  /** Runs `task` after `ms` (at once for 0) on a timer `close()` can clear. */
  private later(ms: number, task: () => void): void {
    if (ms === 0) {
      task();
      return;
    }
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      task();
    }, ms);
    this.timers.add(timer);
  }

  private execute(
    request: AnyRequest,
    response: AnyResponse,
    operation: string,
    body: Buffer,
    fate: RequestFate,
  ): void {
    if (fate === 'reset') {
      this.server.reset(request);
      return;
    }
    // Held, never answered: nothing to do. emu.close() destroys the connection; no timer holds it.
    if (fate === 'stall') return;
    const input = parseInput(body, this.codec(response));
    if (input instanceof KinesisError) {
      this.fail(response, input);
      return;
    }
    if (fate === 'fail') {
      this.fail(response, new KinesisError('InternalFailure', INTERNAL_FAILURE, 500));
      return;
    }
    if (fate === 'throttle') {
      this.fail(
        response,
        new KinesisError(this.faults.current.throttleErrorCode, this.rateExceeded(response, body)),
      );
      return;
    }
    let result: unknown;
    try {
      result = operation === '' ? unknownTarget(request) : this.api.handle(operation, input);
    } catch (error) {
      this.fail(
        response,
        error instanceof KinesisError ? error : new KinesisError('InternalFailure', INTERNAL_FAILURE, 500),
      );
      return;
    }
    // From here on the request was applied, whatever the client gets to see of the answer.
    switch (fate) {
      case 'applyThenReset':
        this.server.reset(request);
        return;
      case 'slowAnswer':
        this.later(this.faults.current.slowAnswerMs, () => this.send(response, 200, result));
        return;
      case 'garble': {
        // A truncated document: what a proxy that cut the body short yet kept the status sends.
        const bytes = Buffer.from(this.codec(response).encode(result));
        this.write(response, 200, bytes.subarray(0, Math.max(1, Math.floor(bytes.length / 2))));
        return;
      }
      case 'headerReset': {
        const body = this.codec(response).encode(result);
        this.server.cutAfterHeader(response, this.headers(response, body), body);
        return;
      }
      case 'short': {
        const output = result as { Records: unknown[] };
        const kept = this.faults.shortLength(output.Records.length);
        this.send(response, 200, { ...output, Records: output.Records.slice(0, kept) });
        return;
      }
      default:
        this.send(response, 200, result);
    }
  }

  /** "Rate exceeded for stream …", naming the stream of the request when it names one. */
  private rateExceeded(response: AnyResponse, body: Buffer): string {
    return `Rate exceeded for stream ${this.where(response, body)}.`;
  }

  private resourceInUse(response: AnyResponse, body: Buffer): KinesisError {
    return new KinesisError(
      'ResourceInUseException',
      `Stream ${this.where(response, body)} not ACTIVE, instead in state UPDATING.`,
    );
  }

  private where(response: AnyResponse, body: Buffer): string {
    const input = parseInput(body, this.codec(response));
    if (input instanceof KinesisError) return `(unknown) under account ${this.accountId}`;
    try {
      return this.api.resolveStream(input).where();
    } catch {
      return `${String(input.StreamName)} under account ${this.accountId}`;
    }
  }

  private fail(response: AnyResponse, error: KinesisError): void {
    count(this.counts.errors, error.code);
    this.send(response, error.status, error.toJSON(), error.code);
  }

  private codec(response: AnyResponse): Codec {
    return this.codecs.get(response) ?? codecFor(undefined);
  }

  private headers(
    response: AnyResponse,
    body: Buffer | string,
    errorType?: string,
  ): Record<string, string | number> {
    const headers: Record<string, string | number> = {
      'content-type': this.codec(response).contentType,
      'content-length': Buffer.byteLength(body),
      'x-amzn-requestid': randomUUID(),
    };
    if (errorType !== undefined) headers['x-amzn-errortype'] = errorType;
    return headers;
  }

  /** Answers with `result` (a response body or error document) in the request's wire format. */
  private send(response: AnyResponse, status: number, result: unknown, errorType?: string): void {
    if (isClosed(response)) return;
    this.write(response, status, this.codec(response).encode(result), errorType);
  }

  private write(response: AnyResponse, status: number, body: Buffer | string, errorType?: string): void {
    if (isClosed(response)) return;
    response.writeHead(status, this.headers(response, body, errorType));
    response.end(body);
  }
}

function parseInput(body: Buffer, codec: Codec): Record<string, unknown> | KinesisError {
  try {
    const parsed: unknown = body.length === 0 ? {} : codec.decode(body);
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new TypeError();
    return parsed as Record<string, unknown>;
  } catch {
    return new KinesisError('SerializationException', 'Could not parse the request body as a JSON object.');
  }
}

function unknownTarget(request: AnyRequest): never {
  const target = request.headers['x-amz-target'];
  throw new KinesisError('UnknownOperationException', `Unknown X-Amz-Target ${String(target)}.`);
}
