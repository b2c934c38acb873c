/**
 * `npm run bench [-- 1 4 …]`: the benchmark suite. Runs each scenario (or those named), prints a table and
 * writes bench/RESULTS.md and bench/shard-rate.svg. A missed target is reported as MISSED with the measured
 * number; scenarios are never tuned to pass.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { machine, type Row } from './harness.js';
import { shardRateChart } from './chart.js';
import {
  byteBound,
  hotKey,
  latency,
  memory,
  orderingCost,
  shardUtilisation,
  twoProducers,
  type ShardTimeline,
} from './scenarios.js';
import { peers } from './peers/index.js';
import { cluster } from './cluster.js';
import { aggregation } from './aggregation.js';
import { spoolRecovery, spoolThroughput } from './spool.js';
import { cliPut } from './cli.js';
import { overhead, overheadLargeYoungGeneration } from './overhead.js';
import { manyPipelines } from './many.js';
import { bufferedMemory } from './buffered.js';
import { connections } from './connections.js';

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
  [4, async () => [...(await overhead()), ...(await overheadLargeYoungGeneration())]],
  [5, () => memory()],
  [6, () => latency()],
  [7, () => peers()],
  [8, () => orderingCost()],
  [9, () => twoProducers()],
  [10, () => cluster()],
  [11, () => aggregation()],
  [12, () => cliPut()],
  [13, () => spoolThroughput()],
  [14, () => spoolRecovery()],
  [15, () => manyPipelines()],
  [16, () => bufferedMemory()],
  [17, () => connections()],
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

// Results accumulate in results.json by scenario, so a partial run (`npm run bench -- 7`) updates its own
// rows and keeps the others, each with the date and machine it was measured on.
const here = (f: string) => fileURLToPath(new URL(f, import.meta.url));
type Stored = Record<string, { date: string; machine: string; rows: Row[] }>;
const stored: Stored = existsSync(here('./results.json'))
  ? JSON.parse(readFileSync(here('./results.json'), 'utf8'))
  : {};
const today = new Date().toISOString().slice(0, 10);
for (const [n] of scenarios) {
  const measured = rows.filter((r) => r.scenario.startsWith(`${n}.`));
  if (measured.length > 0) stored[n] = { date: today, machine: machine(), rows: measured };
}
writeFileSync(here('./results.json'), JSON.stringify(stored, null, 2) + '\n');

const header = ['scenario', 'measure', 'value', 'target', 'verdict', 'note', 'measured'];
const line = (cells: string[]) => `| ${cells.join(' | ')} |`;
const table = (entries: [string, Stored[string]][]) =>
  [
    line(header),
    line(header.map(() => '---')),
    ...entries.flatMap(([, s]) =>
      s.rows.map((r) => line([r.scenario, r.measure, r.value, r.target, r.verdict, r.note ?? '', s.date])),
    ),
  ].join('\n');

console.log(`\n${table(Object.entries(stored).filter(([n]) => wanted(Number(n))))}\n`);
console.log(`this run: ${((Date.now() - started) / 1000).toFixed(0)} s`);

if (chart) writeFileSync(here('./shard-rate.svg'), shardRateChart(chart, 1000));
const machines = [...new Set(Object.values(stored).map((s) => s.machine))];
// `npm run soak` keeps its own section in RESULTS.md between markers: carry it over.
const previous = existsSync(here('./RESULTS.md')) ? readFileSync(here('./RESULTS.md'), 'utf8') : '';
const soak = [
  /<!-- soak -->[\s\S]*?<!-- \/soak -->/.exec(previous)?.[0],
  /<!-- spool-soak -->[\s\S]*?<!-- \/spool-soak -->/.exec(previous)?.[0],
]
  .filter((block) => block !== undefined)
  .join('\n\n');
writeFileSync(
  here('./RESULTS.md'),
  `# Benchmark results

Produced by \`npm run bench\` (a full run takes about 6 minutes). Machine${machines.length > 1 ? 's' : ''}:
${machines.map((m) => `- ${m}`).join('\n')}

The machine is shared and noisy: compare ratios measured in the same run, not absolute numbers across runs.

All scenarios run against \`rx-kinesis/testing\`'s emulator (provisioned-mode quotas of 1,000 records/s and
1 MiB/s per shard with a 1 s burst, unless a scenario turns quotas off), through a \`KinesisClient\` with
\`NodeHttpHandler\`. Scenarios 1–4, 6 and 11 run producer and emulator in one process (4 again in a child started with \`--max-semi-space-size=64\`, info rows); 5 and 7 run each producer in
a child process of its own; 12 runs the \`rx-kinesis put\` command (dist/cli.js) as one. Rates are read from the emulator's per-second ledger, skipping the first two
seconds of a run (its buckets start full).

${table(Object.entries(stored).sort(([a], [b]) => Number(a) - Number(b)))}

![Per-shard delivered records per second against the quota (scenario 1)](shard-rate.svg)
${soak ? `\n${soak}\n` : ''}`,
);
console.log('wrote bench/RESULTS.md and bench/results.json');
