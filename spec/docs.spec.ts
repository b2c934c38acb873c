/**
 * Every public export carries TSDoc with an example: read through the TypeScript compiler, export by export,
 * from both entry points.
 */
import { expect } from 'chai';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const entryPoints = ['../src/index.ts', '../src/testing/index.ts'].map((p) =>
  fileURLToPath(new URL(p, import.meta.url)),
);

describe('API docs', function () {
  this.timeout(60_000);

  it('every export of rx-kinesis and rx-kinesis/testing has TSDoc with an @example', () => {
    const program = ts.createProgram(entryPoints, {
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      target: ts.ScriptTarget.ES2022,
      noEmit: true,
    });
    const checker = program.getTypeChecker();
    const undocumented: string[] = [];
    let checked = 0;
    for (const entry of entryPoints) {
      const module = checker.getSymbolAtLocation(program.getSourceFile(entry)!)!;
      for (const exported of checker.getExportsOfModule(module)) {
        const symbol = exported.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(exported) : exported;
        checked++;
        const tags = symbol.getJsDocTags(checker).map((t) => t.name);
        const text = ts.displayPartsToString(symbol.getDocumentationComment(checker)).trim();
        if (text === '' || !tags.includes('example')) undocumented.push(exported.getName());
      }
    }
    expect(checked).to.be.above(40);
    expect(undocumented).to.deep.equal([]);
  });
});
