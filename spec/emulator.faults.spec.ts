/** The emulator's rate faults: record failures, 500s, throttles, resets and latency, seeded. */
import { ListShardsCommand } from '@aws-sdk/client-kinesis';
import { expect } from 'chai';
import {
  ACCOUNT,
  entries,
  failure,
  putRecords,
  type ServiceError,
  emulatorSpec,
} from './support/emulator-kit.js';

const { start, clientFor } = emulatorSpec();

describe('Kinesis emulator', () => {
  describe('faults', () => {
    it('fails the seeded share of records with InternalFailure, reproducibly', async () => {
      const codes: string[][] = [];
      for (const _run of [1, 2]) {
        const emu = await start({ shards: 2, quotas: false, faults: { seed: 42, recordFailureRate: 0.2 } });
        const client = clientFor(emu, 'http1');
        const run: string[] = [];
        for (let i = 0; i < 20; i++) {
          const out = await putRecords(client, entries(500));
          run.push(...out.Records!.map((r) => r.ErrorCode ?? 'ok'));
        }
        codes.push(run);
        const failed = run.filter((c) => c === 'InternalFailure').length;
        expect(failed / run.length).to.be.within(0.19, 0.21);
        expect(emu.stats().faults.recordFailures).to.equal(failed);
        expect(emu.records).to.have.length(run.length - failed);
      }
      expect(codes[0]).to.deep.equal(codes[1]);
    });

    it('answers the seeded share of requests with 500 InternalFailure or a throttle', async () => {
      const emu = await start({
        faults: { seed: 9, requestFailureRate: 0.2, requestThrottleRate: 0.2 },
        quotas: false,
      });
      const client = clientFor(emu, 'http1');
      const outcomes = new Map<string, number>();
      for (let i = 0; i < 300; i++) {
        const error = await putRecords(client, entries(1)).then(
          () => undefined,
          (e: ServiceError) => e,
        );
        const key = error === undefined ? 'ok' : `${error.name}/${error.$metadata?.httpStatusCode}`;
        outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
      }
      expect(outcomes.get('InternalFailure/500')).to.be.within(40, 80);
      expect(outcomes.get('ProvisionedThroughputExceededException/400')).to.be.within(40, 80);
      expect(outcomes.get('ok')).to.equal(emu.records.length);
      // ListShards is outside the default fault scope.
      for (let i = 0; i < 20; i++) await clientFor(emu).send(new ListShardsCommand({ StreamName: 'demo' }));

      emu.setFaults({
        requestFailureRate: 0,
        requestThrottleRate: 1,
        throttleErrorCode: 'LimitExceededException',
      });
      const limited = await failure(putRecords(client, entries(1)));
      expect(limited.name).to.equal('LimitExceededException');
      expect(limited.message).to.equal(`Rate exceeded for stream demo under account ${ACCOUNT}.`);
      emu.setFaults({ requestThrottleRate: 0 });
      expect((await putRecords(client, entries(1))).FailedRecordCount).to.equal(0);
    });

    for (const protocol of ['http2', 'http1'] as const) {
      it(`resets the connection without an answer (${protocol}), applying first when told to`, async () => {
        const emu = await start({ faults: { resetRate: 1, applyBeforeResetRate: 0 } });
        const client = clientFor(emu, protocol);
        const dropped = await failure(putRecords(client, entries(3, 'lost')));
        // A network error, not a service answer: no HTTP status, no fault side.
        expect(dropped.$metadata?.httpStatusCode).to.equal(undefined);
        expect(dropped.$fault).to.equal(undefined);
        if (protocol === 'http1') expect(dropped.code).to.equal('ECONNRESET');
        expect(emu.records).to.have.length(0);

        emu.setFaults({ applyBeforeResetRate: 1 });
        await failure(putRecords(client, entries(3, 'landed')));
        expect(emu.records.map((r) => r.partitionKey)).to.deep.equal(['landed-0', 'landed-1', 'landed-2']);
        expect(emu.stats().faults).to.include({ resets: 2, appliedResets: 1 });

        // The SDK retries network errors, so an applied-then-reset request lands twice.
        emu.clearRecords();
        const retrying = clientFor(emu, protocol, 2);
        const second = putRecords(retrying, entries(2, 'dup'));
        await new Promise<void>((resolve) => {
          const poll = setInterval(() => {
            if (emu.records.length >= 2) {
              clearInterval(poll);
              emu.setFaults({ resetRate: 0 });
              resolve();
            }
          }, 1);
        });
        expect((await second).FailedRecordCount).to.equal(0);
        expect(emu.duplicates().count).to.equal(2);
      });
    }

    it('delays requests by latency + jitter', async () => {
      const emu = await start({ faults: { latencyMs: 60, jitterMs: 20 } });
      const client = clientFor(emu);
      const began = performance.now();
      await putRecords(client, entries(1));
      expect(performance.now() - began).to.be.at.least(59);
      await client.send(new ListShardsCommand({ StreamName: 'demo' }));
      expect(emu.stats().faults.delayedRequests).to.equal(1);
    });
  });
});
