// The unit tests StrykerJS runs against each mutant: every unit test but the two that drive
// external linters (layers: dependency-cruiser; style: ESLint and Prettier), which mutate nothing.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/unit/**/*.test.ts'],
    exclude: ['test/unit/layers.test.ts', 'test/unit/style.test.ts', 'test/unit/new-procedure.test.ts'],
  },
});
