import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { MQAdmin } from '@rocketmq-ts/admin';
import { PushConsumer } from '@rocketmq-ts/client';
import { appMain, freePort, startCluster, startNode, waitFor, writeConf, type NodeProcess, type TestCluster } from '@rocketmq-ts/testing';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { GroupClientsView } from '../src/web/views.js';
import { ensureChromium } from './chromium.js';

// Subscription consistency from the clients themselves: two SDK consumers of one group with
// different tag expressions are flagged on the group page; a group whose clients agree is not.

const SHOTS = join(import.meta.dirname, '..', 'test-output', 'screenshots');
const TOPIC = 'SubsTopic';
const MIXED = 'SubsMixedGroup';
const ALIKE = 'SubsAlikeGroup';

let cluster: TestCluster;
let dashboard: NodeProcess;
let base: string;
let browser: Browser;
let admin: MQAdmin;
let executablePath: string;
const consumers: PushConsumer[] = [];

beforeAll(() => {
  executablePath = ensureChromium();
}, 900_000);

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  cluster = await startCluster('dash-subs');
  admin = new MQAdmin({ namesrvAddr: cluster.namesrvAddr });
  await admin.createOrUpdateTopic(cluster.brokerAddr, { topic: TOPIC, readQueueNums: 2, writeQueueNums: 2 });
  await waitFor(async () => (await admin.topicRoute(TOPIC).catch(() => undefined)) !== undefined, { timeoutMs: 10_000 });
  const start = async (group: string, expr: string, n: number): Promise<void> => {
    await admin.createOrUpdateSubGroup(cluster.brokerAddr, { groupName: group });
    const pc = new PushConsumer({ namesrvAddr: cluster.namesrvAddr, group, instanceName: `${group}-${n}` });
    pc.subscribe(TOPIC, expr).registerMessageListener(async () => 'CONSUME_SUCCESS' as const);
    await pc.start();
    consumers.push(pc);
  };
  await start(MIXED, 'TagA || TagB', 1);
  await start(MIXED, 'TagC', 2);
  await start(ALIKE, 'TagA', 1);
  await start(ALIKE, 'TagA', 2);
  for (const g of [MIXED, ALIKE]) {
    await waitFor(async () => (await admin.consumerConnection(g).catch(() => undefined))?.connections.length === 2, { timeoutMs: 15_000 });
  }
  const port = await freePort();
  const conf = writeConf(cluster.dir, 'dashboard.conf', { listenPort: port, bindAddress: '127.0.0.1', namesrvAddr: cluster.namesrvAddr });
  dashboard = await startNode(appMain('dashboard'), ['-c', conf], { name: 'dashboard-subs', readyPattern: /dashboard started/, timeoutMs: 20_000 });
  base = `http://127.0.0.1:${port}`;
  browser = await chromium.launch({ executablePath, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
}, 120_000);

afterAll(async () => {
  await browser?.close().catch(() => undefined);
  await dashboard?.stop('SIGTERM', 5_000);
  for (const c of consumers) await c.shutdown().catch(() => undefined);
  await admin?.shutdown();
  await cluster?.stop();
}, 30_000);

async function open(page: Page, hash: string): Promise<void> {
  await page.goto('about:blank');
  await page.goto(`${base}/${hash}`);
  await page.waitForFunction(() => document.getElementById('main')?.dataset['ready'] !== undefined);
  await page.locator('#client-subscriptions table').waitFor();
}

describe('subscriptions per client', () => {
  it('the API answers each client with its own expression', async () => {
    const v = (await (await fetch(`${base}/api/groups/${MIXED}/clients`)).json()) as GroupClientsView;
    expect(v.consistent).toBe(false);
    const exprs = v.clients.map((c) => c.subscriptions.find((s) => s.topic === TOPIC)?.subString).sort();
    expect(exprs).toEqual(['TagA || TagB', 'TagC']);
    expect(v.clients.map((c) => c.clientId).sort()).toEqual(
      consumers
        .slice(0, 2)
        .map((c) => c.clientId)
        .sort(),
    );
    const alike = (await (await fetch(`${base}/api/groups/${ALIKE}/clients`)).json()) as GroupClientsView;
    expect(alike).toMatchObject({ consistent: true });
    expect(alike.clients).toHaveLength(2);
  });

  describe.each([
    { name: 'desktop', width: 1280, height: 800 },
    { name: 'phone', width: 390, height: 844 },
  ])('group page at $name width', (vp) => {
    let page: Page;
    beforeAll(async () => {
      page = await browser.newPage({ viewport: { width: vp.width, height: vp.height } });
    });
    afterAll(async () => page?.close());

    it('flags the group whose clients subscribe differently, with each client row', async () => {
      await open(page, `#/groups/${MIXED}`);
      await expect(page.locator('#client-subscription-flag').textContent()).resolves.toBe('subscriptions differ between clients');
      await expect(page.locator('#subscription-flag').textContent()).resolves.toBe('subscriptions differ between clients');
      for (const [c, expr] of [
        [consumers[0]!, 'TagA || TagB'],
        [consumers[1]!, 'TagC'],
      ] as const) {
        await expect(page.locator(`#client-subscriptions tr[data-client="${c.clientId!}"][data-topic="${TOPIC}"]`).textContent()).resolves.toContain(expr);
      }
      const wide = await page.evaluate(
        () =>
          [...document.querySelectorAll('body *')].filter((el) => !el.closest('.table-wrap') && el.getBoundingClientRect().right > window.innerWidth + 0.5)
            .length,
      );
      expect(wide).toBe(0);
      await page.screenshot({ path: join(SHOTS, `${vp.name}-group-subscriptions-differ.png`), fullPage: true });
    });

    it('does not flag a group whose clients agree', async () => {
      await open(page, `#/groups/${ALIKE}`);
      await expect(page.locator('#client-subscription-flag').textContent()).resolves.toBe('all clients subscribe alike');
      await expect(page.locator('#subscription-flag').textContent()).resolves.toBe('subscriptions consistent');
      await page.screenshot({ path: join(SHOTS, `${vp.name}-group-subscriptions-alike.png`), fullPage: true });
    });
  });
});
