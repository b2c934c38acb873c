import { link, readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SpoolLockedError } from './errors.js';

/** The lock file's name inside a spool directory. */
export const LOCK_FILE = 'lock';

/** Whether a process with this pid exists (EPERM: it exists, owned by someone else). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes the directory's lock: a file `lock` holding the owner's pid. It is written to a private name first
 * and hard-linked into place, so the lock never exists half-written and `link` fails atomically when it
 * exists. A lock whose pid is dead (the owner was killed) is stale and taken over. A lock of this very
 * process is live: a second `Spool` on one directory in one process is refused like any other.
 *
 * Residual race, accepted: two processes that find the same stale lock at the same instant can both
 * remove it; the second removal is re-checked against the pid it read, which narrows but cannot close it.
 *
 * @returns a function that releases the lock.
 */
export async function acquireLock(directory: string): Promise<() => Promise<void>> {
  const path = join(directory, LOCK_FILE);
  const mine = join(directory, `${LOCK_FILE}.${process.pid}.tmp`);
  await writeFile(mine, `${process.pid}\n`);
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        await link(mine, path);
        return async () => {
          await unlink(path).catch(() => undefined);
        };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 3) throw error;
      }
      const seen = await readFile(path, 'utf8').catch(() => '');
      const pid = Number.parseInt(seen, 10);
      if (Number.isSafeInteger(pid) && pid > 0 && alive(pid)) throw new SpoolLockedError(directory, pid);
      // Stale (dead pid, or unreadable): remove it unless someone replaced it since we read it.
      const now = await readFile(path, 'utf8').catch(() => undefined);
      if (now === seen) await unlink(path).catch(() => undefined);
    }
  } finally {
    await unlink(mine).catch(() => undefined);
  }
}
