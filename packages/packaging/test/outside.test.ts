// Reuse outside the workspace, as a user would: the six packages packed with `pnpm pack`, installed
// into a fresh project with plain npm (no pnpm, no workspace links), then the SDK produces and
// consumes against a running cluster, the store is embedded in a script (put, read, restart,
// recover), and `npx mqadmin clusterList` answers. Also prints the SDK's install size and import time.
import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { makeTempDir, removeTempDir, repoRoot, startCluster, type TestCluster } from '@rocketmq-ts/testing';
import { REUSABLE_PACKAGES, duBytes, packAll, type PackResult } from '../src/index.js';

const run = promisify(execFile);
const root = repoRoot();
const examples = join(root, 'packages', 'packaging', 'examples');

/** The environment of a plain npm user: nothing pnpm or jest set for its own children. */
function plainEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(npm_|pnpm_|PNPM_|NODE_OPTIONS$|JEST_|INIT_CWD$)/.test(k)) continue;
    env[k] = v;
  }
  return env;
}

async function npm(cwd: string, args: string[]): Promise<string> {
  const r = await run('npm', args, { cwd, env: plainEnv(), maxBuffer: 32 * 1024 * 1024, timeout: 180_000 });
  return r.stdout;
}

async function node(cwd: string, args: string[], timeout = 90_000): Promise<{ stdout: string; stderr: string }> {
  return run(process.execPath, args, { cwd, env: plainEnv(), maxBuffer: 32 * 1024 * 1024, timeout });
}

function resultLine(stdout: string): Record<string, unknown> {
  const line = stdout.split('\n').find((l) => l.startsWith('RESULT '));
  if (line === undefined) throw new Error(`no RESULT line in:\n${stdout}`);
  return JSON.parse(line.slice(7)) as Record<string, unknown>;
}

function newProject(dir: string): void {
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'outside-user', version: '1.0.0', private: true, type: 'module' }, null, 2));
}

let tmp: string;
let packs: PackResult[];
let project: string;
let cluster: TestCluster | undefined;

beforeAll(async () => {
  tmp = makeTempDir('outside-');
  packs = await packAll(root, join(tmp, 'packs'));
  project = join(tmp, 'app');
  makeDir(project);
  newProject(project);
  await npm(project, ['install', '--no-audit', '--no-fund', ...packs.map((p) => p.tarball)]);
  for (const f of ['client-quickstart.mjs', 'store-embedded.mjs', 'protocol-roundtrip.mjs', 'common-message.mjs', 'remoting-route.mjs']) {
    copyFileSync(join(examples, f), join(project, f));
  }
}, 300_000);

afterAll(async () => {
  await cluster?.stop();
  if (tmp) removeTempDir(tmp);
});

function makeDir(d: string): void {
  mkdirSync(d, { recursive: true });
}

describe('packages installed from tarballs with plain npm, outside the workspace', () => {
  it('installs exactly our six packages, each with a README, a LICENSE and types', async () => {
    const list = JSON.parse(await npm(project, ['ls', '--all', '--json'])) as { dependencies?: Record<string, { version: string; dependencies?: unknown }> };
    const names = Object.keys(list.dependencies ?? {}).sort();
    expect(names).toEqual(REUSABLE_PACKAGES.map((p) => `@rocketmq-ts/${p}`).sort());
    // NestJS is an optional peer of remoting (only '@rocketmq-ts/remoting/nest' needs it): not installed.
    expect(existsSync(join(project, 'node_modules', '@nestjs'))).toBe(false);
    for (const p of REUSABLE_PACKAGES) {
      const { stdout } = await node(project, [
        '-e',
        `const fs=require('fs');const d='node_modules/@rocketmq-ts/${p}';const j=JSON.parse(fs.readFileSync(d+'/package.json','utf8'));` +
          `console.log(JSON.stringify({license:j.license,private:j.private===true,readme:fs.existsSync(d+'/README.md'),licenseFile:fs.existsSync(d+'/LICENSE'),types:fs.existsSync(d+'/'+j.exports['.'].types)}))`,
      ]);
      expect(JSON.parse(stdout)).toEqual({ license: 'Apache-2.0', private: false, readme: true, licenseFile: true, types: true });
    }
  });

  it('the SDK produces and consumes against a running cluster', async () => {
    cluster = await startCluster('outside');
    const { stdout } = await node(project, ['client-quickstart.mjs', cluster.namesrvAddr, 'OutsideTopic', '20']);
    expect(resultLine(stdout)).toEqual({ sent: 20, received: 20 });
  });

  it('the README examples of common, protocol and remoting run', async () => {
    expect(resultLine((await node(project, ['common-message.mjs'])).stdout)).toEqual({
      topic: 'OrderEvents',
      tags: 'TagA',
      keys: 'order-1 customer-7',
      region: 'eu',
    });
    expect(resultLine((await node(project, ['protocol-roundtrip.mjs'])).stdout)).toMatchObject({ frames: 1, code: 105, topic: 'OrderEvents' });
    expect(cluster).toBeDefined();
    const route = resultLine((await node(project, ['remoting-route.mjs', cluster!.namesrvAddr, 'OutsideTopic'])).stdout);
    expect(route).toEqual({ brokers: [cluster!.brokerName], queues: 1 });
  });

  it('npx mqadmin clusterList answers from the installed admin package', async () => {
    expect(cluster).toBeDefined();
    const r = await run('npx', ['--no-install', 'mqadmin', 'clusterList', '-n', cluster!.namesrvAddr], { cwd: project, env: plainEnv(), timeout: 60_000 });
    expect(r.stdout).toContain(cluster!.brokerName);
  });

  it('the store embedded in a script: put, read back, restart, recover', async () => {
    const { stdout } = await node(project, ['store-embedded.mjs', join(tmp, 'store'), '200']);
    expect(resultLine(stdout)).toMatchObject({ first: 200, second: 200, byKey: 1, ok: true });
  });

  it('CommonJS code can require the SDK (require(esm), Node >= 20.19)', async () => {
    const { stdout } = await node(project, ['-e', "const c = require('@rocketmq-ts/client'); console.log(typeof c.Producer, typeof c.PushConsumer)"]);
    expect(stdout.trim()).toBe('function function');
  });

  it('reports the SDK install size and import time', async () => {
    // The SDK alone: @rocketmq-ts/client and what it pulls in.
    const sdk = join(tmp, 'sdk-only');
    makeDir(sdk);
    newProject(sdk);
    const need = new Set(['common', 'protocol', 'remoting', 'client']);
    await npm(sdk, ['install', '--no-audit', '--no-fund'].concat(packs.filter((p) => need.has(p.pkg)).map((p) => p.tarball)));
    const bytes = duBytes(join(sdk, 'node_modules'));
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      const { stdout } = await node(sdk, [
        '--input-type=module',
        '-e',
        "const t0 = performance.now(); await import('@rocketmq-ts/client'); console.log((performance.now() - t0).toFixed(1));",
      ]);
      times.push(Number(stdout.trim()));
    }
    times.sort((a, b) => a - b);
    const line = `[reuse] SDK install: ${(bytes / 1024 / 1024).toFixed(2)} MiB in node_modules (client + common + protocol + remoting, no third-party packages); import('@rocketmq-ts/client'): median ${times[1]} ms of 3; tarballs: ${packs.map((p) => `${p.pkg} ${(p.bytes / 1024).toFixed(0)} KiB`).join(', ')}`;
    console.log(line);
    expect(bytes).toBeGreaterThan(100_000);
    expect(bytes).toBeLessThan(20 * 1024 * 1024);
  });
});
