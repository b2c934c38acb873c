/**
 * The `rx-kinesis` command: `put` (files or stdin into a stream) and `emulator` (the test emulator as a
 * server). Built to dist/cli.js, the package's `bin`.
 */
import { readFileSync } from 'node:fs';
import { parseEmulatorArgs, parsePutArgs, UsageError } from './args.js';
import { runEmulator } from './emulator.js';
import { runPut } from './put.js';
import { ExitCode } from './tally.js';

const USAGE = `Usage: rx-kinesis <command> [options]

Commands:
  put        Write NDJSON, CSV or text lines from files or stdin to a Kinesis stream
  emulator   Run the rx-kinesis Kinesis emulator (quotas, faults) as a local server

Options:
  -h, --help     Show help (also: rx-kinesis <command> --help)
  -v, --version  Show the version
`;

const PUT_HELP = `Usage: rx-kinesis put --stream NAME [options] [FILE...]

Reads records from each FILE in turn (none or '-': stdin), one per line, and writes them to the stream
with PutRecords: batched, within each shard's limits, failed entries retried.

Stream and connection (as the AWS CLI takes them):
  --stream NAME                 Stream name
  --stream-arn ARN              Stream ARN (instead of, or with, --stream)
  --endpoint-url URL            Another endpoint, e.g. http://127.0.0.1:4567 for 'rx-kinesis emulator'
  --region REGION               AWS region (default: from AWS_REGION or the profile)
  --profile NAME                Profile of ~/.aws/config and ~/.aws/credentials

Input:
  --format ndjson|lines|csv     ndjson (default): each line a JSON value, sent as is;
                                lines: each line sent as is; csv: a header row, then each row sent
                                as a JSON object of its fields (quoted fields may hold newlines)
  --key PATH                    Partition key from a field: a.b.c (ndjson, csv)
  --key-template TEMPLATE       Partition key from fields: '{device}-{reading.day}' ({{ }} for braces)
                                Neither: a random key per record (spreads evenly over all shards)
  --hash-key-field PATH         ExplicitHashKey from a field (a decimal 128-bit number)
  --max-record-bytes N          Largest record, data + key (default 1048576)
  --strict                      Stop reading at the first invalid line (default: count it, go on)

Sending:
  --aggregate                   Pack small records into KPL aggregates (consumers de-aggregate)
  --ordering none|per-key       per-key: each key's records land in input order, even across retries
  --shard-records-per-second N  Per-shard cap (default 1000; 'off' for none)
  --shard-bytes-per-second N    Per-shard cap (default 1048576; 'off' for none)
  --max-attempts N              Sends per record before it counts as failed (default 10)
  --max-buffered-records N      Records read ahead of delivery (default 50000): bounds memory

Outcome:
  --dead-letter FILE            Write every record not delivered (invalid, failed, unsent) as NDJSON:
                                {"source","line","error","input"}; nothing is ever printed of the data
  --drain-timeout SECONDS       On SIGINT/SIGTERM stop reading and drain for this long (default 30);
                                a second signal abandons the drain
  -q, --quiet                   No progress lines (the summary is still printed)
  --json                        Also print the summary as one JSON line on stdout

Exit codes:
  0   every record read was delivered    65  some input was invalid, the rest delivered
  1   fatal error (stream, access, I/O)   75  some records failed or were left unsent
  64  bad command line

Example:
  rx-kinesis put --stream events --key device.id --dead-letter failed.ndjson events.ndjson
`;

const EMULATOR_HELP = `Usage: rx-kinesis emulator [options]

Runs a Kinesis endpoint (HTTP/1.1 and HTTP/2, the SDKs' JSON and CBOR protocols; writes, reads,
resharding) with per-shard quotas and injected faults, prints its endpoint, and serves until
SIGINT/SIGTERM; then prints each stream's counters (accepted, throttled, failed, bytes) as one JSON line.

  --host HOST                 Address to listen on (default 127.0.0.1)
  --port PORT                 Port (default 4567; 0: any free port)
  --stream NAME[:SHARDS]      A stream to create, repeatable (default demo:1)
  --region REGION             Region in ARNs (default us-east-1)
  --quotas off|R,B            Per-shard records/s and bytes/s (default 1000,1048576)
  --record-failure-rate P     Share of entries failed with InternalFailure (0..1)
  --request-failure-rate P    Share of requests answered with HTTP 500
  --request-throttle-rate P   Share of requests throttled as a whole
  --reset-rate P              Share of connections reset instead of answered
  --latency-ms N              Delay before each request is processed
  --jitter-ms N               Extra random delay in [0, N)
  --seed N                    Seed of the fault PRNG (default 1)
  --no-keep-records           Keep no records, refuse reads: for write-only load tests. By default
                              every record is kept for GetRecords, about 430 bytes each plus its
                              data, never freed (1,000,000 records of 100 bytes: about 0.5 GiB)
  --config FILE               JSON: { host, port, streams: [{ name, shards }], quotas, faults,
                              maxRecordBytes, keepRecords, region, ... } as EmulatorOptions; flags win

Example:
  rx-kinesis emulator --stream events:4 --record-failure-rate 0.05
`;

function version(): string {
  // dist/cli.js and src/cli/main.ts both sit below the package root.
  for (const path of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(path, import.meta.url), 'utf8')) as {
        name?: string;
        version?: string;
      };
      if (pkg.name === 'rx-kinesis') return pkg.version ?? 'unknown';
    } catch {
      // try the next
    }
  }
  return 'unknown';
}

/**
 * Runs the command line `args` (without `node` and the script) and resolves with the exit code.
 *
 * @example
 * ```ts
 * process.exitCode = await main(['put', '--stream', 'events', 'events.ndjson']);
 * ```
 */
export async function main(args: readonly string[]): Promise<number> {
  const [command, ...rest] = args;
  try {
    switch (command) {
      case 'put': {
        const config = parsePutArgs(rest);
        if (config.help) return help(PUT_HELP);
        return await runPut(config, {
          stdin: process.stdin,
          stdout: process.stdout,
          stderr: process.stderr,
          signals: process,
        });
      }
      case 'emulator': {
        const config = parseEmulatorArgs(rest);
        if (config.help) return help(EMULATOR_HELP);
        return await runEmulator(config, {
          stdout: process.stdout,
          stderr: process.stderr,
          signals: process,
        });
      }
      case '-v':
      case '--version':
        process.stdout.write(`${version()}\n`);
        return ExitCode.Ok;
      case '-h':
      case '--help':
        return help(USAGE);
      default:
        throw new UsageError(
          command === undefined ? 'a command is required' : `unknown command '${command}'`,
        );
    }
  } catch (error) {
    if (error instanceof UsageError) {
      const topic = command === 'put' || command === 'emulator' ? `${command} ` : '';
      process.stderr.write(`rx-kinesis: ${error.message}\nSee: rx-kinesis ${topic}--help\n`);
      return ExitCode.Usage;
    }
    process.stderr.write(`rx-kinesis: ${(error as Error).message}\n`);
    return ExitCode.Fatal;
  }
}

function help(text: string): number {
  process.stdout.write(text);
  return ExitCode.Ok;
}

// The SDK warns on stderr about Node versions it will drop; that is not this command's output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
void main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
  // Everything is closed by now and the process ends by itself; should a handle outside this code (an SDK
  // socket still closing) hold it, the command must still not hang after its summary.
  setTimeout(() => process.exit(code), 2000).unref();
});
