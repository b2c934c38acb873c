/**
 * `npm run soak` (after the fault soak) or `npm run soak:spool [-- KILLS]`: proof by killing it at full
 * size. A producer child writes through the spool to the emulator in this process and is SIGKILLed 100
 * times at random moments, restarted on the same directory each time (bench/support/spool-kill.ts); then
 * every input record must be in the emulator's ledger (0 lost) and duplicates within the bound.
 *
 * Writes a "Spool: kill -9 soak" block into bench/RESULTS.md between `<!-- spool-soak -->` and
 * `<!-- /spool-soak -->`, right after the Soak section (appended when absent). Exits 1 on a miss.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { fmt, machine } from './harness.js';
import { runSpoolKill } from './support/spool-kill.js';

const kills = Number(process.argv[2] ?? 100);
if (!Number.isInteger(kills) || kills < 1) throw new RangeError('kills must be a positive integer');
const records = kills * 1_500;
const seed = 14;
console.log(`spool soak: ${kills} kills, ${fmt.int(records)} records, seed ${seed} …`);
const r = await runSpoolKill({
  kills,
  records,
  seed,
  progress: (line) => {
    if (/^kill \d*0:/.test(line)) console.log(`  ${line}`);
  },
});
const checks: [string, boolean][] = [
  [`${kills} kills`, r.kills === kills],
  ['0 lost', r.lost === 0],
  ['duplicates ≤ kills × (2 × window + outstanding)', r.duplicates <= r.duplicateBound],
];
const missed = checks.filter(([, ok]) => !ok);
const carried = [...r.carriedOver].sort((a, b) => a - b);
console.log(
  `  ${(r.ms / 1000).toFixed(1)} s: ${r.kills} kills, ${fmt.int(r.lost)} lost, ${fmt.int(r.duplicates)} duplicates ` +
    `(≤ ${fmt.int(r.duplicateBound)}), carried over per kill median ${fmt.int(carried[carried.length >> 1] ?? 0)}, ` +
    `max ${fmt.int(carried.at(-1) ?? 0)}; damage reports: ${r.corruptions.length}` +
    (missed.length > 0 ? `\n  MISSED: ${missed.map(([what]) => what).join(', ')}` : ''),
);

const section = `<!-- spool-soak -->
### Spool: kill -9 soak

Produced by \`npm run soak\` (\`bench/spool-soak.ts\`) on ${new Date().toISOString().slice(0, 10)}, ${machine()}.

A child process puts records through \`KinesisProducer\` with \`spool\` (\`fsync: 'batch'\`, window
\`maxBufferedRecords\` 100, at most 50 \`put()\`s waiting) to the emulator, which runs in the parent on a loopback port
(2 shards, quotas of 1,000 records/s each, so the spool holds a backlog). It is SIGKILLed 150–900 ms after it
starts working, and restarted on the same directory from the first record whose \`put()\` it never reported resolved
(an at-least-once source). After the last kill a final child runs to the end. **Lost**: input records absent from
the ledger. **Duplicates** are bounded per kill by 2 × window (records sent whose ack was not yet written) +
outstanding puts (records the source puts again): ${r.perKillBound}. **Carried over**: records durable in the spool
and not yet delivered at a kill — what the spool saved.

| kills | records | duration | lost | duplicates ≤ bound | carried over per kill (median / max) | damage reports | final child (sends the backlog) | verdict |
| --- | --- | --- | --- | --- | --- | --- | --- | --- |
| ${r.kills} | ${fmt.int(r.records)} | ${(r.ms / 1000).toFixed(1)} s | ${fmt.int(r.lost)} | ${fmt.int(r.duplicates)} ≤ ${fmt.int(r.duplicateBound)} | ${fmt.int(carried[carried.length >> 1] ?? 0)} / ${fmt.int(carried.at(-1) ?? 0)} | ${r.corruptions.length} | ${(r.finalMs / 1000).toFixed(1)} s | ${missed.length === 0 ? 'met' : 'MISSED'} |
<!-- /spool-soak -->`;

const resultsFile = fileURLToPath(new URL('./RESULTS.md', import.meta.url));
const before = existsSync(resultsFile) ? readFileSync(resultsFile, 'utf8') : '# Benchmark results\n';
const block = /<!-- spool-soak -->[\s\S]*?<!-- \/spool-soak -->/;
const soakEnd = '<!-- /soak -->';
const after = block.test(before)
  ? before.replace(block, () => section)
  : before.includes(soakEnd)
    ? before.replace(soakEnd, () => `${soakEnd}\n\n${section}`)
    : `${before.replace(/\n*$/, '\n')}\n${section}\n`;
writeFileSync(resultsFile, after);
console.log(`wrote the spool soak block of bench/RESULTS.md${missed.length > 0 ? '; MISSED' : ''}`);
if (missed.length > 0) process.exitCode = 1;
