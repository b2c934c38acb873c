/**
 * The types catch a new user's mistakes (issue 15): spec/types/mistakes.ts holds each one under a
 * `// @ts-expect-error`, spec/types/accepted.ts what must keep compiling. `npm run typecheck` (tsc) checks
 * both, and an unused `@ts-expect-error` is itself an error, so a mistake the types let through fails it.
 * Here, the same files through the compiler API: with the directives removed, every marked line is an
 * error and the message says what to do (toRecord, the stream), not only that some type mismatched.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'chai';
import ts from 'typescript';
import { CONSUMER_OPTIONS, virtualProgram } from '../scripts/virtual-program.js';

const dir = join(dirname(fileURLToPath(import.meta.url)), 'types');
const OPTIONS = CONSUMER_OPTIONS;

/** Diagnostics of `files` (path → text), as `line: message` (1-based lines). */
function diagnose(files: Map<string, string>): Map<string, string[]> {
  const program = virtualProgram(files, OPTIONS);
  const out = new Map<string, string[]>();
  for (const f of files.keys()) {
    const source = program.getSourceFile(f)!;
    out.set(
      f,
      program.getSemanticDiagnostics(source).map((d) => {
        const line = source.getLineAndCharacterOfPosition(d.start ?? 0).line + 1;
        return `${line}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
      }),
    );
  }
  return out;
}

describe('types: the compiler catches the first-hour mistakes', function () {
  this.timeout(60_000);
  const mistakes = join(dir, 'mistakes.ts');
  const accepted = join(dir, 'accepted.ts');
  const text = readFileSync(mistakes, 'utf8');
  const lines = text.split('\n');
  const marked = lines.flatMap((l, i) => (/^\s*\/\/ @ts-expect-error/.test(l) ? [i + 2] : []));

  it('as written: both files compile (every @ts-expect-error is needed, every accepted case is)', () => {
    const found = diagnose(
      new Map([
        [mistakes, text],
        [accepted, readFileSync(accepted, 'utf8')],
      ]),
    );
    expect(found.get(mistakes)).to.deep.equal([]);
    expect(found.get(accepted)).to.deep.equal([]);
    expect(marked.length).to.be.at.least(10);
  });

  it('without the directives, every marked line is an error whose message points at the fix', () => {
    // Same line numbers: each directive becomes an empty comment.
    const bare = lines.map((l) => l.replace('// @ts-expect-error', '//')).join('\n');
    const errors = diagnose(new Map([[mistakes, bare]])).get(mistakes)!;
    const at = (line: number) => errors.filter((e) => e.startsWith(`${line}: `)).join('\n');
    for (const line of marked) expect(at(line), `line ${line}: ${lines[line - 1]}`).to.not.equal('');
    const about = (needle: string) => marked.filter((line) => lines[line - 2].includes(needle));
    // Items that are not records: the message names toRecord and the type explaining why it is required.
    for (const needle of [
      'domain object',
      'Data: Date',
      'Data: an object',
      'null is not',
      'without toRecord',
    ])
      for (const line of about(needle))
        expect(at(line), lines[line - 2]).to.match(
          /Property 'toRecord' is missing .* required in type 'ItemsNeedToRecord</,
        );
    // No stream: the message names streamName/streamARN.
    for (const line of about('without a stream').concat(about('neither streamName')))
      expect(at(line), lines[line - 2]).to.match(/Property 'streamName' is missing/);
  });
});
