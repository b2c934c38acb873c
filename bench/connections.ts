/**
 * 17. Connections: how many TLS handshakes a run makes per PutRecords request, with the SDK's default
 * client and with `NodeHttpHandler` (keep-alive, 16 sockets = maxInFlightRequests). A TLS proxy with a
 * self-signed certificate (made by the openssl CLI for this run) sits in front of the emulator and counts
 * handshakes; the producer runs in a child process that trusts the certificate (NODE_EXTRA_CA_CERTS).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:tls';
import { childResult, emulator, fmt, type Row } from './harness.js';

function selfSigned(dir: string): { key: Buffer; cert: Buffer; certFile: string } {
  const keyFile = join(dir, 'key.pem');
  const certFile = join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '-keyout',
      keyFile,
      '-out',
      certFile,
    ],
    { stdio: 'ignore' },
  );
  return { key: readFileSync(keyFile), cert: readFileSync(certFile), certFile };
}

export async function connections(count = 100_000): Promise<Row[]> {
  const dir = mkdtempSync(join(tmpdir(), 'rx-kinesis-tls-'));
  const rows: Row[] = [];
  try {
    const { key, cert, certFile } = selfSigned(dir);
    for (const kind of ['SDK default', 'keep-alive'] as const) {
      const emu = await emulator({ shards: 8, quotas: false });
      const port = Number(new URL(emu.endpoint).port);
      let handshakes = 0;
      // ALPN offers both: the emulator tells HTTP/1.1 from HTTP/2 by the first bytes it reads.
      const proxy = createServer({ key, cert, ALPNProtocols: ['h2', 'http/1.1'] }, (tls) => {
        handshakes++;
        const upstream = connect(port, '127.0.0.1');
        tls.pipe(upstream).pipe(tls);
        tls.on('error', () => upstream.destroy());
        upstream.on('error', () => tls.destroy());
      });
      await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
      const endpoint = `https://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
      const result = await childResult<{ seconds: number }>(
        './connections-child.mjs',
        [endpoint, kind === 'keep-alive' ? 'keep-alive' : 'default', String(count)],
        { env: { ...process.env, NODE_OPTIONS: '', NODE_EXTRA_CA_CERTS: certFile } },
      );
      const requests = emu.stats().requests.total;
      proxy.close();
      await emu.close();
      rows.push({
        scenario: '17. connections (TLS)',
        measure: `${kind === 'keep-alive' ? 'NodeHttpHandler, keep-alive, maxSockets 16' : "the SDK's default client"}: TLS handshakes per request`,
        value: (handshakes / Math.max(1, requests)).toFixed(3),
        target: 'info',
        verdict: 'info',
        note: `${fmt.int(handshakes)} handshakes for ${fmt.int(requests)} requests (ListShards included); ${fmt.int(count)} × 100 B via putAll(), 16 in flight, in ${result.seconds.toFixed(1)} s`,
      });
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return rows;
}
