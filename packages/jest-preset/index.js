// Shared jest settings for every workspace package. Tests are TypeScript, run as ESM
// (NODE_OPTIONS=--experimental-vm-modules) through ts-jest without type checking;
// `pnpm check-types` does the type checking.
/** @param {string} rootDir @param {string} displayName */
export function jestConfig(rootDir, displayName) {
  return {
    displayName,
    rootDir,
    testEnvironment: 'node',
    extensionsToTreatAsEsm: ['.ts'],
    moduleFileExtensions: ['ts', 'js', 'mjs', 'json'],
    testMatch: ['<rootDir>/src/**/*.spec.ts', '<rootDir>/test/**/*.test.ts'],
    moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
    transform: {
      '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: `${rootDir}/tsconfig.json`, diagnostics: false }],
    },
    testTimeout: 60000,
  };
}
