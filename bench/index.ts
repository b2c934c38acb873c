/**
 * `npm run bench`. The benchmark suite needs a Kinesis that enforces quotas and injects faults (issue:
 * "rx-kinesis/testing"); until it lands there is nothing honest to measure, so this says so and fails.
 */
console.error('npm run bench: no benchmarks yet — they arrive with the quota-enforcing emulator.');
process.exitCode = 1;
