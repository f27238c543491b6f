import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { freePort, isPidAlive, removeTempDirs, startNode, stopAllProcesses, waitFor } from '@rocketmq-ts/testing';
import { CLI, makeFakeTree, pidOf } from './fake-tree.js';

afterAll(async () => {
  await stopAllProcesses(2_000);
  removeTempDirs();
});

const gone = (pid: number): Promise<boolean> => waitFor(() => !isPidAlive(pid), { timeoutMs: 5_000, message: `pid ${pid} to be gone` });

describe('rocketmq-ts launcher', () => {
  it('starts processes in order, prefixes their output, writes logs, and stops them on SIGTERM', async () => {
    const [p1, m1, p2] = [await freePort(), await freePort(), await freePort()];
    const root = makeFakeTree('two', [
      { name: 'ns', conf: { listenPort: p1, metricsPromExporterPort: m1, startDelayMs: 400 } },
      { name: 'b', conf: { listenPort: p2, dataFile: './data/b/marker' }, env: { NAMESRV_ADDR: `127.0.0.1:${p1}` } },
    ]);
    const launcher = await startNode(CLI, ['two', '--root', root, '--grace', '2000'], {
      name: 'launcher',
      readyPattern: /is ready/,
      timeoutMs: 20_000,
    });
    const out = launcher.output();

    // Prefixes padded to the longest name ("launcher"), no colour when not a TTY.
    expect(out).toMatch(new RegExp(`^ns {7}\\| fake listening on ${p1}$`, 'm'));
    expect(out).toMatch(new RegExp(`^b {8}\\| fake pid=\\d+ cwd=${root} conf=infra/conf/two/b.conf namesrv=127.0.0.1:${p1}$`, 'm'));
    expect(out).toMatch(/^ns {7}\| fake says hello on stderr$/m);
    expect(out).not.toContain('\x1b[');
    // b starts only once ns accepts connections.
    expect(out.indexOf(`fake listening on ${p1}`)).toBeLessThan(out.indexOf('started b'));
    // One ready line with every address.
    expect(out).toMatch(
      new RegExp(`cluster "two" is ready: ns 127\\.0\\.0\\.1:${p1} \\(metrics http://127\\.0\\.0\\.1:${m1}/metrics\\); b 127\\.0\\.0\\.1:${p2}\\n`),
    );
    // Relative paths in confs land under the root (the cwd of every process).
    expect(readFileSync(join(root, 'data', 'b', 'marker'), 'utf8')).toBe(`written by ${pidOf(out, 'b')}`);

    const log = readFileSync(join(root, 'logs', 'ns.log'), 'utf8');
    expect(log).toContain(`fake listening on ${p1}\n`);
    expect(log).toContain('fake says hello on stderr\n');
    expect(log).not.toContain('| ');
    expect(existsSync(join(root, 'logs', 'b.log'))).toBe(true);

    const pids = [pidOf(out, 'ns'), pidOf(out, 'b')];
    expect(await launcher.stop('SIGTERM', 10_000)).toBe(0);
    for (const pid of pids) expect(isPidAlive(pid)).toBe(false);
    expect(launcher.output()).toMatch(/^ns {7}\| fake stopping$/m);
    expect(launcher.output()).toContain('all processes stopped');
    expect(readFileSync(join(root, 'logs', 'b.log'), 'utf8')).toMatch(/b exited \(exit code 0\)/);
  });

  it('SIGKILLs a process that ignores SIGTERM after the grace period', async () => {
    const [p1, p2] = [await freePort(), await freePort()];
    const root = makeFakeTree('stubborn', [
      { name: 'ok', conf: { listenPort: p1 } },
      { name: 'mule', conf: { listenPort: p2, ignoreSigterm: true } },
    ]);
    const launcher = await startNode(CLI, ['stubborn', '--root', root, '--grace', '500'], { readyPattern: /is ready/, timeoutMs: 20_000 });
    const pids = [pidOf(launcher.output(), 'ok'), pidOf(launcher.output(), 'mule')];
    expect(await launcher.stop('SIGTERM', 10_000)).toBe(0);
    expect(launcher.output()).toContain('fake ignores SIGTERM');
    expect(launcher.output()).toContain('mule did not stop within 500 ms, sending SIGKILL');
    for (const pid of pids) await gone(pid);
  });

  it('exits non-zero naming a process that dies, and stops the others', async () => {
    const [p1, p2] = [await freePort(), await freePort()];
    const root = makeFakeTree('crash', [
      { name: 'steady', conf: { listenPort: p1 } },
      { name: 'flaky', conf: { listenPort: p2, exitAfterMs: 1500 } },
    ]);
    const launcher = await startNode(CLI, ['crash', '--root', root, '--grace', '2000'], { readyPattern: /is ready/, timeoutMs: 20_000 });
    const steady = pidOf(launcher.output(), 'steady');
    const { code } = await launcher.exited;
    expect(code).toBe(1);
    expect(launcher.output()).toContain('rocketmq-ts: flaky exited unexpectedly (exit code 3) — see logs/flaky.log');
    expect(launcher.output()).toMatch(/^steady {3}\| fake stopping$/m);
    await gone(steady);
  });

  it('refuses to start when a port from a conf is taken, naming the port, process and file', async () => {
    const [p1, m1] = [await freePort(), await freePort()];
    const root = makeFakeTree('busy', [{ name: 'ns', conf: { listenPort: p1, metricsPromExporterPort: m1 } }]);
    const squatter: Server = await new Promise((resolve) => {
      const s = createServer();
      s.listen(m1, '127.0.0.1', () => resolve(s));
    });
    try {
      const launcher = await startNode(CLI, ['busy', '--root', root]);
      expect((await launcher.exited).code).toBe(1);
      expect(launcher.output()).toContain(
        `rocketmq-ts: port ${m1} (ns metricsPromExporterPort) is already in use — stop the other process or change metricsPromExporterPort in infra/conf/busy/ns.conf`,
      );
      expect(launcher.output()).not.toContain('started ns');
    } finally {
      await new Promise((r) => squatter.close(r));
    }
  });

  it('says which app is not built', async () => {
    const root = makeFakeTree('unbuilt', [
      { name: 'ns', conf: { listenPort: await freePort() } },
      { name: 'broker-a', app: 'broker', conf: { listenPort: await freePort() } },
    ]);
    mkdirSync(join(root, 'apps', 'broker'), { recursive: true }); // its sources are there, dist is not
    const launcher = await startNode(CLI, ['unbuilt', '--root', root]);
    expect((await launcher.exited).code).toBe(1);
    expect(launcher.output()).toContain('app "broker" is not built: apps/broker/dist/main.js is missing');
  });

  it('refuses a topology naming an app the repository does not have, before starting anything', async () => {
    const root = makeFakeTree('partial', [
      { name: 'ns', conf: { listenPort: await freePort() } },
      { name: 'later', app: 'notyet', conf: { listenPort: await freePort() } },
    ]);
    const launcher = await startNode(CLI, ['partial', '--root', root]);
    expect((await launcher.exited).code).toBe(1);
    expect(launcher.output()).toContain(
      'rocketmq-ts: no app "notyet": apps/notyet does not exist — check the "app" entries of infra/conf/partial/topology.json',
    );
    expect(launcher.output()).not.toContain('started ns');
  });

  it('gives up with a clear error when a process never listens, and stops it', async () => {
    const port = await freePort();
    const root = makeFakeTree('mute', [{ name: 'mute', conf: { listenPort: port, neverListen: true } }]);
    const launcher = await startNode(CLI, ['mute', '--root', root, '--ready-timeout', '800', '--grace', '2000']);
    await launcher.waitForOutput(/started mute \(pid \d+\)/, 10_000);
    const pid = pidOf(launcher.output(), 'mute');
    expect((await launcher.exited).code).toBe(1);
    expect(launcher.output()).toContain(`mute did not accept connections on port ${port} (listenPort) within 1 s — see logs/mute.log`);
    await gone(pid);
  });

  it('exits non-zero when a process dies before it is ready', async () => {
    const port = await freePort();
    const root = makeFakeTree('early', [{ name: 'early', conf: { listenPort: port, neverListen: true, exitAfterMs: 200 } }]);
    const launcher = await startNode(CLI, ['early', '--root', root]);
    expect((await launcher.exited).code).toBe(1);
    expect(launcher.output()).toContain('early exited unexpectedly (exit code 3)');
    expect(launcher.output()).not.toContain('is ready');
  });
});
