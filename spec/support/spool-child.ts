/**
 * A process that uses a spool until it is killed; `spec/spool.kill.spec.ts` SIGKILLs it and checks the
 * directory against what it reported. Stdout is a pipe, which Node writes synchronously on Linux, so a
 * line printed before the kill is a line the parent gets.
 *
 * Run as `node --import tsx spec/support/spool-child.ts '<SpoolChildConfig as JSON>'`. Modes:
 * - `hold`: opens the spool, prints `LOCKED <pid>`, and waits.
 * - `work`: four loops append 1–3 records each (`Data` = `seq-<n>`) and print `D <id> <n>` once an
 *   append resolved (durable); one loop reads, and acks every other entry it read (the rest stay
 *   unacked, as if still in flight): it prints `R <id>…` before acking and `A <id>…` once the ack
 *   resolved — simulated delivery.
 */
import { Spool } from '../../src/spool/index.js';
import type { SpoolFsync } from '../../src/spool/index.js';

export interface SpoolChildConfig {
  mode: 'hold' | 'work';
  directory: string;
  fsync?: SpoolFsync;
  segmentBytes?: number;
  /** First `n` of this run's records (unique across restarts). */
  firstSeq?: number;
}

const config = JSON.parse(process.argv[2] ?? '{}') as SpoolChildConfig;
const spool = await Spool.open({
  directory: config.directory,
  fsync: config.fsync ?? 'always',
  segmentBytes: config.segmentBytes ?? 4096,
});
const out = (line: string) => process.stdout.write(`${line}\n`);

if (config.mode === 'hold') {
  out(`LOCKED ${process.pid}`);
  setInterval(() => undefined, 60_000);
} else {
  let seq = config.firstSeq ?? 0;
  const appendLoop = async () => {
    for (;;) {
      const count = 1 + (seq % 3);
      const seqs = Array.from({ length: count }, () => seq++);
      const ids = await spool.append(
        seqs.map((n) => ({ PartitionKey: `key-${n % 13}`, Data: Buffer.from(`seq-${n}`) })),
      );
      out(ids.map((id, i) => `D ${id} ${seqs[i]}`).join('\n'));
    }
  };
  const deliverLoop = async () => {
    for (;;) {
      await spool.whenReadable();
      const entries = await spool.read(1 + (seq % 40));
      if (entries.length === 0) continue;
      const ids = entries.map((e) => e.id).filter((_, i) => i % 2 === 0);
      out(`R ${ids.join(' ')}`);
      await spool.ack(ids);
      out(`A ${ids.join(' ')}`);
    }
  };
  for (let i = 0; i < 4; i++) void appendLoop();
  void deliverLoop();
}
