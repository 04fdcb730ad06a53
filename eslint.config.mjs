// One linter for the whole project. Workflow code and the pure modules it imports must stay
// deterministic: no Node built-ins, no I/O libraries (Temporal's samples enforce the same with
// no-restricted-imports). Imports also follow the house's layering (docs/architecture.md, "Where does X go").
import { builtinModules } from 'node:module';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// Every Node built-in, from Node itself (`fs`, `node:fs`, `fs/promises`, …), not a hand-kept list.
const nodeBuiltins = [...new Set(builtinModules.flatMap((m) => (m.startsWith('node:') ? [m] : [m, `node:${m}`])))];
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

const pureMessage =
  'workflows/ and the pure modules they import (src/planning, src/common, src/sampling) must be deterministic: do I/O in an activity';
const notTestCode = { group: ['**/test/**', '**/test'], message: 'production code must not import test-only code' };
const notUpward = {
  group: ['**/activities', '**/activities/**', '**/workflows', '**/workflows/**'],
  message: 'code the activities stand on must not import activities/ or workflows/ (only src/worker and src/client assemble them)',
};

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
  // Production code never imports test-only code (test/support holds the dev cluster, fixtures, …).
  {
    files: ['src/**/*.ts', 'activities/**/*.ts', 'workflows/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [notTestCode] }] },
  },
  // What the activities stand on (runtime, models, storage, …) never reaches up into activities/ or
  // workflows/: only the places that assemble or start them (the worker, the client) do.
  {
    files: ['src/**/*.ts'],
    ignores: ['src/worker/**', 'src/client/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: [notTestCode, notUpward] }] },
  },
  // Pure code: workflows and everything they import (planning, common with the boundary types,
  // sampling) must be deterministic, so no Node built-in and no I/O library.
  {
    files: ['workflows/**/*.ts', 'src/planning/**/*.ts', 'src/common/**/*.ts', 'src/sampling/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({ name, message: pureMessage })),
          patterns: [notTestCode, { group: ioLibraries, message: pureMessage }],
        },
      ],
    },
  },
);
