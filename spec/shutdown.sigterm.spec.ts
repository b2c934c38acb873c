/**
 * The done-when, out of process: SIGTERM on a `putAll()` of 1,000,000 generated records with a
 * 10 s deadline exits within 12 s, and every record is delivered, in `unsent`, or not yet pulled — the
 * child's summary checked against the emulator's ledger. The emulator's quotas (2 shards × 1,000
 * records/s) make 1M impossible in 10 s, so the deadline, not the source, ends the run.
 */
import { spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import { startEmulator } from '../src/testing/index.js';

const here = dirname(fileURLToPath(import.meta.url));

describe('shutdown: SIGTERM on a putAll() of 1,000,000 records', function () {
  this.timeout(60_000);

  it('exits within 12 s of SIGTERM with a 10 s deadline; pulled = delivered + unsent, delivered ⊆ ledger', async () => {
    const emu = await startEmulator({
      shards: 2,
      streamName: 'sigterm',
      quotas: { recordsPerSecond: 1000 },
      keepData: false,
    });
    try {
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', join(here, 'support', 'sigterm-child.ts'), emu.endpoint, 'sigterm', '10000'],
        {
          env: { ...process.env, NODE_OPTIONS: '', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let stdout = '';
      let stderr = '';
      child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr += c));
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      await new Promise<void>((resolve, reject) => {
        child.stdout.setEncoding('utf8').on('data', (c: string) => {
          stdout += c;
          if (stdout.includes('READY')) resolve();
        });
        void exited.then(() => reject(new Error(`child exited before READY: ${stderr}`)));
      });
      await new Promise((r) => setTimeout(r, 1_000)); // records in every stage: lanes, requests, retries
      const signalledAt = performance.now();
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      const code = await exited;
      clearTimeout(timer);
      const exitedAfterMs = performance.now() - signalledAt;

      const line = /SUMMARY (.*)/.exec(stdout);
      expect(line, `${stdout}\n${stderr}`).to.not.equal(null);
      const summary = JSON.parse(line![1]) as {
        pulled: number;
        delivered: number;
        unsent: number;
        notPulled: number;
        error: string | undefined;
        deliveredHashes: string[];
      };
      expect(code).to.equal(0);
      expect(exitedAfterMs).to.be.lessThan(12_000);
      expect(summary.error).to.equal('DRAIN_TIMEOUT');
      expect(summary.unsent).to.be.greaterThan(0);
      expect(summary.notPulled).to.be.greaterThan(0); // 1M could not go in 10 s: the deadline ended it
      expect(summary.delivered + summary.unsent).to.equal(summary.pulled);
      expect(summary.pulled + summary.notPulled).to.equal(1_000_000);
      // delivered ⊆ ledger: every record the child counts as delivered is in the emulator.
      const ledger = new Set(emu.records.map((r) => r.dataSha256));
      const missing = summary.deliveredHashes.filter((h) => !ledger.has(h));
      expect(missing).to.have.length(0);
      expect(new Set(summary.deliveredHashes).size).to.equal(summary.delivered);
      // Records the child counts as unsent may still have landed (aborted in flight), but no more than those.
      expect(emu.records.length).to.be.within(summary.delivered, summary.delivered + summary.unsent);
    } finally {
      await emu.close();
    }
  });
});
