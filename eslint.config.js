// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import prettier from 'eslint-plugin-prettier/recommended';

/**
 * The folders' direction (see ARCHITECTURE.md): kinesis/ is the service's model and depends on nothing of
 * ours; limits/ builds on kinesis/ only; observe/ is a leaf; the library never reaches into the emulator;
 * the emulator (src/testing/) stays independent of the pipeline it tests. Proved by spec/architecture.spec.ts.
 */
const restrict = (...patterns) => ({ 'no-restricted-imports': ['error', { patterns }] });
const TESTING = {
  regex: '(^|/)testing(/|$)',
  message: 'The library must not depend on the emulator (src/testing/).',
};
/** The top-level API files: index, to-kinesis, put-all, options, errors. */
const API_FILES = '^\\.\\./(index|to-kinesis|put-all|options|errors)(\\.js)?$';
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
    // Not kinesis/ yet: testing/kinesis-api.ts still imports hashKeyOf (being removed: the emulator is to
    // compute its own routing); forbid kinesis/ here once it is gone.
    files: ['src/testing/**/*.ts'],
    rules: restrict({
      regex: '^\\.\\./(pipeline|limits)/',
      message: 'The emulator stays independent of the pipeline and limiters it tests.',
    }),
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
