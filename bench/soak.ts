/**
 * `npm run soak [-- RECORDS]`: the fault soak at full size, 1,000,000 records by default, in both ordering
 * modes and once more aggregated ('per-key'), against the built package (`dist/`). Quotas on and binding, 5% per-record InternalFailure, 2%
 * request-level 500s, 1% connection resets without an answer (half applied first), latency jitter; then
 * every record is accounted for (see bench/support/soak.ts).
 *
 * Prints one line per mode and writes a "## Soak" section into bench/RESULTS.md between `<!-- soak -->` and
 * `<!-- /soak -->`, replacing only that block (appended when absent). Exits 1 if a record was lost, a
 * duplicate is unexplained, or 'per-key' inverted a key's order.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runSoak, type SoakResult } from './support/soak.js';
import { fmt, machine } from './harness.js';

const records = Number(process.argv[2] ?? 1_000_000);
if (!Number.isInteger(records) || records < 1) throw new RangeError(`records must be a positive integer`);

const distUrl = new URL('../dist/index.js', import.meta.url);
if (!existsSync(fileURLToPath(distUrl))) throw new Error('dist/ is missing: run `npm run build` first');
const library = (await import(distUrl.href)) as typeof import('../src/index.js');

/** The invariants: what must hold in each mode, as [what, ok] pairs. */
function checks(r: SoakResult): [string, boolean][] {
  return [
    ['completed', r.end === 'complete'],
    ['0 lost', r.lost === 0],
    ['0 finally failed', r.finallyFailed === 0],
    ['each record ended once', r.endedTwice === 0 && r.delivered === r.records],
    ['duplicates ≤ applied resets × batch', r.duplicates <= r.duplicateBound],
    ['duplicates ≤ unanswered records', r.duplicates <= r.unansweredRecords],
    ...(r.ordering === 'per-key' ? [['0 inversions', r.inversions === 0] as [string, boolean]] : []),
  ];
}

const results: SoakResult[] = [];
let failed = false;
/** KPL aggregates of ≤ 10 records in requests of ≤ 5, under quotas that count aggregates (so lower). */
const AGGREGATED = { aggregateRecords: 10, maxBatchRecords: 5, ratePerShard: 300 };
const modeName = (r: SoakResult) =>
  r.aggregateRecords === undefined ? r.ordering : `${r.ordering}, aggregated ≤ ${r.aggregateRecords}`;
for (const [ordering, seed, aggregated] of [
  ['per-key', 1, false],
  ['none', 2, false],
  ['per-key', 3, true],
] as const) {
  console.log(
    `soak: ${fmt.int(records)} records, ordering '${ordering}'${aggregated ? ', aggregated' : ''} …`,
  );
  const r = await runSoak({
    records,
    ordering,
    seed,
    ...(aggregated ? AGGREGATED : {}),
    // Pulled with a bounded buffer: a million records are not all held at once.
    feed: 'putAll',
    library,
    progress: (settled, ms) => {
      if (Math.round(ms / 1000) % 10 === 0)
        console.log(`  ${(ms / 1000).toFixed(0)} s: ${fmt.int(settled)} settled`);
    },
  });
  results.push(r);
  const missed = checks(r).filter(([, ok]) => !ok);
  failed ||= missed.length > 0;
  console.log(
    `  ${(r.durationMs / 1000).toFixed(1)} s (${fmt.int(r.records / (r.durationMs / 1000))} records/s): ` +
      `${fmt.int(r.lost)} lost, ${fmt.int(r.duplicates)} duplicates (≤ ${fmt.int(r.duplicateBound)}), ` +
      `${fmt.int(r.inversions)} inversions, ${fmt.int(r.finallyFailed)} finally failed, ` +
      `${fmt.int(r.retriedEntries)} retried, ${fmt.int(r.throttled)} throttled, ` +
      `faults ${JSON.stringify(r.faults)}` +
      (missed.length > 0 ? `\n  MISSED: ${missed.map(([what]) => what).join(', ')}` : ''),
  );
}

const first = results[0];
const row = (r: SoakResult) =>
  `| ${modeName(r)} | ${fmt.int(r.records)} | ${(r.durationMs / 1000).toFixed(1)} s | ${fmt.int(r.lost)} | ` +
  `${fmt.int(r.finallyFailed)} | ${fmt.int(r.duplicates)} ≤ ${fmt.int(r.duplicateBound)} | ` +
  `${fmt.int(r.inversions)}${r.ordering === 'per-key' ? '' : ' (not promised)'} | ` +
  `${fmt.int(r.faults.recordFailures)} / ${fmt.int(r.faults.requestFailures)} / ` +
  `${fmt.int(r.faults.resets)} (${fmt.int(r.faults.appliedResets)} applied) | ${fmt.int(r.throttled)} | ` +
  `${checks(r).every(([, ok]) => ok) ? 'met' : 'MISSED'} |`;
const about =
  `${fmt.int(first.records)} records per ordering mode, written by \`putAll()\` from the built package to the ` +
  `emulator: ${first.shards} shards with quotas of ${fmt.int(first.ratePerShard)} records/s each (the producer ` +
  `set ${Math.round((first.overdrive - 1) * 100)}% above them, so the emulator throttles too), ` +
  `${fmt.int(first.keys)} partition keys, requests of at most ${first.maxBatchRecords} records, over HTTP/1.1 ` +
  `with the SDK's own retries on. Faults at once: 5% of entries InternalFailure, 2% of requests HTTP 500, 1% ` +
  `of connections reset without an answer (half of them after the records were applied), 1–11 ms latency. ` +
  `**Lost**: items neither delivered, finally failed nor in an error's \`unsent\`, or reported delivered but ` +
  `absent from the stream. **Duplicates** can only come from requests applied and then reset: at most one ` +
  `request's records per such reset. **Inversions**: records that landed before an earlier-sent record of ` +
  `their key (first copies). The aggregated run packs records into KPL aggregates of at most ` +
  `${AGGREGATED.aggregateRecords} in requests of at most ${AGGREGATED.maxBatchRecords}, with quotas of ` +
  `${AGGREGATED.ratePerShard} Kinesis records/s per shard (quotas count aggregates); its duplicate bound is ` +
  `per applied reset ${AGGREGATED.maxBatchRecords} × ${AGGREGATED.aggregateRecords} records.`;
const section = `<!-- soak -->
## Soak

Produced by \`npm run soak\` on ${new Date().toISOString().slice(0, 10)}, ${machine()}.

${wrap(about, 110)}

| ordering | records | duration | lost | finally failed | duplicates ≤ bound | inversions | faults: entries / 500s / resets | throttled | verdict |
| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |
${results.map(row).join('\n')}
<!-- /soak -->`;

const resultsFile = fileURLToPath(new URL('./RESULTS.md', import.meta.url));
const before = existsSync(resultsFile) ? readFileSync(resultsFile, 'utf8') : '# Benchmark results\n';
const block = /<!-- soak -->[\s\S]*?<!-- \/soak -->/;
const after = block.test(before)
  ? before.replace(block, () => section)
  : `${before.replace(/\n*$/, '\n')}\n${section}\n`;
writeFileSync(resultsFile, after);
console.log(`wrote the Soak section of bench/RESULTS.md${failed ? '; some invariants MISSED' : ''}`);
if (failed) process.exitCode = 1;

// The accounting property over every fault kind (spec/accounting.properties.spec.ts), with many more runs
// than CI's 24: RX_KINESIS_ACCOUNTING_RUNS (default 300 here; 0 skips it).
const accountingRuns = process.env.RX_KINESIS_ACCOUNTING_RUNS ?? '300';
if (accountingRuns !== '0') {
  const spec = fileURLToPath(new URL('../spec/accounting.properties.spec.ts', import.meta.url));
  // A config of its own: .mocharc.json's spec glob would add the whole suite to the one file named.
  const config = join(tmpdir(), `rx-kinesis-accounting-${process.pid}.json`);
  writeFileSync(config, JSON.stringify({ import: 'tsx', timeout: 0 }));
  const mocha = spawnSync('npx', ['mocha', '--config', config, spec], {
    stdio: 'inherit',
    env: { ...process.env, RX_KINESIS_ACCOUNTING_RUNS: accountingRuns },
  });
  rmSync(config, { force: true });
  console.log(`accounting property, ${accountingRuns} runs: ${mocha.status === 0 ? 'held' : 'FAILED'}`);
  if (mocha.status !== 0) process.exitCode = 1;
}

/** Breaks a paragraph into lines of at most `width` characters. */
function wrap(text: string, width: number): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  return [...lines, line].join('\n');
}
