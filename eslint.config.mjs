// ESLint flat config. src/core and src/workflows are deterministic: no Node built-ins,
// no SDKs with I/O, no clock or randomness (Temporal's workflow sandbox would reject them at run time;
// this says so at lint time).
import importPlugin from 'eslint-plugin-import';
import tseslint from 'typescript-eslint';

const deterministicBans = {
  patterns: [
    { group: ['node:*', 'fs', 'path', 'os', 'child_process', 'crypto', 'http', 'https', 'net', 'stream'], message: 'deterministic layer: no Node built-ins' },
    { group: ['@aws-sdk/*', '@anthropic-ai/sdk', 'onnxruntime-node', '@temporalio/activity', '@temporalio/worker', '@temporalio/client'], message: 'deterministic layer: no I/O SDKs' },
    // The deterministic modules of lower layers are the exceptions (each is fenced below as well).
    // (a gitignore group cannot re-include a file of an excluded folder, hence a regex for the activities index).
    { regex: '(^|/)activities$', message: 'deterministic layer: import activities as types only', allowTypeImports: true },
    { group: ['**/activities/*', '!**/activities/failure-types', '**/storage/*', '!**/storage/keys', '**/engine/*', '**/onnx/*', '**/agents/*'], message: 'deterministic layer: import activities as types only', allowTypeImports: true },
  ],
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.state/**', 'engine/**', 'bin/**', 'jest.config.js', 'eslint.config.mjs'] },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      eqeqeq: ['error', 'always'],
      'no-console': 'error',
      // Assertions on decoded payloads document what was stored; keep them.
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
    },
  },
  {
    // Dependencies point down only (DESIGN.md): a cycle means two modules share a concept that wants its own home.
    // Type-only imports are erased at run time and do not count.
    files: ['src/**/*.ts', 'tests/**/*.ts', 'bench/**/*.ts'],
    plugins: { import: importPlugin },
    settings: {
      'import/parsers': { '@typescript-eslint/parser': ['.ts'] },
      'import/resolver': { node: { extensions: ['.ts', '.js', '.json'] } },
    },
    rules: { 'import/no-cycle': ['error', { ignoreExternal: true }] },
  },
  {
    files: ['src/core/**/*.ts', 'src/workflows/**/*.ts', 'src/report/**/*.ts', 'src/storage/keys.ts', 'src/activities/failure-types.ts'],
    rules: {
      'no-restricted-imports': ['error', deterministicBans],
      'no-restricted-globals': ['error', { name: 'process', message: 'deterministic layer: no process.env' }],
      'no-restricted-properties': [
        'error',
        { object: 'Date', property: 'now', message: 'deterministic layer: no clock' },
        { object: 'Math', property: 'random', message: 'deterministic layer: no randomness' },
      ],
    },
  },
  {
    files: ['tests/**/*.ts', 'bench/**/*.ts', 'src/client/**/*.ts'],
    rules: {
      'no-console': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
    },
  },
  {
    files: ['tests/**/*.ts'],
    rules: {
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/unbound-method': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/restrict-template-expressions': 'off',
    },
  },
);
