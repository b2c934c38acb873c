/**
 * The package as users meet it: built, packed with `npm pack`, unpacked into a fresh folder's
 * node_modules and loaded from there with both `import` and `require`, through the `exports` map.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
// Plain node, as a user runs it: no tsx loader inherited from the spec runner.
const userEnv = {
  ...process.env,
  NODE_OPTIONS: '',
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
};

describe('the packed tarball', function () {
  this.timeout(120_000);
  let work: string;
  let consumer: string;
  let files: string[];

  before(() => {
    work = mkdtempSync(join(tmpdir(), 'rx-kinesis-pack-'));
    execFileSync('npm', ['run', 'build', '--silent'], { cwd: root, stdio: 'pipe' });
    const packed = JSON.parse(
      execFileSync('npm', ['pack', '--json', '--pack-destination', work], { cwd: root, encoding: 'utf8' }),
    ) as { filename: string; files: { path: string }[] }[];
    files = packed[0].files.map((f) => f.path);

    // A fresh consumer: the tarball installed by npm, with its own dependencies (bottleneck, from npm's
    // cache when it has it); the peers are linked from this checkout (installing them from the registry
    // would only re-test npm), and the optional ones (ioredis, @opentelemetry/api) are left out.
    consumer = join(work, 'consumer');
    mkdirSync(join(consumer, 'node_modules', '@aws-sdk'), { recursive: true });
    writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
    execFileSync(
      'npm',
      [
        'install',
        '--prefer-offline',
        '--legacy-peer-deps', // peers are linked below, not fetched
        '--no-audit',
        '--no-fund',
        join(work, packed[0].filename),
      ],
      { cwd: consumer, stdio: 'pipe', env: userEnv },
    );
    for (const dep of ['rxjs', 'tslib', '@aws-sdk/client-kinesis']) {
      symlinkSync(join(root, 'node_modules', dep), join(consumer, 'node_modules', dep));
    }
  });

  after(() => rmSync(work, { recursive: true, force: true }));

  it('holds only what users need: dist, README, LICENSE and package.json', () => {
    for (const f of files) expect(f).to.match(/^(dist\/|README\.md$|LICENSE$|package\.json$)/);
    expect(files).to.include.members([
      'dist/cli.js',
      'dist/index.js',
      'dist/index.cjs',
      'dist/index.d.ts',
      'dist/index.d.cts',
    ]);
  });

  it('has no install scripts', () => {
    const pkg = JSON.parse(readFileSync(join(consumer, 'node_modules/rx-kinesis/package.json'), 'utf8'));
    for (const hook of ['preinstall', 'install', 'postinstall', 'prepare'])
      expect(pkg.scripts ?? {}).not.to.have.property(hook);
  });

  const script = `
    const ok = (m) => typeof m.toKinesis === 'function' && typeof m.putAll === 'function' &&
      typeof m.KinesisProducer === 'function' && new m.InvalidRecordError('PARTITION_KEY_EMPTY', 'm', 1) instanceof Error;
  `;

  it('loads with import (ESM)', () => {
    const out = execFileSync(
      'node',
      ['--input-type=module', '-e', `${script} const m = await import('rx-kinesis'); console.log(ok(m));`],
      { cwd: consumer, encoding: 'utf8', env: userEnv },
    );
    expect(out.trim()).to.equal('true');
  });

  it('loads rx-kinesis/testing with import and require', () => {
    const esm = execFileSync(
      'node',
      [
        '--input-type=module',
        '-e',
        `const t = await import('rx-kinesis/testing'); console.log(typeof t.startEmulator);`,
      ],
      { cwd: consumer, encoding: 'utf8', env: userEnv },
    );
    const cjs = execFileSync(
      'node',
      ['-e', `console.log(typeof require('rx-kinesis/testing').startEmulator)`],
      {
        cwd: consumer,
        encoding: 'utf8',
        env: userEnv,
      },
    );
    expect([esm.trim(), cjs.trim()]).to.deep.equal(['function', 'function']);
  });

  it('writes through toKinesis() to the emulator with a default SDK client, from the tarball', () => {
    const program = `
      import { KinesisClient } from '@aws-sdk/client-kinesis';
      import { from, lastValueFrom, toArray } from 'rxjs';
      import { toKinesis } from 'rx-kinesis';
      import { startEmulator } from 'rx-kinesis/testing';
      const emu = await startEmulator({ shards: 2, streamName: 'pack' });
      const client = new KinesisClient({ endpoint: emu.endpoint, region: 'us-east-1',
        credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
      const items = Array.from({ length: 1000 }, (_, i) => ({ PartitionKey: 'k' + (i % 37), Data: 'item-' + i }));
      const out = await lastValueFrom(from(items).pipe(toKinesis({ client, streamName: 'pack' }), toArray()));
      const delivered = out.flatMap((e) => e.response.Records).filter((r) => r.SequenceNumber).length;
      console.log(JSON.stringify({ delivered, missing: emu.missing(items.map((r) => ({ partitionKey: r.PartitionKey,
        data: Buffer.from(r.Data) }))).length, accepted: emu.records.length }));
      client.destroy();
      await emu.close();
    `;
    const out = execFileSync('node', ['--input-type=module', '-e', program], {
      cwd: consumer,
      encoding: 'utf8',
      env: userEnv,
    });
    expect(JSON.parse(out.trim().split('\n').pop()!)).to.deep.equal({
      delivered: 1000,
      missing: 0,
      accepted: 1000,
    });
  });

  it('aggregates from the tarball, and KinesisMetrics asked for OpenTelemetry is a no-op without it (ESM and CJS)', () => {
    // @opentelemetry/api is an optional peer, not installed in this consumer.
    expect(() =>
      execFileSync('node', ['-e', "require.resolve('@opentelemetry/api')"], { cwd: consumer, stdio: 'pipe' }),
    ).to.throw();
    const body = (m: string, t: string) => `
      const { KinesisClient } = ${m}('@aws-sdk/client-kinesis');
      const { from, lastValueFrom, toArray } = ${m}('rxjs');
      const { toKinesis, KinesisMetrics } = ${m}('rx-kinesis');
      const { startEmulator, deaggregate } = ${t}('rx-kinesis/testing');
      (async () => {
        const emu = await startEmulator({ shards: 2, streamName: 'agg' });
        const client = new KinesisClient({ endpoint: emu.endpoint, region: 'us-east-1',
          credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
        const metrics = new KinesisMetrics({ openTelemetry: true });
        const items = Array.from({ length: 2000 }, (_, i) => ({ PartitionKey: 'k' + (i % 37), Data: 'item-' + i }));
        const out = await lastValueFrom(from(items).pipe(
          toKinesis({ client, streamName: 'agg', metrics, aggregation: { enabled: true } }), toArray()));
        const s = metrics.snapshot().streams.agg;
        console.log(JSON.stringify({
          otel: await metrics.openTelemetryReady,
          aggregated: out.every((e) => e.aggregated === true),
          items: out.flatMap((e) => e.items.flat()).length,
          put: s.userRecordsPut,
          kinesisRecords: s.kinesisRecordsPut === emu.stats().accepted && s.kinesisRecordsPut < 100,
          missing: emu.missing(items.map((r) => ({ partitionKey: r.PartitionKey, data: Buffer.from(r.Data) }))).length,
          deaggregate: typeof deaggregate,
        }));
        client.destroy();
        await emu.close();
      })();
    `;
    const expected = {
      otel: false,
      aggregated: true,
      items: 2000,
      put: 2000,
      kinesisRecords: true,
      missing: 0,
      deaggregate: 'function',
    };
    for (const [args, program] of [
      [['--input-type=module', '-e'], body('await import', 'await import')],
      [['-e'], body('require', 'require')],
    ] as const) {
      const out = execFileSync('node', [...args, program], { cwd: consumer, encoding: 'utf8', env: userEnv });
      expect(JSON.parse(out.trim().split('\n').pop()!)).to.deep.equal(expected);
    }
  });

  it('bundles with esbuild (--bundle --platform=node, ESM and CJS) without the optional peers, and the bundle runs alone', () => {
    // What CDK's NodejsFunction does for a Lambda: one file, no node_modules beside it at run time.
    const esbuild = join(root, 'node_modules', '.bin', 'esbuild');
    const app = `
      import { KinesisClient } from '@aws-sdk/client-kinesis';
      import { from, lastValueFrom, toArray } from 'rxjs';
      import { KinesisMetrics, toKinesis } from 'rx-kinesis';
      import { startEmulator } from 'rx-kinesis/testing';
      (async () => {
        const emu = await startEmulator({ shards: 2, streamName: 'bundled' });
        const client = new KinesisClient({ endpoint: emu.endpoint, region: 'us-east-1',
          credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
        const metrics = new KinesisMetrics({ openTelemetry: true });
        const items = Array.from({ length: 500 }, (_, i) => ({ PartitionKey: 'k' + (i % 11), Data: 'item-' + i }));
        const out = await lastValueFrom(from(items).pipe(toKinesis({ client, streamName: 'bundled', metrics }), toArray()));
        console.log(JSON.stringify({ otel: await metrics.openTelemetryReady, accepted: emu.records.length,
          delivered: out.flatMap((e) => e.response.Records).filter((r) => r.SequenceNumber).length }));
        client.destroy();
        await emu.close();
      })();
    `;
    writeFileSync(join(consumer, 'app.mjs'), app);
    const alone = join(work, 'bundle-only');
    mkdirSync(alone, { recursive: true });
    // Both peers (ioredis, @opentelemetry/api) are absent here. ESM bundles of CommonJS code need a require.
    const esmBanner =
      "--banner:js=import { createRequire } from 'module'; const require = createRequire(import.meta.url);";
    for (const [format, file, extra] of [
      ['cjs', 'app.cjs', []],
      ['esm', 'app.mjs', [esmBanner]],
    ] as const) {
      const bundle = join(alone, file);
      execFileSync(
        esbuild,
        [
          'app.mjs',
          '--bundle',
          '--platform=node',
          `--format=${format}`,
          `--outfile=${bundle}`,
          '--log-level=error',
          ...extra,
        ],
        { cwd: consumer, stdio: 'pipe' },
      );
      const out = execFileSync('node', [bundle], { cwd: alone, encoding: 'utf8', env: userEnv });
      expect(JSON.parse(out.trim().split('\n').pop()!), format).to.deep.equal({
        otel: false,
        accepted: 500,
        delivered: 500,
      });
    }

    // Control: a literal import() of a missing optional peer, as dist/index.js had it, fails the build.
    writeFileSync(join(consumer, 'literal.mjs'), "export const load = () => import('@opentelemetry/api');");
    expect(() =>
      execFileSync(esbuild, ['literal.mjs', '--bundle', '--platform=node', '--outfile=/dev/null'], {
        cwd: consumer,
        stdio: 'pipe',
      }),
    ).to.throw(/Could not resolve "@opentelemetry\/api"/);
  });

  it('type-checks a strict consumer under moduleResolution node10 (rx-kinesis/testing through typesVersions)', () => {
    const tsc = join(root, 'node_modules', '.bin', 'tsc');
    writeFileSync(
      join(consumer, 'node10.ts'),
      `import { KinesisClient } from '@aws-sdk/client-kinesis';
      import { toKinesis, type RecordResult } from 'rx-kinesis';
      import { startEmulator, type KinesisEmulator } from 'rx-kinesis/testing';
      export const op = toKinesis({ client: new KinesisClient({}), streamName: 's' });
      export const emu: Promise<KinesisEmulator> = startEmulator();
      export type R = RecordResult;
      `,
    );
    const args = [
      '--noEmit',
      '--strict',
      '--module',
      'commonjs',
      '--moduleResolution',
      'node10',
      '--target',
      'es2022',
      '--skipLibCheck',
      '--ignoreDeprecations',
      '6.0',
      'node10.ts',
    ];
    // tsc reports on stdout: '' when the program compiles.
    const compile = () => {
      try {
        return execFileSync(tsc, args, { cwd: consumer, encoding: 'utf8', stdio: 'pipe' });
      } catch (e) {
        return String((e as { stdout?: string }).stdout);
      }
    };
    expect(compile()).to.equal('');
    // Control: without typesVersions, node10 cannot see rx-kinesis/testing (it ignores the exports map).
    const manifest = join(consumer, 'node_modules/rx-kinesis/package.json');
    const original = readFileSync(manifest, 'utf8');
    try {
      const { typesVersions, ...rest } = JSON.parse(original) as Record<string, unknown>;
      expect(typesVersions).to.not.equal(undefined);
      writeFileSync(manifest, JSON.stringify(rest));
      expect(compile()).to.match(/Cannot find module 'rx-kinesis\/testing'/);
    } finally {
      writeFileSync(manifest, original);
    }
  });

  it('runs `npx rx-kinesis emulator` and `npx rx-kinesis put` into it, from the tarball', async () => {
    const cliEnv = {
      ...userEnv,
      AWS_ACCESS_KEY_ID: 'a',
      AWS_SECRET_ACCESS_KEY: 'b',
      AWS_REGION: 'us-east-1',
    };
    const npx = (args: string[], input?: string) =>
      execFileSync('npx', ['--no', '--', 'rx-kinesis', ...args], {
        cwd: consumer,
        encoding: 'utf8',
        env: cliEnv,
        input,
        stdio: 'pipe',
      });
    expect(npx(['--version']).trim()).to.equal(
      (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version,
    );
    // Its own process group, so SIGTERM reaches the node behind npx as a terminal's would.
    const emulator = spawn(
      'npx',
      ['--no', '--', 'rx-kinesis', 'emulator', '--port', '0', '--stream', 'tar:2'],
      {
        cwd: consumer,
        env: cliEnv,
        detached: true,
      },
    );
    let out = '';
    let err = '';
    emulator.stdout.on('data', (c: Buffer) => (out += c.toString()));
    emulator.stderr.on('data', (c: Buffer) => (err += c.toString()));
    // 'close' waits for the pipes, which the node behind npx holds until it has shut down.
    const exited = new Promise<void>((resolve) => emulator.once('close', () => resolve()));
    try {
      let endpoint: string | undefined;
      for (let i = 0; i < 400 && endpoint === undefined; i++) {
        endpoint = /listening on (\S+)/.exec(out)?.[1];
        if (endpoint === undefined) await new Promise((r) => setTimeout(r, 50));
      }
      expect(endpoint, 'the emulator printed its endpoint').to.be.a('string');
      const lines = Array.from({ length: 2000 }, (_, i) => JSON.stringify({ k: `k${i % 13}`, i }));
      const summary = JSON.parse(
        npx(
          ['put', '--endpoint-url', endpoint!, '--stream', 'tar', '--key', 'k', '--json', '--quiet'],
          lines.join('\n'),
        ),
      ) as { delivered: number; exitCode: number };
      expect(summary).to.include({ delivered: 2000, exitCode: 0 });
    } finally {
      process.kill(-emulator.pid!, 'SIGTERM');
    }
    await exited;
    // npm itself dies of the signal; the emulator behind it shuts down and reports.
    expect(err).to.include('SIGTERM: emulator stopped');
    const counters = JSON.parse(out.trim().split('\n').pop()!) as { streams: { tar: { accepted: number } } };
    expect(counters.streams.tar.accepted).to.equal(2000);
  });

  it('loads with require (CommonJS)', () => {
    const out = execFileSync('node', ['-e', `${script} console.log(ok(require('rx-kinesis')));`], {
      cwd: consumer,
      encoding: 'utf8',
      env: userEnv,
    });
    expect(out.trim()).to.equal('true');
  });
});
