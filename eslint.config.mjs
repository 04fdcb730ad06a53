// One linter for the whole project. Workflow code must stay deterministic: no Node built-ins, no I/O
// libraries (Temporal's samples enforce the same with no-restricted-imports).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const nodeBuiltins = [
  'fs',
  'fs/promises',
  'path',
  'crypto',
  'child_process',
  'os',
  'net',
  'http',
  'https',
  'worker_threads',
  'stream',
  'zlib',
  'dns',
  'tls',
  'readline',
  'process',
  'timers',
];
const ioLibraries = [
  'onnxruntime-node',
  '@aws-sdk/*',
  'nats',
  'fluent-ffmpeg',
  '@kubernetes/client-node',
  '@temporalio/client',
  '@temporalio/worker',
  '@temporalio/activity',
];

export default tseslint.config(
  {
    ignores: [
      'vitest.config.ts',
      'dist/**',
      'node_modules/**',
      '.tools/**',
      '.vldm/**',
      'models/**',
      'training/**',
      'bin/**',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins
            .flatMap((m) => [m, `node:${m}`])
            .map((name) => ({ name, message: 'workflows/ must be deterministic: do I/O in an activity' })),
          patterns: [
            { group: ioLibraries, message: 'workflows/ must be deterministic: do I/O in an activity' },
          ],
        },
      ],
    },
  },
);
