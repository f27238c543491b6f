// Flat config: ESLint's and typescript-eslint's recommended rules, with the noisy ones relaxed.
// Type checking is `pnpm check-types`' job, so no type-aware rules here (they would double lint time).
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import tseslint from 'typescript-eslint';

const nodeGlobals = Object.fromEntries(
  [
    'process',
    'console',
    'Buffer',
    'URL',
    'URLSearchParams',
    'AbortController',
    'AbortSignal',
    'fetch',
    'Response',
    'setTimeout',
    'clearTimeout',
    'setInterval',
    'clearInterval',
    'setImmediate',
    'clearImmediate',
    'queueMicrotask',
    'structuredClone',
    'TextEncoder',
    'TextDecoder',
    'performance',
    'require',
    'module',
    '__dirname',
    '__filename',
  ].map((name) => [name, 'readonly']),
);

export default defineConfig(
  { ignores: ['**/dist/**', '**/node_modules/**', '**/coverage/**', '**/.turbo/**', 'data/**', 'logs/**', 'bench/results/**'] },
  js.configs.recommended,
  tseslint.configs.recommended,
  {
    languageOptions: { ecmaVersion: 2023, sourceType: 'module', globals: nodeGlobals },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      'no-empty': ['error', { allowEmptyCatch: true }],
      // Brace-less bodies only on one line, and one style per if/else chain: a dangling else
      // (an else bound to an inner if) cannot hide behind an unbraced branch.
      curly: ['error', 'multi-line', 'consistent'],
      '@typescript-eslint/no-explicit-any': 'warn',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  {
    // Tests and jest configs: CommonJS-style helpers and loose typing are fine there.
    files: ['**/*.spec.ts', '**/test/**/*.ts', '**/jest.config.js'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
);
