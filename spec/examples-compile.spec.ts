/**
 * Every TSDoc `@example` in src/ compiles: scripts/check-examples.ts type-checks each ```ts block as its own
 * module (free names from one shared prelude with the package's real types). The controls show the check
 * can fail: a fixture of deliberately wrong examples is reported at the right lines.
 */
import { expect } from 'chai';
import { fileURLToPath } from 'node:url';
import { checkExamples, examplesIn, markdownExamples } from '../scripts/check-examples.js';

const fixture = fileURLToPath(new URL('./fixtures/wrong-examples.ts', import.meta.url));

describe('API docs: @example blocks compile', function () {
  this.timeout(60_000);

  it('every @example in src/ (both entry points and every file) type-checks', () => {
    const { checked, errors } = checkExamples();
    expect(checked).to.be.above(100);
    expect(errors.map((e) => `${e.where}: ${e.message}`)).to.deep.equal([]);
  });

  it('control: deliberately wrong examples are reported at their lines, the right one is not', () => {
    const examples = examplesIn(fixture);
    expect(examples.map((e) => e.line)).to.deep.equal([7, 12, 17]);
    const { checked, errors } = checkExamples(examples);
    expect(checked).to.equal(3);
    const where = errors.map((e) => e.where);
    expect(where).to.not.include('spec/fixtures/wrong-examples.ts:7');
    expect(errors.find((e) => e.where === 'spec/fixtures/wrong-examples.ts:12')?.message).to.match(
      /'string' is not assignable to type 'number'/,
    );
    // The shard-lanes example as it was: `(err) => fail(err)` where `() => void` is expected.
    expect(errors.find((e) => e.where === 'spec/fixtures/wrong-examples.ts:18')?.message).to.match(
      /not assignable to parameter of type '\(\) => void'/,
    );
  });

  it('every ```ts block of README.md type-checks as a strict consumer would compile it', () => {
    const blocks = markdownExamples();
    expect(blocks.length).to.be.at.least(8);
    const { checked, errors } = checkExamples(blocks);
    expect(checked).to.equal(blocks.length);
    expect(errors.map((e) => `${e.where}: ${e.message}`)).to.deep.equal([]);
  });

  it("control: the README's old first snippet (a domain object and no toRecord) is reported at its line", () => {
    const readme = [
      '# x',
      '',
      '  ```ts', // indented, as inside a list
      '  const readings = of({ deviceId: "d1", value: 1 });',
      "  readings.pipe(toKinesis({ client, streamName: 'sensors' })).subscribe();",
      '  ```',
    ].join('\n');
    const blocks = markdownExamples('/virtual/README.md', readme);
    expect(blocks.map((b) => b.line)).to.deep.equal([4]);
    const { errors } = checkExamples(blocks);
    expect(errors.map((e) => e.where)).to.satisfy((w: string[]) =>
      w.some((x) => x.endsWith('virtual/README.md:5')),
    );
    expect(errors[0].message).to.match(/Property 'toRecord' is missing/);
  });
});
