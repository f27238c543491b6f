import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { MQAdmin } from '@rocketmq-ts/admin';
import { Message, Producer } from '@rocketmq-ts/client';
import { parseProperties } from '@rocketmq-ts/common';
import {
  appMain,
  freePort,
  makeTempDir,
  removeTempDir,
  startCluster,
  startNode,
  waitFor,
  writeConf,
  type NodeProcess,
  type TestCluster,
} from '@rocketmq-ts/testing';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { AuthSessionView, ChartView } from '../src/web/views.js';
import { ensureChromium } from './chromium.js';

// The console against a name server and broker with aclEnable: the pages ask for keys, a wrong
// key is refused with the cluster's reason, the right one shows the topics and can act (create a
// topic, send a message), sign-out asks again. No HTTP answer, page or log line carries a secret.

const SHOTS = join(import.meta.dirname, '..', 'test-output', 'screenshots');
const ADMIN = { accessKey: 'consoleAdmin', secretKey: 'console-admin-secret-7f3a' };
const SERVICE = { accessKey: 'consoleSvc', secretKey: 'console-service-secret-91cd' };
const SECRETS = [ADMIN.secretKey, SERVICE.secretKey];
const TOPIC = 'AclTopic';

let aclDir: string;
let cluster: TestCluster;
let plain: NodeProcess; // no ACL settings: learns of ACL when the cluster refuses it
let configured: NodeProcess; // aclEnable=true with a service identity for the charts
let plainBase: string;
let configuredBase: string;
let browser: Browser;
let admin: MQAdmin;
let executablePath: string;
/** Every HTTP answer body the browser got. */
const seen: string[] = [];

beforeAll(() => {
  executablePath = ensureChromium();
}, 900_000);

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  aclDir = makeTempDir('dash-acl-file');
  const aclFilePath = join(aclDir, 'plain_acl.yml');
  writeFileSync(
    aclFilePath,
    [
      'accounts:',
      `  - accessKey: ${ADMIN.accessKey}`,
      `    secretKey: ${ADMIN.secretKey}`,
      '    admin: true',
      `  - accessKey: ${SERVICE.accessKey}`,
      `    secretKey: ${SERVICE.secretKey}`,
      '    admin: true',
      '',
    ].join('\n'),
  );
  cluster = await startCluster('dash-acl', {
    namesrv: { aclEnable: true, aclFilePath },
    broker: { aclEnable: true, aclFilePath, innerClientAuthenticationCredentials: JSON.stringify(SERVICE) },
  });
  admin = new MQAdmin({ namesrvAddr: cluster.namesrvAddr, ...ADMIN });
  await admin.createOrUpdateTopic(cluster.brokerAddr, { topic: TOPIC, readQueueNums: 2, writeQueueNums: 2 });
  await waitFor(async () => (await admin.topicRoute(TOPIC).catch(() => undefined)) !== undefined, { timeoutMs: 10_000 });

  const start = async (name: string, extra: Record<string, string | number | boolean>): Promise<[NodeProcess, string]> => {
    const port = await freePort();
    const conf = writeConf(cluster.dir, `${name}.conf`, {
      listenPort: port,
      bindAddress: '127.0.0.1',
      namesrvAddr: cluster.namesrvAddr,
      chartSampleIntervalMs: 300,
      ...extra,
    });
    const p = await startNode(appMain('dashboard'), ['-c', conf], { name, readyPattern: /dashboard started/, timeoutMs: 20_000 });
    return [p, `http://127.0.0.1:${port}`];
  };
  [plain, plainBase] = await start('dashboard-acl-plain', {});
  [configured, configuredBase] = await start('dashboard-acl-conf', { aclEnable: true, ...SERVICE });
  browser = await chromium.launch({ executablePath, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
}, 120_000);

afterAll(async () => {
  await browser?.close().catch(() => undefined);
  await plain?.stop('SIGTERM', 5_000);
  await configured?.stop('SIGTERM', 5_000);
  await admin?.shutdown();
  await cluster?.stop();
  if (aclDir) removeTempDir(aclDir);
}, 30_000);

async function newPage(width: number, height: number): Promise<Page> {
  const page = await browser.newPage({ viewport: { width, height } });
  page.on('response', (r) => {
    void r
      .text()
      .then((t) => seen.push(`${r.url()}\n${t}`))
      .catch(() => undefined);
  });
  return page;
}

async function open(page: Page, base: string, hash: string): Promise<void> {
  await page.goto(`${base}/${hash}`);
  await page.waitForFunction(() => document.getElementById('main')?.dataset['ready'] !== undefined);
}

async function signIn(page: Page, accessKey: string, secretKey: string): Promise<void> {
  await page.fill('#sign-in input[name="accessKey"]', accessKey);
  await page.fill('#sign-in input[name="secretKey"]', secretKey);
  await page.click('#sign-in button[type="submit"]');
}

describe('ACL: the console signs in', () => {
  it('learns of ACL from the refused calls: sign-in, wrong keys refused, right keys show the topics and act', async () => {
    const page = await newPage(1280, 800);
    await open(page, plainBase, '#/topics');
    await page.locator('#sign-in').waitFor();
    await page.screenshot({ path: join(SHOTS, 'desktop-acl-sign-in.png'), fullPage: true });
    expect((await fetch(`${plainBase}/api/topics`)).status).toBe(401);

    await signIn(page, ADMIN.accessKey, 'not-the-secret');
    await expect(page.locator('#sign-in-error').textContent()).resolves.toMatch(/refused these keys: .*Check signature failed for accessKey=consoleAdmin/);
    await signIn(page, 'nobodyKnowsMe', 'whatever-secret');
    await page.locator('#sign-in-error:has-text("No acl config for nobodyKnowsMe")').waitFor();
    await page.screenshot({ path: join(SHOTS, 'desktop-acl-refused.png'), fullPage: true });

    await signIn(page, ADMIN.accessKey, ADMIN.secretKey);
    await page.locator(`tr[data-topic="${TOPIC}"]`).waitFor();
    await expect(page.locator('#signed-in-as').textContent()).resolves.toBe(ADMIN.accessKey);
    // The cookie is HttpOnly: no script of the page reads it.
    expect(await page.evaluate(() => document.cookie)).not.toContain('rmq_console_session');
    const cookies = await page.context().cookies();
    expect(cookies.find((c) => c.name === 'rmq_console_session')).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
    await page.screenshot({ path: join(SHOTS, 'desktop-acl-topics.png'), fullPage: true });

    // Writes go through the session's signing clients: create a topic, send it a message.
    await page.fill('#topic-create input[name="topic"]', 'AclCreated');
    await page.fill('#topic-create input[name="writeQueueNums"]', '1');
    await page.fill('#topic-create input[name="readQueueNums"]', '1');
    await page.click('#topic-create button[type="submit"]');
    await page.waitForFunction(() => location.hash === '#/topics/AclCreated' && document.getElementById('main')?.dataset['page'] === 'topics');
    await page.locator('tr[data-queue$="/0"]').waitFor();
    await page.fill('#send-message textarea[name="body"]', 'signed hello');
    await page.click('#send-message button[type="submit"]');
    await expect(page.locator('#send-result').textContent()).resolves.toContain('SEND_OK');
    expect((await admin.topicStats('AclCreated')).reduce((n, s) => n + s.maxOffset, 0)).toBe(1);

    // The console without a service identity does not sample, and says so on the chart.
    await open(page, plainBase, '#/cluster');
    // The note is filled in when the chart's data arrives: wait for it rather than read it at once.
    await page.waitForFunction(() => /Not sampling: ACL is on/.test(document.querySelector('#cluster-chart + .chart-note')?.textContent ?? ''), undefined, {
      timeout: 15_000,
    });
    await expect(page.locator('#cluster-chart + .chart-note').textContent()).resolves.toMatch(/Not sampling: ACL is on/);

    await page.click('#sign-out');
    await page.locator('#sign-in').waitFor();
    await open(page, plainBase, '#/groups');
    await page.locator('#sign-in').waitFor();
    await page.close();
  }, 60_000);

  it('phone width: the sign-in form and the signed-in header fit', async () => {
    const page = await newPage(390, 844);
    await open(page, configuredBase, '#/cluster');
    await page.locator('#sign-in').waitFor();
    await page.screenshot({ path: join(SHOTS, 'phone-acl-sign-in.png'), fullPage: true });
    await signIn(page, ADMIN.accessKey, ADMIN.secretKey);
    await page.locator(`tr[data-broker="${cluster.brokerName}/0"]`).waitFor();
    const wide = await page.evaluate(
      () =>
        [...document.querySelectorAll('body *')].filter((el) => !el.closest('.table-wrap') && el.getBoundingClientRect().right > window.innerWidth + 0.5)
          .length,
    );
    expect(wide).toBe(0);
    await page.screenshot({ path: join(SHOTS, 'phone-acl-cluster.png'), fullPage: true });
    await page.close();
  }, 60_000);

  it('aclEnable=true asks at once; its service identity samples the charts', async () => {
    expect((await fetch(`${configuredBase}/api/cluster`)).status).toBe(401);
    expect((await fetch(`${configuredBase}/api/charts/cluster`)).status).toBe(401);
    const session = (await (await fetch(`${configuredBase}/api/auth/session`)).json()) as AuthSessionView;
    expect(session).toEqual({ aclRequired: true, signedIn: false, accessKey: null });
    const res = await fetch(`${configuredBase}/api/auth/sign-in`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(ADMIN),
    });
    const text = await res.text();
    seen.push(text);
    expect(res.status).toBe(201);
    const cookie = res.headers.get('set-cookie')!.split(';')[0]!;
    expect(JSON.parse(text)).toEqual({ aclRequired: true, signedIn: true, accessKey: ADMIN.accessKey });
    const get = async (path: string): Promise<unknown> => {
      const r = await fetch(`${configuredBase}/api/${path}`, { headers: { cookie } });
      const t = await r.text();
      seen.push(t);
      return JSON.parse(t);
    };
    const producer = new Producer({ namesrvAddr: cluster.namesrvAddr, group: 'AclChartProducer', ...ADMIN });
    await producer.start();
    try {
      await waitFor(
        async () => {
          await producer.send(new Message(TOPIC, Buffer.from('x')));
          const v = (await get(`charts/topics/${TOPIC}`)) as ChartView;
          return v.note === null && v.series[0]!.values.some((x) => x !== null && x > 0);
        },
        { timeoutMs: 20_000, message: 'put rate sampled with the service identity' },
      );
    } finally {
      await producer.shutdown();
    }
    expect(((await get('topics')) as Array<{ topic: string }>).map((t) => t.topic)).toContain(TOPIC);
  }, 60_000);

  it('no answer, page or log line carries a secret; -p masks it', () => {
    expect(seen.length).toBeGreaterThan(10);
    for (const secret of SECRETS) {
      expect(seen.filter((b) => b.includes(secret))).toEqual([]);
      expect(plain.output()).not.toContain(secret);
      expect(configured.output()).not.toContain(secret);
    }
    const r = spawnSync(process.execPath, [appMain('dashboard'), '-p', `--accessKey=${SERVICE.accessKey}`, `--secretKey=${SERVICE.secretKey}`], {
      encoding: 'utf8',
      env: { PATH: process.env['PATH'] },
      timeout: 30_000,
    });
    expect(r.status).toBe(0);
    expect(r.stdout).not.toContain(SERVICE.secretKey);
    const p = parseProperties(r.stdout);
    expect([p.get('accessKey'), p.get('secretKey')]).toEqual([SERVICE.accessKey, '******']);
  });
});
