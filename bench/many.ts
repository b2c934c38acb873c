/**
 * 15. Many pipelines: 50 `putAll()` pipelines, each configured for the full quota, share one client on one
 * throttling stream (8 shards, the emulator's provisioned quotas). Each knows nothing of the others, so only
 * the throttles teach them their share: how often they are throttled, whether any record is finally failed,
 * how evenly they finish, and what it costs in memory and timers.
 */
import { lastValueFrom, tap } from 'rxjs';
import type { KinesisRecordInput } from '../src/index.js';
import { clientFor, emulator, fmt, keys, STREAM, verdict, type Row } from './harness.js';

const SHARDS = 8;

export async function manyPipelines(pipelines = 50, perPipeline = 1600): Promise<Row[]> {
  const { putAll } = (await import('../dist/index.js' as string)) as typeof import('../src/index.js');
  const emu = await emulator({ shards: SHARDS });
  const client = clientFor(emu);
  const keyPool = keys(10_000);
  let peakRss = 0;
  let peakTimers = 0;
  const sample = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
    const timers = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    peakTimers = Math.max(peakTimers, timers - 1); // not this sampler
  }, 50);
  let finallyFailed = 0;
  let delivered = 0;
  const started = performance.now();
  const cpu = process.cpuUsage();
  const finished = await Promise.all(
    Array.from({ length: pipelines }, async (_, p) => {
      async function* records(): AsyncGenerator<KinesisRecordInput> {
        for (let i = 0; i < perPipeline; i++) {
          const data = Buffer.alloc(100, 0x61);
          data.writeUInt32BE(i, 0);
          yield { PartitionKey: keyPool[(p * perPipeline + i) % keyPool.length], Data: data };
        }
      }
      await lastValueFrom(
        putAll(records(), { client, streamName: STREAM }).pipe(
          tap((e) =>
            e.response.Records?.forEach((r, i) => {
              if (r.SequenceNumber) delivered++;
              else if (!e.retrying[i]) finallyFailed++;
            }),
          ),
        ),
      );
      return (performance.now() - started) / 1000;
    }),
  );
  clearInterval(sample);
  const used = process.cpuUsage(cpu);
  const busy = (used.user + used.system) / 1e6 / Math.max(...finished);
  const stats = emu.stats();
  client.destroy();
  await emu.close();
  const total = pipelines * perPipeline;
  const throttled = stats.throttled / Math.max(1, stats.accepted);
  const spread = Math.max(...finished) / Math.min(...finished);
  const bound = SHARDS * pipelines;
  const ideal = total / (SHARDS * 1000);
  return [
    {
      scenario: '15. many pipelines',
      measure: 'throttled attempts / delivered',
      value: fmt.pct(throttled),
      target: '≤ 5%',
      verdict: verdict(throttled <= 0.05),
      note: `${fmt.int(stats.throttled)} throttled of ${fmt.int(stats.accepted)} delivered; ${pipelines} putAll() pipelines × ${fmt.int(perPipeline)} × 100 B, one client, ${SHARDS} shards at 1,000 records/s`,
    },
    {
      scenario: '15. many pipelines',
      measure: 'finally failed',
      value: fmt.int(finallyFailed),
      target: '0',
      verdict: verdict(finallyFailed === 0 && delivered === total),
      note: `${fmt.int(delivered)} of ${fmt.int(total)} delivered`,
    },
    {
      scenario: '15. many pipelines',
      measure: 'completion spread (last ÷ first pipeline done)',
      value: `${spread.toFixed(2)}×`,
      target: '≤ 1.5×',
      verdict: verdict(spread <= 1.5),
      note: `first ${Math.min(...finished).toFixed(1)} s, last ${Math.max(...finished).toFixed(1)} s; the quota alone needs ${ideal.toFixed(1)} s (+ 1 s burst); the process used ${busy.toFixed(2)} CPU cores meanwhile (producers, SDK and emulator); per second delivered: ${stats.shards.reduce((sum: number[], s) => s.timeline.map((n, i) => n + (sum[i] ?? 0)), []).join(' ')}`,
    },
    {
      scenario: '15. many pipelines',
      measure: 'peak live timers; peak RSS',
      value: `${fmt.int(peakTimers)}; ${fmt.int(peakRss / 2 ** 20)} MiB`,
      target: `timers ≤ ${fmt.int(bound)}`,
      verdict: verdict(peakTimers <= bound),
      note: `timers bounded by shards × pipelines (${SHARDS} × ${pipelines}); sampled every 50 ms (process.getActiveResourcesInfo); RSS of the whole bench process, emulator included`,
    },
  ];
}
