/**
 * The package as users meet it: built, packed with `npm pack`, unpacked into a fresh folder's
 * node_modules and loaded from there with both `import` and `require`, through the `exports` map.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

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

    // A fresh consumer: the tarball unpacked as node_modules/rx-kinesis, peers linked from this checkout
    // (installing them from the registry would only re-test npm).
    consumer = join(work, 'consumer');
    const modules = join(consumer, 'node_modules');
    mkdirSync(join(modules, '@aws-sdk'), { recursive: true });
    execFileSync('tar', ['-xzf', join(work, packed[0].filename), '-C', work]);
    execFileSync('mv', [join(work, 'package'), join(modules, 'rx-kinesis')]);
    for (const dep of ['rxjs', 'bottleneck', 'tslib', '@aws-sdk/client-kinesis']) {
      symlinkSync(join(root, 'node_modules', dep), join(modules, dep));
    }
    writeFileSync(join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', private: true }));
  });

  after(() => rmSync(work, { recursive: true, force: true }));

  it('holds only what users need: dist, README, LICENSE and package.json', () => {
    for (const f of files) expect(f).to.match(/^(dist\/|README\.md$|LICENSE$|package\.json$)/);
    expect(files).to.include.members([
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
      { cwd: consumer, encoding: 'utf8' },
    );
    expect(out.trim()).to.equal('true');
  });

  it('loads with require (CommonJS)', () => {
    const out = execFileSync('node', ['-e', `${script} console.log(ok(require('rx-kinesis')));`], {
      cwd: consumer,
      encoding: 'utf8',
    });
    expect(out.trim()).to.equal('true');
  });
});
