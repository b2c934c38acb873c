/**
 * Proof by killing it: a child process writes through the spool to an emulator that lives in this process
 * (on a loopback port, so its ledger survives every child), is SIGKILLed at random moments and restarted on
 * the same directory; at the end the ledger must hold every input record at least once.
 *
 * The source is at-least-once, like an MQTT broker or a cursor: a restarted child resumes from the first
 * item whose put() it never reported resolved, so items above that point are put again.
 *
 * Duplicates a kill may cause, and so the bound checked per kill (`perKillBound`):
 * - the window: records read from the spool and sent, whose ack was not yet written — at most
 *   `maxBufferedRecords` in the window, plus at most one window more settled while the ack write for them
 *   was on its way (acks are written as records settle, one write at a time): 2 × `window`;
 * - the source: items put again after the restart although their put had resolved — at most the
 *   `outstanding` puts that may be waiting above the resume point.
 * Spool acks survive SIGKILL once written (page cache), so nothing acked before the kill comes back.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startEmulator, type QuotaOptions } from '../../src/testing/index.js';
import { seededRandom } from '../../src/testing/faults.js';
import type { SpoolFsync } from '../../src/index.js';
import type { SpoolKillChildConfig } from './spool-kill-child.js';

export interface SpoolKillOptions {
  kills: number;
  /** Input records, numbered 0 .. records − 1. */
  records: number;
  seed: number;
  /** How long a child lives after it said READY, ms (uniform). Default 150 .. 900. */
  lifeMs?: [number, number];
  window?: number;
  outstanding?: number;
  fsync?: SpoolFsync;
  shards?: number;
  /** Emulator quotas (default on: 1,000 records/s per shard, so the spool holds a backlog when killed). */
  quotas?: QuotaOptions | false;
  progress?: (line: string) => void;
}

export interface SpoolKillResult {
  kills: number;
  records: number;
  /** Input records absent from the ledger. Must be 0. */
  lost: number;
  /** Ledger entries beyond the first for each record. */
  duplicates: number;
  perKillBound: number;
  duplicateBound: number;
  /** Records confirmed durable (put resolved) and not yet delivered at each kill: what the spool carried over. */
  carriedOver: number[];
  corruptions: string[];
  ms: number;
  /** The final child's run, from spawn to DONE (it first sends what the killed ones left), ms. */
  finalMs: number;
}

const child = fileURLToPath(new URL('./spool-kill-child.ts', import.meta.url));

interface Life {
  readonly confirmed: number[];
  readonly lines: string[];
  stderr: string;
  ready: boolean;
  done: boolean;
  readonly exited: Promise<number | null>;
  kill(): void;
}

function start(config: SpoolKillChildConfig): Life {
  const proc = spawn(process.execPath, ['--import', 'tsx', child, JSON.stringify(config)], {
    env: { ...process.env, NODE_OPTIONS: '', NODE_NO_WARNINGS: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const life: Life = {
    confirmed: [],
    lines: [],
    stderr: '',
    ready: false,
    done: false,
    exited: new Promise((resolve) => proc.once('exit', (code) => resolve(code))),
    kill: () => void proc.kill('SIGKILL'),
  };
  let partial = '';
  proc.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    const parts = (partial + chunk).split('\n');
    partial = parts.pop()!;
    for (const line of parts) {
      if (line.startsWith('P ')) life.confirmed.push(Number(line.slice(2)));
      else if (line === 'READY') life.ready = true;
      else if (line === 'DONE') life.done = true;
      else life.lines.push(line);
    }
  });
  proc.stderr.setEncoding('utf8').on('data', (chunk: string) => (life.stderr += chunk));
  return life;
}

async function until(condition: () => boolean, life: Life, what: string, ms = 60_000): Promise<void> {
  const started = Date.now();
  let exited = false;
  void life.exited.then(() => (exited = true));
  while (!condition()) {
    if (exited && !condition()) throw new Error(`child exited before ${what}: ${life.stderr.slice(-2000)}`);
    if (Date.now() - started > ms)
      throw new Error(`child never ${what} in ${ms} ms: ${life.stderr.slice(-2000)}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** Runs the kill loop and reads the ledger. Cleans up its directory, emulator and children. */
export async function runSpoolKill(o: SpoolKillOptions): Promise<SpoolKillResult> {
  const started = Date.now();
  const random = seededRandom(o.seed);
  const [minLife, maxLife] = o.lifeMs ?? [150, 900];
  const window = o.window ?? 100;
  const outstanding = o.outstanding ?? 50;
  const perKillBound = 2 * window + outstanding;
  const emu = await startEmulator({ shards: o.shards ?? 2, keepData: true, quotas: o.quotas ?? {} });
  const directory = await mkdtemp(join(tmpdir(), 'rx-kinesis-spool-kill-'));
  const confirmed = new Set<number>();
  const carriedOver: number[] = [];
  const corruptions: string[] = [];
  let resume = 0;
  let life: Life | undefined;
  const config = (first: number): SpoolKillChildConfig => ({
    endpoint: emu.endpoint,
    directory,
    first,
    total: o.records,
    window,
    outstanding,
    fsync: o.fsync ?? 'batch',
    keys: 16,
  });
  const delivered = () => {
    const seen = new Set<number>();
    for (const r of emu.records) seen.add(Number(r.data!.toString().slice(5)));
    return seen;
  };
  try {
    let kills = 0;
    while (kills < o.kills) {
      life = start(config(resume));
      await until(() => life!.ready, life, 'said READY');
      await new Promise((resolve) => setTimeout(resolve, minLife + random() * (maxLife - minLife)));
      if (life.done) break; // it finished everything before its kill
      life.kill();
      await life.exited;
      kills++;
      for (const n of life.confirmed) confirmed.add(n);
      corruptions.push(...life.lines.filter((l) => l.startsWith('C ')));
      while (confirmed.has(resume)) resume++;
      const landed = delivered();
      carriedOver.push([...confirmed].filter((n) => !landed.has(n)).length);
      o.progress?.(
        `kill ${kills}: resume at ${resume}, ${landed.size} delivered, ${carriedOver.at(-1)} carried over`,
      );
    }
    const finalStart = Date.now();
    life = start(config(resume));
    await until(() => life!.done, life, 'finished', 600_000);
    await life.exited;
    corruptions.push(...life.lines.filter((l) => l.startsWith('C ')));
    const finalMs = Date.now() - finalStart;

    const counts = new Map<number, number>();
    for (const r of emu.records) {
      const n = Number(r.data!.toString().slice(5));
      counts.set(n, (counts.get(n) ?? 0) + 1);
    }
    let lost = 0;
    for (let n = 0; n < o.records; n++) if (!counts.has(n)) lost++;
    let duplicates = 0;
    for (const c of counts.values()) duplicates += c - 1;
    return {
      kills,
      records: o.records,
      lost,
      duplicates,
      perKillBound,
      duplicateBound: kills * perKillBound,
      carriedOver,
      corruptions,
      ms: Date.now() - started,
      finalMs,
    };
  } finally {
    life?.kill();
    await life?.exited;
    await emu.close();
    await rm(directory, { recursive: true, force: true });
  }
}
