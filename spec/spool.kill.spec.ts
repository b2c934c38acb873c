/**
 * The spool under a real `kill -9`: a child process appends with `fsync: 'always'` and acks half of what
 * it reads; it is SIGKILLed at a random moment, and the reopened directory must hold every entry the child
 * reported durable (0 lost) — except those it had started to ack — and none whose ack had resolved. The
 * lock is tested across processes too: refused while the child lives, taken over once it is dead.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { Spool, SpoolLockedError, type SpoolCorruption, type SpoolEntry } from '../src/spool/index.js';
import { seededRandom } from './support/fake-kinesis.js';
import type { SpoolChildConfig } from './support/spool-child.js';

const here = dirname(fileURLToPath(import.meta.url));

interface Child {
  readonly process: ChildProcessByStdio<null, Readable, Readable>;
  /** Complete stdout lines so far. */
  readonly lines: string[];
  stderr: string;
  readonly exited: Promise<unknown>;
}

function startChild(config: SpoolChildConfig): Child {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', join(here, 'support', 'spool-child.ts'), JSON.stringify(config)],
    {
      env: { ...process.env, NODE_OPTIONS: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const result: Child = {
    process: child,
    lines: [],
    stderr: '',
    exited: new Promise((resolve) => child.once('exit', resolve)),
  };
  let partial = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop()!;
    result.lines.push(...parts);
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (result.stderr += chunk));
  return result;
}

async function until(condition: () => boolean, child: Child, what: string): Promise<void> {
  for (let waited = 0; !condition(); waited += 10) {
    if (waited > 30_000 || child.process.exitCode !== null)
      throw new Error(`child never ${what}: ${child.stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('Spool under kill -9', function () {
  this.timeout(120_000);
  let dir: string;
  let child: Child | undefined;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'rx-kinesis-spool-kill-'));
  });
  afterEach(async () => {
    if (child !== undefined && child.process.exitCode === null && child.process.signalCode === null) {
      child.process.kill('SIGKILL');
      await child.exited;
    }
    child = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  it('a second opener in another process gets SpoolLockedError; a dead holder’s lock is taken over', async () => {
    child = startChild({ mode: 'hold', directory: dir });
    await until(() => child!.lines.some((l) => l.startsWith('LOCKED')), child, 'locked');
    const error = await Spool.open({ directory: dir }).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(SpoolLockedError).with.property('pid', child.process.pid);
    child.process.kill('SIGKILL');
    await child.exited;
    const spool = await Spool.open({ directory: dir });
    await spool.close();
  });

  it('loses no entry reported durable and resends none whose ack resolved, over 3 kills at random moments', async () => {
    const seed = Date.now() % 100_000;
    const random = seededRandom(seed);
    const durable = new Map<number, string>(); // id → data, reported by `D`
    const acking = new Set<number>(); // `R`: acks started (may or may not have landed)
    const acked = new Set<number>(); // `A`: acks resolved
    let firstSeq = 0;
    for (let round = 0; round < 3; round++) {
      child = startChild({ mode: 'work', directory: dir, fsync: 'always', segmentBytes: 2048, firstSeq });
      await until(() => child!.lines.some((l) => l.startsWith('D ')), child, 'appended');
      await new Promise((resolve) => setTimeout(resolve, 100 + random() * 900));
      child.process.kill('SIGKILL');
      await child.exited;
      expect(child.process.signalCode, child.stderr).to.equal('SIGKILL');
      for (const line of child.lines) {
        const [tag, ...rest] = line.split(' ');
        if (tag === 'D') durable.set(Number(rest[0]), `seq-${rest[1]}`);
        if (tag === 'R') rest.forEach((id) => acking.add(Number(id)));
        if (tag === 'A') rest.forEach((id) => acked.add(Number(id)));
        if (tag === 'D') firstSeq = Math.max(firstSeq, Number(rest[1]) + 1000);
      }
      firstSeq += 10_000;

      // The dead child's lock is stale: this opens it. Read all, ack nothing, close: the next child resumes.
      const corruptions: SpoolCorruption[] = [];
      const spool = await Spool.open({ directory: dir, onCorruption: (c) => corruptions.push(c) });
      const present = new Map<number, SpoolEntry>();
      for (let batch = await spool.read(100); batch.length > 0; batch = await spool.read(100))
        for (const entry of batch) present.set(entry.id, entry);
      await spool.close();

      const lost = [...durable.keys()].filter((id) => !acking.has(id) && !present.has(id));
      const resent = [...acked].filter((id) => present.has(id));
      const wrong = [...present.values()].filter(
        (e) => durable.has(e.id) && Buffer.from(e.Data).toString() !== durable.get(e.id),
      );
      const context = `seed ${seed}, round ${round}: ${durable.size} durable, ${acked.size} acked, ${present.size} present, corruptions ${JSON.stringify(corruptions)}`;
      console.log(context);
      expect(lost, `lost: ${context}`).to.deep.equal([]);
      expect(resent, `resent after ack: ${context}`).to.deep.equal([]);
      expect(wrong, `wrong data: ${context}`).to.deep.equal([]);
      expect(
        corruptions.every((c) => c.kind === 'torn-tail'),
        context,
      ).to.equal(true);
      // Entries present that were never reported are appends the kill cut short of resolving: allowed.
      // Ids continue after the highest id on disk, so ids of entries gone may come again: forget them.
      for (const id of [...durable.keys()]) if (!present.has(id)) durable.delete(id);
      acking.clear();
      acked.clear();
    }
    expect(durable.size, 'the child kept something unacked').to.be.greaterThan(0);
  });
});
