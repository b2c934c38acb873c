/**
 * Scenario 4's young-generation row: the 1,000-key variants measured again in a process of their own started
 * with `--max-semi-space-size=64` (V8's young generation at 64 MiB a semi-space instead of the default 16).
 * Sends its rows to the parent.
 */
import { overhead } from './overhead.js';

const rows = await overhead(200_000, 9, '1,000 keys');
process.send!(rows, () => process.exit(0));
