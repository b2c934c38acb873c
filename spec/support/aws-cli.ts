/**
 * The real AWS CLI (Debian's `awscli`, v2), run against a loopback endpoint with dummy credentials and no
 * config files: a Kinesis client nobody here wrote. Never a real AWS endpoint.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireTool } from './required-tool.js';

/** What the CLI prints: untyped JSON, whose every field a spec reads it asserts on. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type CliOutput = Record<string, any>;

/** Where Debian's `awscli` package puts the binary; `AWS_CLI` overrides it. */
export const AWS_CLI_BINARY = process.env.AWS_CLI ?? '/usr/bin/aws';

/**
 * Whether the AWS CLI specs can run. Outside CI a missing binary skips them, loudly; in CI (`CI` set) it is
 * an error, so a green CI run always means they ran.
 *
 * @example
 * ```ts
 * before(function () {
 *   if (!awsCliAvailable(this)) return; // skipped, with the reason printed
 * });
 * ```
 */
export function awsCliAvailable(context: Mocha.Context): boolean {
  const missing = existsSync(AWS_CLI_BINARY)
    ? undefined
    : `aws not installed at ${AWS_CLI_BINARY} (apt-get install awscli)`;
  return requireTool(context, missing, 'the AWS CLI specs');
}

/**
 * Runs `aws kinesis …` against one endpoint.
 *
 * @example
 * ```ts
 * const cli = new AwsCli(emu.endpoint);
 * const { Shards } = await cli.kinesis('list-shards', '--stream-name', 'demo');
 * cli.close();
 * ```
 */
export class AwsCli {
  /** An empty home, so no config, credentials file, cache or SSO session of the machine is read. */
  private readonly home = mkdtempSync(join(tmpdir(), 'rx-kinesis-aws-cli-'));
  calls = 0;

  constructor(private readonly endpoint: string) {}

  /** Runs one command and parses its JSON output (`{}` when it prints nothing). */
  kinesis(...args: string[]): Promise<CliOutput> {
    this.calls++;
    const argv = [
      '--endpoint-url',
      this.endpoint,
      '--region',
      'us-east-1',
      '--no-cli-pager',
      '--output',
      'json',
      // v2's default, stated: blobs in arguments and JSON input are base64 (v1 would fail here, loudly).
      '--cli-binary-format',
      'base64',
      'kinesis',
      ...args,
    ];
    const env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: this.home,
      AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
      AWS_SECRET_ACCESS_KEY: 'secret',
      AWS_CONFIG_FILE: join(this.home, 'config'),
      AWS_SHARED_CREDENTIALS_FILE: join(this.home, 'credentials'),
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_PAGER: '',
    };
    return new Promise((resolve, reject) => {
      execFile(
        AWS_CLI_BINARY,
        argv,
        { env, timeout: 60_000, maxBuffer: 64 * 1024 * 1024 },
        (error, stdout, stderr) => {
          if (error) {
            reject(
              new Error(`aws kinesis ${args[0]} failed (${error.code ?? error.signal}): ${stderr.trim()}`),
            );
            return;
          }
          resolve(stdout.trim() === '' ? {} : (JSON.parse(stdout) as CliOutput));
        },
      );
    });
  }

  /** Writes `value` to a JSON file for `--cli-input-json file://…` (argument lists have a size limit). */
  inputFile(name: string, value: unknown): string {
    const path = join(this.home, name);
    writeFileSync(path, JSON.stringify(value));
    return `file://${path}`;
  }

  close(): void {
    rmSync(this.home, { recursive: true, force: true });
  }
}
