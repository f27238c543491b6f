// Reuse outside the workspace: the packages a user installs from npm, packed the way a release
// would pack them, and the apps as self-contained deploy folders. Used by this package's tests and
// by `pnpm pack:packages` / the Docker image (through `pnpm deploy`).
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The installable packages, in dependency order. */
export const REUSABLE_PACKAGES = ['common', 'protocol', 'remoting', 'store', 'client', 'admin'] as const;
export type ReusablePackage = (typeof REUSABLE_PACKAGES)[number];

/** The apps a user deploys one per host. */
export const DEPLOYABLE_APPS = ['nameserver', 'broker', 'proxy', 'dashboard'] as const;
export type DeployableApp = (typeof DEPLOYABLE_APPS)[number];

export interface PackResult {
  pkg: ReusablePackage;
  tarball: string;
  bytes: number;
}

/** `pnpm pack` of each reusable package into `dest` (workspace:* ranges become real versions). */
export async function packAll(root: string, dest: string, pkgs: readonly ReusablePackage[] = REUSABLE_PACKAGES): Promise<PackResult[]> {
  mkdirSync(dest, { recursive: true });
  const out: PackResult[] = [];
  for (const pkg of pkgs) {
    const dir = join(root, 'packages', pkg);
    const { version } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string };
    await run('pnpm', ['pack', '--pack-destination', dest], { cwd: dir, maxBuffer: 16 * 1024 * 1024 });
    const tarball = join(dest, `rocketmq-ts-${pkg}-${version}.tgz`);
    if (!existsSync(tarball)) throw new Error(`pnpm pack of ${pkg} left no ${tarball}`);
    out.push({ pkg, tarball, bytes: statSync(tarball).size });
  }
  return out;
}

/** `pnpm deploy --prod` of one app into `dest`: its dist, package.json and a node_modules of its own. */
export async function deployApp(root: string, app: DeployableApp, dest: string): Promise<void> {
  await run('pnpm', ['--filter', `@rocketmq-ts/${app}`, 'deploy', '--prod', dest], { cwd: root, maxBuffer: 16 * 1024 * 1024 });
}

/** Bytes of everything under `dir` (symlinks not followed, hard links counted once per path). */
export function duBytes(dir: string): number {
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isSymbolicLink()) continue;
    if (e.isDirectory()) total += duBytes(p);
    else if (e.isFile()) total += statSync(p).size;
  }
  return total;
}

/** Symlinks under `dir` whose target resolves outside it (a deploy folder must have none). */
export function linksLeaving(dir: string): string[] {
  const top = realpathSync(dir);
  const bad: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isSymbolicLink()) {
        const target = resolve(d, readlinkSync(p));
        if (relative(top, target).startsWith('..')) bad.push(`${p} -> ${target}`);
      } else if (e.isDirectory()) {
        walk(p);
      }
    }
  };
  walk(top);
  return bad;
}
