/**
 * The lowest @aws-sdk/client-kinesis the peer range allows, shown from the registry: the two versions
 * around the bound are installed side by side (npm aliases) into a temporary folder, and a middleware at
 * the 'finalizeRequest' step captures the JSON body each would send (and stops it there: nothing leaves
 * the process). rx-kinesis names a stream by ARN on PutRecords and ListShards; 3.238.0 serialises
 * `StreamARN`, 3.229.0 silently drops it (measured), so the range is ^3.238.0.
 *
 * In the tarball family: it installs from the registry as a user would (npm's cache makes it seconds).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const LOWEST = '3.238.0';
const BELOW = '3.229.0';

const probe = `
  const arn = 'arn:aws:kinesis:us-east-1:000000000000:stream/probe';
  (async () => {
    const sent = {};
    for (const version of process.argv.slice(1)) {
      const { KinesisClient, PutRecordsCommand, ListShardsCommand } = require('kinesis-' + version);
      const client = new KinesisClient({ region: 'us-east-1', credentials: { accessKeyId: 'a', secretAccessKey: 'b' } });
      const bodies = [];
      client.middlewareStack.add(() => async (args) => {
        bodies.push(JSON.parse(args.request.body));
        throw Object.assign(new Error('captured'), { name: 'Captured' });
      }, { step: 'finalizeRequest', name: 'capture' });
      for (const command of [
        new PutRecordsCommand({ StreamARN: arn, Records: [{ PartitionKey: 'k', Data: new Uint8Array([1]) }] }),
        new ListShardsCommand({ StreamARN: arn }),
      ]) await client.send(command).catch((e) => { if (e.name !== 'Captured') throw e; });
      sent[version] = bodies.map((b) => b.StreamARN ?? null);
    }
    console.log(JSON.stringify(sent));
  })();
`;

describe('the peer range of @aws-sdk/client-kinesis', function () {
  this.timeout(120_000);
  let work: string;
  before(() => {
    work = mkdtempSync(join(tmpdir(), 'rx-kinesis-peer-'));
    writeFileSync(join(work, 'package.json'), JSON.stringify({ name: 'peer-probe', private: true }));
    execFileSync(
      'npm',
      [
        'install',
        '--prefer-offline',
        '--no-audit',
        '--no-fund',
        `kinesis-${LOWEST}@npm:@aws-sdk/client-kinesis@${LOWEST}`,
        `kinesis-${BELOW}@npm:@aws-sdk/client-kinesis@${BELOW}`,
      ],
      { cwd: work, stdio: 'pipe', env: { ...process.env, NODE_OPTIONS: '' } },
    );
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  it(`is ^${LOWEST}: the lowest that sends StreamARN on PutRecords and ListShards; ${BELOW} drops it`, () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
    expect(pkg.peerDependencies['@aws-sdk/client-kinesis']).to.equal(`^${LOWEST}`);
    const out = execFileSync('node', ['-e', probe, LOWEST, BELOW], {
      cwd: work,
      encoding: 'utf8',
      env: { ...process.env, NODE_OPTIONS: '', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    });
    const arn = 'arn:aws:kinesis:us-east-1:000000000000:stream/probe';
    expect(JSON.parse(out.trim().split('\n').pop()!)).to.deep.equal({
      [LOWEST]: [arn, arn],
      [BELOW]: [null, null], // the control: the version below the bound loses the stream silently
    });
  });
});
