/**
 * Proof by killing it (bench/support/spool-kill.ts): a child producer writes through the spool to the
 * emulator in this process, is SIGKILLed at 10 random moments and restarted on the same directory; the
 * ledger must then hold every input record (0 lost), with duplicates within what each kill could have had
 * in flight (2 × window + outstanding puts: see the bound's comment there). `npm run soak` does 100 kills.
 */
import { expect } from 'chai';
import { runSpoolKill } from '../bench/support/spool-kill.js';

describe('spool under kill -9, through the whole pipeline', function () {
  this.timeout(120_000);

  it('10 kills at random moments: every record delivered at least once, duplicates within the bound', async () => {
    const seed = Date.now() % 100_000;
    // Every kill must land before the child finishes: 2 shards at 500 records/s send at most 1,000/s, plus a
    // refilled 1 s burst (1,000) per restart, so 10 lives of ≤ 900 ms send at most 19,000 of 20,000. (With
    // 12,000 records at the default quota, seed 59470 finished before its tenth kill.)
    const result = await runSpoolKill({
      kills: 10,
      records: 20_000,
      seed,
      quotas: { recordsPerSecond: 500 },
    });
    const context = `seed ${seed}: ${JSON.stringify({ ...result, carriedOver: result.carriedOver.join(' ') })}`;
    console.log(`      ${context}`);
    expect(result.kills, context).to.equal(10);
    expect(result.lost, context).to.equal(0);
    expect(result.duplicates, context).to.be.at.most(result.duplicateBound);
    // The kills must have hit a spool holding records not yet delivered, or they prove nothing.
    expect(Math.max(...result.carriedOver), context).to.be.greaterThan(0);
  });
});
