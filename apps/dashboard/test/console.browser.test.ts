import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { MQAdmin } from '@rocketmq-ts/admin';
import { Message, Producer, PushConsumer } from '@rocketmq-ts/client';
import { appMain, freePort, startCluster, startNode, waitFor, writeConf, type NodeProcess, type TestCluster } from '@rocketmq-ts/testing';
import { chromium, type Browser, type Page } from 'playwright-core';
import { ensureChromium } from './chromium.js';

// One cluster with data, one dashboard process, one headless Chromium: every page at a desktop
// and a phone width, the main actions, a screenshot of each page in test-output/screenshots.

const SHOTS = join(import.meta.dirname, '..', 'test-output', 'screenshots');
const TOPIC = 'DashOrders';
const GROUP = 'DashGroup';
const PRODUCER_GROUP = 'DashProducerGroup';
const VIEWPORTS = [
  { name: 'desktop', width: 1280, height: 800 },
  { name: 'phone', width: 390, height: 844 },
] as const;

let cluster: TestCluster;
let dashboard: NodeProcess;
let base: string;
let browser: Browser;
let producer: Producer;
let consumer: PushConsumer;
let release: () => void = () => undefined;
const held = new Promise<void>((resolve) => (release = resolve));
const admin: { a?: MQAdmin } = {};

let executablePath: string;

// Its own hook and time limit: a machine without chromium installs it first (apt, a few minutes).
beforeAll(() => {
  executablePath = ensureChromium();
}, 900_000);

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  cluster = await startCluster('dash');
  const a = new MQAdmin({ namesrvAddr: cluster.namesrvAddr });
  admin.a = a;
  // A slave in the broker group, for the cluster page's master/slave rows and replication lag.
  await cluster.addBroker(cluster.brokerName, { brokerId: 1, brokerRole: 'SLAVE' });
  await waitFor(async () => (await a.clusterInfo()).brokerAddrTable.get(cluster.brokerName)?.brokerAddrs.has(1) === true, { timeoutMs: 15_000 });
  await a.createOrUpdateTopic(cluster.brokerAddr, { topic: TOPIC, readQueueNums: 4, writeQueueNums: 4 });
  await waitFor(async () => (await a.topicRoute(TOPIC).catch(() => undefined)) !== undefined, { timeoutMs: 10_000 });

  producer = new Producer({ namesrvAddr: cluster.namesrvAddr, group: PRODUCER_GROUP });
  await producer.start();
  for (let i = 0; i < 20; i++) {
    const queue = { topic: TOPIC, brokerName: cluster.brokerName, queueId: i % 4 };
    await producer.send(new Message(TOPIC, Buffer.from(JSON.stringify({ order: i, item: 'book' })), { tags: 'created', keys: [`order-${i}`] }), { queue });
  }

  // A group online with committed offsets 1 on each queue, 4 messages behind per queue: its
  // listener holds the first message it gets until the end, so the committed offsets stay put.
  await a.createOrUpdateSubGroup(cluster.brokerAddr, { groupName: GROUP });
  for (let queueId = 0; queueId < 4; queueId++) {
    await a.api.updateConsumerOffset(cluster.brokerAddr, GROUP, { topic: TOPIC, brokerName: cluster.brokerName, queueId }, 1);
  }
  consumer = new PushConsumer({ namesrvAddr: cluster.namesrvAddr, group: GROUP });
  consumer.subscribe(TOPIC, '*').registerMessageListener(async () => {
    await held;
    return 'CONSUME_SUCCESS' as const;
  });
  await consumer.start();
  await waitFor(async () => (await a.consumerConnection(GROUP).catch(() => undefined)) !== undefined, { timeoutMs: 10_000 });
  expect((await a.consumeStats(GROUP, TOPIC)).reduce((n, q) => n + q.lag, 0)).toBe(16);

  const port = await freePort();
  const conf = writeConf(cluster.dir, 'dashboard.conf', { listenPort: port, bindAddress: '127.0.0.1', namesrvAddr: cluster.namesrvAddr });
  dashboard = await startNode(appMain('dashboard'), ['-c', conf], { name: 'dashboard', readyPattern: /dashboard started/, timeoutMs: 20_000 });
  base = `http://127.0.0.1:${port}`;
  browser = await chromium.launch({ executablePath, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
}, 120_000);

afterAll(async () => {
  await browser?.close().catch(() => undefined);
  await dashboard?.stop('SIGTERM', 5_000);
  release();
  await consumer?.shutdown().catch(() => undefined);
  await producer?.shutdown().catch(() => undefined);
  await admin.a?.shutdown();
  await cluster?.stop();
}, 30_000);

/** Loads a page of the console afresh and waits until the router has rendered it. */
async function open(page: Page, hash: string): Promise<void> {
  await page.goto('about:blank');
  await page.goto(`${base}/${hash}`);
  await page.waitForFunction(() => document.getElementById('main')?.dataset['ready'] !== undefined);
}

async function shot(page: Page, viewport: string, name: string): Promise<void> {
  await page.screenshot({ path: join(SHOTS, `${viewport}-${name}.png`), fullPage: true });
}

/** Nothing wider than the viewport except inside the scrolling table wrappers; names the culprits. */
async function fitsWidth(page: Page): Promise<void> {
  const wide = await page.evaluate(() => {
    const out: string[] = [];
    for (const el of document.querySelectorAll('body *')) {
      if (el.closest('.table-wrap')) continue;
      const r = el.getBoundingClientRect();
      if (r.right > window.innerWidth + 0.5) out.push(`${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''}.${el.className} right=${Math.round(r.right)}`);
    }
    return { out: out.slice(0, 5), scroll: document.documentElement.scrollWidth, inner: window.innerWidth };
  });
  expect(wide.out).toEqual([]);
  expect(wide.scroll).toBeLessThanOrEqual(wide.inner);
}

describe('HTTP endpoints', () => {
  it('answers /health, /ready, /metrics and the API', async () => {
    expect(await (await fetch(`${base}/health`)).json()).toMatchObject({ status: 'UP', role: 'dashboard' });
    expect((await fetch(`${base}/ready`)).status).toBe(200);
    const topics = (await (await fetch(`${base}/api/topics`)).json()) as Array<{ topic: string }>;
    expect(topics.map((t) => t.topic)).toContain(TOPIC);
    expect(await (await fetch(`${base}/metrics`)).text()).toContain('rocketmq_dashboard_api_requests_total{route="topics",outcome="ok"');
    const bad = await fetch(`${base}/api/topics`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"topic":"bad name"}' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toMatch(/characters other than/);
    // Refused requests are 400 with the reason, what the cluster does not have 404.
    const get = async (path: string): Promise<[number, string]> => {
      const r = await fetch(`${base}/api/${path}`);
      return [r.status, ((await r.json()) as { error?: string }).error ?? ''];
    };
    expect(await get(`messages/by-time?topic=${TOPIC}&begin=2000&end=1000`)).toEqual([400, 'the begin time must not be after the end time']);
    expect(await get(`producers?topic=${TOPIC}`)).toEqual([400, 'give both the topic and the producer group']);
    expect((await get('topics/NoSuchTopic'))[0]).toBe(404);
    // Names with % (retry and dead-letter topics) survive the URL.
    const retry = (await (await fetch(`${base}/api/topics/${encodeURIComponent(`%RETRY%${GROUP}`)}`)).json()) as { topic: string; kind: string };
    expect(retry).toMatchObject({ topic: `%RETRY%${GROUP}`, kind: 'retry' });
    expect((await get(`messages/by-id?id=${'0'.repeat(32)}`))[0]).toBe(502); // an offset id of a host that is not there
    // where: a client id needs the topic (404 without: not an offset id of a stored message).
    const [m] = await admin.a!.queryMessageByKey(TOPIC, 'order-5');
    const where = (await (await fetch(`${base}/api/messages/${m!.msgId}/where?topic=${TOPIC}`)).json()) as { found: boolean; location: { queueId: number } };
    expect(where).toMatchObject({ found: true, location: { queueId: 1 } });
    expect((await get(`messages/${m!.msgId}/where`))[0]).toBe(404);
  });
});

describe.each(VIEWPORTS)('pages at $name width ($width x $height)', (vp) => {
  let page: Page;
  beforeAll(async () => {
    page = await browser.newPage({ viewport: { width: vp.width, height: vp.height } });
  });
  afterAll(async () => page?.close());

  it('cluster: the broker group, master and slave, with version, disk use and replication lag', async () => {
    await open(page, '#/cluster');
    const row = page.locator(`tr[data-broker="${cluster.brokerName}/0"]`);
    await expect(row.textContent()).resolves.toContain(cluster.brokerAddr);
    await expect(row.textContent()).resolves.toMatch(/V\d+_\d+_\d+/);
    await expect(row.textContent()).resolves.toContain('%');
    const slave = await page.locator(`tr[data-broker="${cluster.brokerName}/1"]`).textContent();
    expect(slave).toContain('SLAVE');
    expect(slave).toMatch(/\d+(\.\d)? (B|KiB|MiB)/); // replication lag
    await fitsWidth(page);
    await shot(page, vp.name, 'cluster');
  });

  it('topics: the list, then the topic with its route and per-queue offsets', async () => {
    await open(page, '#/topics');
    await expect(page.locator(`tr[data-topic="${TOPIC}"]`).count()).resolves.toBe(1);
    await fitsWidth(page);
    await shot(page, vp.name, 'topics');
    await open(page, `#/topics/${TOPIC}`);
    const q0 = await page.locator(`tr[data-queue="${cluster.brokerName}/0"] td`).allTextContents();
    // queue, messages, min offset, max offset, last store time
    expect(q0.slice(0, 4)).toEqual([`${cluster.brokerName} / 0`, '5', '0', '5']);
    expect(q0[4]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/);
    await expect(page.locator('main').textContent()).resolves.toContain('20');
    await fitsWidth(page);
    await shot(page, vp.name, 'topic-detail');
  });

  it('consumer groups: lag in messages and time, clients and their versions', async () => {
    await open(page, '#/groups');
    await expect(page.locator(`tr[data-group="${GROUP}"] td.lag`).textContent()).resolves.toBe('16');
    await fitsWidth(page);
    await shot(page, vp.name, 'groups');
    await open(page, `#/groups/${GROUP}`);
    await expect(page.locator('#group-lag').textContent()).resolves.toBe('16');
    const q = await page.locator(`tr[data-queue="${TOPIC}/${cluster.brokerName}/2"] td`).allTextContents();
    // topic, queue, lag, lag in time, broker offset, consumer offset
    expect([q[0], q[1], q[2], q[4], q[5]]).toEqual([TOPIC, `${cluster.brokerName} / 2`, '4', '5', '1']);
    expect(q[3]).toMatch(/^\d+ (ms|s|min)/);
    await expect(page.locator('#subscription-flag').textContent()).resolves.toBe('subscriptions consistent');
    await expect(page.locator('main').textContent()).resolves.toMatch(/V\d+_\d+_\d+/);
    await fitsWidth(page);
    await shot(page, vp.name, 'group-detail');
  });

  it('producers: the connections of a group on a topic', async () => {
    await open(page, `#/producers?topic=${TOPIC}&group=${PRODUCER_GROUP}`);
    await expect(page.locator('main').textContent()).resolves.toContain(producer.clientId ?? '@');
    await fitsWidth(page);
    await shot(page, vp.name, 'producers');
  });

  it('messages: by key with headers, properties and the body as JSON, text and hex', async () => {
    await open(page, `#/messages?mode=key&topic=${TOPIC}&key=order-7`);
    await page.locator('#message-detail').waitFor();
    const detail = await page.locator('#message-detail').textContent();
    expect(detail).toContain('order-7');
    expect(detail).toContain('created');
    expect(detail).toContain('UNIQ_KEY');
    await expect(page.locator('#message-body').textContent()).resolves.toContain('"order": 7');
    await page.locator('button[data-mode="hex"]').click();
    await expect(page.locator('#message-body').textContent()).resolves.toContain('7b 22 6f 72');
    await fitsWidth(page);
    await shot(page, vp.name, 'message-by-key');
    await open(page, `#/messages?mode=time&topic=${TOPIC}`);
    await expect(page.locator('#result-count').textContent()).resolves.toMatch(/^2\d messages/);
    await shot(page, vp.name, 'messages-by-time');
  });

  it('where is a message: stored at, the group past it or not, no retries; linked from the message detail', async () => {
    // order-7: queue 3, offset 1; the group's committed offset there is 1 (not past it).
    await open(page, `#/messages?mode=key&topic=${TOPIC}&key=order-7`);
    await page.locator('#where-link').click();
    await page.locator('#where-groups').waitFor();
    expect(page.url()).toContain('#/where/');
    const at = await page.locator('#where-location').textContent();
    expect(at).toContain(TOPIC);
    expect(at).toContain(`${cluster.brokerName} (${cluster.brokerAddr})`);
    expect(at).toContain('3 / 1');
    expect(at).toContain('order-7');
    await expect(page.locator(`#where-groups tr[data-group="${GROUP}"]`).textContent()).resolves.toContain('not consumed yet');
    await expect(page.locator('#where-retries').textContent()).resolves.toContain('no retry or dead-letter copy');
    await fitsWidth(page);
    await shot(page, vp.name, 'where-not-consumed');
    // order-3 (queue 3, offset 0) by its offset msgId, no topic: the group is past it.
    const [m] = await admin.a!.queryMessageByKey(TOPIC, 'order-3');
    await open(page, `#/where/${m!.offsetMsgId}`);
    await page.locator('#where-groups').waitFor();
    await expect(page.locator(`#where-groups tr[data-group="${GROUP}"]`).textContent()).resolves.toMatch(/consumed1$/);
    await expect(page.locator('#where-location').textContent()).resolves.toContain('3 / 0');
    await fitsWidth(page);
    await shot(page, vp.name, 'where-consumed');
  });
});

describe('actions', () => {
  let page: Page;
  beforeAll(async () => {
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  });
  afterAll(async () => page?.close());

  it('creates a topic, which then shows in the list', async () => {
    await open(page, '#/topics');
    await page.fill('#topic-create input[name="topic"]', 'DashCreated');
    await page.fill('#topic-create input[name="writeQueueNums"]', '2');
    await page.fill('#topic-create input[name="readQueueNums"]', '2');
    await page.click('#topic-create button[type="submit"]');
    await page.waitForFunction(() => location.hash === '#/topics/DashCreated' && document.getElementById('main')?.dataset['page'] === 'topics');
    await page.locator('tr[data-queue$="/1"]').waitFor();
    await expect(page.locator('tr[data-queue]').count()).resolves.toBe(2);
    await open(page, '#/topics');
    await expect(page.locator('tr[data-topic="DashCreated"]').count()).resolves.toBe(1);
    await shot(page, 'desktop', 'topic-created');
  });

  it('sends a test message from the topic page and finds it by key', async () => {
    await open(page, '#/topics/DashCreated');
    await page.fill('#send-message input[name="keys"]', 'hello-key');
    await page.fill('#send-message input[name="tags"]', 'TagT');
    await page.fill('#send-message textarea[name="body"]', 'hello from the console');
    await page.click('#send-message button[type="submit"]');
    await expect(page.locator('#send-result').textContent()).resolves.toContain('SEND_OK');
    await shot(page, 'desktop', 'message-sent');
    await page.click('#send-result a:has-text("find it by key")');
    await page.locator('#message-detail').waitFor();
    await expect(page.locator('#message-body').textContent()).resolves.toBe('hello from the console');
    await expect(page.locator('#message-detail').textContent()).resolves.toContain('TagT');
    await shot(page, 'desktop', 'message-found');
  });

  it('updates the queue numbers of a topic, then deletes it', async () => {
    await open(page, '#/topics/DashCreated');
    await page.fill('#topic-update input[name="writeQueueNums"]', '3');
    await page.fill('#topic-update input[name="readQueueNums"]', '3');
    await page.click('#topic-update button[type="submit"]');
    await page.locator('tr[data-queue$="/2"]').waitFor();
    await expect(page.locator('tr[data-queue]').count()).resolves.toBe(3);
    page.once('dialog', (d) => void d.accept());
    await page.click('#delete-topic');
    await page.waitForFunction(() => location.hash === '#/topics' && document.getElementById('main')?.dataset['page'] === 'topics');
    await page.locator(`tr[data-topic="${TOPIC}"]`).waitFor();
    await expect(page.locator('tr[data-topic="DashCreated"]').count()).resolves.toBe(0);
    await shot(page, 'desktop', 'topic-deleted');
  });

  it('finds a message by its id through the search form', async () => {
    const [m] = await admin.a!.queryMessageByKey(TOPIC, 'order-3');
    await open(page, '#/messages?mode=id');
    await page.fill('#message-search input[name="id"]', m!.offsetMsgId);
    await page.click('#message-search button[type="submit"]');
    await page.locator('#message-detail').waitFor();
    await expect(page.locator('#message-body').textContent()).resolves.toContain('"order": 3');
    await shot(page, 'desktop', 'message-by-id');
  });
});
