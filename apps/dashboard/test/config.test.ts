import { spawnSync } from 'node:child_process';
import { afterAll, describe, expect, it } from '@jest/globals';
import { parseProperties } from '@rocketmq-ts/common';
import { appMain, makeTempDir, removeTempDirs, writeConf } from '@rocketmq-ts/testing';

afterAll(() => removeTempDirs());

const run = (args: string[], env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [appMain('dashboard'), ...args], { encoding: 'utf8', env: { PATH: process.env['PATH'], ...env }, timeout: 30_000 });

describe('mqdashboard configuration', () => {
  it('-p prints the defaults: port 8082 on every address, name server on 9876', () => {
    const r = run(['-p']);
    expect(r.status).toBe(0);
    const p = parseProperties(r.stdout);
    expect(Object.fromEntries(p)).toMatchObject({ listenPort: '8082', bindAddress: '0.0.0.0', namesrvAddr: '127.0.0.1:9876' });
  });

  it('reads the -c file, then NAMESRV_ADDR and ROCKETMQ_<NAME>, then -n and --name=value', () => {
    const conf = writeConf(makeTempDir('dash-conf'), 'dashboard.conf', { listenPort: 9000, namesrvAddr: 'file:1', messageQueryMaxNum: 10 });
    const p = parseProperties(run(['-c', conf, '-p'], { NAMESRV_ADDR: 'env:2', ROCKETMQ_MESSAGE_QUERY_MAX_NUM: '20' }).stdout);
    expect([p.get('listenPort'), p.get('namesrvAddr'), p.get('messageQueryMaxNum')]).toEqual(['9000', 'env:2', '20']);
    const q = parseProperties(run(['-c', conf, '-n', 'cli:3', '--listenPort=9100', '-p']).stdout);
    expect([q.get('listenPort'), q.get('namesrvAddr')]).toEqual(['9100', 'cli:3']);
  });

  it('warns about unknown properties by name and refuses invalid values', () => {
    const dir = makeTempDir('dash-conf');
    const r = run(['-c', writeConf(dir, 'a.conf', { listenPrt: 1 }), '-p']);
    expect(r.status).toBe(0);
    expect(r.stdout + r.stderr).toContain('unknown property "listenPrt"');
    const bad = run(['-c', writeConf(dir, 'b.conf', { listenPort: 'http' })]);
    expect(bad.status).not.toBe(0);
    expect(bad.stdout + bad.stderr).toMatch(/invalid configuration: listenPort/);
  });
});
