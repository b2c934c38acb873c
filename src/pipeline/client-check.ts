/**
 * The code of the warning rx-kinesis emits once when its client opens a connection per request, so a
 * process can tell it apart (`process.on('warning')`) or silence it (`--disable-warning`).
 *
 * @example
 * ```ts
 * process.on('warning', (w) => {
 *   if ((w as { code?: string }).code === CONNECTION_PER_REQUEST_WARNING) console.log('see Client setup');
 * });
 * ```
 */
export const CONNECTION_PER_REQUEST_WARNING = 'RX_KINESIS_CONNECTION_PER_REQUEST';

let warned = false;

interface HandlerLike {
  metadata?: { handlerProtocol?: string };
  httpHandlerConfigs?: () => {
    disableConcurrentStreams?: boolean;
    httpsAgent?: { keepAlive?: boolean };
    httpAgent?: { keepAlive?: boolean };
  };
}

/**
 * Whether a client's request handler opens a connection for every request: the SDK's default Kinesis
 * client does (HTTP/2 with `disableConcurrentStreams`: one session per request, so against Kinesis one TLS
 * handshake per request — bench scenario 17 measured 1.000 handshakes per request, against 0.08 with
 * `NodeHttpHandler` and a keep-alive agent), as does an HTTP/1.1 handler whose agent has keep-alive off.
 * Read only through the handler's public `metadata` and `httpHandlerConfigs()`, which the SDK fills in on
 * the first request: call it after one. Unknown handlers (a custom one, a fake) say nothing.
 *
 * @example
 * ```ts
 * if (opensConnectionPerRequest(client)) console.log('give the client a NodeHttpHandler with keep-alive');
 * ```
 */
export function opensConnectionPerRequest(client: unknown): boolean {
  const handler = (client as { config?: { requestHandler?: HandlerLike } })?.config?.requestHandler;
  const configs =
    typeof handler?.httpHandlerConfigs === 'function' ? handler.httpHandlerConfigs() : undefined;
  if (!configs) return false;
  const protocol = handler?.metadata?.handlerProtocol;
  if (protocol === 'h2') return configs.disableConcurrentStreams === true;
  if (protocol === 'http/1.1')
    return configs.httpsAgent?.keepAlive === false || configs.httpAgent?.keepAlive === false;
  return false;
}

/**
 * Warns once per process (no data, just the advice) when the client opens a connection per request over
 * TLS: a plain-HTTP endpoint (a local emulator) has no handshake to pay, so it is left alone.
 */
export async function warnIfConnectionPerRequest(client: unknown): Promise<void> {
  if (warned || !opensConnectionPerRequest(client)) return;
  const endpoint = (client as { config?: { endpoint?: () => Promise<{ protocol?: string }> } }).config
    ?.endpoint;
  const protocol =
    typeof endpoint === 'function'
      ? (await endpoint().catch(() => undefined))?.protocol
      : configuredProtocol();
  if (warned || protocol !== 'https:') return;
  warned = true;
  process.emitWarning(
    'the KinesisClient opens a new connection (a TLS handshake) for every PutRecords request; give it ' +
      'requestHandler: new NodeHttpHandler({ httpsAgent: new Agent({ keepAlive: true, maxSockets }) }) ' +
      "(see rx-kinesis's README, Client setup)",
    { code: CONNECTION_PER_REQUEST_WARNING },
  );
}

/**
 * The protocol of the endpoint a client without one of its own resolves: the SDK's endpoint variables
 * (`AWS_ENDPOINT_URL_KINESIS`, then `AWS_ENDPOINT_URL`) when set — a local emulator over plain HTTP, found
 * by CI running the examples against one — else AWS's own, which is HTTPS.
 */
function configuredProtocol(): string {
  const url = process.env.AWS_ENDPOINT_URL_KINESIS ?? process.env.AWS_ENDPOINT_URL;
  if (!url) return 'https:';
  try {
    return new URL(url).protocol;
  } catch {
    return 'https:';
  }
}
