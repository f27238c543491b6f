// Root jest config: one project per workspace package, so `pnpm test` is a single jest run.
// Integration suites mostly wait on child processes, so two workers use this 2-core machine well.
export default {
  maxWorkers: 2,
  // Per-project testTimeout is not read in a multi-project run: it has to be set here too.
  testTimeout: 60000,
  projects: ['<rootDir>/packages/*/jest.config.js', '<rootDir>/apps/*/jest.config.js'],
};
