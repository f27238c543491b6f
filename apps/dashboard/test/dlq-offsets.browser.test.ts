import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { MQAdmin } from '@rocketmq-ts/admin';
import { Message, Producer, PushConsumer, decodeReceivedMessages, type ReceivedMessage } from '@rocketmq-ts/client';
import { appMain, freePort, startCluster, startNode, waitFor, writeConf, type NodeProcess, type TestCluster } from '@rocketmq-ts/testing';
import { encodeProperties } from '@rocketmq-ts/protocol';
import { chromium, type Browser, type Page } from 'playwright-core';
import { SHOTS, VIEWPORTS, fitsWidth, open, shot } from './browser-kit.js';
import { ensureChromium } from './chromium.js';

// Dead letters (list with what the broker knows, resend to the group, export) and offset resets
// (preview, apply with a consumer online, undo after a console restart), against one cluster, one
// dashboard process and headless Chromium; screenshots in test-output/screenshots.

const RESET_TOPIC = 'ResetTopic';
const RESET_GROUP = 'ResetGroup';
const DLQ_TOPIC = 'DlqTopic';
const DLQ_GROUP = 'DlqGroup';
const PER_QUEUE_BEFORE = 6; // messages per queue stored before the reset time
const PER_QUEUE_AFTER = 4; // and after it
const START_OFFSET = 8; // the reset group's committed offset per queue before any reset

let cluster: TestCluster;
let dashboard: NodeProcess;
let dashPort: number;
let dashConf: string;
let base: string;
let browser: Browser;
let producer: Producer;
let resetConsumer: PushConsumer;
let dlqConsumer: PushConsumer;
let admin: MQAdmin;
let resetAt = 0;
let executablePath: string;
let release: () => void = () => undefined;
const held = new Promise<void>((resolve) => (release = resolve));
/** What the reset group's listener got, in order: `queueId/queueOffset`. */
const resetSeen: string[] = [];
/** The dead-letter group fails everything while this is true. */
let failing = true;
const dlqConsumed: ReceivedMessage[] = [];
const dlqSent = new Map<string, { msgId: string; body: string }>();

const queueOf = (topic: string, queueId: number) => ({ topic, brokerName: cluster.brokerName, queueId });
const committed = async (): Promise<number[]> => (await admin.consumeStats(RESET_GROUP, RESET_TOPIC)).map((q) => q.consumerOffset);

async function startDashboard(): Promise<NodeProcess> {
  return startNode(appMain('dashboard'), ['-c', dashConf], { name: 'dashboard', readyPattern: /dashboard started/, timeoutMs: 20_000 });
}

beforeAll(() => {
  executablePath = ensureChromium();
}, 900_000);

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  cluster = await startCluster('dlqoff');
  admin = new MQAdmin({ namesrvAddr: cluster.namesrvAddr });
  for (const [topic, queues] of [
    [RESET_TOPIC, 2],
    [DLQ_TOPIC, 2],
    [`%RETRY%${DLQ_GROUP}`, 1], // routed before the consumer starts, so it pulls resent messages at once
  ] as const) {
    await admin.createOrUpdateTopic(cluster.brokerAddr, { topic, readQueueNums: queues, writeQueueNums: queues });
    await waitFor(async () => (await admin.topicRoute(topic).catch(() => undefined)) !== undefined, { timeoutMs: 10_000 });
  }
  producer = new Producer({ namesrvAddr: cluster.namesrvAddr, group: 'DlqOffsetsProducer' });
  await producer.start();

  // The reset topic: 6 messages per queue, then (after a whole second) the reset time, then 4 more.
  const send = async (i: number, queueId: number): Promise<void> => {
    await producer.send(new Message(RESET_TOPIC, Buffer.from(`reset ${i}`), { keys: [`reset-${i}`] }), { queue: queueOf(RESET_TOPIC, queueId) });
  };
  for (let i = 0; i < PER_QUEUE_BEFORE * 2; i++) await send(i, i % 2);
  resetAt = Math.ceil((Date.now() + 1) / 1000) * 1000;
  await new Promise((r) => setTimeout(r, resetAt - Date.now() + 50));
  for (let i = PER_QUEUE_BEFORE * 2; i < (PER_QUEUE_BEFORE + PER_QUEUE_AFTER) * 2; i++) await send(i, i % 2);

  // The reset group: committed at 8 of 10 per queue, online, its listener holding every message
  // until the end, so the committed offsets are only what resets make them.
  await admin.createOrUpdateSubGroup(cluster.brokerAddr, { groupName: RESET_GROUP });
  for (const queueId of [0, 1]) await admin.api.updateConsumerOffset(cluster.brokerAddr, RESET_GROUP, queueOf(RESET_TOPIC, queueId), START_OFFSET);
  resetConsumer = new PushConsumer({ namesrvAddr: cluster.namesrvAddr, group: RESET_GROUP });
  resetConsumer.subscribe(RESET_TOPIC, '*').registerMessageListener(async (msgs) => {
    for (const m of msgs) resetSeen.push(`${m.queueId}/${m.queueOffset}`);
    await held;
    return 'CONSUME_SUCCESS' as const;
  });
  await resetConsumer.start();
  await waitFor(() => resetSeen.includes(`0/${START_OFFSET}`) && resetSeen.includes(`1/${START_OFFSET}`), { timeoutMs: 20_000 });

  // The dead-letter group: no retries allowed (maxReconsumeTimes 0), so a failure goes straight to %DLQ%.
  await admin.createOrUpdateSubGroup(cluster.brokerAddr, { groupName: DLQ_GROUP, retryMaxTimes: 0 });
  dlqConsumer = new PushConsumer({ namesrvAddr: cluster.namesrvAddr, group: DLQ_GROUP, maxReconsumeTimes: 0, consumeFromWhere: 'CONSUME_FROM_FIRST_OFFSET' });
  dlqConsumer.subscribe(DLQ_TOPIC, '*').registerMessageListener((msgs) => {
    if (failing) return 'RECONSUME_LATER' as const;
    dlqConsumed.push(...msgs);
    return 'CONSUME_SUCCESS' as const;
  });
  await dlqConsumer.start();
  for (let i = 0; i < 3; i++) {
    const body = JSON.stringify({ order: i, fail: 'on purpose' });
    const r = await producer.send(new Message(DLQ_TOPIC, Buffer.from(body), { tags: 'bad', keys: [`dlq-${i}`], properties: { orderNo: `no-${i}` } }));
    dlqSent.set(`dlq-${i}`, { msgId: r.msgId, body });
  }
  const dlq = queueOf(`%DLQ%${DLQ_GROUP}`, 0);
  await waitFor(async () => (await admin.api.getMaxOffset(cluster.brokerAddr, dlq).catch(() => 0)) >= 3, { timeoutMs: 30_000 });
  failing = false;

  dashPort = await freePort();
  dashConf = writeConf(cluster.dir, 'dashboard.conf', {
    listenPort: dashPort,
    bindAddress: '127.0.0.1',
    namesrvAddr: cluster.namesrvAddr,
    dataPath: join(cluster.dir, 'dashboard-data'),
  });
  dashboard = await startDashboard();
  base = `http://127.0.0.1:${dashPort}`;
  browser = await chromium.launch({ executablePath, args: ['--no-sandbox', '--disable-dev-shm-usage'] });
}, 180_000);

afterAll(async () => {
  await browser?.close().catch(() => undefined);
  await dashboard?.stop('SIGTERM', 5_000);
  release();
  await resetConsumer?.shutdown().catch(() => undefined);
  await dlqConsumer?.shutdown().catch(() => undefined);
  await producer?.shutdown().catch(() => undefined);
  await admin?.shutdown();
  await cluster?.stop();
}, 30_000);

const post = async <T>(path: string, body: unknown): Promise<[number, T]> => {
  const r = await fetch(`${base}/api/${path}`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  return [r.status, (await r.json()) as T];
};

/** `2026-12-03T08:30:15`: what the datetime-local input takes, in the browser's (and this process's) zone. */
function localInput(ms: number): string {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 19);
}

describe('offset reset API', () => {
  it('previews explicit offsets (clamped into the queue) and the earliest/latest ends without changing anything', async () => {
    const [s1, plan] = await post<{
      queues: Array<{ queueId: number; currentOffset: number; targetOffset: number; delta: number }>;
      skipped: number;
      replayed: number;
      notes: string[];
    }>(`groups/${RESET_GROUP}/offsets/preview`, {
      topic: RESET_TOPIC,
      mode: 'offset',
      offsets: [{ topic: RESET_TOPIC, brokerName: cluster.brokerName, queueId: 0, offset: 100 }],
    });
    expect(s1).toBe(200);
    // queue 0: 100 is past the end (10): clamped; queue 1 not named: kept.
    expect(plan.queues.map((q) => [q.queueId, q.currentOffset, q.targetOffset, q.delta])).toEqual([
      [0, START_OFFSET, 10, 2],
      [1, START_OFFSET, START_OFFSET, 0],
    ]);
    expect([plan.skipped, plan.replayed]).toEqual([2, 0]);
    expect(plan.notes.join(' ')).toMatch(/moved inside/);
    const [, earliest] = await post<{ replayed: number; skipped: number }>(`groups/${RESET_GROUP}/offsets/preview`, { topic: '', mode: 'earliest' });
    expect([earliest.skipped, earliest.replayed]).toEqual([0, 2 * START_OFFSET]);
    const [, latest] = await post<{ replayed: number; skipped: number }>(`groups/${RESET_GROUP}/offsets/preview`, { topic: RESET_TOPIC, mode: 'latest' });
    expect([latest.skipped, latest.replayed]).toEqual([4, 0]);
    expect(await committed()).toEqual([START_OFFSET, START_OFFSET]);
    const [bad, err] = await post<{ error: string }>(`groups/${RESET_GROUP}/offsets/preview`, { topic: RESET_TOPIC, mode: 'sideways' });
    expect(bad).toBe(400);
    expect(err.error).toMatch(/mode must be one of/);
    const [none, nothing] = await post<{ error: string }>(`groups/${RESET_GROUP}/offsets/undo`, {});
    expect([none, nothing.error]).toEqual([400, `no reset of ${RESET_GROUP} to undo`]);
  });
});

describe('offset reset on the group page: preview, apply with the consumer online, undo after a console restart', () => {
  let page: Page;
  beforeAll(async () => {
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    page.on('dialog', (d) => void d.accept());
  });
  afterAll(async () => page?.close());

  it('preview shows per queue the committed offset, the offset of the time and the messages replayed; nothing changes', async () => {
    // What the broker says: the committed offsets and the first offset stored at or after the time.
    const expected = await Promise.all([0, 1].map((q) => admin.api.searchOffset(cluster.brokerAddr, queueOf(RESET_TOPIC, q), resetAt)));
    expect(expected).toEqual([PER_QUEUE_BEFORE, PER_QUEUE_BEFORE]);
    await open(page, base, `#/groups/${RESET_GROUP}`);
    await page.selectOption('#offset-reset select[name="topic"]', RESET_TOPIC);
    await page.selectOption('#offset-reset select[name="mode"]', 'time');
    await page.fill('#offset-reset input[name="timestamp"]', localInput(resetAt));
    await page.click('#offset-preview');
    await page.locator('#offset-plan').waitFor();
    for (const q of [0, 1]) {
      const r = page.locator(`#offset-plan tr[data-queue="${RESET_TOPIC}/${cluster.brokerName}/${q}"]`);
      const cells = await Promise.all(['td.current', 'td.target', 'td.delta'].map((c) => r.locator(c).textContent()));
      expect(cells).toEqual([String(START_OFFSET), String(expected[q]), `replay ${START_OFFSET - expected[q]!}`]);
    }
    await expect(page.locator('#offset-totals').textContent()).resolves.toContain(`skips 0, replays ${2 * (START_OFFSET - PER_QUEUE_BEFORE)} messages`);
    expect(await committed()).toEqual([START_OFFSET, START_OFFSET]);
    await fitsWidth(page);
    await shot(page, 'desktop', 'offset-preview');
  });

  it('apply moves the committed offsets and the online consumer gets the replayed messages', async () => {
    const seenBefore = resetSeen.length;
    await page.click('#offset-apply');
    await page.locator('#offset-applied').waitFor();
    expect(await committed()).toEqual([PER_QUEUE_BEFORE, PER_QUEUE_BEFORE]);
    // The broker told the client (RESET_CONSUMER_CLIENT_OFFSET): it pulls again from offset 6.
    await waitFor(() => resetSeen.slice(seenBefore).includes(`0/${PER_QUEUE_BEFORE}`) && resetSeen.slice(seenBefore).includes(`1/${PER_QUEUE_BEFORE}`), {
      timeoutMs: 20_000,
    });
    // The history is re-read after the apply: wait for its row rather than count at once.
    await waitFor(async () => (await page.locator('#offset-history tr[data-record]').count()) === 1, {
      timeoutMs: 10_000,
      message: 'the reset in the history',
    });
    await expect(page.locator('#offset-undo').isEnabled()).resolves.toBe(true);
    await shot(page, 'desktop', 'offset-applied');
    // The undo record is on disk before the console is stopped.
    const file = JSON.parse(readFileSync(join(cluster.dir, 'dashboard-data', 'offset-resets.json'), 'utf8')) as {
      records: Array<{ group: string; namesrvAddr: string; previous: Array<{ offset: number }> }>;
    };
    expect(file.records[0]).toMatchObject({ group: RESET_GROUP, namesrvAddr: cluster.namesrvAddr });
    expect(file.records[0]!.previous.map((p) => p.offset)).toEqual([START_OFFSET, START_OFFSET]);
  });

  it('after a console restart, undo restores exactly the previous offsets', async () => {
    await dashboard.stop('SIGTERM', 5_000);
    dashboard = await startDashboard();
    await open(page, base, `#/groups/${RESET_GROUP}`);
    await waitFor(async () => (await page.locator('#offset-history tr[data-record]').count()) === 1, {
      timeoutMs: 10_000,
      message: 'the reset in the history',
    });
    await page.click('#offset-undo');
    await page.locator('#offset-undone').waitFor();
    expect(await committed()).toEqual([START_OFFSET, START_OFFSET]);
    // The history is re-read after the undo: its row gets the undo time.
    const undoneCell = page.locator('#offset-history tr[data-record] td').last();
    await waitFor(async () => /^\d{4}-\d\d-\d\d /.test((await undoneCell.textContent()) ?? ''), { timeoutMs: 10_000, message: 'the undo time in the history' });
    await expect(page.locator('#offset-undo').isEnabled()).resolves.toBe(false);
    await shot(page, 'desktop', 'offset-undone');
    // Still where undo put them a moment later: the online client followed the undo too.
    await new Promise((r) => setTimeout(r, 1_500));
    expect(await committed()).toEqual([START_OFFSET, START_OFFSET]);
  });
});

describe('offset reset to an explicit offset of one queue', () => {
  let page: Page;
  beforeAll(async () => {
    page = await browser.newPage({ viewport: { width: 390, height: 844 } });
    page.on('dialog', (d) => void d.accept());
  });
  afterAll(async () => page?.close());

  it('moves only the queue given, and undo puts it back (phone width)', async () => {
    await open(page, base, `#/groups/${RESET_GROUP}`);
    await page.selectOption('#offset-reset select[name="topic"]', RESET_TOPIC);
    await page.selectOption('#offset-reset select[name="mode"]', 'offset');
    await page.fill(`#offset-inputs tr[data-queue="${RESET_TOPIC}/${cluster.brokerName}/0"] input`, '9');
    await page.click('#offset-preview');
    await page.locator('#offset-plan').waitFor();
    await expect(page.locator('#offset-totals').textContent()).resolves.toContain('skips 1, replays 0 messages on 1 of 2 queues');
    await page.click('#offset-apply');
    await page.locator('#offset-applied').waitFor();
    expect(await committed()).toEqual([9, START_OFFSET]);
    await fitsWidth(page);
    await shot(page, 'phone', 'offset-explicit-applied');
    await page.click('#offset-undo');
    await page.locator('#offset-undone').waitFor();
    expect(await committed()).toEqual([START_OFFSET, START_OFFSET]);
    await waitFor(async () => (await page.locator('#offset-history tr[data-record]').count()) === 2, {
      timeoutMs: 10_000,
      message: 'both resets in the history',
    });
  });
});

describe('dead letters', () => {
  let page: Page;
  beforeAll(async () => {
    page = await browser.newPage({ viewport: { width: 1280, height: 800 }, acceptDownloads: true });
  });
  afterAll(async () => page?.close());

  const row = (key: string) => page.locator(`tr[data-keys="${key}"]`);

  it("lists the group's dead letters with original topic and msgId, reconsume times and the reason as far as known", async () => {
    await open(page, base, '#/dlq');
    await expect(page.locator(`tr[data-group="${DLQ_GROUP}"]`).count()).resolves.toBe(1);
    await open(page, base, `#/dlq/${DLQ_GROUP}`);
    await expect(page.locator('#dlq-total').textContent()).resolves.toBe('3');
    await expect(page.locator('tr[data-keys]').count()).resolves.toBe(3);
    const cell = (c: string) => row('dlq-1').locator(`td.${c}`).textContent();
    const sent = dlqSent.get('dlq-1')!;
    expect(await cell('msgid')).toBe(sent.msgId);
    expect(await cell('origin-topic')).toBe(DLQ_TOPIC);
    expect(await cell('origin-msgid')).toBe(sent.msgId);
    expect(await cell('reconsumed')).toBe('1');
    expect([await cell('tags'), await cell('keys')]).toEqual(['bad', 'dlq-1']);
    expect(await cell('reason')).toBe('exception not reported by the client; reconsume times 1 (group retryMaxTimes 0)');
    expect(await cell('body-preview')).toContain('"order":1');
    await fitsWidth(page);
    await shot(page, 'desktop', 'dlq-listed');
  });

  it('resends one message to the group: a consumer of the group gets it under its original topic', async () => {
    await row('dlq-1').locator('button.resend-one').click();
    await expect(page.locator('#resend-summary').textContent()).resolves.toBe(`1 of 1 resent to %RETRY%${DLQ_GROUP}`);
    await waitFor(() => dlqConsumed.some((m) => m.keys.includes('dlq-1')), { timeoutMs: 20_000 });
    const m = dlqConsumed.find((x) => x.keys.includes('dlq-1'))!;
    expect([m.topic, m.tags, m.body.toString(), m.properties.get('orderNo'), m.reconsumeTimes, m.msgId]).toEqual([
      DLQ_TOPIC,
      'bad',
      dlqSent.get('dlq-1')!.body,
      'no-1',
      0,
      dlqSent.get('dlq-1')!.msgId,
    ]);
    await shot(page, 'desktop', 'dlq-resent-one');
  });

  it('resends the selected messages, one result per message', async () => {
    await row('dlq-0').locator('input[type="checkbox"]').check();
    await row('dlq-2').locator('input[type="checkbox"]').check();
    await expect(page.locator('#dlq-selected-count').textContent()).resolves.toBe('2 selected');
    await page.click('#dlq-resend-selected');
    await expect(page.locator('#resend-summary').textContent()).resolves.toBe(`2 of 2 resent to %RETRY%${DLQ_GROUP}`);
    await expect(page.locator('#dlq-status tr[data-result]').count()).resolves.toBe(2);
    await waitFor(() => ['dlq-0', 'dlq-2'].every((k) => dlqConsumed.some((m) => m.keys.includes(k))), { timeoutMs: 20_000 });
    // Resent ones only: dlq-1 once, each of the others once.
    expect(dlqConsumed.map((m) => m.keys[0]).sort()).toEqual(['dlq-0', 'dlq-1', 'dlq-2']);
    await shot(page, 'desktop', 'dlq-resent-selected');
  });

  it('exports the selection as JSON with whole bodies, and the page as CSV', async () => {
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#dlq-export-selected')]);
    const json = JSON.parse(readFileSync(await download.path(), 'utf8')) as {
      group: string;
      messages: Array<{ keys: string[]; bodyBase64: string; originTopic: string }>;
    };
    expect(json.group).toBe(DLQ_GROUP);
    expect(json.messages.map((m) => m.keys[0]).sort()).toEqual(['dlq-0', 'dlq-2']);
    for (const m of json.messages) {
      expect(Buffer.from(m.bodyBase64, 'base64').toString()).toBe(dlqSent.get(m.keys[0]!)!.body);
      expect(m.originTopic).toBe(DLQ_TOPIC);
    }
    await expect(page.locator('#export-done').textContent()).resolves.toMatch(/^Downloaded dlq-DlqGroup-.*\.json$/);
    const [csvDownload] = await Promise.all([page.waitForEvent('download'), page.click('#dlq-export-csv')]);
    const lines = readFileSync(await csvDownload.path(), 'utf8')
      .trim()
      .split('\r\n');
    expect(lines[0]).toBe('offsetMsgId,msgId,originTopic,originMsgId,reconsumeTimes,storeTime,bornTime,tags,keys,bodyBase64');
    expect(lines).toHaveLength(4);
    const r1 = lines.find((l) => l.includes(',dlq-1,'))!.split(',');
    expect([r1[1], r1[2], r1[4], Buffer.from(r1[9]!, 'base64').toString()]).toEqual([dlqSent.get('dlq-1')!.msgId, DLQ_TOPIC, '1', dlqSent.get('dlq-1')!.body]);
  });

  it('refuses ids that are not dead letters of the group', async () => {
    const [m] = await admin.queryMessageByKey(RESET_TOPIC, 'reset-1');
    const [status, body] = await post<{ results: Array<{ ok: boolean; error: string }> }>(`dlq/${DLQ_GROUP}/resend`, { ids: [m!.offsetMsgId] });
    expect(status).toBe(200);
    expect(body.results[0]).toMatchObject({
      ok: false,
      error: `${m!.offsetMsgId} is a message of ${RESET_TOPIC}, not of the dead-letter queue of ${DLQ_GROUP}`,
    });
    const [bad] = await post(`dlq/${DLQ_GROUP}/resend`, { ids: [] });
    expect(bad).toBe(400);
  });
});

describe('dead letters of a group whose clients pop', () => {
  it('resends to its POP retry topic, and a pop of the original topic gets the copy', async () => {
    const group = 'PopGroup';
    const addr = cluster.brokerAddr;
    const popRetry = `%RETRY%${group}_${DLQ_TOPIC}`;
    await admin.createOrUpdateSubGroup(addr, { groupName: group });
    // What the broker's revive leaves once a popped message was not acked in time: the group's
    // retry topic of DlqTopic, and the group's offset 0 on it.
    await admin.createOrUpdateTopic(addr, { topic: popRetry, readQueueNums: 1, writeQueueNums: 1 });
    await admin.api.updateConsumerOffset(addr, group, queueOf(popRetry, 0), 0);
    for (const q of [0, 1]) await admin.api.updateConsumerOffset(addr, group, queueOf(DLQ_TOPIC, q), await admin.api.getMaxOffset(addr, queueOf(DLQ_TOPIC, q)));
    // dlq-2 as revive stores it in the POP retry topic (no RETRY_TOPIC, reconsumed once), then moved
    // to the DLQ as the proxy does past the delivery limit (send-back with delay level -1).
    const [orig] = await admin.queryMessageByKey(DLQ_TOPIC, 'dlq-2');
    const revived = await admin.api.sendMessage(
      addr,
      cluster.brokerName,
      {
        producerGroup: 'PopReviveLike',
        topic: popRetry,
        defaultTopic: 'TBW102',
        defaultTopicQueueNums: 1,
        queueId: 0,
        sysFlag: 0,
        bornTimestamp: Date.now(),
        flag: 0,
        properties: encodeProperties(Object.fromEntries([...orig!.properties].filter(([k]) => ['KEYS', 'TAGS', 'UNIQ_KEY', 'orderNo'].includes(k)))),
        reconsumeTimes: 1,
        unitMode: false,
        batch: false,
      },
      orig!.body,
      { batch: false, timeoutMs: 5_000 },
    );
    const [m] = await admin.viewMessage(revived!.offsetMsgId);
    expect([m!.topic, m!.properties.has('RETRY_TOPIC')]).toEqual([popRetry, false]);
    await admin.api.consumerSendMessageBack(addr, cluster.brokerName, m!, group, -1, 0);
    // Popped and acked by the move: the group is past it in the retry topic.
    await admin.api.updateConsumerOffset(addr, group, queueOf(popRetry, 0), revived!.queueOffset + 1);
    await waitFor(async () => (await admin.api.getMaxOffset(addr, queueOf(`%DLQ%${group}`, 0)).catch(() => 0)) >= 1, { timeoutMs: 10_000 });
    const page = (await (await fetch(`${base}/api/dlq/${group}`)).json()) as {
      messages: Array<{ originTopic: string; reconsumeTimes: number; message: { offsetMsgId: string; properties: Record<string, string> } }>;
    };
    // The DLQ copy names the retry topic; the page names the topic it stands for.
    expect(page.messages.map((d) => [d.message.properties['DLQ_ORIGIN_TOPIC'], d.originTopic, d.reconsumeTimes])).toEqual([[popRetry, DLQ_TOPIC, 2]]);
    const [status, body] = await post<{ results: Array<{ ok: boolean; retryTopic: string; queueId: number }> }>(`dlq/${group}/resend`, {
      ids: [page.messages[0]!.message.offsetMsgId],
    });
    expect(status).toBe(200);
    expect(body.results).toEqual([expect.objectContaining({ ok: true, retryTopic: popRetry, queueId: 0 })]);
    let got: ReceivedMessage[] = [];
    await waitFor(
      async () => {
        const r = await admin.api.popMessage(
          addr,
          {
            consumerGroup: group,
            topic: DLQ_TOPIC,
            queueId: -1,
            maxMsgNums: 8,
            invisibleTime: 60_000,
            pollTime: 0,
            bornTime: Date.now(),
            initMode: 0,
            expType: 'TAG',
            exp: '*',
          },
          5_000,
        );
        if (r.status === 'FOUND') got = decodeReceivedMessages(r.body, { brokerName: cluster.brokerName });
        return got.length > 0;
      },
      { timeoutMs: 10_000 },
    );
    expect(got.map((x) => [x.topic, x.keys[0], x.body.toString(), x.reconsumeTimes])).toEqual([[DLQ_TOPIC, 'dlq-2', dlqSent.get('dlq-2')!.body, 0]]);
  });
});

describe.each(VIEWPORTS)('pages at $name width ($width x $height)', (vp) => {
  let page: Page;
  beforeAll(async () => {
    page = await browser.newPage({ viewport: { width: vp.width, height: vp.height } });
  });
  afterAll(async () => page?.close());

  it("dead letters: the index and the group's DLQ", async () => {
    await open(page, base, '#/dlq');
    await fitsWidth(page);
    await shot(page, vp.name, 'dlq-index');
    await open(page, base, `#/dlq/${DLQ_GROUP}`);
    await expect(page.locator('tr[data-keys]').count()).resolves.toBe(3);
    await fitsWidth(page);
    await shot(page, vp.name, 'dlq-group');
  });

  it('group page with the reset form, a preview and the per-queue offset inputs', async () => {
    await open(page, base, `#/groups/${RESET_GROUP}`);
    await page.selectOption('#offset-reset select[name="mode"]', 'earliest');
    await page.click('#offset-preview');
    await page.locator('#offset-plan').waitFor();
    await fitsWidth(page);
    await shot(page, vp.name, 'group-offset-preview');
    await page.selectOption('#offset-reset select[name="mode"]', 'offset');
    await expect(page.locator('#offset-inputs tr[data-queue]').count()).resolves.toBe(2);
    await fitsWidth(page);
    await shot(page, vp.name, 'group-offset-inputs');
  });
});
