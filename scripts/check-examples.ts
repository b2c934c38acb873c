/**
 * Type-checks every TSDoc `@example` in src/ with the TypeScript compiler: each ```ts block becomes its own
 * module, in one program (≈ seconds, not one tsc per block). Run by `npm test` (spec/examples-compile.spec.ts)
 * and on its own with `npm run check-examples`.
 *
 * A block gets, appended after its last line (imports hoist, so line numbers stay the block's own):
 * - imports of the names it uses and does not declare, taken from, in order: its own source file's exports,
 *   the names its source file imports (an internal module's example may use what that module works with),
 *   `rx-kinesis`, `rx-kinesis/testing`, rxjs, @aws-sdk/client-kinesis and a few well-known modules;
 * - the shared ambient prelude (PRELUDE) declaring the free names examples lean on (`client`, `readings$`,
 *   `emu`, …) with the package's real types, so a wrong argument is an error, not an `any`.
 * `'rx-kinesis'` and `'rx-kinesis/testing'` in a block resolve to src/ (the package is not built for tests).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { CONSUMER_OPTIONS, virtualProgram } from './virtual-program.js';

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** One ```ts block of one @example. */
export interface Example {
  /** Source file (absolute). */
  readonly file: string;
  /** 1-based line in `file` of the block's first code line. */
  readonly line: number;
  readonly code: string;
}

export interface ExampleError {
  /** `path:line` in src/ of the offending example line. */
  readonly where: string;
  readonly message: string;
}

/** Free names examples use, declared once with real types. */
const PRELUDE = `
import type { KinesisClient, PutRecordsInput, PutRecordsOutput } from '@aws-sdk/client-kinesis';
import type { Socket } from 'node:net';
import type { Observable } from 'rxjs';
import type * as api from './src/index.js';
import type * as testing from './src/testing/index.js';
import type { BatchCollector } from './src/pipeline/batch-collector.js';
import type { Sender, SendHandlers } from './src/pipeline/sender.js';
import type { ShardLanes } from './src/pipeline/shard-lanes.js';
import type { PendingRecord } from './src/pipeline/pending.js';
import type { Outgoing } from './src/pipeline/aggregation.js';
import type { ShardMap } from './src/kinesis/shard-map.js';
import type { RetryPolicy } from './src/pipeline/retrier.js';
import type { KinesisProducer } from './src/pipeline/producer.js';
import type { ApiContext } from './src/testing/kinesis-api.js';
import type { FaultInjector } from './src/testing/faults.js';
import type { Stream } from './src/testing/stream-state.js';
import type { VirtualTimeScheduler } from 'rxjs';
import type { ShardLimiters } from './src/limits/shard-limiter.js';
import type { SharedDimensionSettings } from './src/limits/cluster-limiter.js';
import type { Router } from './src/pipeline/router.js';
import type { Spool } from './src/spool/index.js';
import type { KinesisApi } from './src/testing/kinesis-api.js';
import type { ValidationErrors } from './src/testing/errors.js';
import type { Shard } from './src/testing/stream-state.js';
import type { ShardLogs } from './src/testing/shard-log.js';
import type { RecordLedger } from './src/testing/ledger.js';
import type { Tally } from './src/cli/tally.js';

declare global {
  /** A source item, as the examples stream them. */
  interface Item { id: number; key: string; data: Uint8Array }
  /** A sensor reading. */
  interface Reading { deviceId: string; value: number; at: number }
  const client: KinesisClient;
  const readings$: Observable<api.KinesisRecordInput>;
  const clicks$: Observable<api.KinesisRecordInput>;
  /** The lines of a file, read lazily (a function: not in PRELUDE_NAMES, so a file exporting its own wins). */
  function readLines(path: string): AsyncIterable<string>;
  /** Sensor readings, as an iterable source. */
  function readings(): Iterable<Reading>;
  const source$: Observable<api.KinesisRecordInput>;
  const emu: testing.KinesisEmulator;
  const metrics: api.KinesisMetrics;
  const before: api.MetricsSnapshot;
  const after: api.MetricsSnapshot;
  const credentials: { accessKeyId: string; secretAccessKey: string };
  const sent: readonly testing.ExpectedRecord[];
  const deadLetter: (records: readonly unknown[]) => void;
  const userId: string;
  const shardMap: ShardMap;
  const stream: Stream;
  const context: ApiContext;
  const faults: FaultInjector;
  const socket: Socket;
  const seq: string;
  const collector: BatchCollector<unknown>;
  const sender: Sender<unknown>;
  const lanes: ShardLanes<unknown>;
  const producer: KinesisProducer<Item>;
  const policy: RetryPolicy;
  const scheduler: VirtualTimeScheduler;
  const handlers: SendHandlers<unknown>;
  const batch: Outgoing<unknown>[];
  const chunk: Outgoing<unknown>[];
  const record: PendingRecord<never>;
  const retries: { peek(): PendingRecord<never> | undefined; shift(): PendingRecord<never> | undefined };
  const fresh: typeof retries;
  const lines: AsyncIterable<string>;
  const key: (line: string) => string;
  const log: (emission: unknown) => void;
  const limiters: ShardLimiters;
  const options: api.ToKinesisOptions;
  const records: SharedDimensionSettings;
  const bytes: SharedDimensionSettings;
  const localAdmit: () => Promise<void>;
  const item: Item;
  const router: Router<unknown>;
  /** One PutRecords call and its answer, as a stage sees them. */
  const request: PutRecordsInput;
  const response: PutRecordsOutput;
  const onEmission: (emission: api.KinesisEmission<unknown>) => void;
  const spool: Spool;
  /** A caught error. */
  const e: unknown;
  // The emulator's parts.
  const api: KinesisApi;
  const errors: ValidationErrors;
  const clock: () => number;
  const now: number;
  const shard: Shard;
  const shardId: string;
  const logs: ShardLogs;
  const ledger: RecordLedger;
  const accountId: string;
  /** A request body as it arrived. */
  const body: Buffer;
  // The CLI's parts.
  const tally: Tally;
}
export {};
`;

/** Free names that mean something else in one file's examples, declared in that file's blocks only. */
const FILE_LOCALS: Record<string, Record<string, string>> = {
  // A record as the emulator stored it (`emu.records[i]` with data kept), not a pipeline record.
  'src/testing/deaggregate.ts': { record: '{ partitionKey: string; data: Buffer }' },
  // The request as the emulator's HTTP server received it, not a PutRecords input.
  'src/testing/codecs.ts': { request: "import('../src/testing/server.js').AnyRequest" },
  // What a spool stores, not limiter settings.
  'src/spool/errors.ts': { records: "readonly import('../src/spool/index.js').SpoolRecord[]" },
  // A segment's bookkeeping, which the spool makes (never public).
  'src/spool/in-flight.ts': { segment: "import('../src/spool/recover.js').Segment" },
  // Each command's own seams (stdin/stdout/env, signals).
  'src/cli/emulator.ts': { io: "import('../src/cli/emulator.js').EmulatorIo" },
  'src/cli/put.ts': { io: "import('../src/cli/put.js').PutIo" },
  // The stages and hooks the producer hands its intake.
  'src/pipeline/intake.ts': { next: "import('../src/pipeline/intake.js').IntakeNext<Item>" },
  // The stages the producer hands its teardown.
  'src/pipeline/teardown.ts': { stages: "import('../src/pipeline/teardown.js').TeardownStages<Item>" },
};

/** Names PRELUDE declares: a block means these, not a library export of the same name (rxjs's `map`). */
const PRELUDE_NAMES = new Set([...PRELUDE.matchAll(/^ {2}(?:const|interface) (\w+)/gm)].map((m) => m[1]));

/** Modules whose exports a block may use without importing them, in priority order after its own file. */
const LIBRARIES: readonly [specifier: string, path: string][] = [
  ['rx-kinesis', './src/index.js'],
  ['rx-kinesis/testing', './src/testing/index.js'],
  ['rxjs', 'rxjs'],
  ['@aws-sdk/client-kinesis', '@aws-sdk/client-kinesis'],
];
const WELL_KNOWN: Record<string, string> = {
  expect: 'chai',
  writeFileSync: 'node:fs',
  readFileSync: 'node:fs',
  setTimeout: 'node:timers/promises',
  NodeHttpHandler: '@smithy/node-http-handler',
  Redis: 'ioredis',
  FaultInjector: '../src/testing/faults.js',
  RecordLedger: '../src/testing/ledger.js',
  hashKeyOf: '../src/kinesis/hash-key.js',
  createReadStream: 'node:fs',
  resolveOptions: '../src/resolve-options.js',
  resolveLimiterOptions: '../src/limits/shared-options.js',
  parsePutArgs: '../src/cli/args.js',
  parseEmulatorArgs: '../src/cli/args.js',
  routingHashKey: '../src/testing/routing.js',
  KinesisError: '../src/testing/errors.js',
  ShardMap: '../src/kinesis/shard-map.js',
  prepareRecord: '../src/kinesis/records.js',
};

/** Every ```ts block in every @example of `file`'s comments. */
export function examplesIn(file: string, text = readFileSync(file, 'utf8')): Example[] {
  const lines = text.split('\n');
  const found: Example[] = [];
  let inExample = false;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].replace(/^\s*\*\s?/, '');
    if (/@example\b/.test(line)) inExample = true;
    else if (/^\s*\*\//.test(lines[i]) || /^@\w+/.test(line)) inExample = false;
    if (!inExample || !/^```(ts|typescript)\s*$/.test(line)) continue;
    const code: string[] = [];
    let j = i + 1;
    for (; j < lines.length && !/^\s*\*\s?```\s*$/.test(lines[j]); j++)
      code.push(lines[j].replace(/^\s*\*( |$)/, ''));
    found.push({ file, line: i + 2, code: code.join('\n') });
    i = j;
  }
  return found;
}

/**
 * Every ```ts block of a Markdown file (README.md by default): what a user copies into a strict project.
 * Fences may be indented (inside a list); the indent is removed.
 */
export function markdownExamples(
  file = join(ROOT, 'README.md'),
  text = readFileSync(file, 'utf8'),
): Example[] {
  const lines = text.split('\n');
  const found: Example[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```(ts|typescript)\s*$/.exec(lines[i]);
    if (!open) continue;
    const indent = open[1].length;
    const code: string[] = [];
    let j = i + 1;
    for (; j < lines.length && !/^\s*```\s*$/.test(lines[j]); j++) code.push(lines[j].slice(indent));
    found.push({ file, line: i + 2, code: code.join('\n') });
    i = j;
  }
  return found;
}

/** Every .ts file under `dir`. */
export function sourceFiles(dir = join(ROOT, 'src')): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((d) => d.isFile() && d.name.endsWith('.ts'))
    .map((d) => join(d.parentPath, d.name))
    .sort();
}

/** Names a block declares at top level (its imports included): these must not be imported again. */
function declaredNames(source: ts.SourceFile): Set<string> {
  const names = new Set<string>();
  const bind = (name: ts.BindingName | undefined) => {
    if (!name) return;
    if (ts.isIdentifier(name)) names.add(name.text);
    else for (const e of name.elements) if (!ts.isOmittedExpression(e)) bind(e.name);
  };
  for (const s of source.statements) {
    if (ts.isVariableStatement(s)) s.declarationList.declarations.forEach((d) => bind(d.name));
    else if (
      (ts.isFunctionDeclaration(s) || ts.isClassDeclaration(s) || ts.isInterfaceDeclaration(s)) &&
      s.name
    )
      names.add(s.name.text);
    else if (ts.isTypeAliasDeclaration(s) || ts.isEnumDeclaration(s)) names.add(s.name.text);
    else if (ts.isImportDeclaration(s) && s.importClause) {
      const c = s.importClause;
      if (c.name) names.add(c.name.text);
      const b = c.namedBindings;
      if (b && ts.isNamespaceImport(b)) names.add(b.name.text);
      if (b && ts.isNamedImports(b)) b.elements.forEach((e) => names.add(e.name.text));
    }
  }
  return names;
}

/** Identifiers a block uses (not as a property name after a dot). */
function usedNames(source: ts.SourceFile): Set<string> {
  const names = new Set<string>();
  const visit = (node: ts.Node): void => {
    if (ts.isIdentifier(node)) {
      const p = node.parent;
      const isMember =
        (ts.isPropertyAccessExpression(p) || ts.isQualifiedName(p)) && node !== p.getChildAt(0);
      if (!isMember) names.add(node.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return names;
}

/**
 * The names `file` imports, each with the import statement that brings it into a block written in
 * `.examples/` (relative specifiers re-rooted there).
 */
function importsOf(file: string): Map<string, string> {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
  const found = new Map<string, string>();
  for (const s of source.statements) {
    if (!ts.isImportDeclaration(s) || !s.importClause || !ts.isStringLiteral(s.moduleSpecifier)) continue;
    const spec = s.moduleSpecifier.text;
    const from = spec.startsWith('.') ? '../' + relative(ROOT, resolve(dirname(file), spec)) : spec;
    const c = s.importClause;
    if (c.name) found.set(c.name.text, `import ${c.name.text} from '${from}';`);
    const b = c.namedBindings;
    if (b && ts.isNamespaceImport(b)) found.set(b.name.text, `import * as ${b.name.text} from '${from}';`);
    if (b && ts.isNamedImports(b))
      for (const e of b.elements) {
        const what = e.propertyName ? `${e.propertyName.text} as ${e.name.text}` : e.name.text;
        found.set(e.name.text, `import { ${what} } from '${from}';`);
      }
  }
  return found;
}

const OPTIONS: ts.CompilerOptions = { ...CONSUMER_OPTIONS, esModuleInterop: true };

/**
 * Type-checks `examples` (default: every one in src/) and returns their errors, each located in src/.
 * `extra` adds snippets as if found in a file (the spec's control uses it for a deliberately wrong one).
 */
export function checkExamples(examples: readonly Example[] = sourceFiles().flatMap((f) => examplesIn(f))) {
  const dir = join(ROOT, '.examples');
  const virtual = new Map<string, string>();
  const origin = new Map<string, Example>();
  virtual.set(join(dir, 'prelude.ts'), PRELUDE.replaceAll("'./src/", "'../src/"));

  // What each library module exports, to import a block's free names from.
  const isSource = (file: string) => file.endsWith('.ts');
  const probe = ts.createProgram(
    [
      ...new Set(examples.map((e) => e.file).filter(isSource)),
      join(ROOT, 'src/index.ts'),
      join(ROOT, 'src/testing/index.ts'),
    ],
    OPTIONS,
  );
  const checker = probe.getTypeChecker();
  const exportsOf = (specifier: string, from: string): Set<string> => {
    const resolved = ts.resolveModuleName(specifier, from, OPTIONS, ts.sys).resolvedModule;
    const source = resolved && probe.getSourceFile(resolved.resolvedFileName);
    const symbol = source && checker.getSymbolAtLocation(source);
    return new Set(symbol ? checker.getExportsOfModule(symbol).map((s) => s.getName()) : []);
  };
  const libraries = LIBRARIES.map(([, path]) => {
    const from = join(ROOT, 'src/index.ts');
    return [path, exportsOf(path.startsWith('./') ? join(ROOT, path) : path, from)] as const;
  });

  examples.forEach((example, i) => {
    const name = join(dir, `${relative(join(ROOT, 'src'), example.file).replace(/[\\/.]/g, '_')}_${i}.ts`);
    const code = example.code
      .replaceAll("'rx-kinesis/testing'", "'../src/testing/index.js'")
      .replaceAll("'rx-kinesis'", "'../src/index.js'");
    const parsed = ts.createSourceFile(name, code, ts.ScriptTarget.ES2022, true);
    const declared = declaredNames(parsed);
    // A Markdown block has no file of its own to take names from: only the libraries and the prelude.
    const own = isSource(example.file) ? exportsOf(example.file, example.file) : new Set<string>();
    const fileImports = isSource(example.file) ? importsOf(example.file) : new Map<string, string>();
    const statements: string[] = [];
    const imports = new Map<string, string[]>();
    const add = (module: string, n: string) => imports.set(module, [...(imports.get(module) ?? []), n]);
    for (const n of usedNames(parsed)) {
      if (declared.has(n) || PRELUDE_NAMES.has(n) || FILE_LOCALS[relative(ROOT, example.file)]?.[n]) continue;
      const ownPath = '../' + relative(ROOT, example.file).replace(/\.ts$/, '.js');
      if (own.has(n)) add(ownPath, n);
      else if (fileImports.has(n)) statements.push(fileImports.get(n)!);
      else {
        const lib = libraries.find(([, names]) => names.has(n));
        if (lib) add(lib[0].startsWith('./') ? '.' + lib[0] : lib[0], n);
        else if (WELL_KNOWN[n]) add(WELL_KNOWN[n], n);
      }
    }
    const locals = Object.entries(FILE_LOCALS[relative(ROOT, example.file)] ?? {})
      .filter(([n]) => !declared.has(n))
      .map(([n, type]) => `declare const ${n}: ${type};`);
    const tail = [
      ...locals,
      ...[...imports].map(([m, ns]) => `import { ${ns.join(', ')} } from '${m}';`),
      ...statements,
    ].join(' ');
    virtual.set(name, `${code}\n${tail}\nexport {};\n`);
    origin.set(name, example);
  });

  const program = virtualProgram(virtual, OPTIONS, probe);

  const errors: ExampleError[] = [];
  for (const [name, example] of origin) {
    const source = program.getSourceFile(name)!;
    for (const d of [...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)]) {
      const line = d.start === undefined ? 0 : source.getLineAndCharacterOfPosition(d.start).line;
      errors.push({
        where: `${relative(ROOT, example.file)}:${example.line + line}`,
        message: ts.flattenDiagnosticMessageText(d.messageText, '\n'),
      });
    }
  }
  return { checked: origin.size, errors };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { checked, errors } = checkExamples([
    ...sourceFiles().flatMap((f) => examplesIn(f)),
    ...markdownExamples(),
  ]);
  for (const e of errors) console.error(`${e.where}: ${e.message}`);
  console.log(`${checked} @example and README blocks type-checked, ${errors.length} errors`);
  process.exitCode = errors.length === 0 ? 0 : 1;
}
