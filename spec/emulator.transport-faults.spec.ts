/**
 * The emulator's transport faults as a client sees them, through the real SDK client with its default
 * HTTP/2 handler and with NodeHttpHandler (HTTP/1.1): a request that never answers, a slow answer, a
 * garbled 200 body, and a transfer cut after the 200 header. Each shows whether the request was applied,
 * since that is what decides whether a resend makes a duplicate.
 */
import { PutRecordCommand } from '@aws-sdk/client-kinesis';
import { expect } from 'chai';
import { startEmulator } from '../src/testing/index.js';
import {
  emulatorSpec,
  entries,
  failure,
  putRecords,
  resourceCounts,
  sleep,
  until,
  type Protocol,
} from './support/emulator-kit.js';

const { start, clientFor, kit } = emulatorSpec();
const PROTOCOLS: readonly Protocol[] = ['http2', 'http1'];

describe('Kinesis emulator: transport faults', () => {
  for (const protocol of PROTOCOLS) {
    describe(`over ${protocol === 'http2' ? "the SDK's default HTTP/2 handler" : 'NodeHttpHandler'}`, () => {
      it('stallRate: accepts and never answers, until the client aborts; not applied', async () => {
        const emu = await start({ faults: { stallRate: 1 } });
        const client = clientFor(emu, protocol);
        const began = performance.now();
        const stalled = await failure(putRecords(client, entries(3), undefined, AbortSignal.timeout(200)));
        expect(stalled.name).to.equal('AbortError');
        expect(stalled.$metadata?.httpStatusCode).to.equal(undefined);
        expect(performance.now() - began).to.be.at.least(190);
        expect(emu.records).to.have.length(0);
        expect(emu.stats().faults.stalls).to.equal(1);
        // The control: the same client is answered once the fault is off.
        emu.setFaults({ stallRate: 0 });
        expect((await putRecords(client, entries(3))).FailedRecordCount).to.equal(0);
        expect(emu.records).to.have.length(3);
      });

      it('slowAnswerRate: applies at once and answers slowAnswerMs later; a client that gives up wrote anyway', async () => {
        const emu = await start({ faults: { slowAnswerRate: 1, slowAnswerMs: 300 } });
        const client = clientFor(emu, protocol);
        const began = performance.now();
        const answered = putRecords(client, entries(2, 'slow'));
        await until(() => emu.records.length === 2, 'the slow request to be applied');
        expect(performance.now() - began).to.be.below(250);
        expect((await answered).FailedRecordCount).to.equal(0);
        expect(performance.now() - began).to.be.at.least(290);

        const gaveUp = await failure(
          putRecords(client, entries(2, 'late'), undefined, AbortSignal.timeout(100)),
        );
        expect(gaveUp.name).to.equal('AbortError');
        expect(emu.records.map((r) => r.partitionKey)).to.deep.equal([
          'slow-0',
          'slow-1',
          'late-0',
          'late-1',
        ]);
        expect(emu.stats().faults.slowAnswers).to.equal(2);
      });

      it('garbledBodyRate: applies, then answers 200 with a body the SDK cannot parse', async () => {
        const emu = await start({ faults: { garbledBodyRate: 1 } });
        const client = clientFor(emu, protocol);
        const garbled = await failure(putRecords(client, entries(4, 'g')));
        expect(garbled.name).to.equal('SyntaxError');
        expect(garbled.$metadata?.httpStatusCode).to.equal(200);
        expect(emu.records).to.have.length(4);
        const one = await failure(
          client.send(
            new PutRecordCommand({ StreamName: 'demo', PartitionKey: 'p', Data: Buffer.from('x') }),
          ),
        );
        expect(one.name).to.equal('SyntaxError');
        expect(emu.records).to.have.length(5);
        expect(emu.stats().faults.garbledBodies).to.equal(2);
      });

      it('headerResetRate: applies, sends the 200 header and half the body, then resets the transfer', async () => {
        const emu = await start({ faults: { headerResetRate: 1 } });
        const client = clientFor(emu, protocol);
        const cut = await failure(putRecords(client, entries(3, 'cut')));
        // A transport error, yet carrying the 200 the client already read.
        expect(cut.$metadata?.httpStatusCode).to.equal(200);
        expect(cut.code).to.equal(protocol === 'http2' ? 'ERR_HTTP2_STREAM_ERROR' : 'ECONNRESET');
        expect(emu.records).to.have.length(3);
        // Counted as an applied reset too: the soak's duplicate bound relies on that.
        expect(emu.stats().faults).to.include({ headerResets: 1, resets: 1, appliedResets: 1 });
        emu.setFaults({ headerResetRate: 0 });
        expect((await putRecords(client, entries(1, 'after'))).FailedRecordCount).to.equal(0);
      });
    });
  }

  it('a stalled request does not keep the process alive after emu.close()', async () => {
    // One timer turn first, so mocha's own timeout timer is already counted in `before`.
    await sleep(1);
    const before = resourceCounts();
    const emu = await startEmulator({ faults: { stallRate: 1 } });
    const stuck = PROTOCOLS.map((protocol) => putRecords(clientFor(emu, protocol), entries(2)));
    await until(() => emu.stats().faults.stalls === 2, 'both requests to stall');
    const closing = performance.now();
    await emu.close();
    expect(performance.now() - closing).to.be.below(1000);
    for (const request of stuck)
      expect((await failure(request)).$metadata?.httpStatusCode).to.equal(undefined);
    kit.destroyClients();
    await new Promise((resolve) => setImmediate(resolve));
    for (const [kind, count] of resourceCounts()) {
      expect(count, `${kind} still active`).to.be.at.most(before.get(kind) ?? 0);
    }
  });

  it('drops answers still due when closed, leaving no timer behind', async () => {
    const emu = await startEmulator({ faults: { slowAnswerRate: 1, slowAnswerMs: 60_000 } });
    const pending = putRecords(clientFor(emu, 'http1'), entries(1));
    await until(() => emu.records.length === 1, 'the request to be applied');
    const timers = resourceCounts().get('Timeout') ?? 0;
    await emu.close();
    expect((await failure(pending)).$metadata?.httpStatusCode).to.equal(undefined);
    expect(resourceCounts().get('Timeout') ?? 0).to.be.below(timers);
  });
});
