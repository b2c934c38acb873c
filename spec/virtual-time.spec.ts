/**
 * The virtual-time support itself: its clock, its one timer patch, and the guarantee that a spec which never
 * reaches its `finally` (mocha's timeout) cannot leave the patch installed for the specs that follow.
 */
import { expect } from 'chai';
import { timer } from 'rxjs';
import {
  installedScheduler,
  timersAreReal,
  uninstallLeftover,
  VirtualScheduler,
  withVirtualTime,
} from './support/virtual-time.js';

describe('virtual time (spec support)', () => {
  it('moves the clock only when told, running actions in time order', async () => {
    await withVirtualTime(async (scheduler) => {
      const seen: string[] = [];
      timer(30, scheduler).subscribe(() => seen.push(`b@${scheduler.now()}`));
      timer(10, scheduler).subscribe(() => seen.push(`a@${scheduler.now()}`));
      await scheduler.advance(9);
      expect(seen).to.deep.equal([]);
      await scheduler.advance(21);
      expect(seen).to.deep.equal(['a@10', 'b@30']);
      expect(scheduler.now()).to.equal(30);
    });
  });

  it('settles real zero-delay timers (as Bottleneck takes) before moving the clock', async () => {
    await withVirtualTime(async (scheduler) => {
      let realWork = 0;
      setTimeout(() => setTimeout(() => realWork++, 0), 0);
      await scheduler.settle();
      expect(realWork).to.equal(1);
    });
  });

  it('withVirtualTime restores the timers when its body throws', async () => {
    let failure: unknown;
    await withVirtualTime(async () => {
      expect(timersAreReal()).to.equal(false);
      throw new Error('boom');
    }).catch((error: unknown) => (failure = error));
    expect((failure as Error).message).to.equal('boom');
    expect(timersAreReal()).to.equal(true);
    expect(installedScheduler()).to.equal(undefined);
  });

  it('refuses a second installed scheduler (two patches would restore each other’s timers)', async () => {
    await withVirtualTime(async () => {
      const second = new VirtualScheduler();
      expect(() => second.install()).to.throw(/another scheduler is installed/);
      await second.settle().then(
        () => expect.fail('settle without install'),
        (error: Error) => expect(error.message).to.match(/install\(\) first/),
      );
    });
  });

  describe('a spec that leaves a scheduler installed (as one hit by mocha’s timeout does)', () => {
    let leaked: VirtualScheduler | undefined;

    it('leaves one installed (the control: the patch is really in place)', () => {
      leaked = new VirtualScheduler();
      leaked.install();
      expect(timersAreReal()).to.equal(false);
      expect(installedScheduler()).to.equal(leaked);
    });

    it('the next spec starts with Node’s timers: the root hook uninstalled the leftover', () => {
      expect(leaked?.isInstalled).to.equal(false);
      expect(timersAreReal()).to.equal(true);
      expect(uninstallLeftover()).to.equal(false);
    });
  });
});
