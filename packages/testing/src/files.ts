import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringifyProperties } from '@rocketmq-ts/common';

const tempDirs = new Set<string>();

/** A new empty directory under the OS temp dir, tracked so `removeTempDirs()` can delete it. */
export function makeTempDir(prefix = 'rocketmq-ts-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix.endsWith('-') ? prefix : prefix + '-'));
  tempDirs.add(dir);
  return dir;
}

export function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

/** Deletes every directory made by `makeTempDir` and not removed yet (call from afterAll). */
export function removeTempDirs(): void {
  for (const dir of [...tempDirs]) removeTempDir(dir);
}

/** The workspace root: the nearest directory at or above `from` holding pnpm-workspace.yaml. */
export function repoRoot(from: string = dirname(fileURLToPath(import.meta.url))): string {
  let dir = resolve(from);
  for (;;) {
    if (existsSync(join(dir, 'pnpm-workspace.yaml'))) return dir;
    const up = dirname(dir);
    if (up === dir) throw new Error(`no pnpm-workspace.yaml at or above ${from}`);
    dir = up;
  }
}

/** Absolute path of `apps/<app>/dist/main.js` (whether or not it is built yet). */
export function appMain(app: string): string {
  return join(repoRoot(), 'apps', app, 'dist', 'main.js');
}

/** Writes a Java properties file and returns its absolute path. */
export function writeConf(dir: string, fileName: string, props: Record<string, string | number | boolean>): string {
  const path = join(dir, fileName);
  writeFileSync(path, stringifyProperties(Object.entries(props).map(([k, v]) => [k, String(v)] as [string, string])));
  return path;
}
