// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-plugin-prettier/recommended';

/**
 * The folders' direction (see ARCHITECTURE.md): kinesis/ is the service's model and depends on nothing of
 * ours; limits/ builds on kinesis/ only; observe/ is a leaf; the library never reaches into the emulator;
 * the emulator (src/testing/) imports nothing of the library; the command line (src/cli/) only the public
 * entry points; bench/ nothing of spec/. Proved by spec/architecture.spec.ts.
 */
const restrict = (...patterns) => ({ 'no-restricted-imports': ['error', { patterns }] });
const TESTING = {
  regex: '(^|/)testing(/|$)',
  message: 'The library must not depend on the emulator (src/testing/).',
};
/** The top-level API files: index, to-kinesis, put-all, options, resolve-options, errors. */
const API_FILES = '^\\.\\./(index|to-kinesis|put-all|options|resolve-options|errors)(\\.js)?$';
const folderDirection = [
  {
    files: ['src/kinesis/**/*.ts'],
    rules: restrict(
      {
        regex: '^\\.\\./(pipeline|limits|observe|testing)/',
        message:
          'kinesis/ is the service model: it imports nothing from pipeline/, limits/, observe/ or testing/.',
      },
      { regex: API_FILES, message: 'kinesis/ imports none of the top-level API files.' },
    ),
  },
  {
    files: ['src/observe/**/*.ts'],
    rules: restrict({ regex: '^\\.\\./', message: 'observe/ is a leaf: it imports nothing else from src/.' }),
  },
  {
    files: ['src/limits/**/*.ts'],
    rules: restrict({
      regex: '^\\.\\./(?!kinesis/)',
      message: 'limits/ imports only kinesis/ from the rest of src/.',
    }),
  },
  { files: ['src/pipeline/**/*.ts', 'src/*.ts'], rules: restrict(TESTING) },
  {
    files: ['src/testing/**/*.ts'],
    rules: restrict({
      regex: '^\\.\\./',
      message:
        'The emulator is independent of the library it tests (its own routing, shapes and limits): it imports nothing from the rest of src/.',
    }),
  },
  {
    files: ['src/cli/**/*.ts'],
    rules: restrict({
      regex: '^\\.\\./(?!index\\.js$|testing/index\\.js$)',
      message: 'The command line is a user of the package: it imports only the public entry points.',
    }),
  },
  {
    files: ['src/spool/**/*.ts'],
    rules: restrict({
      regex: '^\\.\\./(?!pipeline/fifo\\.js$)',
      message: 'The spool is storage: it knows nothing of the pipeline that feeds it (a FIFO aside).',
    }),
  },
  {
    files: ['bench/**/*.ts', 'bench/**/*.mjs'],
    rules: restrict({ regex: '(^|/)spec/', message: 'bench/ depends on nothing in spec/.' }),
  },
];

export default tseslint.config(
  { ignores: ['dist/', 'coverage/', 'node_modules/', 'docs/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  prettier,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-console': 'error',
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    languageOptions: {
      globals: { process: 'readonly', Buffer: 'readonly', console: 'readonly', setTimeout: 'readonly' },
    },
  },
  {
    files: ['examples/**', 'bench/**', 'spec/**', 'scripts/**'],
    rules: { 'no-console': 'off' },
  },
  ...folderDirection,
);
