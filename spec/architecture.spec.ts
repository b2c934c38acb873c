/**
 * The folders' direction (ARCHITECTURE.md), kept by `no-restricted-imports` blocks in eslint.config.js:
 * each import against the direction is shown failing the lint, next to a control that is allowed.
 */
import { expect } from 'chai';
import { ESLint } from 'eslint';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const eslint = new ESLint({ cwd: root });

/** The `no-restricted-imports` messages ESLint reports for `code` as if it were the file at `filePath`. */
async function restricted(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath });
  return result.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

const cases: { file: string; denied: string[]; allowed: string[] }[] = [
  {
    file: 'src/kinesis/x.ts',
    denied: [
      '../pipeline/pending.js',
      '../limits/shard-limiter.js',
      '../observe/metrics.js',
      '../testing/index.js',
      '../options.js',
      '../index.js',
      '../to-kinesis.js',
    ],
    allowed: ['./records.js', './hash-key.js'],
  },
  {
    file: 'src/observe/x.ts',
    denied: ['../kinesis/records.js', '../pipeline/pending.js', '../options.js'],
    allowed: ['./otel.js', './snapshot.js'],
  },
  {
    file: 'src/limits/x.ts',
    denied: ['../pipeline/pending.js', '../observe/metrics.js', '../options.js', '../testing/index.js'],
    allowed: ['../kinesis/records.js', './token-bucket.js'],
  },
  {
    file: 'src/pipeline/x.ts',
    denied: ['../testing/index.js', '../testing/emulator.js'],
    allowed: ['../kinesis/records.js', '../limits/shard-limiter.js', '../observe/recorder.js', './fifo.js'],
  },
  { file: 'src/x.ts', denied: ['./testing/index.js'], allowed: ['./pipeline/producer.js', './options.js'] },
  {
    file: 'src/testing/x.ts',
    denied: [
      '../pipeline/producer.js',
      '../limits/shard-limiter.js',
      '../kinesis/hash-key.js',
      '../index.js',
    ],
    allowed: ['./quota.js'],
  },
  {
    file: 'src/cli/x.ts',
    denied: ['../pipeline/producer.js', '../testing/emulator.js', '../options.js'],
    allowed: ['../index.js', '../testing/index.js', './args.js'],
  },
  {
    file: 'src/spool/x.ts',
    denied: ['../pipeline/producer.js', '../index.js', '../observe/metrics.js'],
    allowed: ['../pipeline/fifo.js', './segment.js'],
  },
  {
    file: 'bench/x.ts',
    denied: ['../spec/support/fixtures.js'],
    allowed: ['./support/soak.js', '../src/index.js'],
  },
];

describe('architecture: the folders keep their direction (eslint no-restricted-imports)', function () {
  this.timeout(60_000);

  for (const { file, denied, allowed } of cases) {
    for (const source of denied) {
      it(`${file} may not import ${source}`, async () => {
        const messages = await restricted(file, `import { x } from '${source}';\nexport const y = x;\n`);
        expect(messages, source).to.have.length(1);
      });
    }
    it(`${file} may import ${allowed.join(', ')} (control)`, async () => {
      for (const source of allowed) {
        expect(
          await restricted(file, `import { x } from '${source}';\nexport const y = x;\n`),
          source,
        ).to.deep.equal([]);
      }
    });
  }

  it('re-exports and type-only imports count too', async () => {
    expect(
      await restricted('src/kinesis/x.ts', `export { x } from '../pipeline/pending.js';\n`),
    ).to.have.length(1);
    expect(
      await restricted(
        'src/observe/x.ts',
        `import type { X } from '../kinesis/records.js';\nexport type Y = X;\n`,
      ),
    ).to.have.length(1);
  });

  it('the real tree is clean: no file of src/ breaks the direction', async () => {
    const results = await eslint.lintFiles(['src/**/*.ts']);
    const broken = results.flatMap((r) =>
      r.messages
        .filter((m) => m.ruleId === 'no-restricted-imports')
        .map((m) => `${r.filePath}: ${m.message}`),
    );
    expect(broken).to.deep.equal([]);
  });
});
