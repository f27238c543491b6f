// Root jest config: one project per workspace package, so `pnpm test` is a single jest run.
export default {
  projects: ['<rootDir>/packages/*/jest.config.js', '<rootDir>/apps/*/jest.config.js'],
};
