import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { MQAdmin } from '@rocketmq-ts/admin';
import { Message, Producer, PushConsumer } from '@rocketmq-ts/client';
import { appMain, freePort, startCluster, startNode, waitFor, writeConf, type NodeProcess, type TestCluster } from '@rocketmq-ts/testing';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { ChartView } from '../src/web/views.js';
import { ensureChromium } from './chromium.js';

// The charts: a dashboard sampling every 300 ms, messages put then consumed; the API's series
// get non-zero points and each page draws its chart (a canvas with the series' colour on it) at a
// desktop and a phone width. Screenshots in test-output/screenshots.

const SHOTS = join(import.meta.dirname, '..', 'test-output', 'screenshots');
const TOPIC = 'ChartOrders';
const GROUP = 'ChartGroup';

let cluster: TestCluster;
let dashboard: NodeProcess;
let base: string;
let browser: Browser;
let producer: Producer;
let consumer: PushConsumer | undefined;
let admin: MQAdmin;
let executablePath: string;

const chart = async (path: string): Promise<ChartView> => (await (await fetch(`${base}/api/charts/${path}`)).json()) as ChartView;
const nonZero = (v: ChartView, label: RegExp): number =>
  v.series.filter((s) => label.test(s.label)).reduce((n, s) => n + s.values.filter((x) => x !== null && x > 0).length, 0);

beforeAll(() => {
  executablePath = ensureChromium();
}, 900_000);

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  cluster = await startCluster('charts');
  admin = new MQAdmin({ namesrvAddr: cluster.namesrvAddr });
  await admin.createOrUpdateTopic(cluster.brokerAddr, { topic: TOPIC, readQueueNums: 2, writeQueueNums: 2 });
  await admin.createOrUpdateSubGroup(cluster.brokerAddr, { groupName: GROUP });
  for (let queueId = 0; queueId < 2; queueId++) {
    await admin.api.updateConsumerOffset(cluster.brokerAddr, GROUP, { topic: TOPIC, brokerName: cluster.brokerName, queueId }, 0);
  }
  await waitFor(async () => (await admin.topicRoute(TOPIC).catch(() => undefined)) !== undefined, { timeoutMs: 10_000 });
  const port = await freePort();
  const conf = writeConf(cluster.dir, 'dashboard.conf', {
    listenPort: port,
    bindAddress: '127.0.0.1',
    namesrvAddr: cluster.namesrvAddr,
    chartSampleIntervalMs: 300,
  });
  dashboard = await startNode(appMain('dashboard'), ['-c', conf], { name: 'dashboard-charts', readyPattern: /dashboard started/, timeoutMs: 20_000 });
  base = `http://127.0.0.1:${port}`;
  producer = new Producer({ namesrvAddr: cluster.namesrvAddr, group: 'ChartProducer' });
  await producer.start();
  browser = await chromium.launch({ executablePath, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
}, 120_000);

afterAll(async () => {
  await browser?.close().catch(() => undefined);
  await dashboard?.stop('SIGTERM', 5_000);
  await consumer?.shutdown().catch(() => undefined);
  await producer?.shutdown().catch(() => undefined);
  await admin?.shutdown();
  await cluster?.stop();
}, 30_000);

/** Pixels of the canvas close to the colour (r, g, b): the series' line, not the axes or grid. */
async function colouredPixels(page: Page, selector: string, rgb: [number, number, number]): Promise<number> {
  return page.evaluate(
    ({ selector, rgb }) => {
      const c = document.querySelector<HTMLCanvasElement>(`${selector} canvas`);
      if (!c || c.width === 0 || c.height === 0) return -1;
      const d = c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
      let n = 0;
      for (let i = 0; i < d.length; i += 4) {
        if (d[i + 3]! > 200 && Math.abs(d[i]! - rgb[0]) < 40 && Math.abs(d[i + 1]! - rgb[1]) < 40 && Math.abs(d[i + 2]! - rgb[2]) < 40) n++;
      }
      return n;
    },
    { selector, rgb },
  );
}

async function open(page: Page, hash: string, chartId: string): Promise<void> {
  await page.goto('about:blank');
  await page.goto(`${base}/${hash}`);
  await page.waitForFunction(() => document.getElementById('main')?.dataset['ready'] !== undefined);
  await page.locator(`#${chartId}[data-rendered="true"]`).waitFor({ timeout: 15_000 });
}

async function fitsWidth(page: Page): Promise<void> {
  const wide = await page.evaluate(() => {
    const out: string[] = [];
    for (const el of document.querySelectorAll('body *')) {
      if (el.closest('.table-wrap')) continue;
      const r = el.getBoundingClientRect();
      if (r.right > window.innerWidth + 0.5) out.push(`${el.tagName.toLowerCase()}.${el.className} right=${Math.round(r.right)}`);
    }
    return out.slice(0, 5);
  });
  expect(wide).toEqual([]);
}

describe('charts', () => {
  it('serves uPlot from its own node_modules', async () => {
    const js = await fetch(`${base}/vendor/uplot/uPlot.esm.js`);
    expect(js.status).toBe(200);
    expect(js.headers.get('content-type')).toMatch(/javascript/);
    expect(await js.text()).toContain('export { uPlot as default }');
    expect((await fetch(`${base}/vendor/uplot/uPlot.min.css`)).status).toBe(200);
  });

  it('samples puts, lag and consumption into series with non-zero points', async () => {
    // Two samples before the first put: the first rate point (whose interval the API does not give) is 0.
    await waitFor(async () => (await chart(`topics/${TOPIC}`)).t.length >= 2, { timeoutMs: 15_000, message: 'first samples' });
    // Puts spread over several samples; nothing consumes yet, so the lag grows.
    for (let i = 0; i < 30; i++) {
      await producer.send(new Message(TOPIC, Buffer.from(`m${i}`), { tags: 'TagA' }));
      if (i % 10 === 9) await new Promise((r) => setTimeout(r, 400));
    }
    await waitFor(async () => nonZero(await chart(`topics/${TOPIC}`), /^in/) > 0, { timeoutMs: 15_000, message: 'put rate points' });
    await waitFor(async () => nonZero(await chart(`groups/${GROUP}`), /^lag/) > 0, { timeoutMs: 15_000, message: 'lag points' });
    const lag = await chart(`groups/${GROUP}`);
    expect(Math.max(...lag.series[0]!.values.map((x) => x ?? 0))).toBe(30);

    consumer = new PushConsumer({ namesrvAddr: cluster.namesrvAddr, group: GROUP, persistConsumerOffsetIntervalMs: 200 });
    consumer.subscribe(TOPIC, '*').registerMessageListener(async () => 'CONSUME_SUCCESS' as const);
    await consumer.start();
    await waitFor(async () => nonZero(await chart(`topics/${TOPIC}`), new RegExp(`^out: ${GROUP}`)) > 0, { timeoutMs: 30_000, message: 'consume rate points' });
    await waitFor(async () => (await chart(`groups/${GROUP}`)).series[0]!.values.at(-1) === 0, { timeoutMs: 30_000, message: 'lag back to 0' });
    const topic = await chart(`topics/${TOPIC}`);
    expect(topic.note).toBeNull();
    expect(topic.intervalMs).toBe(300);
    expect(topic.t.length).toBe(topic.series[0]!.values.length);
    // Rates times the time between samples add up to the 30 messages put and consumed.
    const integral = (label: RegExp): number =>
      topic.series
        .filter((s) => label.test(s.label))
        .reduce((n, s) => n + s.values.reduce<number>((m, x, i) => m + ((x ?? 0) * (i === 0 ? topic.intervalMs : topic.t[i]! - topic.t[i - 1]!)) / 1000, 0), 0);
    expect(Math.round(integral(/^in/))).toBe(30);
    expect(Math.round(integral(/^out/))).toBe(30);
    const overview = await chart('cluster');
    expect(nonZero(overview, /^in/)).toBeGreaterThan(0);
    expect(nonZero(overview, /^out/)).toBeGreaterThan(0);
  }, 90_000);

  describe.each([
    { name: 'desktop', width: 1280, height: 800 },
    { name: 'phone', width: 390, height: 844 },
  ])('drawn at $name width', (vp) => {
    let page: Page;
    beforeAll(async () => {
      page = await browser.newPage({ viewport: { width: vp.width, height: vp.height } });
    });
    afterAll(async () => page?.close());

    it('topic page: in and out per second', async () => {
      await open(page, `#/topics/${TOPIC}`, 'topic-chart');
      expect(Number(await page.locator('#topic-chart').getAttribute('data-points'))).toBeGreaterThan(0);
      expect(await colouredPixels(page, '#topic-chart', [0x0b, 0x6b, 0xcb])).toBeGreaterThan(20); // "in"
      expect(await colouredPixels(page, '#topic-chart', [0x2e, 0x7d, 0x32])).toBeGreaterThan(20); // "out: ChartGroup"
      await expect(page.locator('#topic-chart').textContent()).resolves.toContain(`out: ${GROUP}`);
      await fitsWidth(page);
      await page.screenshot({ path: join(SHOTS, `${vp.name}-chart-topic.png`), fullPage: true });
    });

    it('group page: lag', async () => {
      await open(page, `#/groups/${GROUP}`, 'group-chart');
      expect(await colouredPixels(page, '#group-chart', [0x0b, 0x6b, 0xcb])).toBeGreaterThan(20);
      await fitsWidth(page);
      await page.screenshot({ path: join(SHOTS, `${vp.name}-chart-group.png`), fullPage: true });
    });

    it('cluster page: overview', async () => {
      await open(page, '#/cluster', 'cluster-chart');
      expect(await colouredPixels(page, '#cluster-chart', [0x0b, 0x6b, 0xcb])).toBeGreaterThan(20);
      await fitsWidth(page);
      await page.screenshot({ path: join(SHOTS, `${vp.name}-chart-cluster.png`), fullPage: true });
    });
  });
});
