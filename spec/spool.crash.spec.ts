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
    const result = await runSpoolKill({ kills: 10, records: 12_000, seed });
    const context = `seed ${seed}: ${JSON.stringify({ ...result, carriedOver: result.carriedOver.join(' ') })}`;
    console.log(`      ${context}`);
    expect(result.kills, context).to.equal(10);
    expect(result.lost, context).to.equal(0);
    expect(result.duplicates, context).to.be.at.most(result.duplicateBound);
    // The kills must have hit a spool holding records not yet delivered, or they prove nothing.
    expect(Math.max(...result.carriedOver), context).to.be.greaterThan(0);
  });
});
