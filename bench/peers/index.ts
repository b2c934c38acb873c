/**
 * Scenario 7: peers on the same emulator and the same workload — scenario 1's 4 shards at quota, plus 10% of
 * PutRecords entries failed with InternalFailure (seeded). Each program gets a fresh emulator (so the ledgers
 * are separate) and runs in a child process of its own (bench/peers/child.ts), fed as fast as it accepts the
 * records, until it says it is done, goes quiet (a program with no completion signal) or its deadline passes.
 * Then the child is killed and the emulator's ledger tells what landed.
 *
 * The peers are devDependencies of the bench only, in bench/peers/package.json; they are installed here
 * (`npm ci` in bench/peers) the first time the scenario runs.
 */
import { execFileSync, fork } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { emulator, fmt, sleep, STREAM, sumSeconds, type Row } from '../harness.js';
import { PROGRAMS, workload, type ChildMessage, type PeerRecord, type Program } from './workload.js';

const SCENARIO = '7. peers (10% InternalFailure)';
const here = (f: string) => fileURLToPath(new URL(f, import.meta.url));

/** Installs bench/peers' own dependencies if they are missing. */
function ensurePeersInstalled(): void {
  if (existsSync(here('./node_modules'))) return;
  console.log('\nbench/peers/node_modules is missing: running npm ci --no-audit --no-fund in bench/peers');
  execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: here('.'), stdio: 'inherit' });
}

interface Outcome {
  program: Program;
  /** How the run ended. */
  ending: 'done' | 'quiet' | 'deadline' | 'exited';
  seconds: number;
  delivered: number;
  lost: number;
  duplicates: number;
  orderViolations: number;
  throttledShare: number;
  throttled: number;
  accepted: number;
  putRecordsCalls: number;
  /** Accepted records/s from the third second of the run to the last whole second before its last delivery. */
  steady?: { perSecond: number; from: number; to: number };
  errors: number;
  firstError?: string;
}

/** Programs that cannot say when they are done: finished once fed and no request arrived for this long. */
const QUIET_MS = 3000;
const NO_COMPLETION_SIGNAL: ReadonlySet<Program> = new Set(['aws-kinesis-writable']);

async function runOne(program: Program, sent: PeerRecord[], deadlineMs: number): Promise<Outcome> {
  const emu = await emulator({
    shards: 4,
    keepRecords: true,
    keepData: false,
    faults: { recordFailureRate: 0.1, seed: 7 },
  });
  const emuStartedAt = Date.now(); // the origin of the emulator's per-second timeline, near enough
  const child = fork(here('./child.ts'), [program, emu.endpoint, STREAM, String(sent.length)], {
    cwd: here('../..'), // where `--import tsx` resolves
    execArgv: ['--import', 'tsx'],
    env: {
      ...process.env,
      NODE_OPTIONS: '',
      // AWS's recommended setting for SDK v2 (v3 keeps connections alive by default).
      AWS_NODEJS_CONNECTION_REUSE_ENABLED: '1',
      AWS_SDK_JS_SUPPRESS_MAINTENANCE_MODE_MESSAGE: '1',
    },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  let startedAt: number | undefined;
  let fed = false;
  let done = false;
  let exited = false;
  let errors = 0;
  let firstError: string | undefined;
  child.on('message', (m: ChildMessage) => {
    if (m.type === 'start') startedAt = m.at;
    else if (m.type === 'fed') fed = true;
    else if (m.type === 'done') done = true;
    else {
      errors++;
      firstError ??= m.message;
    }
  });
  child.once('exit', () => (exited = true));

  const launchedAt = Date.now();
  let deadline = launchedAt + deadlineMs + 15_000; // until it starts: loading the peer takes a moment
  let lastRequests = -1;
  let quietSince = Date.now();
  let ending: Outcome['ending'] = 'deadline';
  for (;;) {
    await sleep(100);
    if (startedAt !== undefined) deadline = Math.min(deadline, startedAt + deadlineMs);
    if (done) {
      ending = 'done';
      break;
    }
    const requests = emu.stats().requests.total;
    if (requests !== lastRequests) {
      lastRequests = requests;
      quietSince = Date.now();
    }
    if (fed && NO_COMPLETION_SIGNAL.has(program) && Date.now() - quietSince >= QUIET_MS) {
      ending = 'quiet';
      break;
    }
    if (exited) {
      ending = 'exited';
      break;
    }
    if (Date.now() >= deadline) break;
  }
  const endedAt = Date.now();
  if (!exited) {
    const gone = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await gone;
  }
  const stats = emu.stats();
  const missing = emu.missing(sent).length;
  const duplicates = emu.duplicates(sent).count;
  const orderViolations = emu.orderViolations(sent).length;
  let lastArrival = 0;
  for (const r of emu.records) if (r.arrivedAt > lastArrival) lastArrival = r.arrivedAt;
  await emu.close();

  const start = startedAt ?? launchedAt;
  // A program that finished (or went quiet) is timed to its last delivery; one stopped at the deadline, to it.
  const until = ending === 'deadline' ? endedAt : Math.max(lastArrival, start + 1);
  // As scenario 1 does: skip two seconds (the buckets start full, a 1 s burst) and the last partial second.
  const second = (t: number) => Math.floor((t - emuStartedAt) / 1000);
  const from = second(start) + 2;
  const to = second(Math.min(until, lastArrival));
  const steady =
    to - from >= 3 ? { perSecond: sumSeconds(stats.timeline, from, to) / (to - from), from, to } : undefined;
  return {
    program,
    ending,
    seconds: (until - start) / 1000,
    delivered: sent.length - missing,
    lost: missing,
    duplicates,
    orderViolations,
    throttledShare: stats.throttled / Math.max(1, stats.accepted),
    throttled: stats.throttled,
    accepted: stats.accepted,
    putRecordsCalls: stats.requests.byOperation.PutRecords ?? 0,
    steady,
    errors,
    firstError,
  };
}

function describe(o: Outcome, deadlineMs: number): string {
  const ended = {
    done: 'its completion signal',
    quiet: `fed, then ${QUIET_MS / 1000} s without a request (it has no completion signal)`,
    deadline: `stopped at the ${deadlineMs / 1000} s deadline`,
    exited: 'its process running out of work and exiting',
  }[o.ending];
  const steady = o.steady
    ? `, ${fmt.int(o.steady.perSecond)}/s past its first 2 s (over ${o.steady.to - o.steady.from} whole s)`
    : '';
  const error = o.errors > 0 ? `; ${o.errors} error(s), first: ${o.firstError}` : '';
  return (
    `throttled ${fmt.pct(o.throttledShare)}, lost ${fmt.int(o.lost)}, duplicates ${fmt.int(o.duplicates)}, ` +
    `order violations ${fmt.int(o.orderViolations)} — ${fmt.int(o.delivered)} delivered in ${o.seconds.toFixed(1)} s ` +
    `(ended by ${ended})${steady}, ${fmt.int(o.putRecordsCalls)} PutRecords calls, ` +
    `${fmt.int(o.throttled)} throttled entries${error}`
  );
}

/** 7. Peers: rx-kinesis, a naive RxJS pipeline and three npm producers, each on a fresh emulator. */
export async function peers(count = 40_000, deadlineMs = 60_000): Promise<Row[]> {
  ensurePeersInstalled();
  const sent = workload(count);
  const rows: Row[] = [];
  for (const program of PROGRAMS) {
    const o = await runOne(program, sent, deadlineMs);
    rows.push({
      scenario: SCENARIO,
      measure: program,
      value: `${fmt.int(o.delivered / o.seconds)}/s`,
      target: '—',
      verdict: 'info',
      note: describe(o, deadlineMs),
    });
  }
  return rows;
}
