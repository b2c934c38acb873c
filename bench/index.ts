/**
 * `npm run bench [-- 1 4 …]`: the benchmark suite. Runs each scenario (or those named), prints a table and
 * writes bench/RESULTS.md and bench/shard-rate.svg. A missed target is reported as MISSED with the measured
 * number; scenarios are never tuned to pass.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { machine, type Row } from './harness.js';
import { shardRateChart } from './chart.js';
import {
  byteBound,
  hotKey,
  latency,
  memory,
  overhead,
  shardUtilisation,
  type ShardTimeline,
} from './scenarios.js';
import { peers } from './peers/index.js';

const only = new Set(process.argv.slice(2));
const wanted = (n: number) => only.size === 0 || only.has(String(n));

const rows: Row[] = [];
let chart: ShardTimeline[] | undefined;
const started = Date.now();

const scenarios: [number, () => Promise<Row[]>][] = [
  [
    1,
    async () => {
      const r = await shardUtilisation();
      chart = r.chart;
      return r.rows;
    },
  ],
  [2, () => byteBound()],
  [3, () => hotKey()],
  [4, () => overhead()],
  [5, () => memory()],
  [6, () => latency()],
  [7, () => peers()],
];

for (const [n, run] of scenarios) {
  if (!wanted(n)) continue;
  process.stdout.write(`scenario ${n} … `);
  const t = Date.now();
  const result = await run();
  rows.push(...result);
  console.log(
    `${((Date.now() - t) / 1000).toFixed(1)} s: ${result.map((r) => `${r.measure} ${r.value} (${r.verdict})`).join('; ')}`,
  );
}

const header = ['scenario', 'measure', 'value', 'target', 'verdict', 'note'];
const table = [
  `| ${header.join(' | ')} |`,
  `| ${header.map(() => '---').join(' | ')} |`,
  ...rows.map(
    (r) => `| ${[r.scenario, r.measure, r.value, r.target, r.verdict, r.note ?? ''].join(' | ')} |`,
  ),
].join('\n');

console.log(`\n${table}\n`);

const here = (f: string) => fileURLToPath(new URL(f, import.meta.url));
if (chart) writeFileSync(here('./shard-rate.svg'), shardRateChart(chart, 1000));
writeFileSync(
  here('./RESULTS.md'),
  `# Benchmark results

Produced by \`npm run bench\` on ${new Date().toISOString().slice(0, 10)}; ${((Date.now() - started) / 1000).toFixed(0)} s in all.

Machine: ${machine()}. The machine is shared and noisy: compare ratios measured in the same run, not
absolute numbers across runs.

All scenarios run against \`rx-kinesis/testing\`'s emulator in the same process (provisioned-mode quotas of
1,000 records/s and 1 MiB/s per shard with a 1 s burst, unless a scenario turns quotas off), through one
\`KinesisClient\` with \`NodeHttpHandler\`. Rates are read from the emulator's per-second ledger, skipping the
first two seconds of a run (its buckets start full).

${table}

${chart ? '![Per-shard delivered records per second against the quota](shard-rate.svg)\n' : ''}`,
);
console.log('wrote bench/RESULTS.md');
