#!/usr/bin/env bash
# Scaffolds a workspace package: scripts/new-package.sh <dir> <name> "<description>"
set -euo pipefail
dir=$1; name=$2; desc=${3:-}
mkdir -p "$dir/src" "$dir/test"
short=${name#@rocketmq-ts/}
cat > "$dir/package.json" <<JSON
{
  "name": "$name",
  "version": "0.1.0",
  "private": true,
  "type": "module",
  "description": "$desc",
  "exports": {
    ".": { "types": "./dist/index.d.ts", "default": "./dist/index.js" }
  },
  "types": "./dist/index.d.ts",
  "files": ["dist"],
  "scripts": {
    "build": "tsc -p tsconfig.build.json",
    "check-types": "tsc -p tsconfig.json --noEmit",
    "test": "node --experimental-vm-modules ../../node_modules/jest/bin/jest.js"
  },
  "devDependencies": {
    "@rocketmq-ts/jest-preset": "workspace:*",
    "@rocketmq-ts/tsconfig": "workspace:*"
  }
}
JSON
cat > "$dir/tsconfig.json" <<JSON
{
  "extends": "@rocketmq-ts/tsconfig/base.json",
  "compilerOptions": { "rootDir": ".", "noEmit": true, "types": ["node", "jest"] },
  "include": ["src", "test"]
}
JSON
cat > "$dir/tsconfig.build.json" <<JSON
{
  "extends": "@rocketmq-ts/tsconfig/base.json",
  "compilerOptions": { "rootDir": "src", "outDir": "dist", "tsBuildInfoFile": "dist/.tsbuildinfo", "incremental": true },
  "include": ["src"],
  "exclude": ["src/**/*.spec.ts"]
}
JSON
cat > "$dir/jest.config.js" <<JS
import { jestConfig } from '@rocketmq-ts/jest-preset';

export default jestConfig(import.meta.dirname, '$short');
JS
echo "scaffolded $name in $dir"
