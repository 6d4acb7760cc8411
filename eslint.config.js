// ESLint with typescript-eslint's type-checked rules (npm run lint, part of npm test and so of CI).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: ['dist/**', 'node_modules/**', 'bench-results/**', '.pg-handover/**', 'examples/**', 'scripts/**', 'bin/**', '.stryker-tmp/**', 'reports/**', '**/*.mjs'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      // Steps, routers and hooks implement async interfaces; an async body also turns a throw into
      // a rejection, which the runner relies on. An async method without an await is not a bug here.
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Tests read the CLI's JSON output (unknown shapes, asserted by expect), so the no-unsafe-*
    // family and no-explicit-any would only add casts; every other type-checked rule applies to them.
    files: ['test/**'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
);
