/**
 * Scenario 10: a fleet of 4 producer processes on one 2-shard stream, each configured for the full quota,
 * with the shard buckets shared through Redis (`limiter: { datastore: 'ioredis' }`) and without (local
 * buckets, adaptive rate on: the best a fleet can do alone). Starts its own redis-server on a free port.
 *
 * Run alone: `npm run build && tsx bench/cluster.ts`.
 */
import { fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { startRedis, REDIS_SERVER_BINARY } from './support/redis-server.js';
import { emulator, fmt, sumSeconds, verdict, type Row } from './harness.js';

const QUOTA_RECORDS = 1000;
const PROCESSES = 4;
const SHARDS = 2;
const SCENARIO = '10. fleet of 4';

/** Delivered / quota and throttled share of attempts, for 4 processes on 2 shards, shared and not shared. */
export async function cluster(seconds = 15): Promise<Row[]> {
  if (!existsSync(REDIS_SERVER_BINARY)) {
    return [
      {
        scenario: SCENARIO,
        measure: 'shared buckets (Redis): combined delivered / quota; throttled / attempts',
        value: 'not run',
        target: '≥ 0.95; ≤ 1%',
        verdict: 'MISSED',
        note: `redis-server not installed at ${REDIS_SERVER_BINARY} (apt-get install redis-server)`,
      },
    ];
  }
  const redis = await startRedis();
  const rows: Row[] = [];
  try {
    for (const shared of [true, false]) {
      const emu = await emulator({ shards: SHARDS });
      const limiter = shared
        ? { limiter: { datastore: 'ioredis', clientOptions: { host: redis.host, port: redis.port } } }
        : {};
      const children = Array.from({ length: PROCESSES }, (_, n) =>
        fork(
          fileURLToPath(new URL('./producer-child.mjs', import.meta.url)),
          [emu.endpoint, String(seconds), JSON.stringify(limiter), `f${n}`],
          {
            execArgv: [],
            env: { ...process.env, NODE_OPTIONS: '' },
            stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
          },
        ),
      );
      await Promise.all(children.map((c) => new Promise((r) => c.once('exit', r))));
      const stats = emu.stats();
      await emu.close();
      // Four processes loading the SDK on a small machine start (and so stop) up to seconds apart, later
      // than a fixed offset from the fork would assume: the window runs from 2 s after the stream's first
      // write to its last whole second (the others keep it saturated while the first ones stop).
      const from = stats.timeline.findIndex((n) => n > 0) + 2;
      const to = stats.timeline.length - 1;
      const accepted = stats.shards.reduce((n, s) => n + sumSeconds(s.timeline, from, to), 0);
      const utilisation = accepted / (SHARDS * QUOTA_RECORDS * (to - from));
      const throttled = stats.throttled / Math.max(1, stats.accepted + stats.throttled);
      rows.push({
        scenario: SCENARIO,
        measure: `${shared ? 'shared buckets (Redis)' : 'not shared (local buckets, adaptive rate)'}: combined delivered / quota; throttled / attempts`,
        value: `${fmt.ratio(utilisation)}; ${fmt.pct(throttled)}`,
        target: shared ? '≥ 0.95; ≤ 1%' : '—',
        verdict: shared ? verdict(utilisation >= 0.95 && throttled <= 0.01) : 'info',
        note: `${PROCESSES} processes × full quota on ${SHARDS} shards, ${to - from} s window; ${stats.throttled} throttled of ${stats.accepted + stats.throttled} attempts`,
      });
    }
  } finally {
    await redis.stop();
  }
  return rows;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  for (const row of await cluster())
    console.log(`${row.measure}: ${row.value} (${row.verdict}) — ${row.note}`);
}
