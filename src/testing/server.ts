import { createServer as createHttp1Server, type IncomingMessage, type ServerResponse } from 'node:http';
import {
  constants as http2,
  createServer as createHttp2Server,
  Http2ServerRequest,
  Http2ServerResponse,
  type Http2Session,
} from 'node:http2';
import { createServer as createNetServer, type AddressInfo, type Socket } from 'node:net';

/**
 * A request on either protocol; both share the compatibility API of `node:http`.
 *
 * @example
 * ```ts
 * const target = (request: AnyRequest) => request.headers['x-amz-target'];
 * ```
 */
export type AnyRequest = IncomingMessage | Http2ServerRequest;

/**
 * A response on either protocol.
 *
 * @example
 * ```ts
 * const ok = (response: AnyResponse) => response.writeHead(200).end('{}');
 * ```
 */
export type AnyResponse = ServerResponse | Http2ServerResponse;

/**
 * Serves one request, whichever protocol it came on.
 *
 * @example
 * ```ts
 * const listener: RequestListener = (request, response) => response.end();
 * ```
 */
export type RequestListener = (request: AnyRequest, response: AnyResponse) => void;

// Every HTTP/2 connection starts with this preface; no HTTP/1 method begins with "PRI ".
const HTTP2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n');
const SNIFF_BYTES = 4;
// Lets large PutRecords bodies through without waiting on a WINDOW_UPDATE round trip per 64 KiB.
const HTTP2_WINDOW = 16 * 1024 * 1024;

/**
 * One loopback port serving HTTP/1.1 and cleartext HTTP/2 with prior knowledge (the AWS SDK's default
 * `NodeHttp2Handler`): a TCP server sniffs the first bytes of each connection and hands the socket to
 * the matching `node:http` or `node:http2` server, which never listen themselves.
 *
 * @example
 * ```ts
 * const server = await DualProtocolServer.listen((req, res) => res.end('ok'));
 * console.log(`http://127.0.0.1:${server.port}`);
 * await server.close();
 * ```
 */
export class DualProtocolServer {
  private readonly sockets = new Set<Socket>();
  private readonly sessions = new Set<Http2Session>();
  private readonly sessionSockets = new WeakMap<Http2Session, Socket>();
  private handingOver: Socket | undefined;
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly tcp: ReturnType<typeof createNetServer>,
    private readonly http1: ReturnType<typeof createHttp1Server>,
    private readonly http2: ReturnType<typeof createHttp2Server>,
  ) {}

  /** Starts listening on `host` (default 127.0.0.1) and `port` (default 0: a free one). */
  static async listen(listener: RequestListener, host = '127.0.0.1', port = 0): Promise<DualProtocolServer> {
    const http1 = createHttp1Server({ keepAliveTimeout: 60_000 }, listener);
    const http2 = createHttp2Server({ settings: { initialWindowSize: HTTP2_WINDOW } }, listener);
    const tcp = createNetServer({ noDelay: true });
    const server = new DualProtocolServer(tcp, http1, http2);
    tcp.on('connection', (socket) => server.accept(socket));
    http2.on('session', (session) => server.track(session));
    // A client vanishing mid-request is routine here (resets are injected on purpose); never crash on it.
    http2.on('sessionError', () => {});
    http1.on('clientError', (_error, socket) => socket.destroy());
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject);
      tcp.listen(port, host, () => {
        tcp.off('error', reject);
        resolve();
      });
    });
    return server;
  }

  get port(): number {
    return (this.tcp.address() as AddressInfo).port;
  }

  /** Drops the TCP connection carrying `request` with a RST, without answering. */
  reset(request: AnyRequest): void {
    let socket: Socket | undefined;
    if (request instanceof Http2ServerRequest) {
      const session = request.stream.session;
      socket = session === undefined ? undefined : this.sessionSockets.get(session);
    } else {
      socket = request.socket;
    }
    if (socket !== undefined && !socket.destroyed) socket.resetAndDestroy();
  }

  /**
   * Sends the status line and headers of a 200 and the first half of `body`, then cuts the transfer: an
   * HTTP/2 stream is reset (RST_STREAM with INTERNAL_ERROR; the session lives on), an HTTP/1.1 socket is
   * destroyed. Waits for the partial write to flush first, so the client surely saw the 200 header.
   */
  cutAfterHeader(
    response: AnyResponse,
    headers: Record<string, string | number>,
    body: Buffer | string,
  ): void {
    const bytes = Buffer.from(body);
    const half = bytes.subarray(0, Math.floor(bytes.length / 2));
    if (response instanceof Http2ServerResponse) {
      if (response.stream.destroyed) return;
      response.writeHead(200, headers);
      response.write(half, () => response.stream.close(http2.NGHTTP2_INTERNAL_ERROR));
    } else {
      if (response.destroyed) return;
      response.writeHead(200, headers);
      response.write(half, () => response.socket?.destroy());
    }
  }

  /**
   * Stops listening and destroys every connection and session. Resolves once their handles are released,
   * so `process.getActiveResourcesInfo()` no longer lists them and nothing keeps the process alive.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const listening = new Promise<void>((resolve) => this.tcp.close(() => resolve()));
    const sockets = [...this.sockets].map(
      (socket) =>
        new Promise<void>((resolve) => (socket.closed ? resolve() : socket.once('close', () => resolve()))),
    );
    for (const session of this.sessions) session.destroy();
    for (const socket of this.sockets) socket.destroy();
    await Promise.all([listening, ...sockets]);
    // libuv releases the listening handle in the close phase of the loop, after its 'close' event; by
    // the second check phase from here it is gone.
    await new Promise<void>((resolve) => setImmediate(() => setImmediate(resolve)));
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    socket.on('error', () => {});
    const chunks: Buffer[] = [];
    let length = 0;
    const sniff = (chunk: Buffer): void => {
      chunks.push(chunk);
      length += chunk.length;
      const head = chunks.length === 1 ? chunk : Buffer.concat(chunks);
      const probe = head.subarray(0, Math.min(head.length, HTTP2_PREFACE.length));
      const maybeHttp2 = HTTP2_PREFACE.subarray(0, probe.length).equals(probe);
      if (length < SNIFF_BYTES && maybeHttp2) return;
      socket.off('data', sniff);
      socket.pause();
      socket.unshift(head);
      if (maybeHttp2) {
        // No resume(): the HTTP/2 session drains the unshifted bytes itself on the next tick, and a
        // flowing socket would hand them to no listener first.
        this.handingOver = socket;
        this.http2.emit('connection', socket);
        this.handingOver = undefined;
      } else {
        this.http1.emit('connection', socket);
        socket.resume();
      }
    };
    socket.on('data', sniff);
  }

  private track(session: Http2Session): void {
    this.sessions.add(session);
    // The 'session' event fires synchronously inside emit('connection'), so this is its socket.
    if (this.handingOver !== undefined) this.sessionSockets.set(session, this.handingOver);
    session.setLocalWindowSize(HTTP2_WINDOW);
    session.once('close', () => this.sessions.delete(session));
    session.on('error', () => {});
  }
}
