/**
 * A TypeScript program over files held in memory (path → text), the rest read from disk as usual: how
 * scripts/check-examples.ts compiles the TSDoc and README examples and spec/types.spec.ts compiles the
 * first-hour mistakes with their `@ts-expect-error` lines removed.
 */
import ts from 'typescript';

/**
 * The compiler options every type-checking harness here uses (the examples, the type fixtures): strict
 * TypeScript as a consumer on Node's ESM resolution sees the package.
 */
export const CONSUMER_OPTIONS: ts.CompilerOptions = {
  target: ts.ScriptTarget.ES2022,
  lib: ['lib.es2024.d.ts'],
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  types: ['node'],
  strict: true,
  skipLibCheck: true,
  noEmit: true,
};

/**
 * Compiles `files` (absolute path → text) with `options`; every other file comes from disk.
 *
 * @example
 * ```ts
 * const program = virtualProgram(new Map([['/tmp/a.ts', 'export const a: number = 1;\n']]), { strict: true });
 * ```
 */
export function virtualProgram(
  files: ReadonlyMap<string, string>,
  options: ts.CompilerOptions,
  oldProgram?: ts.Program,
): ts.Program {
  const host = ts.createCompilerHost(options);
  const { getSourceFile, fileExists, readFile } = host;
  host.fileExists = (f) => files.has(f) || fileExists(f);
  host.readFile = (f) => files.get(f) ?? readFile(f);
  host.getSourceFile = (f, v, ...rest) =>
    files.has(f) ? ts.createSourceFile(f, files.get(f)!, v) : getSourceFile(f, v, ...rest);
  return ts.createProgram([...files.keys()], options, host, oldProgram);
}
